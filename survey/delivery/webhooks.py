"""Posting webhook deliveries: claim, post, mark — the outbox protocol of
survey.delivery.outbox applied to `webhook_deliveries` (survey.events writes them).

1. claim a batch (status 'sending', claimed_by, claimed_at) and commit; on
   PostgreSQL with FOR UPDATE SKIP LOCKED, so several workers share the queue;
2. POST each event's JSON body, signed, with a 5 s time-out and no redirects;
3. mark the delivery delivered, queued again with back-off, or failed, in a commit
   of its own.

Order: a delivery is claimed only when no earlier delivery (smaller id) of the same
endpoint and order key (the account; a campaign's own events share the campaign's
key) is still queued or sending. So each endpoint receives one account's events in
the order they were created; a delivery that finally fails (24 hours of retries, a
4xx, a redirect) stops holding back the later ones, and "send again" puts it after
them. A worker that dies between 2 and 3 leaves its delivery 'sending'; after
STALE_CLAIM another worker posts it again with the same event id (at least once:
receivers drop duplicates by the event id).

Retries: time-outs, connection errors, 408, 429 and 5xx wait 30 s, 1, 2, 4 ...
minutes (at most an hour), each with ±25 % jitter, until 24 hours after the event;
then the delivery is failed. Any other answer outside 2xx fails at once (a redirect
is not followed). An endpoint whose deliveries have failed without a single
success for 3 days is disabled, its waiting deliveries failed, and the
administrators told by e-mail (through the mail outbox).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from survey.clock import utcnow
from survey.db import db
from survey.delivery.claims import claim_due
from survey.delivery.mail import MailSettings
from survey.delivery.outbox import ERROR_LENGTH, STALE_CLAIM
from survey.delivery.webhook_http import TIMEOUT_SECONDS, HttpOutcome, post_json
from survey.delivery.webhook_secrets import (
    SIGNATURE_HEADER,
    SecretUnreadableError,
    decrypt_secret,
    signature_header,
)
from survey.models import (
    OUTBOX_QUEUED,
    ROLE_ADMIN,
    WEBHOOK_DELIVERED,
    WEBHOOK_FAILED,
    WEBHOOK_QUEUED,
    WEBHOOK_SENDING,
    OutboxMessage,
    StaffMember,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from survey.scale import DEFAULT_LOCALE, normalise_locale

log = logging.getLogger("survey.delivery.outbox")

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
JITTER = 0.25
#: Failing this long without a success disables an endpoint.
DISABLE_AFTER = timedelta(days=3)
DEFAULT_WEBHOOK_BATCH = 50
USER_AGENT = "KeyPulse-Webhooks/1"
KIND_WEBHOOK_DISABLED = "webhook_disabled"
NOT_SENT = "not sent: the endpoint was disabled"


@dataclass
class WebhookReport:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    disabled: int = 0

    def add(self, other: WebhookReport) -> None:
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.retried += other.retried
        self.failed += other.failed
        self.disabled += other.disabled


# --- claiming --------------------------------------------------------------------------


def _claimable(now: datetime) -> Any:
    earlier = aliased(WebhookDelivery)
    blocked = (
        select(earlier.id)
        .where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.order_key == WebhookDelivery.order_key,
            earlier.status.in_((WEBHOOK_QUEUED, WEBHOOK_SENDING)),
            earlier.id < WebhookDelivery.id,
        )
        .exists()
    )
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.active.is_(True))
    return and_(
        or_(
            and_(WebhookDelivery.status == WEBHOOK_QUEUED, WebhookDelivery.next_attempt_at <= now),
            and_(
                WebhookDelivery.status == WEBHOOK_SENDING,
                WebhookDelivery.claimed_at < now - STALE_CLAIM,
            ),
        ),
        WebhookDelivery.endpoint_id.in_(active),
        ~blocked,
    )


def claim_webhooks(
    worker_id: str, *, batch_size: int = DEFAULT_WEBHOOK_BATCH, now: datetime
) -> list[int]:
    """Claim up to `batch_size` due deliveries (at most one per endpoint and order key)
    for this worker and commit the claim; the claimed ids, oldest first."""
    return claim_due(
        WebhookDelivery,
        _claimable(now),
        (WebhookDelivery.id,),
        status=WEBHOOK_SENDING,
        worker_id=worker_id,
        batch_size=batch_size,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class OutgoingWebhook:
    id: int
    endpoint_id: int
    url: str
    secret_encrypted: str
    event_id: str
    kind: str
    body: str
    attempts: int
    retry_until: datetime


def load_claimed_webhooks(ids: Sequence[int]) -> list[OutgoingWebhook]:
    rows = db.session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret_encrypted,
            WebhookEvent.event_id,
            WebhookEvent.kind,
            WebhookEvent.body,
            WebhookDelivery.attempts,
            WebhookDelivery.retry_until,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(list(ids)))
        .order_by(WebhookDelivery.id)
    )
    return [OutgoingWebhook(*row) for row in rows]


# --- marking ---------------------------------------------------------------------------


def retry_delay(attempts_before: int, rng: random.Random | None = None) -> timedelta:
    """The wait after the (attempts_before + 1)-th failure: 30 s doubling up to an hour,
    times a random factor in [0.75, 1.25]."""
    base = min(FIRST_RETRY * (2 ** min(attempts_before, 20)), LONGEST_RETRY)
    factor = 1 + JITTER * (2 * (rng or random).random() - 1)
    return base * factor


def _mine(delivery_id: int, worker_id: str) -> Any:
    return and_(
        WebhookDelivery.id == delivery_id,
        WebhookDelivery.status == WEBHOOK_SENDING,
        WebhookDelivery.claimed_by == worker_id,
    )


def _finish(*statements: Any) -> None:
    try:
        for statement in statements:
            db.session.execute(statement.execution_options(synchronize_session=False))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _outcome_values(outcome: HttpOutcome, now: datetime) -> dict[str, Any]:
    return {
        "last_attempt_at": now,
        "response_status": outcome.status,
        "response_ms": outcome.ms,
        "response_body": outcome.body,
        "claimed_by": None,
        "claimed_at": None,
    }


def mark_delivered(
    hook: OutgoingWebhook, worker_id: str, outcome: HttpOutcome, now: datetime
) -> None:
    _finish(
        update(WebhookDelivery)
        .where(_mine(hook.id, worker_id))
        .values(
            status=WEBHOOK_DELIVERED,
            attempts=hook.attempts + 1,
            delivered_at=now,
            last_error=None,
            **_outcome_values(outcome, now),
        ),
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == hook.endpoint_id, WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None),
    )


def mark_failure(
    hook: OutgoingWebhook,
    worker_id: str,
    outcome: HttpOutcome,
    now: datetime,
    mail: MailSettings,
    rng: random.Random | None = None,
) -> tuple[bool, bool]:
    """Queue again with back-off, or fail (no retry, or past retry_until); note the
    endpoint's failure and disable it after DISABLE_AFTER. (gave up, disabled)."""
    next_at = now + retry_delay(hook.attempts, rng)
    give_up = not outcome.retry or next_at > hook.retry_until
    error = (outcome.error or "failed")[:ERROR_LENGTH]
    _finish(
        update(WebhookDelivery)
        .where(_mine(hook.id, worker_id))
        .values(
            status=WEBHOOK_FAILED if give_up else WEBHOOK_QUEUED,
            attempts=hook.attempts + 1,
            next_attempt_at=now if give_up else next_at,
            last_error=error,
            **_outcome_values(outcome, now),
        ),
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == hook.endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now),
    )
    return give_up, _disable_if_failing(hook.endpoint_id, now, error, mail)


