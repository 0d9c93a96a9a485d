"""Campaigns in id order, and one campaign."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from survey import models as m
from survey.db import db

from ..context import Info
from ..pagination import Connection, check_first, make_connection, query_page
from ..scalars import parse_id
from .types import Campaign, build_campaigns


@strawberry.type
class CampaignQuery:
    @strawberry.field(description="Campaigns in id order (oldest first).")
    def campaigns(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Campaign]:
        size = check_first(first, info.context.max_page_size, default=50)
        rows, count = query_page(select(m.Campaign), m.Campaign.id, size, after)
        return make_connection(build_campaigns(rows), [r.id for r in rows], size, count)

    @strawberry.field
    def campaign(self, id: strawberry.ID) -> Campaign | None:
        row = db.session.get(m.Campaign, parse_id(id))
        return build_campaigns([row])[0] if row is not None else None
