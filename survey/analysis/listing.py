"""Responses matching a ResponseFilter, in keyset pages, for the API's list."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from survey.analysis.filters import ResponseFilter, response_conditions
from survey.db import db, read_rows
from survey.models import Campaign, KeyAccount, Response
from survey.paging import Page


def _columns(model: type[Any]) -> list[Any]:
    """Every column attribute of `model`, in mapper order."""
    return [getattr(model, c.key) for c in model.__mapper__.column_attrs]


_ACCOUNT_COLUMNS = _columns(KeyAccount)
_CAMPAIGN_COLUMNS = _columns(Campaign)
#: An account's or a campaign's columns as a tuple that reads like the model
#: (`account.name`, `campaign.opens_at`), without an ORM object.
AccountValues = namedtuple(  # type: ignore[misc]
    "AccountValues", [c.key for c in KeyAccount.__mapper__.column_attrs]
)
CampaignValues = namedtuple(  # type: ignore[misc]
    "CampaignValues", [c.key for c in Campaign.__mapper__.column_attrs]
)


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """A response of a page with its account's and campaign's columns: plain values
    (a Row reads like the model, `row.name`), no ORM objects to build and track."""

    id: int
    submitted_at: datetime
    channel: str
    locale: str
    comment: str | None
    account_id: int
    campaign_id: int
    contact_id: int | None
    account: AccountValues
    campaign: CampaignValues


_RESPONSE_COLUMNS = (
    Response.id,
    Response.submitted_at,
    Response.channel,
    Response.locale,
    Response.comment,
    Response.account_id,
    Response.campaign_id,
    Response.contact_id,
)
_CAMPAIGN_ID_AT = 6  # Response.campaign_id's place in _RESPONSE_COLUMNS


def response_page(
    response_filter: ResponseFilter, *, first: int, after_id: int | None = None
) -> Page[ResponseRow]:
    """Responses in id order; `aspect` and the score bounds keep responses with such an
    answer. Each comes with its account (joined into the page query) and its campaign
    (the page's campaigns in a second statement), as plain rows."""
    conditions = response_conditions(response_filter)
    stmt = (
        select(*_RESPONSE_COLUMNS, *_ACCOUNT_COLUMNS)
        .select_from(Response)
        .join(Response.account)
        .where(*conditions)
    )
    if after_id is not None:
        stmt = stmt.where(Response.id > after_id)
    # Core execution, fetched at once: the ORM's row loading would cost more than the
    # statements themselves. A page holds a few campaigns: they are read once each
    # (a second statement) rather than repeated on every row.
    fetched = read_rows(stmt.order_by(Response.id).limit(first + 1))
    n = len(_RESPONSE_COLUMNS)
    campaign_ids = {r[_CAMPAIGN_ID_AT] for r in fetched}
    campaigns: dict[int, Any] = {}
    if campaign_ids:
        found = read_rows(select(*_CAMPAIGN_COLUMNS).where(Campaign.id.in_(campaign_ids)))
        campaigns = {c.id: c for c in map(CampaignValues._make, found)}
    rows = [
        ResponseRow(
            *r[:n], account=AccountValues._make(r[n:]), campaign=campaigns[r[_CAMPAIGN_ID_AT]]
        )
        for r in fetched
    ]
    matching = select(Response.id).join(Response.account).where(*conditions).subquery()
    total = select(func.count()).select_from(matching)

    def count() -> int:
        return int(db.session.scalar(total) or 0)

    return Page(rows=rows[:first], has_next=len(rows) > first, count=count)
