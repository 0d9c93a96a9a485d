"""Webhook events: written in the caller's transaction, delivered later.

`emit(kind, payload, ...)` adds the event row and one delivery per active endpoint
that subscribes to `kind` to the current transaction, and never commits, exactly like
`survey.audit.record_audit`: the event exists exactly when the change it reports was
committed, and vanishes with it on rollback (the transactional outbox the e-mails
use). `survey.delivery.webhooks` posts the deliveries.

The fan-out happens here, at emit time: an endpoint receives the events emitted while
it is active and subscribed, never older ones. When no endpoint wants a kind, nothing
is written and the payload (which may be a callable) is never built, so a change
nobody listens to costs one small query per transaction (the subscriptions are read
once per transaction).

This module lives in the kernel because events come from every area, some below
`survey.delivery` (the registry records defections and tier changes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from survey.clock import utcnow
from survey.db import RawStatement, db
from survey.models import (
    WEBHOOK_QUEUED,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    column_to_codes,
)

RESPONSE_SUBMITTED = "response.submitted"
FOLLOW_UP_OPENED = "follow_up.opened"
FOLLOW_UP_ESCALATED = "follow_up.escalated"
FOLLOW_UP_RESOLVED = "follow_up.resolved"
DEFECTION_RECORDED = "defection.recorded"
CAMPAIGN_LAUNCHED = "campaign.launched"
CAMPAIGN_CLOSED = "campaign.closed"
ACCOUNT_TIER_CHANGED = "account.tier_changed"
ACCOUNT_HEALTH_CHANGED = "account.health_changed"
#: Every kind an endpoint can subscribe to (stable codes: receivers switch on them).
EVENT_KINDS: tuple[str, ...] = (
    RESPONSE_SUBMITTED,
    FOLLOW_UP_OPENED,
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_RESOLVED,
    DEFECTION_RECORDED,
    CAMPAIGN_LAUNCHED,
    CAMPAIGN_CLOSED,
    ACCOUNT_TIER_CHANGED,
    ACCOUNT_HEALTH_CHANGED,
)
#: A delivery is retried for this long after it was queued, then marked failed.
RETRY_WINDOW = timedelta(hours=24)

Payload = Mapping[str, Any]


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def event_body(event_id: str, kind: str, created_at: datetime, data: Payload) -> str:
    """The JSON every endpoint receives for an event (compact, keys sorted, UTF-8)."""
    envelope = {
        "id": event_id,
        "type": kind,
        "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


_CACHE = "keypulse.webhook_subscriptions"
#: Asked by every transaction that emits: past the ORM (survey.db.RawStatement).
_ACTIVE_ENDPOINTS = RawStatement(
    select(WebhookEndpoint.id, WebhookEndpoint.events)
    .where(WebhookEndpoint.active.is_(True))
    .order_by(WebhookEndpoint.id)
)


def _subscriptions() -> list[tuple[int, tuple[str, ...]]]:
    """The active endpoints and their kinds, read once per transaction (a response that
    also opens a follow-up asks once)."""
    session = db.session()
    cached = session.info.get(_CACHE)
    if cached is not None and cached[0] is session.get_transaction():
        return cached[1]  # type: ignore[no-any-return]
    rows = [
        (endpoint_id, column_to_codes(events))
        for endpoint_id, events in _ACTIVE_ENDPOINTS.rows({}, session.connection())
    ]
    session.info[_CACHE] = (session.get_transaction(), rows)
    return rows


def subscribers(kind: str) -> list[int]:
    """The active endpoints that want `kind`, by id."""
    return [endpoint_id for endpoint_id, kinds in _subscriptions() if kind in kinds]


def emit(
    kind: str,
    payload: Payload | Callable[[], Payload],
    *,
    account_id: int | None = None,
    order_key: str | None = None,
    at: datetime | None = None,
) -> str | None:
    """Add an event and its deliveries to the current transaction (never commits).

    `payload` is the event's `data` (JSON-serialisable), or a callable building it,
    called only when some endpoint subscribes. Deliveries with the same `order_key`
    (default `account:<account_id>`) reach each endpoint in the order they were
    emitted. Returns the event id, or None when no endpoint wants `kind`.
    """
    if kind not in EVENT_KINDS:
        # A typo would send an event nobody can subscribe to: fail loudly in tests.
        raise ValueError(f"unknown event kind {kind!r}")
    endpoints = subscribers(kind)
    if not endpoints:
        return None
    data = payload() if callable(payload) else payload
    when = at or utcnow()
    key = order_key or (f"account:{account_id}" if account_id is not None else kind)
    event_id = new_event_id()
    row_id = db.session.scalar(
        insert(WebhookEvent)
        .values(
            event_id=event_id,
            kind=kind,
            account_id=account_id,
            order_key=key[:40],
            body=event_body(event_id, kind, when, data),
            created_at=when,
        )
        .returning(WebhookEvent.id)
    )
    db.session.execute(
        insert(WebhookDelivery),
        [
            {
                "event_id": row_id,
                "endpoint_id": endpoint_id,
                "order_key": key[:40],
                "status": WEBHOOK_QUEUED,
                "attempts": 0,
                "next_attempt_at": when,
                "retry_until": when + RETRY_WINDOW,
                "created_at": when,
            }
            for endpoint_id in endpoints
        ],
    )
    return event_id


__all__ = [
    "ACCOUNT_HEALTH_CHANGED",
    "ACCOUNT_TIER_CHANGED",
    "CAMPAIGN_CLOSED",
    "CAMPAIGN_LAUNCHED",
    "DEFECTION_RECORDED",
    "EVENT_KINDS",
    "FOLLOW_UP_ESCALATED",
    "FOLLOW_UP_OPENED",
    "FOLLOW_UP_RESOLVED",
    "RESPONSE_SUBMITTED",
    "RETRY_WINDOW",
    "Payload",
    "emit",
    "event_body",
    "new_event_id",
    "subscribers",
]
