"""The outbox: launch queues e-mails in its transaction; the worker delivers them to a
real SMTP server (aiosmtpd on loopback), retries, bounces and survives crashes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from survey.campaigns import CampaignRequest, launch_campaign
from survey.clock import utcnow
from survey.db import db
from survey.delivery import DeliveryReport, outbox_counts
from survey.delivery.backends import FileBackend, SmtpBackend, SmtpSettings
from survey.delivery.mail import MailSettings, compose
from survey.delivery.outbox import STALE_CLAIM, claim_batch
from survey.delivery.worker import deliver_batch
from survey.models import Invitation, KeyAccount, OutboxMessage

from .conftest import BASE_URL, TEST_SECRET
from .factories import make_account
from .smtp_server import SmtpServer, free_port, smtp_server_fixture  # noqa: F401

SETTINGS = MailSettings(
    secret_key=TEST_SECRET, base_url=BASE_URL, mail_from="KeyPulse <surveys@keypulse.test>"
)
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=utcnow().tzinfo)
_LINK = re.compile(r"https://survey\.example\.test(/s/[A-Za-z0-9_-]{43})")


def _launch(
    app: Flask, *, accounts: int = 3, phone_only: int = 0, english: int = 0, size: int | None = None
) -> int:
    """Accounts KA001.. (the first `english` in English, the last `phone_only` with a
    phone and no e-mail), all sampled; returns the campaign id."""
    total = accounts + phone_only
    with app.app_context():
        for i in range(total):
            ext = f"KA{i + 1:03d}"
            if i >= accounts:
                make_account(ext, contact_email=None, contact_phone="+86 21 5555 0000")
            else:
                make_account(ext, locale="en" if i < english else "zh", contact_name=f"Contact {i}")
        db.session.commit()
        result = launch_campaign(
            CampaignRequest(name="Q4", size=size or total, seed=7, closes_in_days=14),
            secret_key=TEST_SECRET,
            mail=SETTINGS,
            now=T0,
        )
        assert result.campaign_id is not None
        return result.campaign_id


def _smtp(server: SmtpServer) -> SmtpBackend:
    return SmtpBackend(SmtpSettings(host=server.host, port=server.port, timeout=5))


def _rows(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


def _deliver(app: Flask, backend: Any, now: datetime, **kwargs: Any) -> DeliveryReport:
    with app.app_context():
        return deliver_batch(backend, SETTINGS, now=now, **kwargs)


# --- queueing ------------------------------------------------------------------------------


def test_launch_queues_one_email_per_sampled_account_with_an_address(app: Flask) -> None:
    campaign_id = _launch(app, accounts=3, phone_only=2)
    with app.app_context():
        assert db.session.scalar(select(func.count(Invitation.id))) == 5
        rows = db.session.execute(
            select(OutboxMessage.kind, OutboxMessage.to_address, OutboxMessage.status).order_by(
                OutboxMessage.to_address
            )
        ).all()
        assert rows == [
            ("invitation", "ka001@example.com", "queued"),
            ("invitation", "ka002@example.com", "queued"),
            ("invitation", "ka003@example.com", "queued"),
        ]
        statuses = db.session.scalars(
            select(Invitation.status).where(Invitation.campaign_id == campaign_id)
        ).all()
        assert statuses == ["pending"] * 5


def test_dry_run_and_failed_launch_queue_nothing(app: Flask) -> None:
    with app.app_context():
        make_account("KA001")
        db.session.commit()
        launch_campaign(
            CampaignRequest(name="Q4", size=1), secret_key=TEST_SECRET, mail=SETTINGS, dry_run=True
        )
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_cli_launch_reports_queued_emails(app: Flask, runner: Any) -> None:
    with app.app_context():
        make_account("KA001")
        make_account("KA002", contact_email=None, contact_phone="123")
        db.session.commit()
    result = runner.invoke(args=["campaign", "launch", "--name", "Q4", "--size", "2"])
    assert result.exit_code == 0, result.output
    assert "1 invitation e-mails queued; deliver them with: flask outbox send" in result.output


# --- delivering to a real SMTP server -------------------------------------------------------


def _parts(message: EmailMessage) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.iter_parts()}


def test_messages_arrive_multipart_in_the_accounts_language_with_working_links(
    app: Flask, smtp_server: SmtpServer
) -> None:
    _launch(app, accounts=2, english=1)
    report = _deliver(app, _smtp(smtp_server), T0 + timedelta(seconds=1))
    assert (report.claimed, report.sent, report.retried, report.bounced) == (2, 2, 0, 0)

    by_to = {str(m["To"]): m for m in smtp_server.messages}
    assert sorted(by_to) == ["ka001@example.com", "ka002@example.com"]
    rows = {r.to_address: r for r in _rows(app)}
    english, chinese = by_to["ka001@example.com"], by_to["ka002@example.com"]
    for address, message in by_to.items():
        assert message["From"] == "KeyPulse <surveys@keypulse.test>"
        assert message["Message-ID"] == rows[address].message_id
        assert message["Message-ID"].endswith("@keypulse.test>")
        assert message.get_content_type() == "multipart/alternative"
        assert sorted(_parts(message)) == ["text/html", "text/plain"]
        # A long header may be folded right after the colon; unfolded, it is the URL.
        assert message["List-Unsubscribe"].strip().startswith(f"<{BASE_URL}/u/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert rows[address].status == "sent"
    assert english["Subject"] == "Customer satisfaction survey: please tell us what you think"
    assert english["Content-Language"] == "en"
    assert "Dear Contact 0," in _parts(english)["text/plain"]
    assert "account manager, 王伟" in _parts(english)["text/plain"]
    assert (
        "The survey is open until 7 Dec 2026 16:00 (China Standard Time)."
        in _parts(english)["text/plain"]
    )
    assert chinese["Subject"] == "客户满意度调查：请告诉我们您的看法"
    assert chinese["Content-Language"] == "zh-CN"
    assert "问卷开放至 2026年12月7日 16:00（中国标准时间）。" in _parts(chinese)["text/plain"]
    assert "尊敬的Contact 1：" in _parts(chinese)["text/html"]

    with app.app_context():
        invitations = db.session.execute(select(Invitation.status, Invitation.sent_at)).all()
    assert invitations == [("sent", T0 + timedelta(seconds=1))] * 2

    # The link in the text part and the one in the HTML part open the same survey.
    client = app.test_client()
    path = _LINK.search(_parts(chinese)["text/plain"]).group(1)  # type: ignore[union-attr]
    assert path in _parts(chinese)["text/html"]
    page = client.get(path)
    assert page.status_code == 200
    assert "您对我们产品的质量满意吗？" in page.get_data(as_text=True)
    with app.app_context():
        opened = db.session.scalar(
            select(func.count()).where(
                Invitation.status == "opened", Invitation.opened_at.is_not(None)
            )
        )
    assert opened == 1


def test_html_part_escapes_what_the_registry_holds(app: Flask) -> None:
    with app.app_context():
        make_account("KA001", contact_name="<b>Eve</b> & co", locale="en")
        db.session.commit()
    from survey.delivery.mail import MailContext

    mail = compose(
        "invitation",
        MailContext(
            invitation_id=1,
            nonce="ab" * 16,
            locale="en",
            account_name="A&B <Ltd>",
            contact_name="<b>Eve</b>",
            account_manager="王伟",
            manager_email=None,
            closes_at=T0,
        ),
        SETTINGS,
    )
    assert "&lt;b&gt;Eve&lt;/b&gt;" in mail.html and "<b>Eve</b>" not in mail.html
    assert "A&amp;B &lt;Ltd&gt;" in mail.html
    assert "Dear <b>Eve</b>," in mail.text  # plain text is not HTML: kept as typed


def test_temporary_failure_451_is_retried_with_backoff(app: Flask, smtp_server: SmtpServer) -> None:
    _launch(app, accounts=1)
    smtp_server.handler.data_replies = ["451 4.3.0 try again later"]
    first = _deliver(app, _smtp(smtp_server), T0)
    assert (first.sent, first.retried) == (0, 1)
    (row,) = _rows(app)
    assert (row.status, row.attempts, row.claimed_by) == ("queued", 1, None)
    assert row.next_attempt_at == T0 + timedelta(seconds=60)
    assert row.last_error == "451 4.3.0 try again later"

    # Not due yet: nothing is claimed before the back-off is over.
    assert _deliver(app, _smtp(smtp_server), T0 + timedelta(seconds=59)).claimed == 0
    second = _deliver(app, _smtp(smtp_server), T0 + timedelta(seconds=60))
    assert (second.sent, second.retried) == (1, 0)
    assert len(smtp_server.messages) == 1
    (row,) = _rows(app)
    assert (row.status, row.attempts) == ("sent", 1)
    with app.app_context():
        assert db.session.scalar(select(Invitation.status)) == "sent"


def test_backoff_doubles_and_gives_up_at_the_limit(app: Flask, smtp_server: SmtpServer) -> None:
    _launch(app, accounts=1)
    smtp_server.handler.data_replies = ["451 busy"] * 10
    now = T0
    waits = []
    for _ in range(3):
        report = _deliver(app, _smtp(smtp_server), now, max_attempts=3)
        (row,) = _rows(app)
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert waits[:2] == [timedelta(minutes=1), timedelta(minutes=2)]
    assert (report.failed, row.status, row.attempts) == (1, "failed", 3)
    assert _deliver(app, _smtp(smtp_server), now + timedelta(days=1)).claimed == 0
    with app.app_context():
        assert db.session.scalar(select(Invitation.status)) == "pending"


def test_permanent_failure_550_bounces_the_invitation(app: Flask, smtp_server: SmtpServer) -> None:
    _launch(app, accounts=2)
    smtp_server.handler.rcpt_replies = ["550 5.1.1 <ka001@example.com>: no such user"]
    report = _deliver(app, _smtp(smtp_server), T0)
    assert (report.sent, report.bounced, report.retried) == (1, 1, 0)
    with app.app_context():
        rows = db.session.execute(
            select(KeyAccount.external_id, Invitation.status, Invitation.bounce_reason)
            .join(KeyAccount, KeyAccount.id == Invitation.account_id)
            .order_by(KeyAccount.external_id)
        ).all()
    assert rows == [
        ("KA001", "bounced", "550 5.1.1 <ka001@example.com>: no such user"),
        ("KA002", "sent", None),
    ]
    assert [r.status for r in _rows(app)] == ["bounced", "sent"]


def test_550_after_data_bounces_too(app: Flask, smtp_server: SmtpServer) -> None:
    _launch(app, accounts=1)
    smtp_server.handler.data_replies = ["554 5.7.1 message refused"]
    assert _deliver(app, _smtp(smtp_server), T0).bounced == 1
    with app.app_context():
        assert db.session.scalar(select(Invitation.bounce_reason)) == "554 5.7.1 message refused"


def test_smtp_down_then_up_loses_nothing(app: Flask, smtp_server: SmtpServer) -> None:
    _launch(app, accounts=3)
    down = SmtpBackend(SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2))
    report = _deliver(app, down, T0)
    # One attempt counted; the two untried messages go back without using one.
    assert (report.claimed, report.retried, report.sent) == (3, 1, 0)
    assert sorted((r.status, r.attempts) for r in _rows(app)) == [
        ("queued", 0),
        ("queued", 0),
        ("queued", 1),
    ]
    assert all(r.next_attempt_at == T0 + timedelta(minutes=1) for r in _rows(app))
    assert _deliver(app, _smtp(smtp_server), T0 + timedelta(seconds=30)).claimed == 0
    back = _deliver(app, _smtp(smtp_server), T0 + timedelta(minutes=1))
    assert (back.sent, len(smtp_server.messages)) == (3, 3)


def test_a_worker_that_dies_after_claiming_loses_nothing(
    app: Flask, smtp_server: SmtpServer
) -> None:
    _launch(app, accounts=2)
    with app.app_context():
        assert claim_batch("dead-worker", now=T0) != []
    # The claim is fresh: other workers leave the messages alone...
    assert _deliver(app, _smtp(smtp_server), T0 + STALE_CLAIM - timedelta(seconds=1)).claimed == 0
    assert smtp_server.messages == []
    # ...until it is stale, then they are delivered exactly once.
    report = _deliver(app, _smtp(smtp_server), T0 + STALE_CLAIM + timedelta(seconds=1))
    assert (report.claimed, report.sent) == (2, 2)
    assert len(smtp_server.messages) == 2
    assert {r.status for r in _rows(app)} == {"sent"}


class _CrashAfterSending:
    """Sends through SMTP, then dies before the worker can record it."""

    def __init__(self, inner: SmtpBackend) -> None:
        self.inner = inner

    def __enter__(self) -> _CrashAfterSending:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.inner.__exit__(*exc)

    def send(self, message: EmailMessage) -> None:
        self.inner.send(message)
        raise KeyboardInterrupt("worker killed")


def test_a_worker_killed_between_send_and_mark_resends_with_the_same_message_id(
    app: Flask, smtp_server: SmtpServer
) -> None:
    _launch(app, accounts=1)
    with pytest.raises(KeyboardInterrupt):
        _deliver(app, _CrashAfterSending(_smtp(smtp_server)), T0)
    (row,) = _rows(app)
    assert row.status == "sending"
    report = _deliver(app, _smtp(smtp_server), T0 + STALE_CLAIM + timedelta(seconds=1))
    assert report.sent == 1
    # At least once: the copy carries the same Message-ID, so a receiver can drop it.
    assert [m["Message-ID"] for m in smtp_server.messages] == [row.message_id] * 2


def test_two_workers_never_claim_the_same_message(app: Flask) -> None:
    _launch(app, accounts=5)
    with app.app_context():
        first = claim_batch("w1", batch_size=3, now=T0)
        second = claim_batch("w2", batch_size=3, now=T0)
        third = claim_batch("w3", batch_size=3, now=T0)
    assert (len(first), len(second), third) == (3, 2, [])
    assert not set(first) & set(second)


@pytest.mark.postgres
def test_postgres_workers_skip_rows_locked_by_another(app: Flask) -> None:
    _launch(app, accounts=4)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's")
        with db.engine.connect() as other:
            other.begin()
            locked = (
                other.execute(
                    select(OutboxMessage.id).order_by(OutboxMessage.id).limit(2).with_for_update()
                )
                .scalars()
                .all()
            )
            claimed = claim_batch("w1", batch_size=10, now=T0)
            other.rollback()
    assert len(locked) == 2 and len(claimed) == 2
    assert not set(locked) & set(claimed)


def test_file_backend_writes_eml_files(app: Flask, tmp_path: Path) -> None:
    _launch(app, accounts=2)
    report = _deliver(app, FileBackend(tmp_path / "outbox"), T0)
    assert report.sent == 2
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    assert all(f.name.startswith("kp-invitation-") for f in files)
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in files[0].read_bytes()


def test_outbox_send_cli_against_smtp(app: Flask, smtp_server: SmtpServer) -> None:
    _launch(app, accounts=3)
    app.config.update(smtp_server.config())
    result = app.test_cli_runner().invoke(args=["outbox", "send", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "Outbox: sent 3, retry later 0, bounced 0, failed 0" in result.output
    assert len(smtp_server.messages) == 3
    status = app.test_cli_runner().invoke(args=["outbox", "status"])
    assert "sent           3" in status.output
    with app.app_context():
        assert outbox_counts()["sent"] == 3


def test_retry_failed_cli_queues_given_up_messages_again(
    app: Flask, smtp_server: SmtpServer
) -> None:
    _launch(app, accounts=1)
    smtp_server.handler.data_replies = ["451 busy"]
    _deliver(app, _smtp(smtp_server), T0, max_attempts=1)
    assert [r.status for r in _rows(app)] == ["failed"]
    result = app.test_cli_runner().invoke(args=["outbox", "retry-failed"])
    assert "1 failed messages queued again." in result.output
    assert [(r.status, r.attempts) for r in _rows(app)] == [("queued", 0)]


def test_a_chinese_sender_name_and_subject_survive_the_wire() -> None:
    from email import message_from_bytes, policy

    from survey.delivery.backends import build_email
    from survey.delivery.outbox import OutgoingMail

    mail = OutgoingMail(
        id=1,
        kind="invitation",
        invitation_id=None,
        message_id="<kp-1@keypulse.test>",
        to_address="li@example.com",
        subject="客户满意度调查：请告诉我们您的看法",
        body_text="尊敬的李娜：",
        body_html=None,
        locale="zh",
        unsubscribe_url=None,
    )
    raw = build_email(mail, "客户服务部 <surveys@keypulse.test>").as_bytes()
    assert raw.isascii()  # encoded words and base64: safe for any relay
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["From"].addresses[0].display_name == "客户服务部"
    assert parsed["From"].addresses[0].addr_spec == "surveys@keypulse.test"
    assert parsed["Subject"] == "客户满意度调查：请告诉我们您的看法"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().strip() == "尊敬的李娜："
    assert parsed["List-Unsubscribe"] is None


def test_messages_that_became_pointless_are_not_sent(app: Flask, smtp_server: SmtpServer) -> None:
    from survey.campaigns import close_campaign
    from survey.delivery import queue_reminders

    campaign_id = _launch(app, accounts=3)
    _deliver(app, _smtp(smtp_server), T0)
    assert len(smtp_server.messages) == 3
    with app.app_context():
        queue_reminders(campaign_id, SETTINGS, after_days=0, now=T0 + timedelta(days=1))
        # KA001 answers before its reminder goes out.
        invitation = db.session.scalars(select(Invitation).order_by(Invitation.id)).first()
        assert invitation is not None
        invitation.status = "responded"
        db.session.commit()
    report = _deliver(app, _smtp(smtp_server), T0 + timedelta(days=1))
    assert (report.sent, report.failed) == (2, 1)
    with app.app_context():
        queue_reminders(campaign_id, SETTINGS, after_days=0, now=T0 + timedelta(days=2))
        close_campaign(campaign_id, now=T0 + timedelta(days=2, hours=1))
    report = _deliver(app, _smtp(smtp_server), T0 + timedelta(days=2, hours=2))
    assert (report.sent, report.failed) == (0, 2)
    errors = sorted(r.last_error or "" for r in _rows(app) if r.status == "failed")
    assert errors == [
        "not sent: the campaign is closed",
        "not sent: the campaign is closed",
        "not sent: the survey was already answered",
    ]
    assert len(smtp_server.messages) == 5


def test_a_link_opened_before_its_email_keeps_opened_and_gets_sent_at(
    app: Flask, smtp_server: SmtpServer
) -> None:
    _launch(app, accounts=1)
    with app.app_context():
        invitation = db.session.scalars(select(Invitation)).one()
        invitation.status = "opened"  # the account manager handed the link over first
        invitation.opened_at = T0
        db.session.commit()
    _deliver(app, _smtp(smtp_server), T0 + timedelta(minutes=5))
    with app.app_context():
        row = db.session.execute(select(Invitation.status, Invitation.sent_at)).one()
    assert tuple(row) == ("opened", T0 + timedelta(minutes=5))
