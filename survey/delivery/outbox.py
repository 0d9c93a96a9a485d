"""The outbox: e-mails waiting to be sent, claimed by workers, marked when done.

A transactional outbox: the e-mail announcing an invitation is written as an
`OutboxMessage` row in the same transaction as the invitation, so there is never
an invitation without its e-mail nor an e-mail for an invitation rolled back.
A worker (survey.delivery.worker) delivers the rows later:

1. claim a batch (UPDATE status='sending', claimed_by, claimed_at) and commit;
   on PostgreSQL the ids are picked with FOR UPDATE SKIP LOCKED, so several
   workers share the queue without waiting on each other;
2. send each message;
3. mark it sent (and its invitation) in a commit of its own.

A worker that dies between 2 and 3 leaves its rows "sending"; after
`STALE_CLAIM` another worker takes them over and sends again with the same
Message-ID (at-least-once: nothing is lost). A duplicate also goes out when the
server accepted a message but its confirmation never arrived (connection dropped,
server failed after queueing): the stable Message-ID lets the receiving side drop it.

Temporary failures (4xx, connection refused, time-outs) go back to the queue with
exponential back-off; permanent ones (5xx) mark the invitation bounced.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update

from survey.clock import utcnow
from survey.db import db, insert_many, read_rows
from survey.delivery.claims import claim_due
from survey.delivery.mail import (
    KIND_INVITATION,
    MailContext,
    MailSettings,
    compose_many,
    optout_link,
)
from survey.models import (
    CAMPAIGN_OPEN,
    INVITATION_BOUNCED,
    INVITATION_PENDING,
    INVITATION_RESPONDED,
    INVITATION_SENT,
    OUTBOX_BOUNCED,
    OUTBOX_FAILED,
    OUTBOX_QUEUED,
    OUTBOX_SENDING,
    OUTBOX_SENT,
    Campaign,
    Contact,
    Invitation,
    KeyAccount,
    OutboxMessage,
    StaffMember,
)

#: A claim older than this belongs to a worker that died: another may take it over.
STALE_CLAIM = timedelta(minutes=10)
#: The first retry waits this long; each further one twice as long as the last.
BASE_RETRY_DELAY = timedelta(seconds=60)
DEFAULT_BATCH_SIZE = 100
#: The longest error text stored (outbox_messages.last_error, invitations.bounce_reason).
ERROR_LENGTH = 500


# --- queueing --------------------------------------------------------------------------


def has_email() -> Any:
    """SQL: the contact has an e-mail address (not blank)."""
    return func.coalesce(func.trim(Contact.email), "") != ""


def queue_mail(
    kind: str,
    settings: MailSettings,
    *,
    campaign_id: int | None = None,
    invitation_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> int:
    """Write one e-mail of `kind` (invitation or reminder) per invitation of the
    campaign, or per given invitation, whose contact has an e-mail address and has
    not opted out, to that contact, by name. Contacts with only a phone get no
    e-mail: staff phone them.

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
            Contact.name,
            Contact.email,
            KeyAccount.account_manager,
            StaffMember.email,
            Campaign.closes_at,
            Campaign.kind,
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .join(Contact, Contact.id == Invitation.contact_id)
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        # The account manager's e-mail, when they are also a staff member here.
        .outerjoin(
            StaffMember,
            and_(StaffMember.name == KeyAccount.account_manager, StaffMember.active.is_(True)),
        )
        .where(has_email(), Contact.opted_out_at.is_(None))
        .order_by(Invitation.id)
    )
    if campaign_id is not None:
        query = query.where(Invitation.campaign_id == campaign_id)
    else:
        if not invitation_ids:
            return 0
        query = query.where(Invitation.id.in_(list(invitation_ids)))
    recipients = read_rows(query)
    mails = compose_many(
        kind,
        [
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
            )
            for row in recipients
        ],
        settings,
    )
    domain = settings.sender_domain
    rows = [
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
        for row, mail in zip(recipients, mails, strict=True)
    ]
    insert_many(OutboxMessage.__table__, rows)
    return len(rows)


# --- claiming --------------------------------------------------------------------------


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
    return claim_due(
        OutboxMessage,
        _claimable(now),
        (OutboxMessage.next_attempt_at, OutboxMessage.id),
        status=OUTBOX_SENDING,
        worker_id=worker_id,
        batch_size=batch_size,
        now=now,
    )


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


def load_claimed(ids: Sequence[int], settings: MailSettings, now: datetime) -> list[OutgoingMail]:
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
            Contact.opted_out_at,
            Campaign.status.label("campaign_status"),
            Campaign.closes_at,
        )
        .outerjoin(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .outerjoin(Contact, Contact.id == Invitation.contact_id)
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


# --- marking ---------------------------------------------------------------------------


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


def mark_sent(mail: OutgoingMail, worker_id: str, now: datetime) -> None:
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


def mark_bounced(mail: OutgoingMail, worker_id: str, reason: str) -> None:
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
            .values(status=INVITATION_BOUNCED, bounce_reason=reason[:ERROR_LENGTH])
        )
    _finish(*statements)


def retry_delay(attempts_before: int) -> timedelta:
    """How long to wait after the (attempts_before + 1)-th failed attempt: 1, 2, 4... min."""
    return BASE_RETRY_DELAY * (2 ** min(attempts_before, 20))


def mark_retry(
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
            last_error=reason[:ERROR_LENGTH],
        )
    )
    return give_up


def release_untried(
    ids: Iterable[int], worker_id: str, until: datetime, reason: str | None = None
) -> None:
    """Give back messages not tried (the server is unreachable): no attempt counted,
    the reason kept as their last error, which marks them held back (not merely
    queued for later) in `flask outbox status`."""
    ids = list(ids)
    if ids:
        _finish(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == OUTBOX_SENDING,
                OutboxMessage.claimed_by == worker_id,
            )
            .values(
                status=OUTBOX_QUEUED,
                next_attempt_at=until,
                claimed_by=None,
                claimed_at=None,
                last_error=reason[:ERROR_LENGTH] if reason else None,
            )
        )


def mark_skipped(mail: OutgoingMail, worker_id: str) -> None:
    """Failed without trying: the message is no longer to be sent (`skip_reason`)."""
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


__all__ = [
    "BASE_RETRY_DELAY",
    "DEFAULT_BATCH_SIZE",
    "ERROR_LENGTH",
    "STALE_CLAIM",
    "OutgoingMail",
    "claim_batch",
    "has_email",
    "load_claimed",
    "mark_bounced",
    "mark_retry",
    "mark_sent",
    "mark_skipped",
    "queue_mail",
    "release_untried",
    "retry_delay",
]
