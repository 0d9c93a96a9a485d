"""Delivering invitation e-mails: the outbox, the mail backends and the worker.

A transactional outbox: the e-mail announcing an invitation is written as an
`OutboxMessage` row in the same transaction as the invitation, so there is never
an invitation without its e-mail nor an e-mail for an invitation rolled back.
A worker delivers the rows later:

1. claim a batch (UPDATE status='sending', claimed_by, claimed_at) and commit;
   on PostgreSQL the ids are picked with FOR UPDATE SKIP LOCKED, so several
   workers share the queue without waiting on each other;
2. send each message;
3. mark it sent (and its invitation) in a commit of its own.

A worker that dies between 2 and 3 leaves its rows "sending"; after
`STALE_CLAIM` another worker takes them over and sends again with the same
Message-ID (at-least-once: nothing is lost; a duplicate is possible only after a
crash, and the stable Message-ID lets the receiving side recognise it).

Temporary failures (4xx, connection refused, time-outs) go back to the queue with
exponential back-off; permanent ones (5xx) mark the invitation bounced.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime as rfc2822_date
from email.utils import formataddr, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from sqlalchemy import and_, case, func, insert, or_, select, update

from survey.audit import CAMPAIGN_REMIND, record_audit
from survey.clock import utcnow
from survey.db import db
from survey.delivery.mail import (
    KIND_INVITATION,
    KIND_REMINDER,
    MailContext,
    MailSettings,
    check_optout_mac,
    compose,
    optout_link,
    parse_optout_token,
)
from survey.errors import InvalidInputError, NotFoundError, SurveyClosedError
from survey.models import (
    CAMPAIGN_OPEN,
    INVITATION_BOUNCED,
    INVITATION_OPENED,
    INVITATION_PENDING,
    INVITATION_RESPONDED,
    INVITATION_SENT,
    INVITATION_STATUSES,
    OUTBOX_BOUNCED,
    OUTBOX_FAILED,
    OUTBOX_QUEUED,
    OUTBOX_SENDING,
    OUTBOX_SENT,
    Campaign,
    Invitation,
    KeyAccount,
    OutboxMessage,
    StaffMember,
)

log = logging.getLogger(__name__)

#: A claim older than this belongs to a worker that died: another may take it over.
STALE_CLAIM = timedelta(minutes=10)
#: The first retry waits this long; each further one twice as long as the last.
BASE_RETRY_DELAY = timedelta(seconds=60)
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BATCH_SIZE = 100
#: At most this many reminders per invitation.
MAX_REMINDERS = 2
MAX_REMINDER_AFTER_DAYS = 365
_ERROR_LENGTH = 500  # outbox_messages.last_error, invitations.bounce_reason


# --- queueing --------------------------------------------------------------------------


def _has_email() -> Any:
    return func.coalesce(func.trim(KeyAccount.contact_email), "") != ""


def queue_mail(
    kind: str,
    settings: MailSettings,
    *,
    campaign_id: int | None = None,
    invitation_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> int:
    """Write one e-mail of `kind` (invitation or reminder) per invitation of the
    campaign, or per given invitation, whose account has an e-mail address and has
    not opted out. Accounts with only a phone get no e-mail: staff phone them.

    Adds to the caller's transaction (flushes, never commits); returns how many
    messages were queued. One query reads every recipient, one INSERT writes them.
    """
    if (campaign_id is None) == (invitation_ids is None):
        raise ValueError("give either campaign_id or invitation_ids")
    now = now or utcnow()
    query = (
        select(
            Invitation.id,
            Invitation.token_nonce,
            Invitation.locale,
            KeyAccount.name,
            KeyAccount.contact_name,
            KeyAccount.contact_email,
            KeyAccount.account_manager,
            StaffMember.email,
            Campaign.closes_at,
            Campaign.kind,
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        # The account manager's e-mail, when they are also a staff member here.
        .outerjoin(
            StaffMember,
            and_(StaffMember.name == KeyAccount.account_manager, StaffMember.active.is_(True)),
        )
        .where(_has_email(), KeyAccount.opted_out_at.is_(None))
        .order_by(Invitation.id)
    )
    if campaign_id is not None:
        query = query.where(Invitation.campaign_id == campaign_id)
    else:
        if not invitation_ids:
            return 0
        query = query.where(Invitation.id.in_(list(invitation_ids)))
    domain = settings.sender_domain
    rows = []
    for row in db.session.execute(query):
        mail = compose(
            kind,
            MailContext(
                invitation_id=row[0],
                nonce=row[1],
                locale=row[2],
                account_name=row[3],
                contact_name=row[4],
                account_manager=row[6],
                manager_email=row[7],
                closes_at=row[8],
                campaign_kind=row[9],
            ),
            settings,
        )
        rows.append(
            {
                "kind": kind,
                "invitation_id": row[0],
                "to_address": row[5].strip(),
                "subject": mail.subject,
                "body_text": mail.text,
                "body_html": mail.html,
                "locale": mail.locale,
                "message_id": f"<kp-{kind}-{uuid.uuid4().hex}@{domain}>",
                "status": OUTBOX_QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if rows:
        db.session.execute(insert(OutboxMessage.__table__), rows)
    return len(rows)


def queue_reminders(
    campaign_id: int,
    settings: MailSettings,
    *,
    after_days: int = 5,
    now: datetime | None = None,
    actor: str | None = None,
) -> int:
    """Queue one reminder per invitation of an open campaign that was e-mailed (sent
    or opened), has no answer, did not bounce, got fewer than MAX_REMINDERS
    reminders, and was last e-mailed (invitation or reminder) at least `after_days`
    days ago. Commits; returns how many reminders were queued.

    NotFoundError for an unknown campaign, SurveyClosedError for a closed one,
    InvalidInputError for `after_days` outside 0..365.
    """
    if not 0 <= after_days <= MAX_REMINDER_AFTER_DAYS:
        raise InvalidInputError(
            f"after_days must be between 0 and {MAX_REMINDER_AFTER_DAYS}, got {after_days}.",
            field="after_days",
        )
    now = now or utcnow()
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    if campaign.status != CAMPAIGN_OPEN or campaign.closes_at <= now:
        raise SurveyClosedError(
            f"Campaign {campaign_id} is closed: reminders go to open campaigns only.",
            field="campaign_id",
        )
    cutoff = now - timedelta(days=after_days)
    last_contact = func.coalesce(Invitation.last_reminded_at, Invitation.sent_at)
    in_flight = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.invitation_id == Invitation.id,
            OutboxMessage.status.in_((OUTBOX_QUEUED, OUTBOX_SENDING)),
        )
        .exists()
    )
    eligible = and_(
        Invitation.campaign_id == campaign_id,
        Invitation.status.in_((INVITATION_SENT, INVITATION_OPENED)),
        Invitation.reminders_sent < MAX_REMINDERS,
        last_contact <= cutoff,
        ~in_flight,
        select(KeyAccount.id)
        .where(
            KeyAccount.id == Invitation.account_id,
            _has_email(),
            KeyAccount.opted_out_at.is_(None),
        )
        .exists(),
    )
    try:
        # The conditions are checked again by the UPDATE itself, so two managers
        # pressing "remind" at once cannot queue two reminders for one invitation.
        reminded = list(
            db.session.scalars(
                update(Invitation)
                .where(eligible)
                .values(reminders_sent=Invitation.reminders_sent + 1, last_reminded_at=now)
                .returning(Invitation.id)
                .execution_options(synchronize_session=False)
            )
        )
        queued = queue_mail(KIND_REMINDER, settings, invitation_ids=reminded, now=now)
        record_audit(
            actor,
            CAMPAIGN_REMIND,
            "campaign",
            campaign_id,
            {"queued": queued, "after_days": after_days},
            at=now,
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return queued


# --- messages and backends ---------------------------------------------------------------


class DeliveryError(Exception):
    """A message could not be delivered this time."""

    def __init__(self, message: str, *, connection: bool = False) -> None:
        super().__init__(message)
        self.message = message
        #: The server could not be reached at all: the rest of the batch would fail too.
        self.connection = connection


class TemporaryDeliveryError(DeliveryError):
    """Try again later (4xx, connection refused, time-out)."""


class PermanentDeliveryError(DeliveryError):
    """The server refused the message for good (5xx): the address bounces."""


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """An outbox row ready to be turned into an e-mail."""

    id: int
    kind: str
    invitation_id: int | None
    message_id: str
    to_address: str
    subject: str
    body_text: str
    body_html: str | None
    locale: str
    unsubscribe_url: str | None
    #: Why this message must not go out any more (opted out, campaign closed...).
    skip_reason: str | None = None


def build_email(mail: OutgoingMail, mail_from: str, *, date: datetime | None = None) -> Message:
    """A multipart/alternative e-mail (text, then HTML; UTF-8) with RFC 8058 one-click
    unsubscribe headers when the message has an opt-out link.

    Built with the email.mime classes: the newer EmailMessage API parses every header
    it is given, which cost more than the SMTP exchange itself (about 10 ms a message).
    """
    text = MIMEText(mail.body_text, "plain", "utf-8")
    if mail.body_html:
        message: Message = MIMEMultipart("alternative")
        message.attach(text)
        message.attach(MIMEText(mail.body_html, "html", "utf-8"))
    else:
        message = text
    name, address = parseaddr(mail_from)
    message["From"] = formataddr((name, address), charset="utf-8")
    message["To"] = mail.to_address
    message["Subject"] = (
        Header(mail.subject, "utf-8") if not mail.subject.isascii() else mail.subject
    )
    message["Message-ID"] = mail.message_id
    message["Date"] = rfc2822_date(date or utcnow())
    message["Content-Language"] = "zh-CN" if mail.locale == "zh" else mail.locale
    # Out-of-office replies should not answer a survey invitation.
    message["Auto-Submitted"] = "auto-generated"
    if mail.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


class MailBackend(Protocol):
    """Sends e-mails; used as a context manager around a batch."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def send(self, message: Message) -> None:
        """Deliver one message or raise TemporaryDeliveryError / PermanentDeliveryError."""
        ...


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings | None:
        """SMTP_HOST/PORT/USER/PASSWORD/STARTTLS; None when no SMTP_HOST is set."""
        host = str(config.get("SMTP_HOST") or "").strip()
        if not host:
            return None
        return cls(
            host=host,
            port=int(config.get("SMTP_PORT") or 25),
            user=str(config.get("SMTP_USER") or ""),
            password=str(config.get("SMTP_PASSWORD") or ""),
            starttls=bool(config.get("SMTP_STARTTLS")),
            timeout=float(config.get("SMTP_TIMEOUT") or 30.0),
        )


