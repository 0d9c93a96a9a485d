"""Responses in id order."""

from __future__ import annotations

import strawberry

from survey.analysis import response_page

from ..analysis.types import ResponseFilter, response_filter
from ..context import Info
from ..pagination import Connection, check_first, decode_cursor, page_connection
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
        size = check_first(first, info.context.max_page_size, default=50)
        # Account and campaign come in the page query itself; answers load for the
        # whole page on first use (schema.loaders.Batch).
        page = response_page(domain, first=size, after_id=decode_cursor(after))
        return page_connection(page, build_responses(page.rows, info.context.locale))
