"""Responses in id order."""

from __future__ import annotations

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from survey import analysis
from survey import models as m

from ..analysis.types import ResponseFilter, response_filter
from ..context import Info
from ..pagination import Connection, check_first, make_connection, query_page
from .types import Response, build_responses


@strawberry.type
class ResponseQuery:
    @strawberry.field(
        description="Responses in id order. `filter.aspect` and the score bounds keep "
        "responses with such an answer."
    )
    def responses(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: ResponseFilter | None = None,
    ) -> Connection[Response]:
        domain = response_filter(filter)
        stmt = (
            select(m.Response)
            .join(m.Response.account)
            .where(*analysis.response_conditions(domain))
            # Account and campaign come in the page query itself; answers load for
            # the whole page on first use (schema.loaders.Batch).
            .options(contains_eager(m.Response.account), joinedload(m.Response.campaign))
        )
        size = check_first(first, info.context.max_page_size, default=50)
        rows, count = query_page(stmt, m.Response.id, size, after)
        nodes = build_responses(rows, info.context.locale)
        return make_connection(nodes, [r.id for r in rows], size, count)
