"""keyDrivers through the GraphQL endpoint: figures, enums, labels, errors, roles and
JSON without NaN, on the fixed data set of test_key_drivers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from survey.db import db

from .graphql_helpers import codes, gql, make_tokens
from .test_key_drivers import ACCOUNT_OF_ROW, TABLE, data  # noqa: F401  (a fixture)

QUERY = """
query($filter: ResponseFilter, $unit: DriverUnit, $weight: DriverWeight) {
  keyDrivers(filter: $filter, unit: $unit, weight: $weight) {
    n r2 lowSample
    drivers {
      aspect label n importance importanceLow importanceHigh pValue relativeWeight
      performance satisfiedShare satisfiedShareLow satisfiedShareHigh quadrant lowSample
    }
  }
}
"""


@pytest.fixture
def tokens(app, data):  # noqa: F811
    with app.app_context():
        return make_tokens()


def test_key_drivers_per_response_in_english(client, tokens):
    body = gql(client, QUERY, token=tokens["viewer"], lang="en")
    result = body["data"]["keyDrivers"]
    assert (result["n"], result["lowSample"]) == (14, True)
    assert sum(d["relativeWeight"] for d in result["drivers"]) == pytest.approx(1.0)
    delivery = result["drivers"][1]
    r, p = scipy_stats.pearsonr(TABLE[:, 1], TABLE[:, 7])
    assert delivery["aspect"] == "delivery"
    assert delivery["label"] == "Delivery and logistics"
    assert delivery["n"] == 14
    assert delivery["importance"] == pytest.approx(r)
    assert delivery["pValue"] == pytest.approx(p)
    assert (delivery["importanceLow"], delivery["importanceHigh"]) == pytest.approx(
        (0.38786, 0.92033), abs=1e-5
    )
    assert delivery["performance"] == pytest.approx(TABLE[:, 1].mean())
    assert delivery["satisfiedShare"] == pytest.approx(7 / 14)
    assert delivery["satisfiedShareLow"] < 0.5 < delivery["satisfiedShareHigh"]
    quadrants = {d["aspect"]: d["quadrant"] for d in result["drivers"]}
    assert quadrants["communication"] == "FIX_FIRST"
    assert quadrants["service"] == "KEEP_UP"


def test_key_drivers_by_account_weighted_by_revenue_in_chinese(client, tokens):
    body = gql(client, QUERY, {"unit": "ACCOUNT", "weight": "REVENUE"}, token=tokens["viewer"])
    result = body["data"]["keyDrivers"]
    assert result["n"] == 12
    assert result["drivers"][1]["label"] == "交货与物流"
    means = np.array(
        [TABLE[[r for r, a in enumerate(ACCOUNT_OF_ROW) if a == i]].mean(axis=0) for i in range(12)]
    )
    revenue = np.array([(i + 1) * 100_000 for i in range(12)], dtype=float)
    assert result["drivers"][0]["performance"] == pytest.approx(
        np.average(means[:, 0], weights=revenue)
    )


def test_key_drivers_filter_and_degenerate_answer_have_no_nan(app, client, tokens):
    resp = client.post(
        "/graphql",
        json={"query": QUERY, "variables": {"filter": {"tier": "B", "since": "2026-11-01"}}},
        headers={"Authorization": f"Bearer {tokens['viewer']}"},
    )
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "NaN" not in text and "Infinity" not in text
    result = json.loads(text)["data"]["keyDrivers"]
    assert result["n"] == 2 and result["r2"] is None and result["lowSample"] is True
    assert all(d["importance"] is None and d["lowSample"] for d in result["drivers"])
    assert all(d["quadrant"] is None for d in result["drivers"])
    assert result["drivers"][0]["performance"] is not None


def test_key_drivers_with_no_answers_at_all(app, client, tokens):
    with app.app_context():
        db.session.execute(db.text("DELETE FROM answer_reasons"))
        db.session.execute(db.text("DELETE FROM answers"))
        db.session.commit()
    result = gql(client, QUERY, token=tokens["viewer"])["data"]["keyDrivers"]
    assert (result["n"], result["r2"], result["lowSample"]) == (0, None, True)
    assert len(result["drivers"]) == 7
    assert all(d["n"] == 0 and d["performance"] is None for d in result["drivers"])


def test_key_drivers_bad_filter_is_bad_user_input(client, tokens):
    body = gql(client, QUERY, {"filter": {"tier": "Z"}}, token=tokens["viewer"], lang="en")
    assert body["data"] is None
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "tier"


def test_key_drivers_bad_enum_is_refused(client, tokens):
    body = gql(client, QUERY, {"unit": "CONTACT"}, token=tokens["viewer"])
    assert body.get("data") is None and body["errors"]


@pytest.mark.parametrize("role", ["viewer", "manager", "admin"])
def test_every_role_may_read_key_drivers_as_the_other_analyses(client, tokens, role):
    body = gql(client, "{ keyDrivers { n } }", token=tokens[role])
    assert body["data"]["keyDrivers"]["n"] == 14


def test_key_drivers_need_a_token(client, tokens):
    body = gql(client, "{ keyDrivers { n } }", token=None, status=401)
    assert codes(body) == ["UNAUTHENTICATED"]
