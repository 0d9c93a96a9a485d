"""The delivery worker: claims batches from the outbox, sends them through a
backend, and marks each message sent, bounced, or back in the queue with back-off
(the protocol is described in survey.delivery.outbox).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from survey.clock import utcnow
from survey.delivery.backends import (
    MailBackend,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    build_email,
)
from survey.delivery.mail import MailSettings
from survey.delivery.outbox import (
    BASE_RETRY_DELAY,
    DEFAULT_BATCH_SIZE,
    claim_batch,
    load_claimed,
    mark_bounced,
    mark_retry,
    mark_sent,
    mark_skipped,
    release_untried,
)
from survey.delivery.webhooks import WebhookReport, deliver_webhooks

log = logging.getLogger("survey.delivery.outbox")  # one name for the delivery log

DEFAULT_MAX_ATTEMPTS = 6


@dataclass
class DeliveryReport:
    """What one or more batches did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0  # temporary failure, back in the queue
    failed: int = 0  # gave up after the retry limit, or no longer to be sent (skipped)
    bounced: int = 0  # permanent failure
    #: The error when the server could not be reached (the batch was held back).
    unreachable: str | None = None
    #: Webhook deliveries posted in the same pass (survey.delivery.webhooks).
    webhooks: WebhookReport = field(default_factory=WebhookReport)

    def add(self, other: DeliveryReport) -> None:
        self.webhooks.add(other.webhooks)
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.bounced += other.bounced
        self.unreachable = other.unreachable or self.unreachable


def new_worker_id() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


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
    mails = load_claimed(ids, settings, tick())
    with backend:
        for index, mail in enumerate(mails):
            if mail.skip_reason is not None:
                mark_skipped(mail, worker_id)
                report.failed += 1
                continue
            try:
                backend.send(build_email(mail, settings.mail_from, date=tick()))
            except PermanentDeliveryError as exc:
                log.warning("outbox %s to %s bounced: %s", mail.id, mail.to_address, exc.message)
                mark_bounced(mail, worker_id, exc.message)
                report.bounced += 1
            except TemporaryDeliveryError as exc:
                log.warning("outbox %s to %s: %s", mail.id, mail.to_address, exc.message)
                when = tick()
                if mark_retry(mail, worker_id, exc.message, when, max_attempts):
                    report.failed += 1
                else:
                    report.retried += 1
                if exc.connection:
                    report.unreachable = exc.message
                    release_untried(
                        (m.id for m in mails[index + 1 :]),
                        worker_id,
                        when + BASE_RETRY_DELAY,
                        exc.message,
                    )
                    break
            else:
                mark_sent(mail, worker_id, tick())
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
    periodic: Callable[[], object] | None = None,
    periodic_seconds: float = 60.0,
) -> DeliveryReport:
    """Deliver batches until the queue has nothing due (or, with `loop`, until
    `should_stop()`), sleeping `idle_seconds` when there is nothing to do.

    `periodic`, when given, runs first and then at most every `periodic_seconds`
    between batches: a caller's step that may queue mail (escalating overdue
    follow-ups), passed in so this area needs nothing from the areas above it."""
    worker_id = new_worker_id()
    total = DeliveryReport()
    last_periodic: float | None = None
    while not should_stop():
        if periodic is not None and (
            last_periodic is None or time.monotonic() - last_periodic >= periodic_seconds
        ):
            last_periodic = time.monotonic()
            periodic()
        report = deliver_batch(
            backend, settings, worker_id=worker_id, batch_size=batch_size, max_attempts=max_attempts
        )
        # The webhooks due in the same pass (their own queue; a mail outage stops nothing).
        report.webhooks = deliver_webhooks(settings, worker_id=worker_id)
        hooks = report.webhooks
        total.add(report)
        if on_batch is not None and (report.claimed or hooks.claimed):
            on_batch(report)
        # Every message went back to the queue (server down): wait as if idle.
        stalled = report.claimed and report.sent + report.bounced + report.failed == 0
        hooks_idle = not hooks.claimed or hooks.delivered + hooks.failed == 0
        if (not report.claimed or stalled) and hooks_idle:
            if not loop:
                break
            time.sleep(idle_seconds)
    return total


__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DeliveryReport",
    "deliver_batch",
    "new_worker_id",
    "run_worker",
]
