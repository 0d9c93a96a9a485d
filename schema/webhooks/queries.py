"""Admins list the webhook endpoints and read their delivery log (keyset pages)."""

from __future__ import annotations

import strawberry

from survey.delivery import count_deliveries, list_deliveries, list_endpoints

from ..context import Info
from ..errors import service_errors
from ..pagination import Connection, Edge, PageInfo, check_first, decode_cursor, encode_cursor
from ..permissions import IsAdmin
from ..scalars import parse_id
from .types import Webhook, WebhookDelivery, build_delivery, build_webhook


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The webhook endpoints, oldest first, with deliveries by status (admin).",
    )
    def webhooks(self, info: Info) -> list[Webhook]:
        return [build_webhook(v) for v in list_endpoints()]

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The delivery log, newest first: status, attempts, last error, response "
        "time (admin). `webhookId` keeps one endpoint's, `failed` the failed ones.",
    )
    def webhook_deliveries(
        self,
        info: Info,
        webhook_id: strawberry.ID | None = None,
        failed: bool = False,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        size = check_first(first, info.context.max_page_size, default=50)
        endpoint_id = parse_id(webhook_id, "webhookId") if webhook_id is not None else None
        with service_errors({"first": "first"}):
            page = list_deliveries(
                endpoint_id=endpoint_id,
                failed_only=failed,
                first=size,
                before_id=decode_cursor(after),
            )
        edges = [Edge(cursor=encode_cursor(d.id), node=build_delivery(d)) for d in page.deliveries]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            count=lambda: count_deliveries(endpoint_id=endpoint_id, failed_only=failed),
        )
