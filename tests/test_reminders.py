"""Reminders: who gets one, how often, and what it looks like."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from survey.audit import CAMPAIGN_REMIND
from survey.db import db
from survey.delivery import queue_reminders
from survey.delivery.backends import FileBackend
from survey.delivery.mail import MailSettings
from survey.delivery.worker import deliver_batch
from survey.errors import InvalidInputError, NotFoundError, SurveyClosedError
from survey.models import AuditEntry, Invitation, KeyAccount, OutboxMessage

from .conftest import BASE_URL, TEST_NOW, TEST_SECRET
from .factories import make_account, make_campaign

SETTINGS = MailSettings(secret_key=TEST_SECRET, base_url=BASE_URL)
T = TEST_NOW

# external id -> (status, sent days ago, reminders sent, last reminded days ago, account fields)
CASES: dict[str, tuple[str, int | None, int, int | None, dict[str, Any]]] = {
    "A_sent_6d": ("sent", 6, 0, None, {}),
    "B_opened_reminded_6d": ("opened", 10, 1, 6, {"locale": "en"}),
    "C_sent_3d": ("sent", 3, 0, None, {}),
    "D_responded": ("responded", 6, 0, None, {}),
    "E_bounced": ("bounced", 6, 0, None, {}),
    "F_two_reminders": ("sent", 30, 2, 20, {}),
    "G_reminded_2d": ("opened", 10, 1, 2, {}),
    "H_phone_only": ("pending", None, 0, None, {"contact_email": None, "contact_phone": "1"}),
    "I_opted_out": ("sent", 6, 0, None, {"opted_out_at": T - timedelta(days=1)}),
    "J_email_removed": ("sent", 6, 0, None, {"contact_email": " "}),
}


def _days(n: int | None) -> datetime | None:
    return None if n is None else T - timedelta(days=n)


def _setup(app: Flask, *, closes_at: datetime | None = None) -> int:
    with app.app_context():
        accounts = []
        for ext, (*_, fields) in CASES.items():
            accounts.append(make_account(ext, **fields))
        campaign, _tokens = make_campaign(
            accounts=accounts, opens_at=T - timedelta(days=30), closes_at=closes_at
        )
        by_account = {a.id: a.external_id for a in accounts}
        for inv in db.session.scalars(select(Invitation)):
            status, sent, reminders, last, _fields = CASES[by_account[inv.account_id]]
            inv.status = status
            inv.sent_at = _days(sent)
            inv.reminders_sent = reminders
            inv.last_reminded_at = _days(last)
        db.session.commit()
        return campaign.id


def _reminded(app: Flask) -> dict[str, tuple[int, datetime | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(KeyAccount.external_id, Invitation.reminders_sent, Invitation.last_reminded_at)
            .join(KeyAccount, KeyAccount.id == Invitation.account_id)
            .order_by(KeyAccount.external_id)
        ).all()
    return {ext: (n, last) for ext, n, last in rows}


def test_reminds_only_emailed_unanswered_not_recent_and_under_the_limit(app: Flask) -> None:
    campaign_id = _setup(app)
    with app.app_context():
        assert queue_reminders(campaign_id, SETTINGS, after_days=5, now=T, actor="王伟") == 2
        outbox = db.session.execute(
            select(OutboxMessage.kind, OutboxMessage.to_address, OutboxMessage.subject).order_by(
                OutboxMessage.to_address
            )
        ).all()
        audit = db.session.execute(select(AuditEntry.actor, AuditEntry.action)).all()
    assert outbox == [
        ("reminder", "a_sent_6d@example.com", "提醒：客户满意度调查即将截止"),
        (
            "reminder",
            "b_opened_reminded_6d@example.com",
            "Reminder: our customer satisfaction survey closes soon",
        ),
    ]
    assert audit == [("王伟", CAMPAIGN_REMIND)]
    reminded = _reminded(app)
    assert reminded["A_sent_6d"] == (1, T)
    assert reminded["B_opened_reminded_6d"] == (2, T)
    assert reminded["C_sent_3d"] == (0, None)
    assert reminded["F_two_reminders"] == (2, T - timedelta(days=20))


def test_no_second_reminder_within_the_window_and_at_most_two(app: Flask) -> None:
    campaign_id = _setup(app)
    with app.app_context():
        assert queue_reminders(campaign_id, SETTINGS, now=T) == 2
        # Nothing new right away: the ones just queued are "in flight" and recent.
        assert queue_reminders(campaign_id, SETTINGS, now=T + timedelta(hours=1)) == 0
        deliver_batch(_NullBackend(), SETTINGS, now=T + timedelta(hours=1))
        # Five days on: A (1 reminder) gets its second; B already had two; C now qualifies
        # (sent 8 days ago); G was last reminded 7 days ago.
        assert queue_reminders(campaign_id, SETTINGS, now=T + timedelta(days=5)) == 3
        deliver_batch(_NullBackend(), SETTINGS, now=T + timedelta(days=5))
        assert queue_reminders(campaign_id, SETTINGS, now=T + timedelta(days=10)) == 1  # C
        deliver_batch(_NullBackend(), SETTINGS, now=T + timedelta(days=10))
        assert queue_reminders(campaign_id, SETTINGS, now=T + timedelta(days=13)) == 0
    assert {ext: n for ext, (n, _last) in _reminded(app).items()} == {
        "A_sent_6d": 2,
        "B_opened_reminded_6d": 2,
        "C_sent_3d": 2,
        "D_responded": 0,
        "E_bounced": 0,
        "F_two_reminders": 2,
        "G_reminded_2d": 2,
        "H_phone_only": 0,
        "I_opted_out": 0,
        "J_email_removed": 0,
    }


class _NullBackend:
    def __enter__(self) -> _NullBackend:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def send(self, message: Any) -> None:
        return None


def test_after_days_zero_reminds_everyone_eligible_at_once(app: Flask) -> None:
    campaign_id = _setup(app)
    with app.app_context():
        assert queue_reminders(campaign_id, SETTINGS, after_days=0, now=T) == 4  # A B C G


def test_sent_reminder_keeps_the_invitation_status(app: Flask, tmp_path: Path) -> None:
    campaign_id = _setup(app)
    with app.app_context():
        queue_reminders(campaign_id, SETTINGS, now=T)
        report = deliver_batch(FileBackend(tmp_path), SETTINGS, now=T)
        statuses = dict(
            db.session.execute(
                select(KeyAccount.external_id, Invitation.status).join(
                    KeyAccount, KeyAccount.id == Invitation.account_id
                )
            ).all()
        )
    assert report.sent == 2
    assert (statuses["A_sent_6d"], statuses["B_opened_reminded_6d"]) == ("sent", "opened")
    text = next(p for p in sorted(tmp_path.glob("*.eml"))).read_bytes()
    assert b"Subject:" in text


def test_closed_and_unknown_campaigns_and_bad_windows_are_refused(app: Flask) -> None:
    campaign_id = _setup(app, closes_at=T + timedelta(days=1))
    with app.app_context():
        with pytest.raises(SurveyClosedError):
            queue_reminders(campaign_id, SETTINGS, now=T + timedelta(days=2))
        with pytest.raises(NotFoundError):
            queue_reminders(campaign_id + 1, SETTINGS, now=T)
        with pytest.raises(InvalidInputError):
            queue_reminders(campaign_id, SETTINGS, after_days=-1, now=T)
        assert db.session.scalar(select(OutboxMessage.id)) is None


def test_remind_cli(app: Flask, runner: Any) -> None:
    campaign_id = _setup(app)
    result = runner.invoke(args=["campaign", "remind", str(campaign_id), "--after-days", "5"])
    assert result.exit_code == 0, result.output
    assert f"2 reminders queued for campaign {campaign_id}" in result.output
    again = runner.invoke(args=["campaign", "remind", "999"])
    assert again.exit_code == 1
    assert "CAMPAIGN_ID: There is no campaign with ID 999." in again.output
