"""Repeated analytics are cheap (survey/analysis/cache.py, survey/data_version.py):
a figure asked for again runs no analytics SQL, and every write that changes what
it counts, committed by any process, makes the next request compute it anew."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import delete, insert, select, update

from survey import analysis
from survey.analysis import (
    DefectionFilter,
    Dimension,
    LRUStorage,
    ResponseFilter,
    Weight,
    defection_reasons,
    defection_reasons_by_source,
    dissatisfaction_drilldown,
    satisfaction_summaries,
    satisfaction_summary,
)
from survey.answers import AnswerInput, record_response
from survey.campaigns import close_campaign
from survey.clock import utcnow
from survey.data_version import ROW_ID, DataVersion, current_token
from survey.db import db
from survey.delivery import opt_out
from survey.delivery.mail import optout_token
from survey.models import Answer, Aspect, Campaign, Invitation, KeyAccount, Response
from survey.registry import import_accounts_csv, record_defection
from survey.scale import DEFAULT_ASPECTS
from web.analysis_cache import RedisStorage, analysis_cache, redis_url
from web.config import ConfigError

from .conftest import TEST_SECRET, make_test_app
from .factories import make_account, make_campaign
from .graphql_data import Data, build
from .graphql_helpers import gql, make_tokens

ANALYTIC = re.compile(
    r"\b(answers|answer_reasons|responses|aspects|key_accounts|campaigns|defections"
    r"|defection_reasons|exit_feedback)\b"
)
SUMMARY = """
query($groupBy: Dimension!, $filter: ResponseFilter, $weight: Weight) {
  satisfactionSummary(groupBy: $groupBy, filter: $filter, weight: $weight) {
    key label answers mean dissatisfiedShare lowSample
  }
}
"""
DRILLDOWN = """
query { dissatisfactionDrilldown(by: [ASPECT, TIER]) {
  key label answers dissatisfied topReasons { reason count } comments
  children { key answers dissatisfied comments }
} }
"""
DEFECTIONS = """
query($groupBy: Dimension) { defectionReasons(groupBy: $groupBy) {
  key label defections lostRevenue exitSurveyResponses reasons { reason count source }
} }
"""


@pytest.fixture
def setup(app) -> tuple[Data, dict[str, str]]:
    with app.app_context():
        return build(), make_tokens()


def stats(app: Flask) -> tuple[int, int]:
    cache = analysis_cache(app)
    assert cache is not None
    return cache.hits, cache.misses


def request_statements(client, *args: Any, **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    """A GraphQL request, and the SQL statements it ran (recorded in its app context)."""
    with client:
        body = gql(client, *args, **kwargs)
        statements = [q.statement for q in get_recorded_queries()]
    return body, statements


def analytic(statements: list[str]) -> list[str]:
    return [s for s in statements if ANALYTIC.search(s)]


def token(app: Flask) -> str | None:
    with app.app_context():
        return db.session.scalar(select(DataVersion.token).where(DataVersion.id == ROW_ID))


# --- hits ---------------------------------------------------------------------------


def test_the_second_identical_request_runs_no_analytics_sql(app, client, setup):
    _, tokens = setup
    variables = {"groupBy": "ASPECT"}
    first, first_sql = request_statements(
        client, SUMMARY, variables, token=tokens["viewer"], lang="en"
    )
    second, second_sql = request_statements(
        client, SUMMARY, variables, token=tokens["viewer"], lang="en"
    )
    assert second == first
    assert "errors" not in second
    assert analytic(first_sql)  # the first one computed it
    assert analytic(second_sql) == []
    # What it does run: the bearer-token look-up and the data version (one row by key).
    assert len([s for s in second_sql if "data_version" in s]) == 1
    assert stats(app) == (1, 1)


def test_drilldown_and_defection_reasons_are_cached_too(app, client, setup):
    _, tokens = setup
    for query, variables in ((DRILLDOWN, {}), (DEFECTIONS, {"groupBy": "TIER"})):
        first, _ = request_statements(client, query, variables, token=tokens["viewer"])
        again, statements = request_statements(client, query, variables, token=tokens["viewer"])
        assert again == first
        assert "errors" not in again
        assert analytic(statements) == []
    assert stats(app) == (2, 2)


def test_direct_calls_hit_without_sql(app, setup):
    with app.app_context():
        first = satisfaction_summary(Dimension.TIER, ResponseFilter(aspect="overall"))
        before = len(get_recorded_queries())
        again = satisfaction_summary(Dimension.TIER, ResponseFilter(aspect="overall"))
        # Same transaction: the data version was read once already.
        assert len(get_recorded_queries()) == before
    assert again == first
    assert stats(app) == (1, 1)


def test_the_results_page_computes_its_figures_once(app, client, setup):
    login = client.get("/manage/login")
    assert login.status_code == 200
    with app.app_context():
        from survey.registry.staff import add_staff

        add_staff("results-viewer", "viewer", email="v@example.com", password="a long password 1")
    from .conftest import csrf_token_from

    resp = client.post(
        "/manage/login",
        data={
            "csrf_token": csrf_token_from(login.get_data(as_text=True)),
            "email": "v@example.com",
            "password": "a long password 1",
        },
    )
    assert resp.status_code == 303, resp.get_data(as_text=True)
    first = client.get("/manage/results?lang=en")
    assert first.status_code == 200
    hits, misses = stats(app)
    # a summary, the responses counted, a drill-down, comment themes by aspect, defection
    # reasons by month (by source), by tier, by value type, defections by month and reason
    assert (hits, misses) == (0, 8)
    again = client.get("/manage/results?lang=en")
    assert without_csrf(again.get_data(as_text=True)) == without_csrf(first.get_data(as_text=True))
    assert stats(app) == (8, 8)


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*>', "", html)


# --- what an entry is keyed by ------------------------------------------------------------


def test_language_arguments_and_weight_are_entries_of_their_own(app, client, setup):
    _, tokens = setup
    asks = [
        ({"groupBy": "TIER"}, "en"),
        ({"groupBy": "TIER"}, "zh"),
        ({"groupBy": "REGION"}, "en"),
        ({"groupBy": "TIER", "filter": {"aspect": "overall"}}, "en"),
        ({"groupBy": "TIER", "weight": "REVENUE"}, "en"),
    ]
    bodies = [gql(client, SUMMARY, v, token=tokens["viewer"], lang=lang) for v, lang in asks]
    assert stats(app) == (0, len(asks))
    assert bodies[0] != bodies[1]  # labels: "Tier A" / "A 级"
    for (variables, lang), body in zip(asks, bodies, strict=True):
        assert gql(client, SUMMARY, variables, token=tokens["viewer"], lang=lang) == body
    assert stats(app) == (len(asks), len(asks))


def test_the_role_does_not_change_a_figure_so_roles_share_entries(app, client, setup):
    """Permissions are checked before a resolver runs; the figures themselves are the
    same for every role, so a manager reads what a viewer's request cached."""
    _, tokens = setup
    viewer = gql(client, SUMMARY, {"groupBy": "TIER"}, token=tokens["viewer"])
    manager, statements = request_statements(
        client, SUMMARY, {"groupBy": "TIER"}, token=tokens["manager"]
    )
    assert manager == viewer
    assert analytic(statements) == []


