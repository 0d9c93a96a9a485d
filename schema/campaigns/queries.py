"""Campaigns in id order, and one campaign."""

from __future__ import annotations

import strawberry

from survey.campaigns import campaign_by_id, campaign_page

from ..context import Info
from ..pagination import Connection, check_first, decode_cursor, page_connection
from ..scalars import parse_id
from .types import Campaign, build_campaigns


@strawberry.type
class CampaignQuery:
    @strawberry.field(description="Campaigns in id order (oldest first).")
    def campaigns(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Campaign]:
        size = check_first(first, info.context.max_page_size, default=50)
        page = campaign_page(first=size, after_id=decode_cursor(after))
        return page_connection(page, build_campaigns(page.rows))

    @strawberry.field
    def campaign(self, id: strawberry.ID) -> Campaign | None:
        row = campaign_by_id(parse_id(id))
        return build_campaigns([row])[0] if row is not None else None
