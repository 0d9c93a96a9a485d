"""What the API holds back: a request's database work stops at its time limit (TIMEOUT),
and strangers get no schema hints ("Did you mean ...?"), no long echo of their input
and no Python in the messages (dates in our words, in zh and en)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from schema.errors import MAX_ECHO, MAX_MESSAGE, cap_echoes, shown
from survey.db import db, statement_time_limit
from survey.models import KeyAccount
from web.config import ConfigError, load_config

from .graphql_data import Data, build
from .graphql_helpers import codes, gql, make_tokens

#: Counts to a hundred million: tens of seconds on either database, unless stopped.
SLOW_SQL = (
    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000000) "
    "SELECT count(*) FROM c"
)
LIMIT_MS = 200
#: A request cut off at 200 ms answers well within this (the count alone takes 10 s+).
PROMPTLY = 5.0


@pytest.fixture
def setup(app) -> tuple[Data, dict[str, str]]:
    with app.app_context():
        return build(), make_tokens()


# --- the time limit ----------------------------------------------------------------

limited = pytest.mark.parametrize("app_config", [{"GRAPHQL_STATEMENT_TIMEOUT_MS": LIMIT_MS}])


@pytest.fixture
def slow_service(monkeypatch):
    """atRiskAccounts' service, made to change an account and then run a slow query
    (only this test's process sees the change)."""
    import survey.analysis

    def slow(*_args, **_kwargs):
        account = db.session.scalars(select(KeyAccount).order_by(KeyAccount.id)).first()
        account.name = "changed by a request that timed out"
        db.session.flush()
        db.session.execute(text(SLOW_SQL)).scalar()
        raise AssertionError("the slow query ran to its end")

    monkeypatch.setattr(survey.analysis, "at_risk_by_expected_loss", slow)


@limited
def test_a_slow_request_is_cut_off_with_timeout_and_rolled_back(
    app, client, setup, slow_service, app_config
):
    _, tokens = setup
    started = time.monotonic()
    body = gql(client, "{ atRiskAccounts { annualRevenue } }", token=tokens["viewer"], lang="en")
    assert time.monotonic() - started < PROMPTLY
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "TIMEOUT"}
    assert error["path"] == ["atRiskAccounts"]
    assert "time limit of 0.2 s" in error["message"]
    assert body["data"] is None  # atRiskAccounts is non-null
    with app.app_context():  # nothing the request changed before the cut is kept
        names = db.session.scalars(select(KeyAccount.name)).all()
        assert "changed by a request that timed out" not in names

    # The next requests (the same pooled connection) run as usual.
    body = gql(client, "{ me { name } accounts(first: 2) { totalCount } }", token=tokens["viewer"])
    assert "errors" not in body, body
    assert body["data"]["accounts"]["totalCount"] == len(setup[0].accounts)


@limited
def test_the_timeout_message_speaks_chinese_too(client, setup, slow_service, app_config):
    _, tokens = setup
    body = gql(client, "{ atRiskAccounts { annualRevenue } }", token=tokens["viewer"], lang="zh")
    assert codes(body) == ["TIMEOUT"]
    assert "0.2 秒的时间限制" in body["errors"][0]["message"]


@limited
def test_no_statement_starts_after_the_deadline(client, setup, monkeypatch, app_config):
    """The field after the one cut off is refused before it reaches the database (on
    PostgreSQL it would otherwise meet an aborted transaction: an internal error), and
    the fields that need no database still answer."""
    _, tokens = setup
    import schema.registry.queries

    def slow_lookup(_id):
        db.session.execute(text(SLOW_SQL)).scalar()

    monkeypatch.setattr(schema.registry.queries, "account_by_id", slow_lookup)
    query = '{ first: account(id: "1") { name } second: account(id: "2") { name } me { name } }'
    body = gql(client, query, token=tokens["viewer"])
    assert codes(body) == ["TIMEOUT", "TIMEOUT"]
    assert [e["path"] for e in body["errors"]] == [["first"], ["second"]]
    assert body["data"] == {"first": None, "second": None, "me": {"name": "viewer-user"}}


@limited
def test_a_timeout_before_execution_is_graphql_shaped_too(client, setup, monkeypatch, app_config):
    _, tokens = setup
    import schema.view

    def slow_authenticate(_token):
        db.session.execute(text(SLOW_SQL)).scalar()

    monkeypatch.setattr(schema.view, "authenticate_token", slow_authenticate)
    resp = client.post(
        "/graphql",
        json={"query": "{ me { name } }"},
        headers={"Authorization": f"Bearer {tokens['viewer']}", "Accept-Language": "en"},
    )
    assert resp.status_code == 200
    assert resp.content_type == "application/json"
    body = resp.get_json()
    assert body["data"] is None
    assert codes(body) == ["TIMEOUT"]
    assert "time limit of 0.2 s" in body["errors"][0]["message"]


