"""The benchmark harness, run tiny so it cannot rot, and its small pure parts.

The tiny run builds a real (small) data set, sends every measured request
through the app and checks each against its floor (the harness raises when the
API and the raw SQL disagree); speed itself is not asserted here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from benchmarks import costliest, drivers, harness, post_ceiling
from benchmarks.data import Generator
from benchmarks.harness import GrowthPoint, growth_exponent, markdown, parse_args
from benchmarks.items import survey_form_data
from benchmarks.timer import interleaved
from survey.answers.responses import load_invitation
from survey.campaigns import build_frame
from survey.campaigns import launch as campaigns
from survey.clock import utcnow
from survey.db import db
from survey.errors import ConflictError
from survey.models import (
    Answer,
    AnswerReason,
    Campaign,
    CampaignFrameMember,
    Invitation,
    KeyAccount,
    Response,
)
from survey.scale import DEFAULT_ASPECTS

from .conftest import TEST_SECRET
from .factories import make_account

TINY = [
    "--answers", "1600",
    "--accounts", "600",
    "--campaign-size", "300",
    "--sample", "60",
    "--growth", "800,1600",
    "--rounds", "3",
    "--batch", "2",
    "--launches", "1",
    "--page-size", "20",
    "--served-workers", "2",
    "--served-clients", "4",
    "--served-requests", "12",
    "--served-seconds", "20",
]  # fmt: skip

SERVERS = [None]
if os.environ.get("TEST_DATABASE_URL"):
    SERVERS.append(os.environ["TEST_DATABASE_URL"])


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: "postgresql" if s else "sqlite")
def test_tiny_run_measures_every_item_and_writes_results(
    tmp_path: Path, server: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*TINY, "--output", str(tmp_path)]
    if server:
        argv += ["--database-url", server]
    assert harness.main(argv) == 0

    results = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert results["answers"] == 1600
    assert results["data"]["responses"] == 200
    assert results["data"]["accounts"] == 600
    assert results["data"]["defections"] == 12
    assert results["database"].startswith("PostgreSQL" if server else "SQLite")
    assert results["machine"]["cores"] == os.cpu_count()
    names = [i["name"] for i in results["items"]]
    assert names[:6] == [
        "survey page GET",
        "survey POST (valid, new invitation)",
        "satisfactionSummary(groupBy: ASPECT)",
        "dissatisfactionDrilldown(by: [ASPECT, TIER])",
        "dissatisfactionDrilldown(by: [ASPECT, TIER]) vs the summary's raw GROUP BY",
        "responses(first: 20) with account, campaign, answers",
    ]
    # The drill-down's two lines come from the same rounds: one A, two floors.
    assert results["items"][3]["measured"] == results["items"][4]["measured"]
    assert names[6].startswith("launchCampaign stratified, ")
    assert names[7:11] == [
        "satisfactionSummary(groupBy: ASPECT), cached",
        drivers.NAME,
        "survey page GET, gunicorn 2 workers, 4 clients",
        "survey POST, gunicorn 2 workers, 4 clients",
    ]
    served_post = results["items"][10]["detail"]
    assert served_post["requests"] == 12  # each one stored (checked by the harness)
    assert 0 < served_post["p50"] <= served_post["p99"]
    for item in results["items"]:
        assert set(item) >= {"name", "measured", "floor", "ratio", "target", "met"}
        assert item["measured"] > 0
        assert isinstance(item["met"], bool)
    post = results["items"][1]
    assert post["detail"]["stored"] == 1 + 3 * 2  # a warm-up, then three rounds of two
    assert post["detail"]["cpu"] > 0 and post["detail"]["cpu_floor"] > 0
    responses = results["items"][5]
    assert 1 <= responses["detail"]["statements"] <= 5
    launch = results["items"][6]
    assert launch["detail"]["sample"] == 60
    # excludeSurveyedWithinDays 0: the frame is every active account, defected ones out.
    assert launch["detail"]["frame"] == 600
    # Its CPU time here, and in a PostgreSQL server on this machine (SQLite runs here).
    assert launch["detail"]["cpu"] > 0
    assert ("server_cpu" in launch["detail"]) == bool(server)
    recompute, read = results["items"][-2:]
    assert recompute["name"] == (
        "value and health recompute, 600 accounts, 4,800 indicators"  # eight per account
    )
    # Two value models and health, one row per active account each; health also
    # scores an account whose defection is dated after today (none on today's clock,
    # some when the suite runs with the clock moved ahead of the generated data).
    leaving_later = recompute["detail"]["leaving_later"]
    assert recompute["detail"]["score_rows"] == 3 * 600 + leaving_later
    assert read["name"] == "one account's value and health via GraphQL"
    assert [p["answers"] for p in results["growth"]] == [800, 1600]
    assert results["growth_note"] == "1,000,000 answers needs --large"

    table = (tmp_path / "latest.md").read_text(encoding="utf-8")
    assert "| survey page GET |" in table
    assert "| survey POST, gunicorn 2 workers, 4 clients | " in table
    assert ", p99 " in table
    assert "1,600 answers" in table
    assert "accounts frame, sample 60: CPU time (median) " in table
    assert (" in the database server = " if server else " (SQLite included); wall times ") in table
    assert table in capsys.readouterr().out


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: "postgresql" if s else "sqlite")
def test_tiny_run_of_the_post_ceiling(
    server: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m benchmarks.post_ceiling`: every measure runs (each POST is checked to
    be stored: 303), and on PostgreSQL the one-statement bound."""
    argv = ["-n", "60", "--accounts", "600"]
    if server:
        argv += ["--database-url", server]
    assert post_ceiling.main(argv) == 0
    out = capsys.readouterr().out
    for measure in ("floor (bare GET)", "POST without storing", "the writes on a bare connection"):
        assert measure in out
    assert "best POST ratio were storing free of our code" in out
    assert ("bound of any POST storing in one statement" in out) == bool(server)