def test_minimum_group_size_is_part_of_the_key(app, setup):
    with app.app_context():
        small = satisfaction_summary(Dimension.TIER, min_group_size=1)
        large = satisfaction_summary(Dimension.TIER, min_group_size=100)
        assert [g.low_sample for g in small] == [False, False]
        assert [g.low_sample for g in large] == [True, True]
        assert satisfaction_summary(Dimension.TIER, min_group_size=1) == small
    assert stats(app) == (1, 2)


# --- invalidation -------------------------------------------------------------------------


def _open_invitation(app: Flask) -> int:
    with app.app_context():
        account = make_account("KA-NEW", tier="B", region="华南")
        campaign, _ = make_campaign("2026 Q4 new", accounts=[account])
        invitation_id = db.session.scalar(
            select(Invitation.id).where(Invitation.campaign_id == campaign.id)
        )
        db.session.commit()
        return int(invitation_id)


def test_a_new_response_through_the_service_shows_in_the_next_request(app, client, setup):
    _, tokens = setup
    invitation_id = _open_invitation(app)
    before = gql(client, SUMMARY, {"groupBy": "TIER"}, token=tokens["viewer"], lang="en")
    assert gql(client, SUMMARY, {"groupBy": "TIER"}, token=tokens["viewer"], lang="en") == before
    old_token = token(app)
    with app.app_context():
        answers = {spec.code: AnswerInput(4) for spec in DEFAULT_ASPECTS}
        answers["delivery"] = AnswerInput(1, reasons=["delivery"], reason_text="late")
        record_response(invitation_id, answers, comment=None, locale="zh")
    assert token(app) != old_token
    after = gql(client, SUMMARY, {"groupBy": "TIER"}, token=tokens["viewer"], lang="en")
    tier_b = {g["key"]: g for g in after["data"]["satisfactionSummary"]}["B"]
    tier_b_before = {g["key"]: g for g in before["data"]["satisfactionSummary"]}["B"]
    assert tier_b["answers"] == tier_b_before["answers"] + len(DEFAULT_ASPECTS)