@limited
def test_every_transaction_of_the_request_is_limited(app, client, setup, monkeypatch, app_config):
    """SET LOCAL lasts one transaction: a request that commits and goes on is limited in
    the next one too, and nothing of the limit outlives the request."""
    _, tokens = setup
    import survey.analysis

    def commit_then_slow(*_args, **_kwargs):
        db.session.commit()
        db.session.execute(text(SLOW_SQL)).scalar()

    monkeypatch.setattr(survey.analysis, "at_risk_by_expected_loss", commit_then_slow)
    started = time.monotonic()
    body = gql(client, "{ atRiskAccounts { annualRevenue } }", token=tokens["viewer"])
    assert time.monotonic() - started < PROMPTLY
    assert codes(body) == ["TIMEOUT"]
    with app.app_context():  # outside the API, on the same pooled connection: no limit
        count = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000) "
        assert db.session.execute(text(count + "SELECT count(*) FROM c")).scalar() == 300000
        if db.engine.dialect.name == "postgresql":
            assert db.session.execute(text("SHOW statement_timeout")).scalar() == "0"


def test_a_limit_that_has_ended_limits_nothing(app):
    with app.app_context():
        with statement_time_limit(0.5):
            db.session.execute(text("SELECT 1"))
            db.session.rollback()  # as the docstring asks
        time.sleep(0.6)
        assert db.session.execute(text("SELECT 2")).scalar() == 2
        if db.engine.dialect.name == "postgresql":
            assert db.session.execute(text("SHOW statement_timeout")).scalar() == "0"


def test_the_limit_is_a_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHQL_STATEMENT_TIMEOUT_MS", "2500")
    assert load_config(tmp_path)["GRAPHQL_STATEMENT_TIMEOUT_MS"] == 2500
    monkeypatch.setenv("GRAPHQL_STATEMENT_TIMEOUT_MS", "-1")
    with pytest.raises(ConfigError, match="negative"):
        load_config(tmp_path)
    monkeypatch.delenv("GRAPHQL_STATEMENT_TIMEOUT_MS")
    assert load_config(tmp_path)["GRAPHQL_STATEMENT_TIMEOUT_MS"] == 10_000


# --- no suggestions while introspection is off -------------------------------------

RECORD = "mutation($input: RecordDefectionInput!) { recordDefection(input: $input) { id } }"


def _typos(data: Data) -> list[tuple[str, dict]]:
    defection = {
        "accountId": str(data.accounts["KA1"]),
        "defectedOn": "2026-10-01",
        "primaryReason": "PRICE",
    }
    return [
        ("{ me { nam } }", {}),  # a field
        ("{ satisfactionSummary(groupBy: ASPEC) { key } }", {}),  # an enum value
        ("{ satisfactionSummary(grupBy: ASPECT) { key } }", {}),  # an argument
        ("query($f: ResponseFiltr) { responses(filter: $f) { totalCount } }", {}),  # a type
        (RECORD, {"input": {**defection, "primaryReason": "PRICEE"}}),  # enum in a variable
        (RECORD, {"input": {**defection, "nte": "x"}}),  # an input field in a variable
    ]


def test_no_suggestions_while_introspection_is_off(client, setup):
    data, tokens = setup
    for query, variables in _typos(data):
        body = gql(client, query, variables, token=tokens["manager"], lang="en")
        assert body["errors"], query
        for error in body["errors"]:
            assert "Did you mean" not in error["message"], (query, error)
            assert "did you mean" not in error["message"].lower(), (query, error)


@pytest.mark.parametrize("app_config", [{"GRAPHQL_INTROSPECTION": True}])
def test_suggestions_with_introspection_on(client, setup, app_config):
    """Where the schema is open anyway (development), the hints help."""
    data, tokens = setup
    for query, variables in _typos(data):
        body = gql(client, query, variables, token=tokens["manager"], lang="en")
        messages = " ".join(e["message"] for e in body["errors"])
        assert "Did you mean" in messages, (query, messages)


# --- input echoed back: at most 200 characters -------------------------------------

HUGE = "x" * 250_000
CAPPED = "'" + "x" * 200 + "…'"


