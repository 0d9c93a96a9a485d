"""What an operation costs (schema.cost), priced before it runs, and refusing the
dear ones (QUERY_TOO_COSTLY) before any SQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from graphql import GraphQLObjectType, parse

from benchmarks.items import DRILLDOWN_QUERY, LAUNCH_MUTATION, SUMMARY_QUERY, responses_query
from schema.build import schema
from schema.cost import CARDINALITY, DEFAULT_MAX_COST, WEIGHTS, operation_cost
from schema.cost.units import SCAN
from survey import analysis

from .graphql_data import build
from .graphql_helpers import codes, gql, make_tokens

ROOT = Path(__file__).resolve().parent.parent


def cost(query: str, variables: dict[str, Any] | None = None) -> int | None:
    return operation_cost(schema._schema, parse(query), None, variables)


# --- the weights table ------------------------------------------------------------------


def schema_fields() -> set[tuple[str, str]]:
    return {
        (name, field)
        for name, t in schema._schema.type_map.items()
        if isinstance(t, GraphQLObjectType) and not name.startswith("__")
        for field in t.fields
    }


def test_every_field_of_the_schema_has_a_weight():
    table = {(t, f) for t, fields in WEIGHTS.items() for f in fields}
    missing = sorted(schema_fields() - table)
    assert not missing, f"give these fields a weight in schema/cost/weights.py: {missing}"
    stale = sorted(table - schema_fields())
    assert not stale, f"schema/cost/weights.py prices fields the schema lacks: {stale}"


def test_every_dimension_has_a_cardinality():
    assert set(CARDINALITY) == {d.name for d in analysis.Dimension}
    assert all(n > 0 for n in CARDINALITY.values())


# --- exact costs -------------------------------------------------------------------------

DRILL_2 = """{ dissatisfactionDrilldown(by: [ASPECT, TIER]) {
    key topReasons { reason } comments(first: 3) children { key children { key } } } }"""
PAGE_50 = """{ responses(first: 50) { totalCount pageInfo { hasNextPage }
    edges { cursor node { id comment account { name responses { id } } campaign { name }
    answers { score reasons } } } } }"""
FRAGMENTS = """query { ...Q }
fragment Q on Query { campaigns(first: 2) { edges { node { ...C } } } }
fragment C on Campaign { summary(groupBy: TIER) { key }
    invitations(first: 3) { edges { node { account { name } } } } }"""
EIGHT_DIMENSIONS = (
    "{ dissatisfactionDrilldown(by: [ASPECT, TIER, VALUE_TYPE, RELATIONSHIP_STAGE, REGION, "
    "ACCOUNT_MANAGER, CAMPAIGN, MONTH]) { key } }"
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The request (10) and an object with its scalars (1).
        ("{ me { name } }", 11),
        # Nothing but the budget, or nothing at all: the request itself.
        ("{ rateLimit { cost remaining } }", 10),
        ("{ __typename }", 10),
        # One aggregate over the answers (1,000), one group per tier (3); values are free.
        ("{ satisfactionSummary(groupBy: TIER) { key mean distribution { satisfied } } }", 1013),
        # Weighted: each account's latest response first (8,000); 8 regions.
        ("{ satisfactionSummary(groupBy: REGION, weight: REVENUE) { key } }", 9018),
        # 3 aggregates + 4 x (8 x 3 cells); 8 aspect nodes with 10 reasons each (88); 24
        # tier nodes below them; nothing below the last level.
        (DRILL_2, 10 + 3000 + 4 * 24 + 88 + 24),
        # The page (1) and its COUNT (50), then 50 x (response + account + its 12
        # responses + campaign + 8 answers).
        (PAGE_50, 10 + 1 + 50 + 50 * 23),
        # Fragments count where they are spread: 2 campaigns x (1 + summary 20 + 3
        # groups + invitations 1 + 3 x (invitation + account)).
        (FRAGMENTS, 10 + 1 + 2 * (1 + 23 + 1 + 6)),
        # Defection reasons: 100 over the few defections, 36 months x (group + 20 reasons).
        ("{ defectionReasons(groupBy: MONTH) { key reasons { reason } } }", 10 + 100 + 36 * 21),
        # Every cell eight dimensions can produce, three aggregates and 8 aspect nodes.
        (EIGHT_DIMENSIONS, 10 + 3 * SCAN + 4 * 49_766_400 + 8),
        ('mutation { closeCampaign(id: "1") { id } }', 10 + 100 + 1),
    ],
)
def test_exact_costs(query, expected):
    assert cost(query) == expected


def test_variables_are_resolved_before_pricing():
    query = "query($n: Int) { responses(first: $n) { edges { node { id } } } }"
    assert cost(query, {"n": 7}) == 10 + 1 + 7
    assert cost(query, {}) == 10 + 1 + 50  # the argument's default
    # A page over the maximum is refused by the resolver before any SQL: priced at it.
    assert cost(query, {"n": 5000}) == 10 + 1 + 200
    # Variables that do not fit their types: execution refuses them, nothing to price.
    assert cost(query, {"n": "many"}) is None
    by = "query($by: [Dimension!]!) { dissatisfactionDrilldown(by: $by) { key } }"
    assert cost(by, {"by": ["REGION", "ACCOUNT_MANAGER"]}) == 10 + 3000 + 4 * 400 + 8


def test_only_the_chosen_operation_is_priced():
    document = parse(
        "query A { me { name } } query B { satisfactionSummary(groupBy: TIER) { key } }"
    )
    assert operation_cost(schema._schema, document, "A", {}) == 11
    assert operation_cost(schema._schema, document, "B", {}) == 1013


def _readme_requests() -> Iterator[tuple[str, dict[str, Any]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for body in re.findall(r"^gql '(.+)'$", text, flags=re.MULTILINE):
        request = json.loads(body)
        yield request["query"], request.get("variables") or {}


def test_every_documented_and_benchmarked_query_fits_the_default_cap():
    requests = list(_readme_requests())
    assert len(requests) >= 5
    requests += [(SUMMARY_QUERY, {}), (DRILLDOWN_QUERY, {}), (responses_query(200), {})]
    requests.append((LAUNCH_MUTATION, {"input": {"name": "x", "sampleSize": 5000}}))
    costs = {query[:60]: cost(query, variables) for query, variables in requests}
    assert all(c is not None and c <= DEFAULT_MAX_COST for c in costs.values()), costs


# --- refusing before any SQL -----------------------------------------------------------


@pytest.fixture
def token(app) -> str:
    with app.app_context():
        build()
        return make_tokens()["viewer"]


def statements_of(client, query: str, token: str, status: int = 200) -> tuple[dict, list[str]]:
    """The body of one request and every SQL statement it ran."""
    with client:
        body = gql(client, query, token=token, status=status)
        statements = [q.statement for q in get_recorded_queries()]
    return body, statements


def only_the_token_lookup(statements: list[str]) -> bool:
    return len(statements) == 1 and "api_tokens" in statements[0]


def test_too_costly_is_refused_before_any_sql(client, token):
    gql(client, "{ me { name } }", token=token)  # records the token's last use: no write below
    body, statements = statements_of(client, EIGHT_DIMENSIONS, token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 10 + 3 * SCAN + 4 * 49_766_400 + 8,
        "budget": DEFAULT_MAX_COST,
    }
    assert only_the_token_lookup(statements), statements


def test_thirty_aliases_of_the_costliest_documented_field_are_refused(client, token):
    readme_drilldown = next(q for q, _ in _readme_requests() if "Drilldown" in q)
    field = readme_drilldown.strip()[1:-1]  # the selection without the outer braces
    one = cost(readme_drilldown)
    assert one is not None and one <= DEFAULT_MAX_COST
    thirty = "{ " + " ".join(f"a{i}: {field}" for i in range(30)) + " }"
    gql(client, "{ me { name } }", token=token)
    body, statements = statements_of(client, thirty, token)
    assert body["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 10 + 30 * (one - 10),
        "budget": DEFAULT_MAX_COST,
    }
    assert only_the_token_lookup(statements), statements


def test_more_than_three_dimensions_is_bad_user_input(client, token):
    four = (
        "{ dissatisfactionDrilldown(by: [TIER, VALUE_TYPE, RELATIONSHIP_STAGE, ASPECT]) { key } }"
    )
    assert cost(four) <= DEFAULT_MAX_COST  # cheap enough: the resolver refuses it
    gql(client, "{ me { name } }", token=token)
    body, statements = statements_of(client, four, token)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "by"
    # The analysis cache reads the data version first; no figure is computed.
    figures = [s for s in statements if "data_version" not in s]
    assert only_the_token_lookup(figures), statements
    three = "{ dissatisfactionDrilldown(by: [TIER, VALUE_TYPE, ASPECT]) { key } }"
    assert "errors" not in gql(client, three, token=token)


@pytest.mark.parametrize("app_config", [{"GRAPHQL_MAX_COST": 100}])
def test_the_cap_is_a_setting(client, token, app_config):
    body = gql(client, "{ satisfactionSummary(groupBy: TIER) { key } }", token=token)
    assert body["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 1013,
        "budget": 100,
    }
    assert gql(client, "{ me { name } }", token=token)["data"]["me"]["name"] == "viewer-user"
