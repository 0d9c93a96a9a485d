"""Responses matching a ResponseFilter, in keyset pages, for the API's list.

The filter and its conditions are the package's (looked up when called, so this
module works wherever the package's __init__ imports it from).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from survey import analysis
from survey.models import Response
from survey.paging import Page, keyset_page


def response_page(
    response_filter: analysis.ResponseFilter, *, first: int, after_id: int | None = None
) -> Page[Response]:
    """Responses in id order; `aspect` and the score bounds keep responses with such an
    answer. Each comes with its account and campaign, joined into the page query."""
    stmt = (
        select(Response)
        .join(Response.account)
        .where(*analysis.response_conditions(response_filter))
        .options(contains_eager(Response.account), joinedload(Response.campaign))
    )
    return keyset_page(stmt, Response.id, first=first, after_id=after_id)
