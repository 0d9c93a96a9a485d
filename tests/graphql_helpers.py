"""Helpers for the GraphQL tests: staff tokens per role and a POST helper."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from survey.registry.staff import add_staff


def make_tokens() -> dict[str, str]:
    """One token per role (inside an app context)."""
    return {role: add_staff(f"{role}-user", role).token for role in ("viewer", "manager", "admin")}


def gql(
    client: FlaskClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None,
    lang: str | None = None,
    status: int = 200,
) -> dict[str, Any]:
    """POST a query; assert the HTTP status; return the JSON body."""
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if lang is not None:
        headers["Accept-Language"] = lang
    resp = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_json()


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
