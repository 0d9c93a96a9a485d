"""Admins add and delete webhook endpoints and send a failed delivery again."""

from __future__ import annotations

import strawberry
from flask import current_app

from survey.delivery import create_endpoint, delete_endpoint, redeliver

from ..context import Info
from ..errors import service_errors
from ..permissions import IsAdmin
from ..scalars import parse_id
from .types import (
    CreatedWebhook,
    Webhook,
    WebhookDelivery,
    WebhookEventKind,
    build_delivery,
    build_webhook,
)


@strawberry.input(description="A new endpoint: where to post, and which events.")
class CreateWebhookInput:
    url: str = strawberry.field(
        description="https://; http:// to a loopback address outside production."
    )
    events: list[WebhookEventKind]
    description: str | None = None


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Register an endpoint; its signing secret is in the answer, once (admin).",
    )
    def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreatedWebhook:
        config = current_app.config
        with service_errors({"url": "url", "events": "events", "description": "description"}):
            new = create_endpoint(
                input.url,
                [e.value for e in input.events],
                secret_key=str(config["SECRET_KEY"]),
                allow_http_loopback=config.get("KEYPULSE_ENV") != "production",
                description=input.description,
                actor=info.context.staff_name,
            )
        return CreatedWebhook(webhook=build_webhook(new.endpoint), secret=new.secret)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Delete an endpoint and its delivery log; returns its id (admin).",
    )
    def delete_webhook(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        endpoint_id = parse_id(id)
        with service_errors({}):
            delete_endpoint(endpoint_id, actor=info.context.staff_name)
        return id

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Queue a failed delivery again, due now, with the same event id (admin).",
    )
    def redeliver_webhook(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        delivery_id = parse_id(id)
        with service_errors({}):
            view = redeliver(delivery_id, actor=info.context.staff_name)
        return build_delivery(view)


__all__ = ["CreateWebhookInput", "Webhook", "WebhookMutation"]
