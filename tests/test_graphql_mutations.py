"""GraphQL mutations: roles, results and every bad-input case (which changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey.db import db
from survey.models import Campaign, Defection, Invitation, KeyAccount

from .conftest import TEST_NOW
from .graphql_data import Data, build
from .graphql_helpers import codes, gql, make_tokens


@pytest.fixture
def setup(app) -> tuple[Data, dict[str, str]]:
    with app.app_context():
        return build(), make_tokens()


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Campaign.id))),
            db.session.scalar(select(func.count(Invitation.id))),
            db.session.scalar(select(func.count(Defection.id))),
        )


LAUNCH = """
mutation($input: LaunchCampaignInput!) {
  launchCampaign(input: $input) {
    campaign { name status sampled createdBy stratifyBy seed frameSize sampleSize excludeDays }
    sampled frameSize seed method
    allocation { key label frame size }
    excluded { reason count }
  }
}
"""


def test_manager_dry_run_writes_nothing(app, client, setup):
    _, tokens = setup
    before = counts(app)
    body = gql(
        client,
        LAUNCH,
        {"input": {"name": "2026 Q4", "sampleSize": 2, "seed": 7, "dryRun": True}},
        token=tokens["manager"],
        lang="en",
    )
    assert "errors" not in body, body
    result = body["data"]["launchCampaign"]
    # The frame: active accounts KA1-KA3 (KA4-KA6 have left).
    assert result["campaign"] is None
    assert (result["sampled"], result["frameSize"], result["seed"]) == (2, 3, 7)
    assert result["method"] == "simple"
    assert result["allocation"] == [{"key": "all", "label": "All", "frame": 3, "size": 2}]
    assert counts(app) == before


def test_manager_launches_a_stratified_campaign(app, client, setup):
    _, tokens = setup
    before = counts(app)
    body = gql(
        client,
        LAUNCH,
        {
            "input": {
                "name": "2026 Q4",
                "sampleFraction": 1.0,
                "stratifyBy": "TIER",
                "seed": 5_000_000_000,
                "closesAt": "2099-01-31T18:00:00+08:00",
            }
        },
        token=tokens["manager"],
    )
    assert "errors" not in body, body
    result = body["data"]["launchCampaign"]
    assert result["campaign"] == {
        "name": "2026 Q4",
        "status": "OPEN",
        "sampled": 3,
        "createdBy": "manager-user",
        "stratifyBy": "tier",
        "seed": 5_000_000_000,
        "frameSize": 3,
        "sampleSize": 3,
        "excludeDays": 90,
    }
    assert result["allocation"] == [
        {"key": "A", "label": "A 级", "frame": 2, "size": 2},
        {"key": "B", "label": "B 级", "frame": 1, "size": 1},
    ]
    assert counts(app) == (before[0] + 1, before[1] + 3, before[2])


def test_admin_may_launch_viewer_may_not(app, client, setup):
    _, tokens = setup
    variables = {"input": {"name": "by admin", "sampleSize": 1, "dryRun": True}}
    assert "errors" not in gql(client, LAUNCH, variables, token=tokens["admin"])
    before = counts(app)
    variables = {"input": {"name": "by viewer", "sampleSize": 1}}
    body = gql(client, LAUNCH, variables, token=tokens["viewer"])
    assert body["data"] is None
    assert codes(body) == ["FORBIDDEN"]
    assert counts(app) == before


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"sampleSize": 2, "sampleFraction": 0.5}, "BAD_USER_INPUT", "sampleSize"),
        ({}, "BAD_USER_INPUT", "sampleSize"),
        ({"sampleFraction": 0.0}, "BAD_USER_INPUT", "sampleFraction"),
        ({"sampleFraction": 1.5}, "BAD_USER_INPUT", "sampleFraction"),
        ({"sampleFraction": -0.1}, "BAD_USER_INPUT", "sampleFraction"),
        ({"sampleSize": 4}, "BAD_USER_INPUT", "sampleSize"),
        ({"sampleSize": 0}, "BAD_USER_INPUT", "sampleSize"),
        ({"sampleSize": 1, "stratifyBy": "ASPECT"}, "BAD_USER_INPUT", "stratifyBy"),
        ({"sampleSize": 1, "stratifyBy": "MONTH"}, "BAD_USER_INPUT", "stratifyBy"),
        ({"sampleSize": 1, "closesAt": "2020-01-01T00:00:00+00:00"}, "BAD_USER_INPUT", "closesAt"),
        (
            {"sampleSize": 1, "excludeSurveyedWithinDays": -1},
            "BAD_USER_INPUT",
            "excludeSurveyedWithinDays",
        ),
        ({"sampleSize": 1, "name": "   "}, "BAD_USER_INPUT", "name"),
        ({"sampleSize": 1, "name": "2026 Q1"}, "CONFLICT", "name"),
    ],
)
def test_launch_bad_input_is_a_clear_error_and_changes_nothing(
    app, client, setup, changes, code, field
):
    _, tokens = setup
    before = counts(app)
    body = gql(client, LAUNCH, {"input": {"name": "new", **changes}}, token=tokens["manager"])
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": code, "field": field}
    assert error["message"]
    assert counts(app) == before


CLOSE = "mutation($id: ID!) { closeCampaign(id: $id) { id name status closedAt } }"


def test_close_campaign_roles_and_unknown_id(app, client, setup):
    data, tokens = setup
    c2 = str(data.campaigns["C2"])
    body = gql(client, CLOSE, {"id": c2}, token=tokens["viewer"])
    assert codes(body) == ["FORBIDDEN"]
    with app.app_context():
        assert db.session.get(Campaign, data.campaigns["C2"]).status == "open"
    body = gql(client, CLOSE, {"id": c2}, token=tokens["manager"])
    closed = body["data"]["closeCampaign"]
    assert (closed["id"], closed["name"], closed["status"]) == (c2, "2026 Q3", "CLOSED")
    assert closed["closedAt"] is not None
    with app.app_context():
        assert db.session.get(Campaign, data.campaigns["C2"]).status == "closed"
    for bad in ("999999", "abc"):
        body = gql(client, CLOSE, {"id": bad}, token=tokens["admin"])
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}


RECORD = """
mutation($input: RecordDefectionInput!) {
  recordDefection(input: $input) {
    id defectedOn primaryReason otherReasons competitor lostAnnualRevenue note recordedBy source
    account { externalId active defection { primaryReason } }
  }
}
"""


def test_manager_records_a_defection(app, client, setup):
    data, tokens = setup
    body = gql(
        client,
        RECORD,
        {
            "input": {
                "accountId": str(data.accounts["KA1"]),
                "defectedOn": "2026-11-01",
                "primaryReason": "PROCESS",
                "otherReasons": ["SERVICE", "COMMUNICATION"],
                "competitor": "竞争者乙",
                "lostAnnualRevenue": 5_000_000_000,
                "note": "IPO 之后审批变多",
            }
        },
        token=tokens["manager"],
    )
    assert "errors" not in body, body
    result = body["data"]["recordDefection"]
    assert result["defectedOn"] == "2026-11-01"
    assert result["primaryReason"] == "PROCESS"
    assert sorted(result["otherReasons"]) == ["COMMUNICATION", "SERVICE"]
    assert (result["competitor"], result["lostAnnualRevenue"]) == ("竞争者乙", 5_000_000_000)
    assert (result["recordedBy"], result["source"]) == ("manager-user", "staff")
    assert result["account"] == {
        "externalId": "KA1",
        "active": False,
        "defection": {"primaryReason": "PROCESS"},
    }
    # and the analytics see it: four defections now
    reasons = gql(client, "{ defectionReasons { defections } }", token=tokens["viewer"])
    assert reasons["data"]["defectionReasons"] == [{"defections": 4}]


def _defection_input(data: Data, **changes):
    values = {
        "accountId": str(data.accounts["KA1"]),
        "defectedOn": "2026-11-01",
        "primaryReason": "PRICE",
    }
    values.update(changes)
    return {"input": values}


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"accountId": "999999"}, "BAD_USER_INPUT", "accountId"),
        ({"accountId": "KA1"}, "BAD_USER_INPUT", "accountId"),
        (
            {"defectedOn": (TEST_NOW.date() + timedelta(days=30)).isoformat()},
            "BAD_USER_INPUT",
            "defectedOn",
        ),
        ({"lostAnnualRevenue": -1}, "BAD_USER_INPUT", "lostAnnualRevenue"),
        ({"accountId": "KA4"}, "CONFLICT", "accountId"),
    ],
)
def test_record_defection_bad_input_changes_nothing(app, client, setup, changes, code, field):
    data, tokens = setup
    if changes.get("accountId") == "KA4":
        changes = {"accountId": str(data.accounts["KA4"])}
    before = counts(app)
    body = gql(client, RECORD, _defection_input(data, **changes), token=tokens["manager"])
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": code, "field": field}
    assert counts(app) == before
    with app.app_context():
        assert db.session.get(KeyAccount, data.accounts["KA1"]).active is True


def test_record_defection_type_errors_are_graphql_validation_errors(client, setup):
    data, tokens = setup
    for changes in (
        {"primaryReason": "BORED"},
        {"defectedOn": "yesterday"},
        {"lostAnnualRevenue": 1.5},
    ):
        body = gql(client, RECORD, _defection_input(data, **changes), token=tokens["manager"])
        assert body["data"] is None
        assert body["errors"][0]["message"]


def test_viewer_cannot_record_a_defection(app, client, setup):
    data, tokens = setup
    before = counts(app)
    body = gql(client, RECORD, _defection_input(data), token=tokens["viewer"])
    assert codes(body) == ["FORBIDDEN"]
    assert counts(app) == before
    with app.app_context():
        assert db.session.get(KeyAccount, data.accounts["KA1"]).active is True


def test_launch_then_list_shows_the_new_campaign(client, setup):
    _, tokens = setup
    gql(
        client,
        LAUNCH,
        {
            "input": {
                "name": "listed",
                "sampleSize": 1,
                "closesAt": datetime(2099, 1, 1, tzinfo=UTC).isoformat(),
            }
        },
        token=tokens["manager"],
    )
    body = gql(
        client,
        "{ campaigns { totalCount edges { node { name sampled } } } }",
        token=tokens["viewer"],
    )
    assert body["data"]["campaigns"]["totalCount"] == 3
    assert body["data"]["campaigns"]["edges"][-1]["node"] == {"name": "listed", "sampled": 1}


def test_admin_may_record_a_defection(client, setup):
    data, tokens = setup
    variables = _defection_input(data, accountId=str(data.accounts["KA2"]))
    body = gql(client, RECORD, variables, token=tokens["admin"])
    assert "errors" not in body, body
    result = body["data"]["recordDefection"]
    assert (result["primaryReason"], result["otherReasons"], result["recordedBy"]) == (
        "PRICE",
        [],
        "admin-user",
    )
    assert result["lostAnnualRevenue"] is None
