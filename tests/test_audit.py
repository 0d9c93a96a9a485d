"""The audit log: every campaign launch and close, defection and token change leaves
one row (who, what, when) in the same transaction, and admins read it via GraphQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from survey import audit
from survey.campaigns import CampaignRequest, close_campaign, launch_campaign
from survey.db import db
from survey.errors import ConflictError, InvalidInputError
from survey.models import AuditEntry
from survey.registry import record_defection
from survey.registry.staff import add_staff, issue_token, revoke_staff

from .conftest import TEST_SECRET
from .factories import make_account
from .graphql_helpers import codes, gql, make_tokens

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def entries() -> list[tuple[str | None, str, str | None, str | None, dict]]:
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    return [
        (r.actor, r.action, r.target_type, r.target_id, json.loads(r.details or "{}")) for r in rows
    ]


def test_record_audit_joins_the_callers_transaction(app):
    with app.app_context():
        audit.record_audit("王伟", audit.CAMPAIGN_CLOSE, "campaign", 7, {"expired": 3}, at=NOW)
        db.session.rollback()
        assert entries() == []  # rolled back with the action it described

        entry = audit.record_audit("王伟", audit.CAMPAIGN_CLOSE, "campaign", 7, {"expired": 3})
        db.session.commit()
        assert entries() == [("王伟", "campaign.close", "campaign", "7", {"expired": 3})]
        assert entry.at is not None and entry.at.tzinfo is UTC


def test_record_audit_refuses_an_unknown_action(app):
    with app.app_context(), pytest.raises(ValueError, match=r"campaign\.launched"):
        audit.record_audit(None, "campaign.launched", "campaign", 1)


def test_staff_token_changes_are_audited(app):
    with app.app_context():
        add_staff("Ana", "viewer", actor="root")
        issue_token("Ana", actor="root")
        revoke_staff("Ana", actor="boss")
        assert entries() == [
            ("root", "staff.add", "staff", "Ana", {"role": "viewer"}),
            ("root", "staff.token_issue", "staff", "Ana", {"role": "viewer"}),
            ("boss", "staff.revoke", "staff", "Ana", {"tokens_revoked": 2}),
        ]
        # A refused change leaves no entry.
        with pytest.raises(ConflictError):
            add_staff("Ana", "admin", actor="root")
        db.session.rollback()
        assert len(entries()) == 3


def test_defection_is_audited_and_a_refused_one_is_not(app):
    with app.app_context():
        make_account("KA1")
        db.session.commit()
        record_defection(
            external_id="KA1",
            defected_on=date(2026, 10, 1),
            reasons=["price", "service"],
            recorded_by="王伟",
            today=date(2026, 11, 2),
        )
        with pytest.raises(ConflictError):
            record_defection(
                external_id="KA1",
                defected_on=date(2026, 10, 2),
                reasons=["price"],
                recorded_by="李娜",
                today=date(2026, 11, 2),
            )
        db.session.rollback()
        [(actor, action, target_type, target_id, details)] = entries()
        assert (actor, action, target_type, target_id) == (
            "王伟",
            "defection.record",
            "account",
            "KA1",
        )
        assert details["defected_on"] == "2026-10-01"
        assert details["reasons"] == ["price", "service"]
        assert details["source"] == "staff"


def test_campaign_launch_and_close_are_audited(app):
    with app.app_context():
        for n in range(1, 5):
            make_account(f"KA{n}")
        db.session.commit()
        request = CampaignRequest(name="2026 Q4", size=2, seed=11, created_by="王伟")
        launch_campaign(request, secret_key=TEST_SECRET, dry_run=True)
        assert entries() == []  # a dry run writes nothing, not even an audit row
        result = launch_campaign(request, secret_key=TEST_SECRET)
        with pytest.raises(ConflictError):  # same name: refused, not audited
            launch_campaign(request, secret_key=TEST_SECRET)
        close_campaign(result.campaign_id, actor="李娜")
        close_campaign(result.campaign_id, actor="李娜")  # already closed: no change
        rows = entries()
        assert [r[:4] for r in rows] == [
            ("王伟", "campaign.launch", "campaign", str(result.campaign_id)),
            ("李娜", "campaign.close", "campaign", str(result.campaign_id)),
        ]
        launched = rows[0][4]
        assert (launched["name"], launched["seed"], launched["sample_size"]) == ("2026 Q4", 11, 2)
        assert rows[1][4] == {"expired": 2}


def test_list_audit_pages_newest_first_and_filters(app):
    with app.app_context():
        for n in range(5):
            action = audit.STAFF_ADD if n % 2 == 0 else audit.STAFF_REVOKE
            audit.record_audit(f"actor{n}", action, "staff", f"s{n}")
        db.session.commit()
        first = audit.list_audit(first=2)
        assert [r.actor for r in first.records] == ["actor4", "actor3"]
        assert first.has_next
        rest = audit.list_audit(first=10, before_id=first.records[-1].id)
        assert [r.actor for r in rest.records] == ["actor2", "actor1", "actor0"]
        assert not rest.has_next
        adds = audit.list_audit(action=audit.STAFF_ADD)
        assert [r.actor for r in adds.records] == ["actor4", "actor2", "actor0"]
        assert audit.count_audit() == 5 and audit.count_audit(action=audit.STAFF_REVOKE) == 2
        assert audit.list_audit(first=0) == audit.AuditPage(records=[], has_next=True)
        with pytest.raises(InvalidInputError, match="Unknown audit action"):
            audit.list_audit(action="drop table")
        with pytest.raises(InvalidInputError):
            audit.list_audit(first=201)


AUDIT_LOG = """
query($first: Int, $after: String, $action: String) {
  auditLog(first: $first, after: $after, action: $action) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { actor action targetType targetId details at } }
  }
}
"""


def test_admin_reads_the_audit_log_through_graphql(app, client):
    with app.app_context():
        tokens = make_tokens()  # three staff.add entries, actor unknown (None)
        revoke_staff("viewer-user", actor="admin-user")
        live = issue_token("manager-user", actor="admin-user").token

    body = gql(client, AUDIT_LOG, {"first": 2}, token=tokens["admin"])
    assert "errors" not in body, body
    log = body["data"]["auditLog"]
    assert log["totalCount"] == 5
    assert log["pageInfo"]["hasNextPage"] is True
    nodes = [e["node"] for e in log["edges"]]
    assert [(n["actor"], n["action"], n["targetId"]) for n in nodes] == [
        ("admin-user", "staff.token_issue", "manager-user"),
        ("admin-user", "staff.revoke", "viewer-user"),
    ]
    assert nodes[1]["details"] == {"tokens_revoked": 1}
    assert nodes[0]["at"].endswith("+00:00")

    after = log["pageInfo"]["endCursor"]
    body = gql(client, AUDIT_LOG, {"first": 10, "after": after}, token=tokens["admin"])
    rest = [e["node"] for e in body["data"]["auditLog"]["edges"]]
    assert [(n["actor"], n["action"], n["targetId"]) for n in rest] == [
        (None, "staff.add", "admin-user"),
        (None, "staff.add", "manager-user"),
        (None, "staff.add", "viewer-user"),
    ]
    assert body["data"]["auditLog"]["pageInfo"]["hasNextPage"] is False

    body = gql(client, AUDIT_LOG, {"action": "staff.revoke"}, token=tokens["admin"])
    assert body["data"]["auditLog"]["totalCount"] == 1

    # Managers and viewers are refused; the log is for admins.
    body = gql(client, AUDIT_LOG, {}, token=live)
    assert codes(body) == ["FORBIDDEN"] and body["data"] is None
    body = gql(client, AUDIT_LOG, {"action": "nope"}, token=tokens["admin"])
    assert codes(body) == ["BAD_USER_INPUT"]


def test_staff_commands_name_the_operating_system_user(app, runner, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    assert runner.invoke(args=["staff", "add", "Ana", "--role", "viewer"]).exit_code == 0
    assert runner.invoke(args=["staff", "token", "Ana"]).exit_code == 0
    assert runner.invoke(args=["staff", "revoke", "Ana"]).exit_code == 0
    with app.app_context():
        assert [(r[0], r[1]) for r in entries()] == [
            ("cli:ops", "staff.add"),
            ("cli:ops", "staff.token_issue"),
            ("cli:ops", "staff.revoke"),
        ]
