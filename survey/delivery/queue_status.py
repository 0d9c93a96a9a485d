"""The outbox queue as operators see it: messages by status, when the held-back ones
are due, and putting messages back in the queue (`flask outbox status`, `send --now`,
`retry-failed`); the webhook deliveries the same worker sends, by status; plus
invitations by life-cycle status for the campaign pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, update

from survey.clock import utcnow
from survey.db import db
from survey.models import (
    INVITATION_STATUSES,
    OUTBOX_BOUNCED,
    OUTBOX_FAILED,
    OUTBOX_QUEUED,
    OUTBOX_SENDING,
    OUTBOX_SENT,
    WEBHOOK_STATUSES,
    Invitation,
    OutboxMessage,
    WebhookDelivery,
    WebhookEndpoint,
)


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


@dataclass(frozen=True, slots=True)
class WebhookQueue:
    """The webhook deliveries by status (every status present) and how many active
    endpoints are failing (their deliveries retry; past a day of failures the endpoint
    is disabled)."""

    deliveries: dict[str, int]
    failing_endpoints: int


def webhook_queue() -> WebhookQueue:
    """The webhook deliveries by status and the failing endpoints (two statements)."""
    deliveries = dict.fromkeys(WEBHOOK_STATUSES, 0)
    rows = db.session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    )
    deliveries.update({status: n for status, n in rows})
    failing = db.session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.active.is_(True), WebhookEndpoint.failing_since.is_not(None))
    )
    return WebhookQueue(deliveries, int(failing or 0))


@dataclass(frozen=True, slots=True)
class QueueTimes:
    """When the queued messages go out: how many are due now, how many are held back
    (waiting after a failed attempt or an unreachable server), when the first of
    those is due and the last error they met."""

    due: int
    held_back: int
    next_attempt_at: datetime | None
    last_error: str | None


def queue_times(*, now: datetime | None = None) -> QueueTimes:
    """The queue's timing (one aggregate, plus the newest error when any is held back).

    Held back: queued for later after a failure (a failed attempt, or untried while
    the server was unreachable: both leave a last error). A message merely queued for
    a later moment, with no error, is not held back."""
    now = now or utcnow()
    queued = OutboxMessage.status == OUTBOX_QUEUED
    later = OutboxMessage.next_attempt_at > now
    held_back = and_(later, OutboxMessage.last_error.is_not(None))
    due, held, first = db.session.execute(
        select(
            func.count().filter(~later),
            func.count().filter(held_back),
            func.min(OutboxMessage.next_attempt_at).filter(held_back),
        ).where(queued)
    ).one()
    error = None
    if held:
        error = db.session.scalar(
            select(OutboxMessage.last_error)
            .where(queued, held_back)
            .order_by(OutboxMessage.next_attempt_at.desc(), OutboxMessage.id.desc())
            .limit(1)
        )
    return QueueTimes(int(due), int(held), first, error)


def release_held_back(*, now: datetime | None = None) -> int:
    """Make every held-back message due now (`flask outbox send --now` after an outage
    is over); attempts already counted stay counted, messages queued for a later
    moment without an error keep their time. Commits; returns how many."""
    now = now or utcnow()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OUTBOX_QUEUED,
            OutboxMessage.next_attempt_at > now,
            OutboxMessage.last_error.is_not(None),
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


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


__all__ = [
    "QueueTimes",
    "invitation_status_counts",
    "outbox_counts",
    "queue_times",
    "release_held_back",
    "requeue_failed",
]
