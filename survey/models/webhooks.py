"""Webhooks: the endpoints other systems registered, the events written in the same
transaction as the change they report, and one delivery per event and endpoint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from survey.clock import utcnow
from survey.db import UTCDateTime, db

WEBHOOK_QUEUED = "queued"
WEBHOOK_SENDING = "sending"
WEBHOOK_DELIVERED = "delivered"
WEBHOOK_FAILED = "failed"  # gave up (24 hours of retries, a 4xx, a redirect...)
WEBHOOK_STATUSES: tuple[str, ...] = (
    WEBHOOK_QUEUED,
    WEBHOOK_SENDING,
    WEBHOOK_DELIVERED,
    WEBHOOK_FAILED,
)
#: The longest response body kept (bytes; the rest is dropped).
RESPONSE_BODY_LIMIT = 1024


class WebhookEndpoint(db.Model):
    """A URL that wants some kinds of events, signed with its own secret.

    The secret is stored encrypted with a key derived from SECRET_KEY (the HMAC needs
    it in clear at delivery time) and is shown once, when the endpoint is created."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(200))
    #: The event kinds, comma-separated (survey.models.codes_to_column).
    events: Mapped[str] = mapped_column(String(400))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(120))
    #: The first failure since the last success; None while deliveries succeed.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))


class WebhookEvent(db.Model):
    """Something that happened, as the exact JSON body every endpoint receives."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The public id receivers drop duplicates by ("evt_" and 32 hex digits).
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: Deliveries with the same key go to an endpoint in order ("account:12").
    order_key: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    """One event to one endpoint: claimed by a worker, posted, then marked."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "order_key", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    order_key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=WEBHOOK_QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Retries stop after this moment (created + 24 hours, or "send again" + 24 hours).
    retry_until: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_ms: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(String(RESPONSE_BODY_LIMIT))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