def test_an_exit_response_changes_the_exit_survey_counts(app, client, setup):
    data, tokens = setup
    before = gql(client, DEFECTIONS, {}, token=tokens["viewer"])["data"]["defectionReasons"]
    with app.app_context():
        from survey.answers import ExitAnswers, record_exit_response
        from survey.models import KIND_EXIT

        account = db.session.get(KeyAccount, data.accounts["KA4"])  # defected in graphql_data
        campaign, _ = make_campaign("exit", accounts=[account], kind=KIND_EXIT)
        invitation_id = db.session.scalar(
            select(Invitation.id).where(Invitation.campaign_id == campaign.id)
        )
        db.session.commit()
        record_exit_response(
            invitation_id, ExitAnswers(main_reason="price", other_reasons=()), locale="zh"
        )
    after = gql(client, DEFECTIONS, {}, token=tokens["viewer"])["data"]["defectionReasons"]
    assert after[0]["exitSurveyResponses"] == before[0]["exitSurveyResponses"] + 1


def test_a_defection_shows_in_the_next_request(app, client, setup):
    data, tokens = setup
    before = gql(client, DEFECTIONS, {}, token=tokens["viewer"])["data"]["defectionReasons"]
    with app.app_context():
        record_defection(
            account_id=data.accounts["KA1"], defected_on=date(2026, 11, 1), reasons=["delivery"]
        )
    after = gql(client, DEFECTIONS, {}, token=tokens["viewer"])["data"]["defectionReasons"]
    assert after[0]["defections"] == before[0]["defections"] + 1


HEADER = (
    "external_id,name,tier,value_type,relationship_stage,region,annual_revenue,"
    "account_manager,contact_name,contact_email,contact_phone,locale"
)


def test_an_import_that_moves_an_account_shows_in_the_next_request(app, client, setup):
    _, tokens = setup
    variables = {"groupBy": "REGION"}
    before = gql(client, SUMMARY, variables, token=tokens["viewer"])["data"]
    assert {g["key"] for g in before["satisfactionSummary"]} == {"华东", "华北"}
    row = "KA1,Account KA1,A,extrinsic,partner,西南,5000000,王伟,李娜,ka1@example.com,,zh"
    with app.app_context():
        report = import_accounts_csv(io.BytesIO(f"{HEADER}\n{row}\n".encode()))
        assert report.updated == 1
    after = gql(client, SUMMARY, variables, token=tokens["viewer"])["data"]
    assert "西南" in {g["key"] for g in after["satisfactionSummary"]}


def test_an_account_edit_in_the_session_shows_in_the_next_request(app, setup):
    data, _ = setup
    with app.app_context():
        before = satisfaction_summary(Dimension.ACCOUNT_MANAGER)
    with app.app_context():
        db.session.get(KeyAccount, data.accounts["KA1"]).account_manager = "张敏"
        db.session.commit()
    with app.app_context():
        after = satisfaction_summary(Dimension.ACCOUNT_MANAGER)
    assert "张敏" not in {g.key for g in before}
    assert "张敏" in {g.key for g in after}