def _disable_if_failing(endpoint_id: int, now: datetime, error: str, mail: MailSettings) -> bool:
    """Disable the endpoint when it has failed for DISABLE_AFTER without a success:
    its waiting deliveries fail, each administrator gets an e-mail. Commits."""
    try:
        disabled = db.session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.active.is_(True),
                WebhookEndpoint.failing_since <= now - DISABLE_AFTER,
            )
            .values(active=False, disabled_at=now, disabled_reason=error)
            .returning(WebhookEndpoint.url)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if disabled is None:
            db.session.rollback()
            return False
        db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status == WEBHOOK_QUEUED,
            )
            .values(status=WEBHOOK_FAILED, last_error=NOT_SENT)
            .execution_options(synchronize_session=False)
        )
        _queue_disabled_mail(endpoint_id, disabled, error, now, mail)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.warning("webhook endpoint %s (%s) disabled after 3 days of failures", endpoint_id, disabled)
    return True


_DISABLED_TEXT = {
    "zh": (
        "Webhook 已停用：{url}",
        "您好：\n\n发往 {url} 的 webhook（编号 {id}）已连续三天投递失败，现已停用。"
        "\n最后的错误：{error}\n\n"
        "修好接收端后，请重新添加该 webhook，并在投递记录中重新发送失败的事件。\n",
    ),
    "en": (
        "Webhook disabled: {url}",
        "Hello,\n\nThe webhook to {url} (number {id}) has failed for three days and is now "
        "disabled.\nLast error: {error}\n\nOnce the receiver works again, add the webhook "
        "again and send the failed events again from the delivery log.\n",
    ),
}


