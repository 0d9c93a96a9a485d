"""Value scores in the API: Account.value, valuePyramid, tierSuggestions, score models,
applying suggestions and changing a model, with permissions and statement counts."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from survey.db import db
from survey.models import AuditEntry, KeyAccount
from survey.scoring import change_model
from survey.scoring.value import recompute_value_scores

from .graphql_helpers import codes, gql, make_tokens
from .test_graphql_api import count_statements
from .test_value_scores import _load

VALUE = """query($model: String) { accounts(first: 50) { edges { node { externalId
  value(model: $model) { model modelLabel version period score band suggestedTier flags
    flagLabels parts { perspective indicator label value percentile weight contribution } }
} } } }"""
PYRAMID = '{ valuePyramid(model: "pyramid") { band label accounts revenue valueShare } }'
SUGGESTIONS = """{ tierSuggestions { account { externalId tier } currentTier suggestedTier
  score parts { indicator contribution } } }"""
APPLY = """mutation($ids: [ID!]!) { applyTierSuggestions(accountIds: $ids) {
  externalId oldTier newTier } }"""
MODELS = """{ scoreModels { code kind label version tiering bandLimits { band limit }
  weights { measure label perspective weight } computedAt } }"""
SET = """mutation($weights: [WeightInput!], $bands: [BandLimitInput!]) {
  setScoreModel(code: "pyramid", weights: $weights, bandLimits: $bands, note: "test") {
    code version bandLimits { band limit } weights { measure weight } computedAt } }"""


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    with app.app_context():
        made = make_tokens()
        _load()
        change_model("pyramid", actor="admin", tiering=True)
        db.session.commit()
        recompute_value_scores()
        return made


def test_account_value_in_one_statement_for_the_page(app, client, tokens):
    with count_statements(app) as statements:
        body = gql(client, VALUE, {"model": None}, token=tokens["viewer"], lang="en")
    assert "errors" not in body, body
    nodes = {e["node"]["externalId"]: e["node"]["value"] for e in body["data"]["accounts"]["edges"]}
    assert nodes["A7"] is None  # left: never scored
    a5 = nodes["A5"]
    assert (a5["model"], a5["version"], a5["period"], a5["band"]) == ("pyramid", 1, "2026-Q3", "A")
    assert a5["suggestedTier"] == "A"
    assert a5["flags"] == ["one_off"] and a5["flagLabels"] == ["One-off big-ticket customer"]
    assert a5["score"] == pytest.approx(43 / 0.7)
    assert sum(p["contribution"] for p in a5["parts"]) == pytest.approx(a5["score"], abs=0.01)
    assert a5["parts"][0] == {
        "perspective": "value",
        "indicator": "revenue",
        "label": "Revenue",
        "value": 1000.0,
        "percentile": 90.0,
        "weight": pytest.approx(0.5),
        "contribution": pytest.approx(45.0),
    }
    assert nodes["A6"]["score"] is None and nodes["A6"]["band"] is None
    scores = [s for s in statements if "account_scores" in s]
    assert len(scores) == 1  # the whole page's values in one statement
    body = gql(client, VALUE, {"model": "health"}, token=tokens["viewer"])
    assert set(codes(body)) == {"BAD_USER_INPUT"}  # on each account's value
    assert "not a value model" in body["errors"][0]["message"]


def test_pyramid_suggestions_and_models(client, tokens):
    body = gql(client, PYRAMID, token=tokens["viewer"], lang="en")
    bands = body["data"]["valuePyramid"]
    assert [(b["band"], b["label"], b["accounts"]) for b in bands] == [
        ("A", "Tier A", 2),
        ("B", "Tier B", 2),
        ("C", "Tier C", 1),
    ]
    assert bands[0]["revenue"] == 2000
    assert sum(b["valueShare"] for b in bands) == pytest.approx(100, abs=0.02)

    body = gql(client, SUGGESTIONS, token=tokens["viewer"])
    found = body["data"]["tierSuggestions"]
    assert [(s["account"]["externalId"], s["currentTier"], s["suggestedTier"]) for s in found] == [
        ("A5", "C", "A"),
        ("A1", "A", "C"),
    ]
    assert found[0]["parts"][0]["indicator"] == "revenue"  # largest contribution first

    body = gql(client, MODELS, token=tokens["viewer"], lang="zh")
    models = {m["code"]: m for m in body["data"]["scoreModels"]}
    assert set(models) == {"pyramid", "scorecard", "health"}
    assert models["pyramid"]["tiering"] and not models["scorecard"]["tiering"]
    assert models["pyramid"]["label"] == "价值金字塔"
    assert models["pyramid"]["bandLimits"] == [
        {"band": "A", "limit": 50.0},
        {"band": "B", "limit": 80.0},
    ]
    assert models["pyramid"]["weights"][0] == {
        "measure": "revenue",
        "label": "销售额",
        "perspective": "value",
        "weight": 0.35,
    }
    assert models["pyramid"]["computedAt"] is not None


def test_apply_suggestions_needs_a_manager_and_a_suggestion(app, client, tokens):
    with app.app_context():
        ids = dict(db.session.execute(select(KeyAccount.external_id, KeyAccount.id)).all())
    body = gql(client, APPLY, {"ids": [str(ids["A5"])]}, token=tokens["viewer"])
    assert codes(body) == ["FORBIDDEN"]
    body = gql(client, APPLY, {"ids": [str(ids["A5"]), str(ids["A3"])]}, token=tokens["manager"])
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "no tier suggestion" in body["errors"][0]["message"]
    body = gql(client, APPLY, {"ids": [str(ids["A5"])]}, token=tokens["manager"])
    assert body["data"]["applyTierSuggestions"] == [
        {"externalId": "A5", "oldTier": "C", "newTier": "A"}
    ]
    with app.app_context():
        assert db.session.get(KeyAccount, ids["A5"]).tier == "A"
        entry = db.session.scalars(select(AuditEntry)).all()[-1]
        assert (entry.actor, entry.target_id) == ("manager-user", "A5")


def test_set_score_model_is_admin_only_audited_and_recomputes(app, client, tokens):
    variables = {
        "weights": [{"measure": "orders", "weight": 0}, {"measure": "revenue", "weight": 0.5}],
        "bands": [{"band": "A", "limit": 40}, {"band": "B", "limit": 70}],
    }
    for role in ("viewer", "manager"):
        assert codes(gql(client, SET, variables, token=tokens[role])) == ["FORBIDDEN"]
    body = gql(client, SET, variables, token=tokens["admin"])
    assert "errors" not in body, body
    model = body["data"]["setScoreModel"]
    assert model["version"] == 2
    assert model["bandLimits"] == [{"band": "A", "limit": 40.0}, {"band": "B", "limit": 70.0}]
    assert "orders" not in {w["measure"] for w in model["weights"]}
    body = gql(client, VALUE, {"model": "pyramid"}, token=tokens["viewer"])
    versions = {
        e["node"]["value"]["version"]
        for e in body["data"]["accounts"]["edges"]
        if e["node"]["value"] is not None
    }
    assert versions == {2}
    bad = gql(client, SET, {"weights": [{"measure": "nps", "weight": 1}]}, token=tokens["admin"])
    assert codes(bad) == ["BAD_USER_INPUT"]
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
        assert actions.count("score_model.change") == 2  # tiering (fixture) is no version