def test_closing_or_renaming_a_campaign_is_a_new_version(app, setup):
    data, _ = setup
    versions = [token(app)]
    with app.app_context():
        close_campaign(data.campaigns["C1"])  # already closed: changes nothing
    versions.append(token(app))
    with app.app_context():
        account = make_account("KA-OPEN")
        campaign, _ = make_campaign("open one", accounts=[account])
        db.session.commit()
        versions.append(token(app))
        close_campaign(campaign.id)
    versions.append(token(app))
    with app.app_context():
        before = satisfaction_summary(Dimension.CAMPAIGN)
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == data.campaigns["C1"])
            .values(name="2026 Q1 (renamed)")
        )
        db.session.commit()
        after = satisfaction_summary(Dimension.CAMPAIGN)
    versions.append(token(app))
    assert versions[0] == versions[1]  # nothing written
    assert len(set(versions[1:])) == 4
    assert before[0].label == "2026 Q1"
    assert after[0].label == "2026 Q1 (renamed)"


def test_a_launch_is_a_new_version_and_lists_the_campaign(app, setup):
    from survey.campaigns import CampaignRequest, launch_campaign

    with app.app_context():
        before = satisfaction_summary(Dimension.CAMPAIGN, ResponseFilter())
        old = current_token(db.session)
    with app.app_context():
        result = launch_campaign(
            CampaignRequest(name="2026 Q4", size=2, seed=7, exclude_days=0),
            secret_key=TEST_SECRET,
        )
        assert result.campaign_id is not None
        assert current_token(db.session) != old
    with app.app_context():
        after = satisfaction_summary(Dimension.CAMPAIGN, ResponseFilter())
    assert after == before  # nobody has answered it yet: computed again, the same
    assert stats(app) == (0, 2)


def test_an_opt_out_changes_no_figure_and_keeps_the_cache(app, setup):
    data, _ = setup
    with app.app_context():
        invitation_id = db.session.scalar(
            select(Invitation.id).where(Invitation.account_id == data.accounts["KA3"])
        )
        satisfaction_summary(Dimension.TIER)
    before = token(app)
    with app.app_context():
        assert opt_out(optout_token(TEST_SECRET, invitation_id, _nonce(invitation_id)), TEST_SECRET)
    assert token(app) == before
    with app.app_context():
        satisfaction_summary(Dimension.TIER)
    assert stats(app) == (1, 1)


def _nonce(invitation_id: int) -> str:
    return str(
        db.session.scalar(select(Invitation.token_nonce).where(Invitation.id == invitation_id))
    )


def test_opening_a_link_is_no_new_version(app, setup):
    invitation_id = _open_invitation(app)
    before = token(app)
    with app.app_context():
        from survey.answers import mark_opened

        assert mark_opened(invitation_id)
    assert token(app) == before


def test_a_rolled_back_write_keeps_the_version(app, setup):
    before = token(app)
    with app.app_context():
        db.session.execute(update(Answer).values(score=1))
        db.session.rollback()
    assert token(app) == before


def test_a_write_by_another_worker_is_seen_at_once(app, setup, database_url):
    """Two app processes, each with its own LRU: a figure one of them cached is not
    served after the other commits a change (the data version lives in the database)."""
    other = make_test_app(database_url)
    try:
        with app.app_context():
            before = satisfaction_summary(Dimension.ASPECT, ResponseFilter(aspect="overall"))
        with other.app_context():
            db.session.execute(update(Answer).values(score=5))
            db.session.commit()
        with app.app_context():
            after = satisfaction_summary(Dimension.ASPECT, ResponseFilter(aspect="overall"))
        assert before[0].mean != 5.0
        assert after[0].mean == 5.0
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_uncommitted_changes_bypass_the_cache(app, setup):
    """What a session computes over its own uncommitted rows is neither cached nor
    read from the cache; after a rollback the figure is as before."""
    with app.app_context():
        committed = satisfaction_summary(Dimension.ASPECT, ResponseFilter(aspect="overall"))
        db.session.execute(update(Answer).values(score=5))
        assert current_token(db.session) is None
        pending = satisfaction_summary(Dimension.ASPECT, ResponseFilter(aspect="overall"))
        assert pending[0].mean == 5.0
        db.session.rollback()
        again = satisfaction_summary(Dimension.ASPECT, ResponseFilter(aspect="overall"))
    assert again == committed
    cache = analysis_cache(app)
    assert cache is not None
    assert (cache.hits, cache.misses, cache.bypassed) == (1, 1, 1)


