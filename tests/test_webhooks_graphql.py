"""Webhooks in the API: admin only; the secret in createWebhook's answer only; the
delivery log by keyset page; send again."""

from __future__ import annotations

import pytest
from flask import Flask

from survey.db import db
from survey.events import RESPONSE_SUBMITTED, emit

from .graphql_helpers import codes, gql, make_tokens
from .webhook_receiver import Receiver, serving

CREATE = """mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { secret webhook { id url events active description
    deliveries { queued delivered failed } } } }"""
LIST = "{ webhooks { id url events active deliveries { queued sending delivered failed } } }"
LOG = """query($id: ID, $failed: Boolean!, $first: Int, $after: String) {
  webhookDeliveries(webhookId: $id, failed: $failed, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id webhookId eventId event status attempts responseStatus lastError } } } }"""
AGAIN = "mutation($id: ID!) { redeliverWebhook(id: $id) { id status attempts } }"
DELETE = "mutation($id: ID!) { deleteWebhook(id: $id) }"


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    with app.app_context():
        made = make_tokens()
        db.session.commit()
        return made


def test_only_admins_see_or_change_webhooks(client, tokens):
    for role in ("viewer", "manager"):
        assert codes(gql(client, LIST, token=tokens[role])) == ["FORBIDDEN"]
        body = gql(
            client,
            CREATE,
            {"input": {"url": "https://crm.example.com/h", "events": ["RESPONSE_SUBMITTED"]}},
            token=tokens[role],
        )
        assert codes(body) == ["FORBIDDEN"]


def test_create_list_log_redeliver_delete(app, client, runner, tokens):
    receiver = Receiver(0, script=[(410, {})])
    with serving(receiver):
        bad = gql(
            client,
            CREATE,
            {"input": {"url": "http://crm.example.com/h", "events": ["RESPONSE_SUBMITTED"]}},
            token=tokens["admin"],
        )
        assert codes(bad) == ["BAD_USER_INPUT"]
        assert bad["errors"][0]["extensions"]["field"] == "url"
        made = gql(
            client,
            CREATE,
            {
                "input": {
                    "url": receiver.url,
                    "events": ["RESPONSE_SUBMITTED", "DEFECTION_RECORDED"],
                    "description": "CRM",
                }
            },
            token=tokens["admin"],
        )["data"]["createWebhook"]
        assert made["secret"].startswith("whsec_")
        assert made["webhook"] == {
            "id": "1",
            "url": receiver.url,
            "events": ["RESPONSE_SUBMITTED", "DEFECTION_RECORDED"],
            "active": True,
            "description": "CRM",
            "deliveries": {"queued": 0, "delivered": 0, "failed": 0},
        }
        with app.app_context():
            for n in range(3):
                emit(RESPONSE_SUBMITTED, {"n": n}, account_id=n)
            db.session.commit()
        runner.invoke(args=["outbox", "send"])
        listed = gql(client, LIST, token=tokens["admin"])["data"]["webhooks"]
        assert listed[0]["deliveries"] == {"queued": 0, "sending": 0, "delivered": 2, "failed": 1}

        page = gql(client, LOG, {"failed": False, "first": 2}, token=tokens["admin"])
        log = page["data"]["webhookDeliveries"]
        assert log["totalCount"] == 3 and log["pageInfo"]["hasNextPage"]
        assert [e["node"]["id"] for e in log["edges"]] == ["3", "2"]
        rest = gql(
            client,
            LOG,
            {"failed": False, "first": 2, "after": log["pageInfo"]["endCursor"]},
            token=tokens["admin"],
        )["data"]["webhookDeliveries"]
        assert [e["node"]["id"] for e in rest["edges"]] == ["1"]
        failed = gql(client, LOG, {"id": "1", "failed": True}, token=tokens["admin"])
        (node,) = [e["node"] for e in failed["data"]["webhookDeliveries"]["edges"]]
        assert node["event"] == "RESPONSE_SUBMITTED" and node["eventId"].startswith("evt_")
        assert (node["status"], node["responseStatus"], node["lastError"]) == (
            "FAILED",
            410,
            "HTTP 410",
        )
        again = gql(client, AGAIN, {"id": node["id"]}, token=tokens["admin"])
        assert again["data"]["redeliverWebhook"] == {"id": "1", "status": "QUEUED", "attempts": 0}
        assert codes(gql(client, AGAIN, {"id": node["id"]}, token=tokens["admin"])) == ["CONFLICT"]
        assert "secret" not in str(gql(client, LIST, token=tokens["admin"]))
    assert gql(client, DELETE, {"id": "1"}, token=tokens["admin"])["data"] == {"deleteWebhook": "1"}
    assert codes(gql(client, DELETE, {"id": "1"}, token=tokens["admin"])) == ["BAD_USER_INPUT"]
    assert gql(client, LIST, token=tokens["admin"])["data"]["webhooks"] == []