def _reply(code: int, text: bytes | str) -> str:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {detail}".strip()[:_ERROR_LENGTH]


class SmtpBackend:
    """Delivers over SMTP with one connection per batch (opened on first use)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        s = self.settings
        try:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password)
        except smtplib.SMTPAuthenticationError as exc:
            # Our configuration is wrong, not the address: retry until someone fixes it.
            raise TemporaryDeliveryError(
                "SMTP login refused: " + _reply(exc.smtp_code, exc.smtp_error), connection=True
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryDeliveryError(
                f"cannot reach SMTP server {s.host}:{s.port}: {exc}"[:_ERROR_LENGTH],
                connection=True,
            ) from exc
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def send(self, message: Message) -> None:
        smtp = self._connect()
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            failure = PermanentDeliveryError if code >= 500 else TemporaryDeliveryError
            raise failure(_reply(code, text)) from exc
        except smtplib.SMTPSenderRefused as exc:
            # MAIL_FROM refused: a configuration problem, never the recipient's bounce.
            raise TemporaryDeliveryError(
                "sender refused: " + _reply(exc.smtp_code, exc.smtp_error)
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise TemporaryDeliveryError(
                f"SMTP server disconnected: {exc}", connection=True
            ) from exc
        except smtplib.SMTPResponseException as exc:
            failure = PermanentDeliveryError if exc.smtp_code >= 500 else TemporaryDeliveryError
            raise failure(_reply(exc.smtp_code, exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:  # time-outs, resets
            self._drop()
            raise TemporaryDeliveryError(
                f"SMTP error: {exc}"[:_ERROR_LENGTH], connection=True
            ) from exc
        if refused:  # only with several recipients; we send to one
            code, text = next(iter(refused.values()))
            raise PermanentDeliveryError(_reply(code, text))


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._@-]")


class FileBackend:
    """For running offline: each message goes to the log and to `<dir>/<id>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __enter__(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def path_for(self, message_id: str) -> Path:
        return self.directory / (_UNSAFE_FILENAME.sub("_", message_id.strip("<>")) + ".eml")

    def send(self, message: Message) -> None:
        path = self.path_for(str(message["Message-ID"]))
        path.write_bytes(message.as_bytes())
        log.info("e-mail to %s %r written to %s", message["To"], message["Subject"], path)


def backend_from_config(config: Mapping[str, Any], instance_path: str | Path) -> MailBackend:
    """SMTP when SMTP_HOST is set, else files under instance/outbox/."""
    smtp = SmtpSettings.from_config(config)
    if smtp is None:
        return FileBackend(Path(instance_path) / "outbox")
    return SmtpBackend(smtp)


# --- the worker ----------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one or more batches did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0  # temporary failure, back in the queue
    failed: int = 0  # gave up after the retry limit, or no longer to be sent (skipped)
    bounced: int = 0  # permanent failure

    def add(self, other: DeliveryReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.bounced += other.bounced


def new_worker_id() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


def _claimable(now: datetime) -> Any:
    return or_(
        and_(OutboxMessage.status == OUTBOX_QUEUED, OutboxMessage.next_attempt_at <= now),
        and_(
            OutboxMessage.status == OUTBOX_SENDING,
            OutboxMessage.claimed_at < now - STALE_CLAIM,
        ),
    )


def claim_batch(
    worker_id: str, *, batch_size: int = DEFAULT_BATCH_SIZE, now: datetime
) -> list[int]:
    """Claim up to `batch_size` due messages for this worker and commit the claim.

    Due: queued with next_attempt_at <= now, or "sending" under a claim older than
    STALE_CLAIM (its worker died). Oldest first. Returns the claimed ids.
    """
    due = _claimable(now)
    pick = (
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch_size)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Workers skip each other's locked rows instead of queueing behind them.
        pick = pick.with_for_update(skip_locked=True)
    try:
        ids = list(db.session.scalars(pick))
        if not ids:
            db.session.commit()
            return []
        # `due` again: on SQLite (no row locks) another worker may have claimed some
        # of these between our SELECT and this UPDATE; RETURNING says which we got.
        claimed = list(
            db.session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), due)
                .values(status=OUTBOX_SENDING, claimed_by=worker_id, claimed_at=now)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return sorted(claimed)


def _skip_reason(row: Any, now: datetime) -> str | None:
    """Things that changed since the message was queued and make it pointless."""
    if row.opted_out_at is not None:
        return "not sent: the contact opted out"
    if row.campaign_status is not None and (
        row.campaign_status != CAMPAIGN_OPEN or row.closes_at <= now
    ):
        return "not sent: the campaign is closed"
    if row.invitation_status == INVITATION_RESPONDED:
        return "not sent: the survey was already answered"
    if row.invitation_status == INVITATION_BOUNCED:
        return "not sent: an earlier e-mail to this address bounced"
    return None


def _load(ids: Sequence[int], settings: MailSettings, now: datetime) -> list[OutgoingMail]:
    rows = db.session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.invitation_id,
            OutboxMessage.message_id,
            OutboxMessage.to_address,
            OutboxMessage.subject,
            OutboxMessage.body_text,
            OutboxMessage.body_html,
            OutboxMessage.locale,
            Invitation.token_nonce,
            Invitation.status.label("invitation_status"),
            KeyAccount.opted_out_at,
            Campaign.status.label("campaign_status"),
            Campaign.closes_at,
        )
        .outerjoin(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .outerjoin(KeyAccount, KeyAccount.id == Invitation.account_id)
        .outerjoin(Campaign, Campaign.id == Invitation.campaign_id)
        .where(OutboxMessage.id.in_(list(ids)))
        .order_by(OutboxMessage.id)
    )
    return [
        OutgoingMail(
            id=r.id,
            kind=r.kind,
            invitation_id=r.invitation_id,
            message_id=r.message_id,
            to_address=r.to_address,
            subject=r.subject,
            body_text=r.body_text,
            body_html=r.body_html,
            locale=r.locale,
            unsubscribe_url=optout_link(
                settings.base_url, settings.secret_key, r.invitation_id, r.token_nonce
            )
            if r.invitation_id is not None and r.token_nonce is not None
            else None,
            skip_reason=_skip_reason(r, now),
        )
        for r in rows
    ]


def _mine(message_id: int, worker_id: str) -> Any:
    return and_(
        OutboxMessage.id == message_id,
        OutboxMessage.status == OUTBOX_SENDING,
        OutboxMessage.claimed_by == worker_id,
    )


def _finish(statement: Any, *more: Any) -> None:
    """Run the marking statements and commit them together."""
    try:
        for item in (statement, *more):
            db.session.execute(item.execution_options(synchronize_session=False))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _mark_sent(mail: OutgoingMail, worker_id: str, now: datetime) -> None:
    statements = [
        update(OutboxMessage)
        .where(_mine(mail.id, worker_id))
        .values(status=OUTBOX_SENT, sent_at=now, claimed_by=None, claimed_at=None, last_error=None)
    ]
    if mail.invitation_id is not None and mail.kind == KIND_INVITATION:
        # sent_at even when the contact opened a hand-delivered link first: reminders
        # count from it. The status moves only from pending (never back from opened).
        statements.append(
            update(Invitation)
            .where(Invitation.id == mail.invitation_id)
            .values(
                sent_at=func.coalesce(Invitation.sent_at, now),
                status=case(
                    (Invitation.status == INVITATION_PENDING, INVITATION_SENT),
                    else_=Invitation.status,
                ),
            )
        )
    _finish(*statements)


def _mark_bounced(mail: OutgoingMail, worker_id: str, reason: str) -> None:
    statements = [
        update(OutboxMessage)
        .where(_mine(mail.id, worker_id))
        .values(status=OUTBOX_BOUNCED, claimed_by=None, claimed_at=None, last_error=reason)
    ]
    if mail.invitation_id is not None:
        statements.append(
            update(Invitation)
            .where(
                Invitation.id == mail.invitation_id,
                Invitation.status != INVITATION_RESPONDED,
            )
            .values(status=INVITATION_BOUNCED, bounce_reason=reason[:_ERROR_LENGTH])
        )
    _finish(*statements)


def retry_delay(attempts_before: int) -> timedelta:
    """How long to wait after the (attempts_before + 1)-th failed attempt: 1, 2, 4... min."""
    return BASE_RETRY_DELAY * (2 ** min(attempts_before, 20))


def _mark_temporary(
    mail: OutgoingMail, worker_id: str, reason: str, now: datetime, max_attempts: int
) -> bool:
    """Back to the queue with back-off, or failed at the limit; True if it gave up."""
    attempts = db.session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == mail.id))
    attempts = attempts or 0
    give_up = attempts + 1 >= max_attempts
    _finish(
        update(OutboxMessage)
        .where(_mine(mail.id, worker_id))
        .values(
            status=OUTBOX_FAILED if give_up else OUTBOX_QUEUED,
            attempts=attempts + 1,
            next_attempt_at=now + retry_delay(attempts),
            claimed_by=None,
            claimed_at=None,
            last_error=reason[:_ERROR_LENGTH],
        )
    )
    return give_up


def _release(ids: Iterable[int], worker_id: str, until: datetime) -> None:
    """Give back messages not tried (the server is unreachable): no attempt counted."""
    ids = list(ids)
    if ids:
        _finish(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == OUTBOX_SENDING,
                OutboxMessage.claimed_by == worker_id,
            )
            .values(status=OUTBOX_QUEUED, next_attempt_at=until, claimed_by=None, claimed_at=None)
        )


def deliver_batch(
    backend: MailBackend,
    settings: MailSettings,
    *,
    worker_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """Claim one batch, send it through `backend`, and mark each message.

    `now` fixes the time for the whole batch (tests); otherwise `clock` (default
    utcnow) is read at each step. When the server cannot be reached, the message
    counts a failed attempt and the rest of the batch goes back to the queue
    untried, so an outage does not eat every message's attempts at once.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    worker_id = worker_id or new_worker_id()

    def tick() -> datetime:
        return now if now is not None else (clock or utcnow)()

    report = DeliveryReport()
    ids = claim_batch(worker_id, batch_size=batch_size, now=tick())
    report.claimed = len(ids)
    if not ids:
        return report
    mails = _load(ids, settings, tick())
    with backend:
        for index, mail in enumerate(mails):
            if mail.skip_reason is not None:
                _finish(
                    update(OutboxMessage)
                    .where(_mine(mail.id, worker_id))
                    .values(
                        status=OUTBOX_FAILED,
                        claimed_by=None,
                        claimed_at=None,
                        last_error=mail.skip_reason,
                    )
                )
                report.failed += 1
                continue
            try:
                backend.send(build_email(mail, settings.mail_from, date=tick()))
            except PermanentDeliveryError as exc:
                log.warning("outbox %s to %s bounced: %s", mail.id, mail.to_address, exc.message)
                _mark_bounced(mail, worker_id, exc.message)
                report.bounced += 1
            except TemporaryDeliveryError as exc:
                log.warning("outbox %s to %s: %s", mail.id, mail.to_address, exc.message)
                when = tick()
                if _mark_temporary(mail, worker_id, exc.message, when, max_attempts):
                    report.failed += 1
                else:
                    report.retried += 1
                if exc.connection:
                    _release((m.id for m in mails[index + 1 :]), worker_id, when + BASE_RETRY_DELAY)
                    break
            else:
                _mark_sent(mail, worker_id, tick())
                report.sent += 1
    return report


def run_worker(
    backend: MailBackend,
    settings: MailSettings,
    *,
    loop: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    idle_seconds: float = 5.0,
    should_stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[DeliveryReport], None] | None = None,
) -> DeliveryReport:
    """Deliver batches until the queue has nothing due (or, with `loop`, until
    `should_stop()`), sleeping `idle_seconds` when there is nothing to do."""
    worker_id = new_worker_id()
    total = DeliveryReport()
    while not should_stop():
        report = deliver_batch(
            backend, settings, worker_id=worker_id, batch_size=batch_size, max_attempts=max_attempts
        )
        total.add(report)
        if on_batch is not None and report.claimed:
            on_batch(report)
        # Every message went back to the queue (server down): wait as if idle.
        stalled = report.claimed and report.sent + report.bounced + report.failed == 0
        if not report.claimed or stalled:
            if not loop:
                break
            time.sleep(idle_seconds)
    return total


def outbox_counts() -> dict[str, int]:
    """Messages by status (one GROUP BY), every status present."""
    counts = dict.fromkeys(
        (OUTBOX_QUEUED, OUTBOX_SENDING, OUTBOX_SENT, OUTBOX_FAILED, OUTBOX_BOUNCED), 0
    )
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    counts.update({status: n for status, n in rows})
    return counts


def requeue_failed(*, now: datetime | None = None) -> int:
    """Give failed messages (retry limit reached) a fresh set of attempts; commits."""
    now = now or utcnow()
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OUTBOX_FAILED, OutboxMessage.attempts > 0)
        .values(status=OUTBOX_QUEUED, attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- opting out ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptOutTarget:
    """Whom an opt-out link speaks for."""

    invitation_id: int
    account_id: int
    account_name: str
    locale: str
    opted_out_at: datetime | None


def load_optout(token: str, secret_key: str) -> OptOutTarget | None:
    """The account an opt-out link belongs to, or None for any bad link (one query)."""
    parsed = parse_optout_token(token)
    if parsed is None:
        return None
    invitation_id, mac = parsed
    row = db.session.execute(
        select(
            Invitation.token_nonce,
            Invitation.locale,
            KeyAccount.id,
            KeyAccount.name,
            KeyAccount.opted_out_at,
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .where(Invitation.id == invitation_id)
    ).one_or_none()
    if row is None or not check_optout_mac(secret_key, row.token_nonce, mac):
        return None
    return OptOutTarget(invitation_id, row.id, row.name, row.locale, row.opted_out_at)


def opt_out(token: str, secret_key: str, *, now: datetime | None = None) -> OptOutTarget | None:
    """Opt the link's account out of every future survey: it leaves the sampling
    frame, and e-mails still queued for it are not sent. Idempotent (the first
    time is kept). Commits; None for a bad link."""
    target = load_optout(token, secret_key)
    if target is None:
        return None
    now = now or utcnow()
    try:
        db.session.execute(
            update(KeyAccount)
            .where(KeyAccount.id == target.account_id, KeyAccount.opted_out_at.is_(None))
            .values(opted_out_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == OUTBOX_QUEUED,
                OutboxMessage.invitation_id.in_(
                    select(Invitation.id).where(Invitation.account_id == target.account_id)
                ),
            )
            .values(status=OUTBOX_FAILED, last_error="not sent: the contact opted out")
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return load_optout(token, secret_key)


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_ATTEMPTS",
    "MAX_REMINDERS",
    "STALE_CLAIM",
    "DeliveryReport",
    "FileBackend",
    "MailBackend",
    "MailSettings",
    "OptOutTarget",
    "OutgoingMail",
    "PermanentDeliveryError",
    "SmtpBackend",
    "SmtpSettings",
    "TemporaryDeliveryError",
    "backend_from_config",
    "build_email",
    "claim_batch",
    "deliver_batch",
    "invitation_status_counts",
    "load_optout",
    "opt_out",
    "outbox_counts",
    "queue_mail",
    "queue_reminders",
    "requeue_failed",
    "retry_delay",
    "run_worker",
]


def invitation_status_counts(campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Invitations per life-cycle status for each campaign (one GROUP BY); every
    status is present, missing campaigns get zeros."""
    result = {cid: dict.fromkeys(INVITATION_STATUSES, 0) for cid in campaign_ids}
    if not campaign_ids:
        return result
    rows = db.session.execute(
        select(Invitation.campaign_id, Invitation.status, func.count())
        .where(Invitation.campaign_id.in_(list(campaign_ids)))
        .group_by(Invitation.campaign_id, Invitation.status)
    )
    for campaign_id, status, count in rows:
        result[campaign_id][status] = int(count)
    return result
