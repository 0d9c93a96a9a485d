"""Account.health in GraphQL: values, history, why it moved, batching, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import select

from survey.db import db
from survey.models import FollowUp
from survey.scoring import backfill_health, recompute_health

from .factories import make_account
from .graphql_helpers import gql, make_tokens
from .health_data import CREATED, build_health_data

PAGE = """
query ($first: Int) {
  accounts(first: 50) {
    edges { node { externalId
      health { score band version change
        parts { measure label value percentile weight contribution }
        history(first: $first) { at score band }
        whyMoved { since until change text parts { measure label change valueBefore valueAfter } }
      } } }
  }
}
"""


@pytest.fixture
def tokens(app, now):
    with app.app_context():
        data = build_health_data()
        backfill_health(14, every=7)
        case = db.session.scalar(
            select(FollowUp).where(FollowUp.account_id == data.accounts["H1"].id)
        )
        case.resolved_at = now - timedelta(hours=1)
        db.session.commit()
        recompute_health()
        return make_tokens()


def _nodes(body):
    return {e["node"]["externalId"]: e["node"]["health"] for e in body["data"]["accounts"]["edges"]}


def test_account_health_fields(client, tokens):
    body = gql(client, PAGE, {"first": 2}, token=tokens["viewer"], lang="en")
    assert "errors" not in body, body
    nodes = _nodes(body)
    assert nodes["H4"] is None  # defected: no current health
    h1 = nodes["H1"]
    assert h1["band"] == "WATCH" and h1["version"] == 1
    assert h1["score"] == pytest.approx(63.75)
    assert h1["change"] == pytest.approx(5.625, abs=0.006)
    assert h1["parts"][0] == {
        "measure": "OVERALL_SCORE",
        "label": "Latest overall satisfaction",
        "value": 5.0,
        "percentile": 83.3333,
        "weight": 0.25,
        "contribution": 20.8333,
    }
    assert sum(p["contribution"] for p in h1["parts"]) == pytest.approx(h1["score"], abs=0.01)
    assert h1["history"] == [
        {"at": "2026-11-23", "score": 63.75, "band": "WATCH"},
        {"at": "2026-11-16", "score": 58.125, "band": "WATCH"},
    ]
    moved = h1["whyMoved"]
    assert (moved["since"], moved["until"]) == ("2026-11-16", "2026-11-23")
    assert moved["text"].startswith("Health rose 5.6 points")
    assert moved["parts"][0] == {
        "measure": "OVERDUE_FOLLOW_UPS",
        "label": "Overdue follow-ups",
        "change": 3.75,
        "valueBefore": 1.0,
        "valueAfter": 0.0,
    }
    h3 = nodes["H3"]
    assert h3["score"] is None and h3["band"] is None  # insufficient data
    assert h3["parts"][-1]["percentile"] == 62.5 and h3["parts"][-1]["contribution"] is None
    zh = gql(client, PAGE, token=tokens["viewer"], lang="zh")
    h1zh = _nodes(zh)["H1"]
    assert h1zh["parts"][0]["label"] == "最近一次总体满意度"
    assert h1zh["whyMoved"]["text"].startswith("自 2026-11-16 至 2026-11-23，健康度上升")
    assert len(h1zh["history"]) == 3  # first defaults to 12; three snapshots exist


def test_a_page_of_health_costs_two_statements(app, client, tokens):
    with app.app_context():
        for i in range(30):
            make_account(f"X{i:02}", created_at=CREATED)
        db.session.commit()
        recompute_health()
    counts = []
    bare = "{ accounts(first: 50) { edges { node { externalId } } } }"
    gql(client, bare, token=tokens["viewer"])  # the token's first use writes last_used_at
    for query in (bare, PAGE):
        with client:
            body = gql(client, query, token=tokens["viewer"])
            assert "errors" not in body, body
            counts.append(len(get_recorded_queries()))
    assert counts[1] - counts[0] == 2  # 35 accounts' health: scores, snapshots


def test_health_needs_a_token(client, tokens):
    body = gql(client, PAGE, token=None, status=401)
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    for role in ("viewer", "manager", "admin"):
        body = gql(client, PAGE, token=tokens[role])
        assert "errors" not in body and _nodes(body)["H1"]["score"] is not None