def test_tiny_run_of_the_costliest_requests(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m benchmarks.costliest`: every candidate fits the cap and runs."""
    argv = ["--answers", "1600", "--accounts", "600", "--campaign-size", "300", "--rounds", "1"]
    assert costliest.main(argv) == 0
    table = capsys.readouterr().out
    for name in costliest.CANDIDATES:
        assert f"| {name} |" in table


def test_tiny_run_of_one_item(tmp_path: Path) -> None:
    """`--only drivers`: that item alone, no growth timings, checked against its floor."""
    argv = [*TINY, "--output", str(tmp_path), "--only", "drivers"]
    assert harness.main(argv) == 0
    results = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert [i["name"] for i in results["items"]] == [drivers.NAME]
    assert results["growth"] == [] and results["answers"] == 1600


def test_only_refuses_an_unknown_item(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--only", "drivers,weather"])
    assert "unknown item(s) weather" in capsys.readouterr().err


def test_default_and_large_sizes() -> None:
    default = parse_args([])
    assert default.answers == 100_000
    assert default.growth_sizes == [10_000, 100_000]
    large = parse_args(["--large"])
    assert large.answers == 1_000_000
    assert large.growth_sizes == [10_000, 100_000, 1_000_000]
    odd = parse_args(["--answers", "50000"])
    assert odd.growth_sizes == [10_000, 50_000]


def test_only_some_items() -> None:
    assert parse_args([]).items == harness.ITEM_NAMES
    assert parse_args(["--only", "responses, summary"]).items == ("summary", "responses")
    with pytest.raises(SystemExit):
        parse_args(["--only", "responses,nonsense"])


def test_tiny_run_of_only_the_responses(tmp_path: Path) -> None:
    """--only runs just those items; the responses' floors agree with the endpoint's JSON."""
    assert harness.main([*TINY, "--only", "responses", "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    [item] = results["items"]
    assert item["name"] == "responses(first: 20) with account, campaign, answers"
    detail = item["detail"]
    assert detail["floor"] == "raw SQL + strawberry over plain dataclasses"
    assert detail["plain_json"] > 0 and detail["raw_sql"] > 0
    assert "plain-Python JSON" in (tmp_path / "latest.md").read_text(encoding="utf-8")


def test_growth_exponent() -> None:
    linear = [GrowthPoint(10_000, 0.01, 0.005), GrowthPoint(100_000, 0.1, 0.05)]
    assert growth_exponent(linear) == pytest.approx(1.0)
    square = [GrowthPoint(10, 1.0, 1.0), GrowthPoint(100, 100.0, 1.0)]
    assert growth_exponent(square) == pytest.approx(2.0)
    assert growth_exponent(linear[:1]) is None


def _results(**overrides: Any) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"cores": 2, "python": "3.11.7"},
        "database": "SQLite 3.40.1",
        "answers": 100_000,
        "data": {"responses": 12_500, "accounts": 100_000},
        "finished_at": "2026-11-23T17:00:00+00:00",
        "items": [
            {
                "name": "survey page GET",
                "unit": "requests/s",
                "measured": 900.0,
                "floor": 2000.0,
                "ratio": 0.45,
                "target": ">= 0.40",
                "met": True,
            },
            {
                "name": "responses",
                "unit": "s",
                "measured": 0.03,
                "floor": 0.01,
                "ratio": 3.5,
                "target": "<= 3.0, statements <= 5",
                "met": False,
                "detail": {"statements": 4},
            },
        ],
        "growth": [{"answers": 10_000, "latency": 0.0123, "floor": 0.01}],
        "growth_exponent": None,
        "growth_met": True,
        "growth_note": "1,000,000 answers needs --large",
    }
    results.update(overrides)
    return results


def test_markdown_table() -> None:
    text = markdown(_results())
    assert "on 2 cores, Python 3.11.7, SQLite 3.40.1, 100,000 answers" in text
    loaded = markdown(_results(machine={"cores": 2, "python": "3.11.7", "load_average": 6.5}))
    assert "on 2 cores (load average 6.5 at the start), Python 3.11.7" in loaded
    assert "| survey page GET | 900 requests/s | 2,000 requests/s | 0.45 | >= 0.40 | yes |" in text
    assert "| responses | 30.0 ms, 4 statements | 10.0 ms | 3.50 | <= 3.0, statements <= 5 " in text
    assert "| **no** |" in text
    assert "| 10,000 | 12.3 ms | 10.0 ms |" in text
    assert "1,000,000 answers needs --large." in text


def test_interleaving_alternates_abba() -> None:
    calls: list[str] = []
    paired = interleaved(lambda: calls.append("a"), lambda: calls.append("b"), rounds=4, warmup=1)
    assert "".join(calls) == "ab" + "ab" + "ba" + "ab" + "ba"
    assert len(paired.a) == len(paired.b) == 4


def test_generated_data_is_consistent(app: Any) -> None:
    """Every response scores every aspect once; reasons only for scores 1-2; the
    open campaign's links open the survey; datetimes read back as written."""
    with app.app_context():
        generator = Generator(seed=7, secret_key=TEST_SECRET, accounts=300, sample_size=120)
        generator.start()
        generator.grow_to(1000, statistics=False)  # the test database is shared
        generator.open_campaign(5)
        data = generator.data
        assert data.answers == 1000 and data.responses == 125
        assert db.session.scalar(select(func.count()).select_from(KeyAccount)) == 306
        per_response = db.session.execute(
            select(func.count(Answer.id), func.count(func.distinct(Answer.aspect_id))).group_by(
                Answer.response_id
            )
        ).all()
        assert set(per_response) == {(len(DEFAULT_ASPECTS), len(DEFAULT_ASPECTS))}
        reasons_on_happy = db.session.scalar(
            select(func.count())
            .select_from(AnswerReason)
            .join(Answer, Answer.id == AnswerReason.answer_id)
            .where(Answer.score > 2)
        )
        assert reasons_on_happy == 0
        assert db.session.scalar(select(func.count()).select_from(AnswerReason)) == data.reasons
        responded = db.session.scalar(select(func.count()).where(Invitation.status == "responded"))
        assert responded == data.responses
        ctx = load_invitation(data.open_tokens[0])
        assert ctx is not None and ctx.campaign_id == data.open_campaign_id
        first = db.session.scalars(select(Response).order_by(Response.id).limit(1)).one()
        assert first.submitted_at.tzinfo is not None
        assert first.submitted_at < generator.now


def test_survey_form_data_is_valid_for_the_default_questionnaire() -> None:
    data = survey_form_data("tok", 3)
    scores = [data[f"score_{s.code}"] for s in DEFAULT_ASPECTS]
    assert scores.count("2") == 1
    unhappy = DEFAULT_ASPECTS[3].code
    assert data[f"score_{unhappy}"] == "2"
    assert data[f"reasons_{unhappy}"] == ["delivery", "service"]


# ---------------------------------------------------------------------------
# Optimisations the benchmarks asked for keep their meaning


def test_launch_stores_exactly_the_frame_it_drew_from(app: Any) -> None:
    with app.app_context():
        accounts = [make_account(f"KA{n:03d}", tier="ABC"[n % 3]) for n in range(12)]
        accounts[0].active = False
        db.session.commit()
        result = campaigns.launch_campaign(
            campaigns.CampaignRequest(name="Q1", size=4, stratify_by="tier", seed=5),
            secret_key=TEST_SECRET,
        )
        stored = db.session.execute(
            select(
                CampaignFrameMember.account_id,
                CampaignFrameMember.external_id,
                CampaignFrameMember.stratum,
            )
            .where(CampaignFrameMember.campaign_id == result.campaign_id)
            .order_by(CampaignFrameMember.account_id)
        ).all()
        assert stored == [(a.id, a.external_id, a.tier) for a in accounts[1:]]


def test_launch_refuses_a_registry_that_changed_under_the_draw(app: Any) -> None:
    with app.app_context():
        accounts = [make_account(f"KA{n:03d}") for n in range(6)]
        db.session.commit()
        frame = build_frame()
        accounts[2].active = False  # leaves after the draw, before the frame is stored
        db.session.flush()
        campaign = Campaign(
            name="Q1",
            questionnaire_id=campaigns.ensure_default_questionnaire().id,
            closes_at=utcnow(),
            method="simple",
            seed=1,
            frame_size=frame.size,
            sample_size=1,
        )
        db.session.add(campaign)
        db.session.flush()
        with pytest.raises(ConflictError, match="registry changed"):
            campaigns._store_frame(campaign.id, frame)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(CampaignFrameMember)) == 0


def test_cached_parse_and_validation_still_refuse_what_the_limits_refuse(app: Any) -> None:
    """The second time a document comes, its validation comes from the cache."""
    from survey.registry.staff import add_staff

    with app.app_context():
        token = add_staff("bench-viewer", "viewer").token
    client = app.test_client()
    deep = "{ dissatisfactionDrilldown(by: [ASPECT]) { " + "children { " * 10 + "key"
    deep += " }" * 11 + " }"
    aliases = "{ " + " ".join(f"a{n}: me {{ name }}" for n in range(31)) + " }"
    for _ in range(2):
        for query, message in ((deep, "maximum operation depth"), (aliases, "aliases")):
            resp = client.post(
                "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
            )
            errors = resp.get_json()["errors"]
            assert message in errors[0]["message"]
        ok = client.post(
            "/graphql",
            json={"query": "{ me { name } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert ok.get_json() == {"data": {"me": {"name": "bench-viewer"}}}


def test_only_picks_items_in_their_order() -> None:
    assert parse_args([]).items == harness.ITEM_NAMES
    assert parse_args([]).output == harness.RESULTS_DIR
    only = parse_args(["--only", "served, get"])
    assert only.items == ("get", "served")
    assert only.output is None  # a partial run overwrites no results unless told
    with pytest.raises(SystemExit):
        parse_args(["--only", "get,speed"])


def test_served_percentiles() -> None:
    from benchmarks.served import LoadRun

    run = LoadRun(seconds=2.0, latencies=[0.01 * n for n in range(1, 101)])
    assert run.rate == 50.0
    assert run.percentile(50) == pytest.approx(0.51)
    assert run.percentile(99) == pytest.approx(0.99)
    assert LoadRun().percentile(99) == 0.0