@pytest.mark.parametrize(
    ("field", "value"),
    [("defectedOn", HUGE), ("primaryReason", HUGE), ("accountId", HUGE)],
)
def test_a_huge_bad_variable_is_echoed_at_most_200_characters(client, setup, field, value):
    data, tokens = setup
    defection = {
        "accountId": str(data.accounts["KA1"]),
        "defectedOn": "2026-10-01",
        "primaryReason": "PRICE",
        field: value,
    }
    resp = client.post(
        "/graphql",
        json={"query": RECORD, "variables": {"input": defection}},
        headers={"Authorization": f"Bearer {tokens['manager']}", "Accept-Language": "en"},
    )
    assert resp.status_code == 200
    assert len(resp.get_data()) < 2_000
    (error,) = resp.get_json()["errors"]
    assert CAPPED in error["message"], error["message"]
    assert "x" * 201 not in error["message"]


# --- dates in our words -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "value", "message"),
    [
        ("en", "01/11/2026", "$input.defectedOn: '01/11/2026' is not a date; use YYYY-MM-DD."),
        ("zh", "01/11/2026", "$input.defectedOn：'01/11/2026' 不是日期，请使用 YYYY-MM-DD 格式。"),
        (
            "en",
            "2026-02-30",
            "$input.defectedOn: '2026-02-30' is not a date: there is no such day.",
        ),
        ("zh", "2026-02-30", "$input.defectedOn：'2026-02-30' 不是有效日期：日历上没有这一天。"),
        ("en", 20261101, "$input.defectedOn: 20261101 is not a date; use YYYY-MM-DD."),
    ],
)
def test_a_bad_date_variable_is_explained_in_the_callers_language(
    client, setup, lang, value, message
):
    data, tokens = setup
    defection = {
        "accountId": str(data.accounts["KA1"]),
        "defectedOn": value,
        "primaryReason": "PRICE",
    }
    body = gql(client, RECORD, {"input": defection}, token=tokens["manager"], lang=lang)
    (error,) = body["errors"]
    assert error["message"] == message
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "defectedOn"}
    assert "isoformat" not in json.dumps(body)


def test_a_bad_date_literal_is_explained_too(client, setup):
    _, tokens = setup
    query = '{ defectionReasons(filter: {since: "yesterday"}) { key } }'
    en = gql(client, query, token=tokens["viewer"], lang="en")
    assert en["errors"][0]["message"] == "'yesterday' is not a date; use YYYY-MM-DD."
    assert en["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert en["errors"][0]["locations"]
    zh = gql(client, query, token=tokens["viewer"], lang="zh")
    assert zh["errors"][0]["message"] == "'yesterday' 不是日期，请使用 YYYY-MM-DD 格式。"


def test_a_bad_top_level_date_variable(client, setup):
    _, tokens = setup
    query = "query($d: Date) { defectionReasons(filter: {since: $d}) { key } }"
    body = gql(client, query, {"d": "tomorrow"}, token=tokens["viewer"], lang="en")
    assert body["errors"][0]["message"] == "$d: 'tomorrow' is not a date; use YYYY-MM-DD."


def test_a_bad_date_and_time_is_explained(client, setup):
    _, tokens = setup
    query = "mutation($i: LaunchCampaignInput!) { launchCampaign(input: $i) { sampled } }"
    variables = {"i": {"name": "Q4", "sampleSize": 1, "closesAt": "next friday", "dryRun": True}}
    body = gql(client, query, variables, token=tokens["manager"], lang="en")
    assert body["errors"][0]["message"] == (
        "$i.closesAt: 'next friday' is not a date and time; use ISO 8601, "
        "e.g. 2026-12-31T18:00:00+08:00."
    )
    zh = gql(client, query, variables, token=tokens["manager"], lang="zh")
    assert "不是日期时间" in zh["errors"][0]["message"]


def test_good_dates_still_pass(client, setup):
    _, tokens = setup
    query = "query($d: Date) { defectionReasons(filter: {since: $d}) { key } }"
    body = gql(client, query, {"d": "2026-01-31"}, token=tokens["viewer"])
    assert "errors" not in body, body


# --- the echo cap itself ------------------------------------------------------------


@given(st.text(max_size=600), st.sampled_from(["'", '"']))
def test_cap_echoes_leaves_no_long_quoted_run_and_is_idempotent(value, quote):
    message = f"Value {quote}{value}{quote} is not accepted."
    capped = cap_echoes(message)
    assert cap_echoes(capped) == capped
    assert len(capped) <= MAX_MESSAGE + 1
    if quote not in value:
        assert quote + value[:MAX_ECHO] in capped
        assert value[MAX_ECHO:] == "" or value not in capped


def test_shown_cuts_long_values():
    assert shown("2026-13-01") == "'2026-13-01'"
    assert shown("x" * 250_000) == "'" + "x" * MAX_ECHO + "…'"
    assert shown(12) == "12"
    assert len(shown(list(range(100_000)))) == MAX_ECHO + 1
