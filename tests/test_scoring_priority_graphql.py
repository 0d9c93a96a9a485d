"""The priority matrix, a cell's accounts, the health check and suggested weights over
the GraphQL endpoint."""

from __future__ import annotations

import pytest

from survey.db import db
from survey.scoring import ensure_score_models

from .graphql_helpers import codes, gql, make_tokens
from .health_data import build_health_data
from .test_scoring_priority import _load

MATRIX = """{ priorityMatrix { valueModel cells { valueBand healthBand accounts revenue
  highValuePoorHealth } } }"""
CELL = """query($v: String!, $h: String!, $first: Int, $after: String) {
  priorityAccounts(valueBand: $v, healthBand: $h, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { externalId annualRevenue } } } }"""
VALIDATION = """query($days: Int) { healthValidation(horizonDays: $days) {
  auc aucLow aucHigh accounts defections unscored lowSample cutoff horizonDays
  quintiles { quintile accounts defections rate } } }"""
WEIGHTS = """query($days: Int) { suggestedHealthWeights(horizonDays: $days) {
  auc accounts defections lowSample message
  coefficients { measure label coefficient low high pValue proposedWeight } } }"""


@pytest.fixture
def tokens(app):
    with app.app_context():
        made = make_tokens()
        ensure_score_models()  # what migration 0008 does in a real database
        db.session.commit()
    return made


def test_matrix_and_cell_accounts(app, client, tokens):
    with app.app_context():
        _load()
        db.session.commit()
    body = gql(client, MATRIX, token=tokens["viewer"])
    matrix = body["data"]["priorityMatrix"]
    assert matrix["valueModel"] == "scorecard" and len(matrix["cells"]) == 16
    assert matrix["cells"][0] == {
        "valueBand": "A",
        "healthBand": "poor",
        "accounts": 2,
        "revenue": 16_000_000,
        "highValuePoorHealth": True,
    }
    none_none = matrix["cells"][-1]
    assert (none_none["valueBand"], none_none["healthBand"], none_none["accounts"]) == (
        "none",
        "none",
        1,
    )
    page = gql(client, CELL, {"v": "A", "h": "poor", "first": 1}, token=tokens["viewer"])
    data = page["data"]["priorityAccounts"]
    assert data["totalCount"] == 2 and data["pageInfo"]["hasNextPage"]
    assert [e["node"]["externalId"] for e in data["edges"]] == ["KA01"]
    rest = gql(
        client,
        CELL,
        {"v": "A", "h": "poor", "after": data["pageInfo"]["endCursor"]},
        token=tokens["viewer"],
    )["data"]["priorityAccounts"]
    assert [e["node"]["externalId"] for e in rest["edges"]] == ["KA02"]
    assert not rest["pageInfo"]["hasNextPage"]
    bad = gql(client, CELL, {"v": "D", "h": "poor"}, token=tokens["viewer"])
    assert codes(bad) == ["BAD_USER_INPUT"]


def test_health_validation_and_suggested_weights(app, client, tokens):
    with app.app_context():
        build_health_data()
    body = gql(client, VALIDATION, {"days": 240}, token=tokens["viewer"])
    v = body["data"]["healthValidation"]
    assert v["auc"] == pytest.approx(2 / 3)
    assert (v["aucLow"], v["aucHigh"]) == (0.0, 1.0)
    assert (v["accounts"], v["defections"], v["unscored"], v["lowSample"]) == (4, 1, 1, True)
    assert (v["cutoff"], v["horizonDays"]) == ("2026-03-28", 240)
    assert [q["defections"] for q in v["quintiles"]] == [0, 1, 0, 0, 0]
    assert v["quintiles"][2]["rate"] is None
    default = gql(client, VALIDATION, token=tokens["viewer"])["data"]["healthValidation"]
    assert default["cutoff"] == "2025-11-23" and default["auc"] is None and default["lowSample"]
    assert codes(gql(client, VALIDATION, {"days": 0}, token=tokens["viewer"])) == ["BAD_USER_INPUT"]
    weights = gql(client, WEIGHTS, {"days": 240}, token=tokens["viewer"], lang="en")
    w = weights["data"]["suggestedHealthWeights"]
    assert w["message"] == "Too few accounts to estimate a coefficient for each measure."
    assert (w["accounts"], w["defections"], w["lowSample"], w["auc"]) == (4, 1, True, None)
    assert w["coefficients"][0]["measure"] == "overall_score"
    assert w["coefficients"][0]["label"] == "Latest overall satisfaction"
    assert all(c["coefficient"] is None for c in w["coefficients"])
    zh = gql(client, WEIGHTS, {"days": 240}, token=tokens["viewer"], lang="zh")
    assert zh["data"]["suggestedHealthWeights"]["message"].startswith("客户太少")
