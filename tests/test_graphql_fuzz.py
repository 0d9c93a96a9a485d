"""Fuzzing the GraphQL API: valid queries and mutations generated from the schema
(hypothesis-graphql) never get a 5xx or an unmasked internal error, and abusive
queries (deep, wide, alias floods, huge documents and bodies) are refused before
anything runs."""

from __future__ import annotations

import os
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from schema.build import MAX_ALIASES, MAX_DEPTH, MAX_DOCUMENT_LENGTH, MAX_TOKENS
from schema.build import schema as api_schema
from schema.errors import INTERNAL_SERVER_ERROR, MASKED_MESSAGE

from .graphql_data import build
from .graphql_helpers import make_tokens

SDL = api_schema.as_str()
CUSTOM_SCALARS = {
    "BigInt": st.integers(-(2**63), 2**63 - 1).map(nodes.Int),
    "Date": st.dates().map(nodes.String),
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(lambda d: nodes.String(d.isoformat())),
}
EXAMPLES = int(os.environ.get("KEYPULSE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # One database for every example: the queries read it, refused mutations leave it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def tokens(app) -> dict[str, str]:
    with app.app_context():
        build()
        return make_tokens()


def post(client, token: str, document: str) -> tuple[int, dict[str, Any]]:
    resp = client.post(
        "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status_code, resp.get_json(silent=True) or {}


def assert_handled(status: int, body: dict[str, Any], document: str) -> None:
    assert status < 500, (status, body, document)
    for error in body.get("errors", []):
        code = (error.get("extensions") or {}).get("code")
        assert code != INTERNAL_SERVER_ERROR, (error, document)
        assert error["message"] != MASKED_MESSAGE, (error, document)


@FUZZ
@given(document=queries(SDL, custom_scalars=CUSTOM_SCALARS))
def test_generated_queries_never_fail_internally(client, tokens, document):
    status, body = post(client, tokens["viewer"], document)
    assert_handled(status, body, document)
    assert status == 200


@FUZZ
@given(document=mutations(SDL, custom_scalars=CUSTOM_SCALARS))
def test_generated_mutations_never_fail_internally(client, tokens, document):
    # A manager's mutations run: bad input must come back as BAD_USER_INPUT and the like.
    status, body = post(client, tokens["manager"], document)
    assert_handled(status, body, document)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=mutations(SDL, custom_scalars=CUSTOM_SCALARS))
def test_a_viewers_generated_mutations_are_all_forbidden(client, tokens, document):
    status, body = post(client, tokens["viewer"], document)
    assert_handled(status, body, document)
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors", [])}
    # Refused either way before anything runs: the cost cap is checked first.
    assert codes in ({"FORBIDDEN"}, {"QUERY_TOO_COSTLY"}), body
    assert body.get("data") is None or all(v is None for v in body["data"].values()), body


# --- abusive documents -----------------------------------------------------------------


def _deep(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"responses {{ account {{ {inner} }} }}"
    return f"{{ accounts(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


ABUSE = {
    "deep": _deep(MAX_DEPTH),
    "aliases": "{ " + " ".join(f"a{i}: me {{ name }}" for i in range(MAX_ALIASES + 1)) + " }",
    "wide": "{ me { " + " ".join(["name role locale"] * (MAX_TOKENS // 3 + 1)) + " } }",
    "huge token": '{ accounts(region: "' + "x" * 200_000 + '") { totalCount } }',
    "long document": "{ me { name } }\n" + "# padding\n" * (MAX_DOCUMENT_LENGTH // 10),
}


@pytest.mark.parametrize("kind", ABUSE)
def test_abusive_queries_are_refused(client, tokens, kind):
    status, body = post(client, tokens["viewer"], ABUSE[kind])
    assert_handled(status, body, ABUSE[kind])
    assert body.get("data") is None, body
    assert body["errors"], body


def test_an_ordinary_query_within_the_limits_runs(client, tokens):
    status, body = post(client, tokens["viewer"], _deep(2))
    assert status == 200 and "errors" not in body, body


def test_a_body_over_max_content_length_is_a_413(app, client, tokens):
    document = "{ me { name } }" + " " * app.config["MAX_CONTENT_LENGTH"]
    status, body = post(client, tokens["viewer"], document)
    assert status == 413
    assert body["errors"][0]["message"]


def test_a_batch_or_a_non_object_body_is_refused_cleanly(client, tokens):
    auth = {"Authorization": f"Bearer {tokens['viewer']}"}
    for payload in ([{"query": "{ me { name } }"}] * 3, "{ me { name } }", 7, None):
        resp = client.post("/graphql", json=payload, headers=auth)
        assert 400 <= resp.status_code < 500, (payload, resp.status_code)
    resp = client.post("/graphql", data=b"\xff\xfe{", content_type="application/json", headers=auth)
    assert 400 <= resp.status_code < 500