def test_core_statements_and_unit_of_work_flushes_are_both_noticed(app, setup):
    with app.app_context():
        account = make_account("KA-BULK")
        campaign, _ = make_campaign("bulk", accounts=[account])
        db.session.commit()
        invitation_id = db.session.scalar(
            select(Invitation.id).where(Invitation.campaign_id == campaign.id)
        )
        seen = [token(app)]
        db.session.execute(  # a Core INSERT through the session
            insert(Response).values(
                invitation_id=invitation_id,
                campaign_id=campaign.id,
                account_id=account.id,
                submitted_at=utcnow(),
                locale="zh",
            )
        )
        db.session.commit()
        seen.append(token(app))
        aspect = db.session.scalar(select(Aspect).where(Aspect.code == "price"))
        aspect.label_en = "Pricing"  # a unit-of-work UPDATE
        db.session.commit()
        seen.append(token(app))
    assert len(set(seen)) == 3


# --- correctness and immutability ---------------------------------------------------------


FIGURES = [
    lambda: satisfaction_summary(Dimension.ASPECT, locale="en"),
    lambda: satisfaction_summary(Dimension.TIER, ResponseFilter(aspect="overall")),
    lambda: satisfaction_summary(Dimension.REGION, weight=Weight.REVENUE),
    lambda: satisfaction_summary(Dimension.MONTH, ResponseFilter(since=date(2026, 7, 1))),
    lambda: satisfaction_summaries(Dimension.ASPECT, campaign_ids=[1, 2, 999]),
    lambda: dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER], locale="en"),
    lambda: dissatisfaction_drilldown(
        [Dimension.ACCOUNT_MANAGER, Dimension.MONTH], ResponseFilter(aspect="delivery")
    ),
    lambda: defection_reasons(),
    lambda: defection_reasons(Dimension.MONTH, DefectionFilter(region="华北")),
    lambda: defection_reasons_by_source(Dimension.TIER, locale="en"),
]


def test_cache_on_gives_exactly_what_cache_off_gives(app, setup, database_url):
    uncached = make_test_app(database_url, ANALYSIS_CACHE=False)
    try:
        assert analysis_cache(uncached) is None
        with uncached.app_context():
            expected = [figure() for figure in FIGURES]
        with app.app_context():
            computed = [figure() for figure in FIGURES]
        with app.app_context():
            cached = [figure() for figure in FIGURES]
    finally:
        with uncached.app_context():
            db.session.remove()
            db.engine.dispose()
    assert computed == expected
    assert cached == expected
    assert stats(app) == (len(FIGURES), len(FIGURES))


def test_callers_get_their_own_lists_of_frozen_figures(app, setup):
    with app.app_context():
        first = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER])
        first.clear()
        second = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER])
        assert second
        third = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER])
        per = satisfaction_summaries(Dimension.ASPECT, campaign_ids=[1])
        per[1].pop()
        assert len(satisfaction_summaries(Dimension.ASPECT, campaign_ids=[1])[1]) == 8
    assert second == third and second is not third
    with pytest.raises(dataclasses.FrozenInstanceError):
        second[0].answers = 0  # type: ignore[misc]
    assert isinstance(second[0].children, tuple)


def test_a_figure_that_is_not_frozen_is_refused(app, setup):
    @analysis.cached
    def mutable() -> list[dict[str, int]]:
        return [{"a": 1}]

    with app.app_context(), pytest.raises(TypeError, match="tuple"):
        mutable()


# --- settings and storage -----------------------------------------------------------------


def test_cache_off_computes_every_time(database_url):
    app = make_test_app(database_url, ANALYSIS_CACHE=False)
    try:
        with app.app_context():
            db.create_all()
            build()
            before = len(get_recorded_queries())
            satisfaction_summary(Dimension.TIER)
            once = len(get_recorded_queries()) - before
            satisfaction_summary(Dimension.TIER)
            assert len(get_recorded_queries()) - before == 2 * once
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    from web.config import check_config, load_config

    monkeypatch.setenv("ANALYSIS_CACHE", "0")
    monkeypatch.setenv("ANALYSIS_CACHE_SIZE", "64")
    monkeypatch.setenv("ANALYSIS_CACHE_TTL", "30")
    config = load_config(tmp_path)
    assert (config["ANALYSIS_CACHE"], config["ANALYSIS_CACHE_SIZE"]) == (False, 64)
    assert config["ANALYSIS_CACHE_TTL"] == 30
    monkeypatch.delenv("ANALYSIS_CACHE")
    assert load_config(tmp_path)["ANALYSIS_CACHE"] is True
    with pytest.raises(ConfigError, match="ANALYSIS_CACHE_SIZE"):
        check_config({**config, "ANALYSIS_CACHE_SIZE": 0})


