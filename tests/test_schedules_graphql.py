"""Schedules in the API: create, list, pause, resume, trend; comparing two cycles."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from survey.campaigns import ScheduleSpec, create_schedule, run_schedules
from survey.db import db
from survey.models import Campaign, Invitation, KeyAccount

from .conftest import TEST_SECRET
from .factories import make_account, make_response
from .graphql_helpers import codes, gql, make_tokens

CREATE = """mutation($input: CreateScheduleInput!) {
  createSchedule(input: $input) { id name every startsOn sampleSize censusTiers coverWithinDays
    nextRun nextCycle nextCycleLabel paused campaigns { id } } }"""
LIST = """{ schedules { name every paused nextCycle nextCycleLabel
  campaigns { id name cycle cycleLabel } } }"""
TREND = """query($id: ID!) { scheduleTrend(id: $id) { campaignName cycle answers accounts
  satisfiedShare satisfiedShareInterval { low high } lowSample } }"""


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    with app.app_context():
        made = make_tokens()
        db.session.commit()
        return made


def _input(**fields: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "Quarterly KA",
        "every": "QUARTER",
        "startsOn": "2026-01-01",
        "sampleSize": 3,
        "censusTiers": ["A"],
    }
    values.update(fields)
    return values


def test_a_manager_creates_pauses_and_resumes(client: FlaskClient, tokens) -> None:
    body = gql(client, CREATE, {"input": _input()}, token=tokens["manager"], lang="zh")
    created = body["data"]["createSchedule"]
    assert created["name"] == "Quarterly KA" and created["every"] == "QUARTER"
    assert created["censusTiers"] == ["A"] and created["coverWithinDays"] == 365
    assert created["nextCycleLabel"].endswith("季度") and created["campaigns"] == []
    sid = created["id"]
    paused = gql(
        client, "mutation($id: ID!) { pauseSchedule(id: $id) { paused nextRun } }",
        {"id": sid}, token=tokens["manager"],
    )  # fmt: skip
    assert paused["data"]["pauseSchedule"] == {"paused": True, "nextRun": None}
    resumed = gql(
        client, "mutation($id: ID!) { resumeSchedule(id: $id) { paused } }",
        {"id": sid}, token=tokens["admin"],
    )  # fmt: skip
    assert resumed["data"]["resumeSchedule"] == {"paused": False}
    listed = gql(client, LIST, token=tokens["manager"], lang="en")["data"]["schedules"]
    assert [s["name"] for s in listed] == ["Quarterly KA"]


def test_a_viewer_can_neither_create_nor_list(client: FlaskClient, tokens) -> None:
    body = gql(client, CREATE, {"input": _input()}, token=tokens["viewer"])
    assert codes(body) == ["FORBIDDEN"]
    assert codes(gql(client, LIST, token=tokens["viewer"])) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("fields", "lang", "field", "text"),
    [
        ({"sampleFraction": 0.2}, "en", "sampleSize", "Give either a sample size"),
        ({"sampleFraction": 0.2}, "zh", "sampleSize", "二者取其一"),
        ({"censusTiers": ["Z"]}, "zh", "censusTiers", "未知的客户等级 'Z'"),
        ({"censusTiers": ["Z"]}, "en", "censusTiers", "Unknown tier 'Z'"),
        ({"closesAfterDays": 0}, "zh", "closesAfterDays", "开放期"),
    ],
)
def test_bad_input_is_said_in_the_callers_language(
    client: FlaskClient, tokens, fields, lang, field, text
) -> None:
    body = gql(client, CREATE, {"input": _input(**fields)}, token=tokens["manager"], lang=lang)
    assert codes(body) == ["BAD_USER_INPUT"]
    error = body["errors"][0]
    assert text in error["message"] and error["extensions"]["field"] == field


def test_a_taken_name_is_a_conflict(client: FlaskClient, tokens) -> None:
    gql(client, CREATE, {"input": _input()}, token=tokens["manager"])
    body = gql(client, CREATE, {"input": _input()}, token=tokens["manager"])
    assert codes(body) == ["CONFLICT"]


def _two_cycles(app: Flask) -> tuple[int, list[int]]:
    """Three accounts, two quarterly cycles; Q3 answers 5, 4, 1 and Q4 5, 5, 4."""
    with app.app_context():
        accounts = [make_account(f"KA{i}") for i in range(3)]
        db.session.commit()
        schedule = create_schedule(
            ScheduleSpec(name="Quarterly KA", every="quarter", starts_on=date(2026, 7, 1), size=3),
            actor=None,
            today=date(2026, 7, 1),
        )
        for today in (date(2026, 8, 3), date(2026, 12, 6)):
            report = run_schedules(today, secret_key=TEST_SECRET, mail=None, actor="cron")
            assert len(report.launched) == 1
        campaigns = list(db.session.scalars(select(Campaign).order_by(Campaign.opens_at)))
        for campaign, scores in zip(campaigns, ([5, 4, 1], [5, 5, 4]), strict=True):
            for account, score in zip(accounts, scores, strict=True):
                make_response(campaign, db.session.get(KeyAccount, account.id), {"overall": score})
        db.session.commit()
        return schedule.id, [c.id for c in campaigns]


def test_the_trend_per_cycle(app: Flask, client: FlaskClient, tokens) -> None:
    sid, _ = _two_cycles(app)
    trend = gql(client, TREND, {"id": str(sid)}, token=tokens["viewer"])["data"]["scheduleTrend"]
    assert [(p["campaignName"], p["cycle"], p["answers"], p["accounts"]) for p in trend] == [
        ("Quarterly KA 2026-Q3", "2026-Q3", 3, 3),
        ("Quarterly KA 2026-Q4", "2026-Q4", 3, 3),
    ]
    assert trend[0]["satisfiedShare"] == pytest.approx(2 / 3)
    assert trend[1]["satisfiedShare"] == pytest.approx(1.0)
    assert (
        trend[0]["satisfiedShareInterval"]["low"]
        < 2 / 3
        < trend[0]["satisfiedShareInterval"]["high"]
    )
    assert all(p["lowSample"] for p in trend)  # 3 accounts < MIN_GROUP_SIZE
    missing = gql(client, TREND, {"id": "999"}, token=tokens["viewer"])
    assert codes(missing) == ["BAD_USER_INPUT"]


def test_the_trend_weighs_each_account_by_its_design(
    app: Flask, client: FlaskClient, tokens
) -> None:
    sid, campaign_ids = _two_cycles(app)
    with app.app_context():
        # In Q3 the dissatisfied account (KA2) was drawn with π = 1/2: it stands for two.
        account = db.session.scalar(select(KeyAccount.id).where(KeyAccount.external_id == "KA2"))
        db.session.execute(
            update(Invitation)
            .where(Invitation.campaign_id == campaign_ids[0], Invitation.account_id == account)
            .values(inclusion_probability=0.5)
        )
        db.session.commit()
    trend = gql(client, TREND, {"id": str(sid)}, token=tokens["viewer"])["data"]["scheduleTrend"]
    # Hájek: satisfied weight 1 + 1 over total weight 1 + 1 + 2.
    assert trend[0]["satisfiedShare"] == pytest.approx(0.5)


def test_compare_consecutive_cycles(app: Flask, client: FlaskClient, tokens) -> None:
    _sid, (q3, q4) = _two_cycles(app)
    body = gql(
        client,
        """query($a: ID!, $b: ID!) { compareCampaigns(a: $a, b: $b) {
             a { name answers satisfied } b { name answers satisfied }
             difference significant } }""",
        {"a": str(q3), "b": str(q4)},
        token=tokens["viewer"],
    )
    result = body["data"]["compareCampaigns"]
    assert result["a"] == {"name": "Quarterly KA 2026-Q3", "answers": 3, "satisfied": 2}
    assert result["b"] == {"name": "Quarterly KA 2026-Q4", "answers": 3, "satisfied": 3}
    assert result["difference"] == pytest.approx(1 / 3)
    assert result["significant"] is False
