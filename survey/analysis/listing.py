"""Responses matching a ResponseFilter, in keyset pages, for the API's list."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from survey.analysis.filters import ResponseFilter, response_conditions
from survey.models import Response
from survey.paging import Page, keyset_page


def response_page(
    response_filter: ResponseFilter, *, first: int, after_id: int | None = None
) -> Page[Response]:
    """Responses in id order; `aspect` and the score bounds keep responses with such an
    answer. Each comes with its account and campaign, joined into the page query."""
    stmt = (
        select(Response)
        .join(Response.account)
        .where(*response_conditions(response_filter))
        .options(contains_eager(Response.account), joinedload(Response.campaign))
    )
    return keyset_page(stmt, Response.id, first=first, after_id=after_id)
