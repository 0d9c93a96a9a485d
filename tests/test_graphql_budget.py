"""The hourly budget per API token (web.limits over Flask-Limiter's storage): each
accepted operation's cost is charged, Query.rateLimit tells what is left, and over
it the API answers 429 with Retry-After. Unknown tokens draw on the same failed
look-up allowance as unknown survey links."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries

from survey.registry.staff import revoke_staff
from survey.tokens import TOKEN_LENGTH
from web.config import DEFAULT_HOURLY_BUDGET, ConfigError, env_hourly_budget, load_config

from .graphql_data import build
from .graphql_helpers import codes, gql, make_tokens

SUMMARY = "{ satisfactionSummary(groupBy: TIER) { key answers } }"  # costs 1013
RATE = "{ rateLimit { cost limit remaining resetAt } }"  # costs 10 (the request)


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {
        "RATELIMIT_ENABLED": True,
        "GRAPHQL_HOURLY_BUDGET": 2500,
        "RATELIMIT_FAILED_LOOKUPS": "3 per minute",
    }


@pytest.fixture
def tokens(app) -> dict[str, str]:
    with app.app_context():
        build()
        return make_tokens()


def reset_at(body: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(body["data"]["rateLimit"]["resetAt"])


def test_rate_limit_numbers_are_exact(client, tokens, now):
    first = gql(client, RATE, token=tokens["viewer"])
    assert {k: v for k, v in first["data"]["rateLimit"].items() if k != "resetAt"} == {
        "cost": 10,
        "limit": 2500,
        "remaining": 2490,
    }
    # An hour from the first charged operation, on the app's clock (TEST_NOW), whatever
    # day the suite runs.
    assert now + timedelta(hours=1) <= reset_at(first) <= now + timedelta(hours=1, minutes=1)
    gql(client, SUMMARY, token=tokens["viewer"])
    resp = client.post(
        "/graphql",
        json={"query": RATE},
        headers={"Authorization": f"Bearer {tokens['viewer']}"},
    )
    second = resp.get_json()
    assert second["data"]["rateLimit"]["remaining"] == 2490 - 1013 - 10
    assert second["data"]["rateLimit"]["cost"] == 10
    # The window does not move with later operations.
    assert reset_at(second) == reset_at(first)
    assert resp.headers["X-RateLimit-Limit"] == "2500"
    assert resp.headers["X-RateLimit-Remaining"] == str(2490 - 1013 - 10)
    assert resp.headers["X-RateLimit-Reset"] == str(int(reset_at(first).timestamp()))
    # rateLimit.cost is the whole operation's cost.
    both = gql(client, "{ me { name } rateLimit { cost remaining } }", token=tokens["viewer"])
    assert both["data"]["rateLimit"] == {"cost": 11, "remaining": 1467 - 11}


def test_over_the_hourly_budget_is_429_with_retry_after(client, tokens, now):
    viewer = tokens["viewer"]
    assert "errors" not in gql(client, SUMMARY, token=viewer)
    assert "errors" not in gql(client, SUMMARY, token=viewer)
    with client:
        resp = client.post(
            "/graphql", json={"query": SUMMARY}, headers={"Authorization": f"Bearer {viewer}"}
        )
        statements = [q.statement for q in get_recorded_queries()]
    assert resp.status_code == 429
    assert 3500 <= int(resp.headers["Retry-After"]) <= 3600
    body = resp.get_json()
    assert body["data"] is None
    extensions = body["errors"][0]["extensions"]
    assert {k: v for k, v in extensions.items() if k != "resetAt"} == {
        "code": "RATE_LIMITED",
        "cost": 1013,
        "limit": 2500,
        "remaining": 2500 - 2 * 1013,
    }
    reset = datetime.fromisoformat(extensions["resetAt"])
    assert now + timedelta(hours=1) <= reset <= now + timedelta(hours=1, minutes=1)
    # Refused before anything ran: only the token's look-up.
    assert len(statements) == 1 and "api_tokens" in statements[0], statements
    # A refused operation costs nothing: a cheaper one still fits.
    rate = gql(client, RATE, token=viewer)["data"]["rateLimit"]
    assert rate["remaining"] == 2500 - 2 * 1013 - 10
    # Each token has its own budget.
    assert "errors" not in gql(client, SUMMARY, token=tokens["manager"])


@pytest.mark.parametrize(
    "app_config",
    [{"RATELIMIT_ENABLED": True, "GRAPHQL_HOURLY_BUDGET": {"viewer": 3000, "manager": 9000}}],
)
def test_budgets_per_role(client, tokens, app_config):
    limits = {
        role: gql(client, RATE, token=tokens[role])["data"]["rateLimit"]["limit"]
        for role in ("viewer", "manager", "admin")
    }
    assert limits == {"viewer": 3000, "manager": 9000, "admin": DEFAULT_HOURLY_BUDGET["admin"]}


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": False}])
def test_nothing_is_charged_with_rate_limits_off(client, tokens, app_config):
    for _ in range(3):
        assert "errors" not in gql(client, SUMMARY, token=tokens["viewer"])
    rate = gql(client, RATE, token=tokens["viewer"])["data"]["rateLimit"]
    assert rate["cost"] == 10
    assert rate["limit"] == rate["remaining"] == DEFAULT_HOURLY_BUDGET["viewer"]


# --- unknown tokens -----------------------------------------------------------------------


def post(client, token: str, ip: str) -> Any:
    return client.post(
        "/graphql",
        json={"query": "{ me { name } }"},
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_wrong_tokens_are_401_then_429(app, client, tokens):
    office = "198.51.100.20"
    with app.app_context():
        revoke_staff("admin-user")
    guesses = [post(client, "guess-1", office), post(client, "guess-2", office)]
    guesses.append(post(client, tokens["admin"], office))  # revoked counts too
    assert [r.status_code for r in guesses] == [401, 401, 401]
    assert all(
        r.get_json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" for r in guesses
    )
    limited = post(client, "guess-4", office)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.get_json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
    # A valid token from the same address is never refused.
    assert post(client, tokens["viewer"], office).status_code == 200
    # Unknown survey links draw on the same allowance, and say when to come back.
    link = client.get(f"/s/{'0' * TOKEN_LENGTH}", environ_base={"REMOTE_ADDR": office})
    assert link.status_code == 429
    assert 1 <= int(link.headers["Retry-After"]) <= 60
    # Another address is not affected.
    assert post(client, "guess-5", "203.0.113.30").status_code == 401


def test_unknown_links_count_toward_the_token_allowance(client, tokens):
    office = "198.51.100.21"
    for n in range(3):
        page = client.get(f"/s/{n:0{TOKEN_LENGTH}d}", environ_base={"REMOTE_ADDR": office})
        assert page.status_code == 404
    body = post(client, "guess", office)
    assert body.status_code == 429
    assert codes(body.get_json()) == ["RATE_LIMITED"]


# --- settings -------------------------------------------------------------------------------


def test_hourly_budget_from_the_environment(monkeypatch):
    monkeypatch.delenv("GRAPHQL_HOURLY_BUDGET", raising=False)
    assert env_hourly_budget("GRAPHQL_HOURLY_BUDGET") == DEFAULT_HOURLY_BUDGET
    monkeypatch.setenv("GRAPHQL_HOURLY_BUDGET", "50_000")
    assert env_hourly_budget("GRAPHQL_HOURLY_BUDGET") == {
        "viewer": 50_000,
        "manager": 50_000,
        "admin": 50_000,
    }
    monkeypatch.setenv("GRAPHQL_HOURLY_BUDGET", "viewer=20000, admin=1000000")
    assert env_hourly_budget("GRAPHQL_HOURLY_BUDGET") == {
        "viewer": 20_000,
        "manager": DEFAULT_HOURLY_BUDGET["manager"],
        "admin": 1_000_000,
    }
    for bad in ("lots", "0", "guest=5", "viewer=-1"):
        monkeypatch.setenv("GRAPHQL_HOURLY_BUDGET", bad)
        with pytest.raises(ConfigError, match="GRAPHQL_HOURLY_BUDGET"):
            env_hourly_budget("GRAPHQL_HOURLY_BUDGET")


def test_max_cost_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHQL_MAX_COST", "2500")
    assert load_config(tmp_path)["GRAPHQL_MAX_COST"] == 2500
    monkeypatch.setenv("GRAPHQL_MAX_COST", "0")
    with pytest.raises(ConfigError, match="GRAPHQL_MAX_COST"):
        load_config(tmp_path)