def _queue_disabled_mail(
    endpoint_id: int, url: str, error: str, now: datetime, mail: MailSettings
) -> None:
    admins = db.session.execute(
        select(StaffMember.email, StaffMember.locale).where(
            StaffMember.active.is_(True),
            StaffMember.role == ROLE_ADMIN,
            func.coalesce(func.trim(StaffMember.email), "") != "",
        )
    ).all()
    rows = []
    for email, locale in admins:
        language = normalise_locale(locale) or DEFAULT_LOCALE
        subject, text = _DISABLED_TEXT[language]
        rows.append(
            {
                "kind": KIND_WEBHOOK_DISABLED,
                "invitation_id": None,
                "to_address": email.strip(),
                "subject": subject.format(url=url)[:300],
                "body_text": text.format(url=url, id=endpoint_id, error=error),
                "body_html": None,
                "locale": language,
                "message_id": f"<kp-{KIND_WEBHOOK_DISABLED}-{uuid.uuid4().hex}@"
                f"{mail.sender_domain}>",
                "status": OUTBOX_QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if rows:
        db.session.execute(insert(OutboxMessage.__table__), rows)


# --- one batch -------------------------------------------------------------------------


def _headers(hook: OutgoingWebhook, secret: str, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-KeyPulse-Event": hook.kind,
        "X-KeyPulse-Event-Id": hook.event_id,
        "X-KeyPulse-Delivery": str(hook.id),
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
    }


def deliver_webhooks(
    mail: MailSettings,
    *,
    worker_id: str,
    batch_size: int = DEFAULT_WEBHOOK_BATCH,
    timeout: float = TIMEOUT_SECONDS,
    clock: Callable[[], datetime] | None = None,
    rng: random.Random | None = None,
) -> WebhookReport:
    """Claim one batch of due deliveries, post each, and mark it."""
    tick = clock or utcnow
    report = WebhookReport()
    ids = claim_webhooks(worker_id, batch_size=batch_size, now=tick())
    report.claimed = len(ids)
    disabled: set[int] = set()
    for hook in load_claimed_webhooks(ids) if ids else []:
        if hook.endpoint_id in disabled:
            # Disabled while this batch was in hand: not sent, like the queued ones.
            _finish(
                update(WebhookDelivery)
                .where(_mine(hook.id, worker_id))
                .values(
                    status=WEBHOOK_FAILED, claimed_by=None, claimed_at=None, last_error=NOT_SENT
                )
            )
            report.failed += 1
            continue
        body = hook.body.encode("utf-8")
        try:
            secret = decrypt_secret(hook.secret_encrypted, mail.secret_key)
        except SecretUnreadableError as exc:
            outcome = HttpOutcome(None, 0, None, str(exc), False)
        else:
            headers = _headers(hook, secret, body, tick())
            outcome = post_json(hook.url, body, headers, timeout=timeout)
        now = tick()
        if outcome.ok:
            mark_delivered(hook, worker_id, outcome, now)
            report.delivered += 1
            continue
        log.warning("webhook %s to %s: %s", hook.id, hook.url, outcome.error)
        gave_up, now_disabled = mark_failure(hook, worker_id, outcome, now, mail, rng)
        report.failed += gave_up
        report.retried += not gave_up
        if now_disabled:
            report.disabled += 1
            disabled.add(hook.endpoint_id)
    return report


__all__ = [
    "DEFAULT_WEBHOOK_BATCH",
    "DISABLE_AFTER",
    "TIMEOUT_SECONDS",
    "HttpOutcome",
    "WebhookReport",
    "claim_webhooks",
    "deliver_webhooks",
    "post_json",
    "retry_delay",
]
