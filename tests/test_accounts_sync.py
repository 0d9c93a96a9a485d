"""upsertAccounts: a CRM keeps the registry current through the API, with the CSV
import's checks, all or nothing, per-item errors in `extensions`."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from survey.db import db
from survey.delivery.webhook_admin import create_endpoint
from survey.models import AuditEntry, KeyAccount, WebhookEvent

from .conftest import TEST_SECRET
from .graphql_helpers import codes, gql, make_tokens

UPSERT = """mutation($input: [AccountInput!]!) {
  upsertAccounts(input: $input) { created updated unchanged } }"""


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    with app.app_context():
        made = make_tokens()
        db.session.commit()
        return made


def _account(external_id: str, **fields: object) -> dict[str, object]:
    return {
        "externalId": external_id,
        "name": f"客户 {external_id}",
        "tier": "A",
        "valueType": "strategic",
        "relationshipStage": "partner",
        "region": "华东",
        "annualRevenue": 1_200_000,
        "accountManager": "王伟",
        "contactName": "李娜",
        "contactEmail": f"{external_id.lower()}@example.com",
    } | fields


def test_only_admins_upsert(client, tokens):
    for role in ("viewer", "manager"):
        body = gql(client, UPSERT, {"input": [_account("KA001")]}, token=tokens[role])
        assert codes(body) == ["FORBIDDEN"]


def test_create_then_update_and_the_tier_change_is_audited_and_emitted(app, client, tokens):
    with app.app_context():
        create_endpoint(
            "https://crm.example.com/h",
            ["account.tier_changed"],
            secret_key=TEST_SECRET,
            allow_http_loopback=False,
        )
    first = gql(
        client, UPSERT, {"input": [_account("KA001"), _account("KA002")]}, token=tokens["admin"]
    )
    assert first["data"]["upsertAccounts"] == {"created": 2, "updated": 0, "unchanged": 0}
    second = gql(
        client,
        UPSERT,
        {"input": [_account("KA001", tier="b"), _account("KA002"), _account("KA003")]},
        token=tokens["admin"],
    )
    assert second["data"]["upsertAccounts"] == {"created": 1, "updated": 1, "unchanged": 1}
    with app.app_context():
        tiers = dict(db.session.execute(select(KeyAccount.external_id, KeyAccount.tier)).all())
        assert tiers == {"KA001": "B", "KA002": "A", "KA003": "A"}
        audit = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "account.tier_change")
        ).all()
        assert [(a.actor, a.target_id) for a in audit] == [("admin-user", "KA001")]
        (event,) = db.session.scalars(select(WebhookEvent)).all()
        assert '"source":"api"' in event.body and '"old_tier":"A"' in event.body


def test_any_problem_writes_nothing_and_each_is_listed_by_item(app, client, tokens):
    body = gql(
        client,
        UPSERT,
        {
            "input": [
                _account("KA001"),
                _account("KA002", tier="Z", contactEmail="not-an-address"),
                _account("KA001", name=" "),
            ]
        },
        token=tokens["admin"],
    )
    assert codes(body) == ["BAD_USER_INPUT"]
    items = body["errors"][0]["extensions"]["items"]
    assert [(i["index"], i["field"]) for i in items] == [
        (0, "externalId"),
        (1, "tier"),
        (1, "contactEmail"),
        (2, "externalId"),
        (2, "name"),
    ]
    assert items[0]["message"] == "'KA001' is also on item 2"
    with app.app_context():
        assert db.session.scalars(select(KeyAccount)).all() == []


def test_more_than_500_is_refused(client, tokens):
    many = [_account(f"KA{n:04d}") for n in range(501)]
    body = gql(client, UPSERT, {"input": many}, token=tokens["admin"])
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "At most 500" in body["errors"][0]["message"]
