"""Getting messages out: mail composition, the outbox, the worker and its backends,
reminders and opting out.

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.delivery.backends import backend_from_config
from survey.delivery.mail import KIND_INVITATION, MailSettings
from survey.delivery.optout import OptOutTarget, load_optout, opt_out
from survey.delivery.organisation import Organisation, OrganisationError
from survey.delivery.outbox import DEFAULT_BATCH_SIZE, queue_mail
from survey.delivery.queue_status import (
    QueueTimes,
    invitation_status_counts,
    outbox_counts,
    queue_times,
    release_held_back,
    requeue_failed,
    webhook_queue,
)
from survey.delivery.reminders import MAX_REMINDER_AFTER_DAYS, queue_reminders
from survey.delivery.webhook_admin import (
    DeliveryPage,
    DeliveryView,
    EndpointView,
    NewEndpoint,
    count_deliveries,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_deliveries,
    list_endpoints,
    redeliver,
)
from survey.delivery.webhooks import WebhookReport
from survey.delivery.worker import DEFAULT_MAX_ATTEMPTS, DeliveryReport, run_worker

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_ATTEMPTS",
    "KIND_INVITATION",
    "MAX_REMINDER_AFTER_DAYS",
    "DeliveryReport",
    "MailSettings",
    "OptOutTarget",
    "Organisation",
    "OrganisationError",
    "QueueTimes",
    "backend_from_config",
    "invitation_status_counts",
    "load_optout",
    "opt_out",
    "outbox_counts",
    "queue_mail",
    "queue_reminders",
    "queue_times",
    "release_held_back",
    "requeue_failed",
    "run_worker",
    "webhook_queue",
]
# Webhooks: endpoints, the delivery log, send again (survey.delivery.webhook_admin).
__all__ += [
    "DeliveryPage",
    "DeliveryView",
    "EndpointView",
    "NewEndpoint",
    "WebhookReport",
    "count_deliveries",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "redeliver",
]
