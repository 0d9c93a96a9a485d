"""Managing webhook endpoints: add (the secret shown once), list, delete, the delivery
log, and "send again" for a failed delivery. Each write is audited and commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from survey.audit import WEBHOOK_CREATE, WEBHOOK_DELETE, WEBHOOK_REDELIVER, record_audit
from survey.clock import utcnow
from survey.db import db
from survey.delivery.webhook_secrets import check_url, encrypt_secret, new_secret
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.events import EVENT_KINDS, RETRY_WINDOW
from survey.models import (
    WEBHOOK_FAILED,
    WEBHOOK_QUEUED,
    WEBHOOK_STATUSES,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    codes_to_column,
    column_to_codes,
)
from survey.text import clean_text

MAX_DESCRIPTION_LENGTH = 200
MAX_DELIVERY_PAGE = 200


@dataclass(frozen=True, slots=True)
class EndpointView:
    """An endpoint as plain values (never its secret), with its deliveries by status."""

    id: int
    url: str
    description: str | None
    events: tuple[str, ...]
    active: bool
    created_at: datetime
    created_by: str | None
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    deliveries: dict[str, int]


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    """A created endpoint and its secret: the only time the secret is shown."""

    endpoint: EndpointView
    secret: str


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    endpoint_id: int
    event_id: str
    kind: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    response_status: int | None
    response_ms: int | None
    response_body: str | None


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[DeliveryView]
    has_next: bool


def parse_event_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """The kinds, checked and without repeats (in EVENT_KINDS order)."""
    wanted = {k.strip() for k in kinds if k and k.strip()}
    if not wanted:
        raise InvalidInputError(
            f"Choose at least one event: {', '.join(EVENT_KINDS)}.", field="events"
        )
    unknown = sorted(wanted - set(EVENT_KINDS))
    if unknown:
        raise InvalidInputError(
            f"Unknown event {unknown[0]!r}: use {', '.join(EVENT_KINDS)}.", field="events"
        )
    return tuple(k for k in EVENT_KINDS if k in wanted)


def create_endpoint(
    url: str,
    events: Sequence[str],
    *,
    secret_key: str,
    allow_http_loopback: bool,
    description: str | None = None,
    actor: str | None = None,
) -> NewEndpoint:
    """Register an endpoint for some event kinds; returns it with its new secret (shown
    once; stored encrypted under SECRET_KEY). InvalidInputError for a bad URL or kind."""
    clean_url = check_url(url, allow_http_loopback=allow_http_loopback)
    kinds = parse_event_kinds(events)
    text = clean_text(description, limit=MAX_DESCRIPTION_LENGTH, field="description")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=clean_url,
        description=text,
        events=codes_to_column(kinds) or "",
        secret_encrypted=encrypt_secret(secret, secret_key),
        active=True,
        created_at=utcnow(),
        created_by=actor,
    )
    db.session.add(endpoint)
    db.session.flush()
    record_audit(actor, WEBHOOK_CREATE, "webhook", endpoint.id, {"url": clean_url, "events": kinds})
    db.session.commit()
    return NewEndpoint(get_endpoint(endpoint.id), secret)


def _views(where: object | None = None) -> list[EndpointView]:
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    if where is not None:
        stmt = stmt.where(where)  # type: ignore[arg-type]
    endpoints = list(db.session.scalars(stmt))
    counts = {e.id: dict.fromkeys(WEBHOOK_STATUSES, 0) for e in endpoints}
    if endpoints:
        rows = db.session.execute(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
            .where(WebhookDelivery.endpoint_id.in_(list(counts)))
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
        )
        for endpoint_id, status, n in rows:
            counts[endpoint_id][status] = int(n)
    return [
        EndpointView(
            id=e.id,
            url=e.url,
            description=e.description,
            events=column_to_codes(e.events),
            active=e.active,
            created_at=e.created_at,
            created_by=e.created_by,
            failing_since=e.failing_since,
            disabled_at=e.disabled_at,
            disabled_reason=e.disabled_reason,
            deliveries=counts[e.id],
        )
        for e in endpoints
    ]


def list_endpoints() -> list[EndpointView]:
    """Every endpoint, oldest first (two queries)."""
    return _views()


def get_endpoint(endpoint_id: int) -> EndpointView:
    found = _views(WebhookEndpoint.id == endpoint_id)
    if not found:
        raise NotFoundError(f"webhook {endpoint_id} does not exist", field="id")
    return found[0]


def delete_endpoint(endpoint_id: int, *, actor: str | None = None) -> None:
    """Delete an endpoint and its delivery log (nothing more is sent to it). Commits."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFoundError(f"webhook {endpoint_id} does not exist", field="id")
    url = endpoint.url
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    db.session.delete(endpoint)
    record_audit(actor, WEBHOOK_DELETE, "webhook", endpoint_id, {"url": url})
    db.session.commit()