def test_redis_is_used_when_configured():
    assert redis_url({"RATELIMIT_STORAGE_URI": "memory://"}) is None
    assert redis_url({"RATELIMIT_STORAGE_URI": "redis://r:6379/1"}) == "redis://r:6379/1"
    assert redis_url({"CACHE_REDIS_URL": "redis://c/2", "RATELIMIT_STORAGE_URI": "redis://r"}) == (
        "redis://c/2"
    )
    assert redis_url({"CACHE_REDIS_URL": "memory://", "RATELIMIT_STORAGE_URI": "redis://r"}) is None


def test_the_lru_drops_the_least_recently_used_and_the_expired():
    now = [0.0]
    lru = LRUStorage(2, clock=lambda: now[0])
    lru.set("a", 1, ttl=10)
    lru.set("b", 2, ttl=10)
    assert lru.get("a") == 1  # a is now the most recent
    lru.set("c", 3, ttl=10)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    now[0] = 10.0
    assert lru.get("a") is None
    assert len(lru) == 1


class _BrokenRedis:
    calls = 0

    def get(self, key: str) -> Any:
        self.calls += 1
        raise ConnectionError("down")

    def set(self, key: str, value: Any, ex: int) -> None:
        self.calls += 1
        raise ConnectionError("down")


def test_a_failing_redis_makes_figures_uncached_not_failed(app, setup, caplog):
    broken = _BrokenRedis()
    cache = analysis_cache(app)
    assert cache is not None
    cache.storage = RedisStorage(broken)
    with app.app_context():
        first = satisfaction_summary(Dimension.TIER)
        assert satisfaction_summary(Dimension.TIER) == first
    assert broken.calls == 1  # then left alone for a while
    assert "Redis failed" in caplog.text


def _redis_answers() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_workers_share_entries_through_redis(setup, database_url, app):
    pytest.importorskip("redis", reason="the redis client is not installed")
    if not _redis_answers():
        pytest.skip("no Redis at 127.0.0.1:6379")
    url = "redis://127.0.0.1:6379/14"
    workers = [make_test_app(database_url, CACHE_REDIS_URL=url) for _ in range(2)]
    try:
        with workers[0].app_context():
            first = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER])
        with workers[1].app_context():
            before = len(get_recorded_queries())
            shared = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER])
            statements = [q.statement for q in get_recorded_queries()[before:]]
            assert analytic(statements) == []  # the data version only
        assert shared == first
        assert stats(workers[1]) == (1, 0)
        with workers[1].app_context():
            db.session.execute(update(Answer).values(score=1))
            db.session.commit()
        with workers[0].app_context():
            after = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER])
        assert after != first
        assert stats(workers[0]) == (0, 2)
    finally:
        for worker in workers:
            with worker.app_context():
                db.session.remove()
                db.engine.dispose()


def test_without_the_row_nothing_is_cached_until_the_next_write(app, setup):
    with app.app_context():
        db.session.execute(delete(DataVersion))
        db.session.commit()
        assert current_token(db.session) is None
        first = satisfaction_summary(Dimension.TIER)
        assert satisfaction_summary(Dimension.TIER) == first
    cache = analysis_cache(app)
    assert cache is not None
    assert (cache.hits, cache.misses, cache.bypassed) == (0, 0, 2)
    with app.app_context():
        make_account("KA-AFTER")
        db.session.commit()
    assert re.fullmatch(r"[0-9a-f]{32}", token(app) or "")
    with app.app_context():
        satisfaction_summary(Dimension.TIER)
        satisfaction_summary(Dimension.TIER)
    assert (cache.hits, cache.misses) == (1, 1)
