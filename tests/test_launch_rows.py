"""A launch stores exactly the rows it always did: the campaign, its allocation, the
frame at launch, the invitations, the outbox e-mails, the audit entry and the webhook
event, compared column by column with tests/data/launch_rows.json (written by the
launch before it was made bulk, issue 20) on a small fixed registry.

To pin new rows on purpose (new e-mail templates), run this file alone with
KEYPULSE_WRITE_LAUNCH_SNAPSHOT=1 on the code that is known to be right.

What is random by design is checked, then named by its place: each invitation's nonce
(128 bits from `secrets`, unique, its hash the hash of the token it derives), the
links derived from it in the e-mails, the e-mails' Message-IDs and the event id.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Table, select

from survey.audit import CAMPAIGN_LAUNCH
from survey.campaigns import CampaignRequest, launch_campaign
from survey.campaigns.launch import LaunchResult
from survey.data_version import ROW_ID, DataVersion
from survey.db import db
from survey.delivery.mail import MailSettings, optout_mac
from survey.delivery.webhook_admin import create_endpoint
from survey.events import CAMPAIGN_LAUNCHED
from survey.models import (
    AuditEntry,
    Campaign,
    CampaignFrameMember,
    CampaignStratum,
    Invitation,
    OutboxMessage,
    StaffMember,
    WebhookDelivery,
    WebhookEvent,
)
from survey.tokens import derive_token, hash_token

from .conftest import BASE_URL, TEST_NOW, TEST_SECRET
from .factories import make_account, make_contact

SNAPSHOT = Path(__file__).parent / "data" / "launch_rows.json"
SETTINGS = MailSettings(
    secret_key=TEST_SECRET, base_url=BASE_URL, mail_from="KeyPulse <surveys@keypulse.test>"
)
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_MESSAGE_ID = re.compile(r"<kp-invitation-[0-9a-f]{32}@keypulse\.test>")


def _registry() -> None:
    """16 accounts over three tiers and two regions; some with several contacts (one
    in English, one phone-only, one opted out), one English account, one phone-only,
    one inactive, one invited recently; the manager of some is a staff member."""
    db.session.add(StaffMember(name="王伟", email="wang.wei@keypulse.test", role="manager"))
    tiers = "AAAABBBBBCCCCCCC"
    for i, tier in enumerate(tiers, start=1):
        ext = f"KA{i:03d}"
        fields: dict[str, Any] = {
            "tier": tier,
            "region": "华东" if i % 3 else "华南",
            "account_manager": "王伟" if i % 2 else "Li Lei",
            "contact_name": f"联系人 {i}",
        }
        if i == 5:
            fields["locale"] = "en"
            fields["contact_name"] = "Jane Doe"
        if i == 7:
            fields.update(contact_email=None, contact_phone="+86 21 5555 0007")
        if i == 11:
            fields["active"] = False
        account = make_account(ext, **fields)
        if i in (2, 9):
            make_contact(account, name=f"Second {i}", role="purchasing", email=f"b{i}@x.test")
            make_contact(account, name=f"Third {i}", role="it", email=f"c{i}@x.test", locale="en")
            make_contact(account, name=f"Phone {i}", phone="+86 10 0000 0000")
            make_contact(account, name=f"Gone {i}", email=f"g{i}@x.test", opted_out_at=T0)
    db.session.commit()
    # One account was invited a month ago: the second launch (90 days) leaves it out.
    launch_campaign(
        CampaignRequest(name="earlier", size=1, seed=3, exclude_days=0),
        secret_key=TEST_SECRET,
        now=T0 - timedelta(days=30),
    )


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _table_rows(table: Table, where: Any, *order: Any) -> list[dict[str, Any]]:
    return [
        {name: _value(v) for name, v in row._mapping.items()}
        for row in db.session.execute(select(table).where(where).order_by(*order))
    ]


def _stored_rows(campaign_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Every row the launches wrote, with the random parts checked and named."""
    invitations = _table_rows(
        Invitation.__table__, Invitation.campaign_id.in_(campaign_ids), Invitation.id
    )
    names: dict[str, str] = {}  # random text -> its name
    for k, row in enumerate(invitations):
        nonce = row["token_nonce"]
        assert _HEX32.fullmatch(nonce), nonce
        token = derive_token(TEST_SECRET, nonce)
        assert row["token_hash"] == hash_token(token)
        names[nonce] = f"<nonce {k}>"
        names[token] = f"<token {k}>"
        names[optout_mac(TEST_SECRET, nonce)] = f"<opt-out {k}>"
        row["token_nonce"], row["token_hash"] = f"<nonce {k}>", f"<hash {k}>"
    assert len({r["token_nonce"] for r in invitations}) == len(invitations)
    outbox = _table_rows(
        OutboxMessage.__table__,
        OutboxMessage.invitation_id.in_([r["id"] for r in invitations]),
        OutboxMessage.id,
    )
    assert len({r["message_id"] for r in outbox}) == len(outbox)
    pattern = re.compile("|".join(re.escape(text) for text in names)) if names else None
    for row in outbox:
        assert _MESSAGE_ID.fullmatch(row["message_id"]), row["message_id"]
        row["message_id"] = "<message id>"
        for part in ("body_text", "body_html"):
            if pattern is not None:
                row[part] = pattern.sub(lambda m: names[m.group(0)], row[part])
            # Every link is one of the invitation's own: nothing random is left.
            assert not re.search(r"/[su]/[^<\s\"]*[A-Za-z0-9_-]{43}", row[part]), row[part]
    events = _table_rows(
        WebhookEvent.__table__, WebhookEvent.kind == CAMPAIGN_LAUNCHED, WebhookEvent.id
    )
    emitted: dict[int, datetime] = {}
    for row in events:
        # Stamped by the (ticking) clock, not the launch's `now`: checked, then named.
        at = datetime.fromisoformat(row["created_at"])
        assert TEST_NOW <= at < TEST_NOW + timedelta(minutes=5), at
        emitted[row["id"]] = at
        assert re.fullmatch(r"evt_[0-9a-f]{32}", row["event_id"])
        body = json.loads(row["body"])
        assert body["created_at"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
        body["id"], body["created_at"] = "<event id>", "<emitted>"
        row["event_id"], row["created_at"], row["body"] = "<event id>", "<emitted>", body
    deliveries = _table_rows(
        WebhookDelivery.__table__, WebhookDelivery.event_id.in_(emitted), WebhookDelivery.id
    )
    for row in deliveries:
        at = emitted[row["event_id"]]
        for name in ("next_attempt_at", "retry_until", "created_at"):
            row[name] = f"<emitted> + {datetime.fromisoformat(row[name]) - at}"
    audit = _table_rows(AuditEntry.__table__, AuditEntry.action == CAMPAIGN_LAUNCH, AuditEntry.id)
    for row in audit:
        row["details"] = json.loads(row["details"])
    return {
        "campaigns": _table_rows(Campaign.__table__, Campaign.id.in_(campaign_ids), Campaign.id),
        "campaign_strata": _table_rows(
            CampaignStratum.__table__,
            CampaignStratum.campaign_id.in_(campaign_ids),
            CampaignStratum.campaign_id,
            CampaignStratum.key,
        ),
        "campaign_frame_members": _table_rows(
            CampaignFrameMember.__table__,
            CampaignFrameMember.campaign_id.in_(campaign_ids),
            CampaignFrameMember.campaign_id,
            CampaignFrameMember.account_id,
        ),
        "invitations": invitations,
        "outbox_messages": outbox,
        "audit_log": audit,
        "webhook_events": events,
        "webhook_deliveries": deliveries,
    }


def launch_and_read(app: Flask) -> dict[str, Any]:
    """Two launches on the fixed registry (stratified by tier, every contact, tier A
    in full, with e-mail and a webhook subscriber; then simple, primary contacts only,
    the recently invited left out) and the rows they stored."""
    with app.app_context():
        _registry()
        create_endpoint(
            "http://127.0.0.1:9/hook",
            [CAMPAIGN_LAUNCHED],
            secret_key=TEST_SECRET,
            allow_http_loopback=True,
        )
        db.session.commit()
        versions = [db.session.scalar(select(DataVersion.token).where(DataVersion.id == ROW_ID))]
        results: list[LaunchResult] = [
            launch_campaign(
                CampaignRequest(
                    name="2026 Q4 stratified",
                    size=7,
                    stratify_by="tier",
                    seed=20261123,
                    exclude_days=0,
                    contacts="all",
                    census_tiers=("A",),
                    created_by="王伟",
                ),
                secret_key=TEST_SECRET,
                mail=SETTINGS,
                now=T0,
            )
        ]
        db.session.remove()
        versions.append(
            db.session.scalar(select(DataVersion.token).where(DataVersion.id == ROW_ID))
        )
        results.append(
            launch_campaign(
                CampaignRequest(name="2026 Q4 simple", size=4, seed=42, closes_in_days=21),
                secret_key=TEST_SECRET,
                mail=SETTINGS,
                now=T0 + timedelta(hours=1),
            )
        )
        db.session.remove()
        versions.append(
            db.session.scalar(select(DataVersion.token).where(DataVersion.id == ROW_ID))
        )
        assert len(set(versions)) == 3, "each launch gives the data a new version"
        ids = [r.campaign_id for r in results]
        assert None not in ids
        rows = _stored_rows([i for i in ids if i is not None])
        rows["emails_queued"] = [r.emails_queued for r in results]
        return rows


def test_a_launch_stores_the_same_rows_as_before(app: Flask) -> None:
    rows = launch_and_read(app)
    if os.environ.get("KEYPULSE_WRITE_LAUNCH_SNAPSHOT") == "1":
        # Only to pin what a launch stores on code known to be right (e.g. after the
        # e-mail templates change): run this file alone on that code, then commit.
        text = json.dumps(rows, ensure_ascii=False, indent=1, sort_keys=True)
        SNAPSHOT.write_text(text + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert rows.keys() == expected.keys()
    for table in expected:
        assert rows[table] == expected[table], table