def list_deliveries(
    *,
    endpoint_id: int | None = None,
    failed_only: bool = False,
    first: int = 50,
    before_id: int | None = None,
) -> DeliveryPage:
    """The delivery log, newest first (keyset: ids below `before_id`)."""
    if not 0 <= first <= MAX_DELIVERY_PAGE:
        raise InvalidInputError(f"first must be 0 to {MAX_DELIVERY_PAGE}.", field="first")
    stmt = (
        select(
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            WebhookEvent.event_id,
            WebhookEvent.kind,
            WebhookDelivery.status,
            WebhookDelivery.attempts,
            WebhookDelivery.created_at,
            WebhookDelivery.next_attempt_at,
            WebhookDelivery.last_attempt_at,
            WebhookDelivery.delivered_at,
            WebhookDelivery.last_error,
            WebhookDelivery.response_status,
            WebhookDelivery.response_ms,
            WebhookDelivery.response_body,
        )
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(first + 1)
    )
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if failed_only:
        stmt = stmt.where(WebhookDelivery.status == WEBHOOK_FAILED)
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    rows = db.session.execute(stmt).all()
    views = [
        DeliveryView(
            *row[:7],
            next_attempt_at=row.next_attempt_at if row.status == WEBHOOK_QUEUED else None,
            last_attempt_at=row.last_attempt_at,
            delivered_at=row.delivered_at,
            last_error=row.last_error,
            response_status=row.response_status,
            response_ms=row.response_ms,
            response_body=row.response_body,
        )
        for row in rows[:first]
    ]
    return DeliveryPage(views, has_next=len(rows) > first)


def count_deliveries(*, endpoint_id: int | None = None, failed_only: bool = False) -> int:
    """How many deliveries the log holds (of one endpoint, failed only, when asked)."""
    stmt = select(func.count()).select_from(WebhookDelivery)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if failed_only:
        stmt = stmt.where(WebhookDelivery.status == WEBHOOK_FAILED)
    return int(db.session.scalar(stmt) or 0)


def redeliver(delivery_id: int, *, actor: str | None = None) -> DeliveryView:
    """Queue a failed delivery again, due now, with 24 hours of retries (the same event
    id: a receiver that got it already drops it). ConflictError unless it failed or
    when its endpoint is disabled. Commits."""
    row = db.session.execute(
        select(WebhookDelivery.status, WebhookEndpoint.active)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"delivery {delivery_id} does not exist", field="id")
    status, active = row
    if status != WEBHOOK_FAILED:
        raise ConflictError(f"delivery {delivery_id} is {status}: only a failed one is sent again")
    if not active:
        raise ConflictError("the endpoint is disabled: add it again to send to it")
    now = utcnow()
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=WEBHOOK_QUEUED,
            attempts=0,
            next_attempt_at=now,
            retry_until=now + RETRY_WINDOW,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    record_audit(actor, WEBHOOK_REDELIVER, "webhook_delivery", delivery_id)
    db.session.commit()
    page = list_deliveries(first=1, before_id=delivery_id + 1)
    return page.deliveries[0]


__all__ = [
    "DeliveryPage",
    "DeliveryView",
    "EndpointView",
    "NewEndpoint",
    "count_deliveries",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "parse_event_kinds",
    "redeliver",
]
