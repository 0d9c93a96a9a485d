"""Account.timeline: what happened with an account, newest first, as a keyset connection.

The accounts resolved together (a page of `accounts`) load their timelines with one
statement for all of them (survey.analysis.account_timelines), keyed in their batch
by the arguments and the language.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from survey import analysis, scale

from ..context import Info
from ..loaders import Batch
from ..pagination import PageInfo, check_first

TimelineEventKind = strawberry.enum(
    Enum("TimelineEventKind", [(k.name, k.value) for k in scale.TimelineKind]),  # type: ignore[misc]
    description="What happened with an account: invited, opened, responded, a follow-up "
    "case opened, noted, escalated or resolved, defected, tier changed, a contact opted out.",
)


@strawberry.type(description="One thing that happened with an account.")
class TimelineEvent:
    at: datetime = strawberry.field(
        description="When; a defection, recorded as a day, at midnight UTC of that day."
    )
    kind: TimelineEventKind  # type: ignore[valid-type]
    label: str = strawberry.field(description="The kind in the request's language.")
    detail: str | None = strawberry.field(
        description="A short description in the request's language (campaign, score, note, "
        "tier A → B, contact ...); null when there is nothing to add."
    )
    campaign_id: strawberry.ID | None
    response_id: strawberry.ID | None
    follow_up_id: strawberry.ID | None


@strawberry.type
class TimelineEdge:
    cursor: str
    node: TimelineEvent


@strawberry.type(description="A page of an account's timeline, newest first.")
class TimelineConnection:
    edges: list[TimelineEdge]
    nodes: list[TimelineEvent]
    page_info: PageInfo


def resolve_timeline(
    info: Info, batch: Batch, account_id: int, first: int | None, after: str | None
) -> TimelineConnection:
    maximum = min(info.context.max_page_size, analysis.TIMELINE_MAX_PAGE_SIZE)
    size = check_first(first, maximum, default=analysis.TIMELINE_PAGE_SIZE)
    locale = info.context.locale
    pages = batch.get(
        ("timeline", size, after, locale),
        lambda ids: analysis.account_timelines(ids, first=size, after=after, locale=locale),
    )
    page = pages[account_id]
    edges = [TimelineEdge(cursor=e.cursor, node=_event(e)) for e in page.events]
    return TimelineConnection(
        edges=edges,
        nodes=[edge.node for edge in edges],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
    )


def _id(value: int | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


def _event(event: analysis.TimelineEvent) -> TimelineEvent:
    return TimelineEvent(
        at=event.at,
        kind=TimelineEventKind(event.kind.value),
        label=event.label,
        detail=event.detail,
        campaign_id=_id(event.campaign_id),
        response_id=_id(event.response_id),
        follow_up_id=_id(event.follow_up_id),
    )
