"""Getting messages out: the outbox, mail composition, backends and reminders.

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.delivery.mail import (
    KIND_INVITATION,
    MailSettings,
)
from survey.delivery.outbox import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ATTEMPTS,
    MAX_REMINDER_AFTER_DAYS,
    DeliveryReport,
    OptOutTarget,
    backend_from_config,
    invitation_status_counts,
    load_optout,
    opt_out,
    outbox_counts,
    queue_mail,
    queue_reminders,
    requeue_failed,
    run_worker,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_ATTEMPTS",
    "KIND_INVITATION",
    "MAX_REMINDER_AFTER_DAYS",
    "DeliveryReport",
    "MailSettings",
    "OptOutTarget",
    "backend_from_config",
    "invitation_status_counts",
    "load_optout",
    "opt_out",
    "outbox_counts",
    "queue_mail",
    "queue_reminders",
    "requeue_failed",
    "run_worker",
]
