"""Webhook endpoints and deliveries as the API shows them (never a stored secret)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from survey.delivery import DeliveryView, EndpointView
from survey.events import EVENT_KINDS


@strawberry.enum(description="The kinds of events an endpoint can receive.")
class WebhookEventKind(Enum):
    RESPONSE_SUBMITTED = "response.submitted"
    FOLLOW_UP_OPENED = "follow_up.opened"
    FOLLOW_UP_ESCALATED = "follow_up.escalated"
    FOLLOW_UP_RESOLVED = "follow_up.resolved"
    DEFECTION_RECORDED = "defection.recorded"
    CAMPAIGN_LAUNCHED = "campaign.launched"
    CAMPAIGN_CLOSED = "campaign.closed"
    ACCOUNT_TIER_CHANGED = "account.tier_changed"
    ACCOUNT_HEALTH_CHANGED = "account.health_changed"


assert {k.value for k in WebhookEventKind} == set(EVENT_KINDS)


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    QUEUED = "queued"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


@strawberry.type(description="An endpoint's deliveries by status.")
class WebhookDeliveryCounts:
    queued: int
    sending: int
    delivered: int
    failed: int


@strawberry.type(description="A URL that receives signed events.")
class Webhook:
    id: strawberry.ID
    url: str
    description: str | None
    events: list[WebhookEventKind]
    active: bool = strawberry.field(
        description="False once disabled after 3 days of failures (admins were e-mailed)."
    )
    created_at: datetime
    created_by: str | None
    failing_since: datetime | None = strawberry.field(
        description="The first failure since the last success; null while it works."
    )
    disabled_at: datetime | None
    disabled_reason: str | None
    deliveries: WebhookDeliveryCounts


@strawberry.type(description="A new endpoint and its signing secret, shown only this once.")
class CreatedWebhook:
    webhook: Webhook
    secret: str = strawberry.field(
        description="HMAC-SHA256 key of the X-KeyPulse-Signature header; never shown again."
    )


@strawberry.type(description="One event posted (or to be posted) to one endpoint.")
class WebhookDelivery:
    id: strawberry.ID
    webhook_id: strawberry.ID
    event_id: str = strawberry.field(description="The event's id: receivers drop repeats by it.")
    event: WebhookEventKind
    status: WebhookDeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = strawberry.field(description="While queued.")
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    response_status: int | None
    response_ms: int | None
    response_body: str | None = strawberry.field(description="Its first 1 KB.")


def build_webhook(view: EndpointView) -> Webhook:
    return Webhook(
        id=strawberry.ID(str(view.id)),
        url=view.url,
        description=view.description,
        events=[WebhookEventKind(k) for k in view.events],
        active=view.active,
        created_at=view.created_at,
        created_by=view.created_by,
        failing_since=view.failing_since,
        disabled_at=view.disabled_at,
        disabled_reason=view.disabled_reason,
        deliveries=WebhookDeliveryCounts(**view.deliveries),
    )


def build_delivery(view: DeliveryView) -> WebhookDelivery:
    return WebhookDelivery(
        id=strawberry.ID(str(view.id)),
        webhook_id=strawberry.ID(str(view.endpoint_id)),
        event_id=view.event_id,
        event=WebhookEventKind(view.kind),
        status=WebhookDeliveryStatus(view.status),
        attempts=view.attempts,
        created_at=view.created_at,
        next_attempt_at=view.next_attempt_at,
        last_attempt_at=view.last_attempt_at,
        delivered_at=view.delivered_at,
        last_error=view.last_error,
        response_status=view.response_status,
        response_ms=view.response_ms,
        response_body=view.response_body,
    )
