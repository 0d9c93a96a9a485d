"""An account's timeline: everything that happened with it, newest first, one page at a time.

Nothing new is recorded for it: each kind of event is read from the table that
already holds the fact (invitations, responses, follow-ups and their notes,
defections, the audit log of imports, contacts). One SELECT per kind, joined by
UNION ALL, ordered and cut to the page in SQL: one statement per page whatever the
account's history.

Order: `at` newest first; events at the same moment by kind (the later step of the
story first: a response before the opening it follows), then by the id of the row
they come from. The cursor is that triple, so pages never skip or repeat an event
across ties. A defection is recorded as a day: it sits at midnight UTC of that day.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)

from survey.analysis.timeline_details import NOTE_DETAIL_LENGTH, event_detail
from survey.audit import ACCOUNT_TIER_CHANGE
from survey.db import UTCDateTime, db
from survey.errors import InvalidInputError
from survey.models import (
    Answer,
    Aspect,
    AuditEntry,
    Campaign,
    Contact,
    Defection,
    DefectionReason,
    FollowUp,
    FollowUpNote,
    Invitation,
    KeyAccount,
    Response,
)
from survey.scale import (
    OVERALL,
    TimelineKind,
    normalise_locale,
)

TIMELINE_PAGE_SIZE = 50
TIMELINE_MAX_PAGE_SIZE = 200

#: Events at the same moment: the higher rank comes first (newest first).
_RANK: dict[TimelineKind, int] = {kind: rank for rank, kind in enumerate(TimelineKind)}
_CURSOR_PREFIX = "tl:"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One thing that happened with the account; `label` and `detail` in one language."""

    at: datetime
    kind: TimelineKind
    label: str
    detail: str | None
    campaign_id: int | None
    response_id: int | None
    follow_up_id: int | None
    #: Where the page after this event starts (opaque; pass it as `after`).
    cursor: str = ""


@dataclass(frozen=True, slots=True)
class TimelinePage:
    events: tuple[TimelineEvent, ...]
    has_next_page: bool
    end_cursor: str | None


def account_timeline(
    account_id: int,
    *,
    first: int = TIMELINE_PAGE_SIZE,
    after: str | None = None,
    locale: str,
) -> TimelinePage:
    """The account's events newest first: at most `first`, after the cursor `after`.

    One SQL statement. Raises InvalidInputError for a page size outside 0..200 or a
    cursor this function did not hand out. An unknown account has no events.
    """
    return account_timelines([account_id], first=first, after=after, locale=locale)[account_id]


def account_timelines(
    account_ids: Sequence[int],
    *,
    first: int = TIMELINE_PAGE_SIZE,
    after: str | None = None,
    locale: str,
) -> dict[int, TimelinePage]:
    """`account_timeline` for several accounts at once (a page of the API), still one
    statement: each account's first `first` events after `after`, by a window function.
    """
    if not 0 <= first <= TIMELINE_MAX_PAGE_SIZE:
        raise InvalidInputError(f"first must be 0 to {TIMELINE_MAX_PAGE_SIZE}.", field="first")
    key = decode_timeline_cursor(after)
    ids = list(dict.fromkeys(account_ids))
    rows_by_account: dict[int, list[Any]] = {i: [] for i in ids}
    if ids:
        for row in db.session.execute(_page_statement(ids, first, key)):
            rows_by_account[row.account_id].append(row)
    lang = normalise_locale(locale) or "zh"
    pages: dict[int, TimelinePage] = {}
    for account_id, rows in rows_by_account.items():
        built = tuple(_event(row, lang) for row in rows[:first])
        pages[account_id] = TimelinePage(
            events=built,
            has_next_page=len(rows) > first,
            end_cursor=built[-1].cursor if built else None,
        )
    return pages


def _page_statement(
    ids: list[int], first: int, key: tuple[datetime, int, int] | None
) -> Select[Any]:
    events = union_all(*_sources(ids)).subquery("events")
    newest_first = (events.c.at.desc(), events.c.rank.desc(), events.c.source_id.desc())
    conditions: list[ColumnElement[bool]] = []
    if key is not None:
        at, rank, source_id = key
        conditions.append(
            or_(
                events.c.at < literal(at, UTCDateTime()),
                and_(
                    events.c.at == literal(at, UTCDateTime()),
                    or_(
                        events.c.rank < rank,
                        and_(events.c.rank == rank, events.c.source_id < source_id),
                    ),
                ),
            )
        )
    if len(ids) == 1:
        return select(events).where(*conditions).order_by(*newest_first).limit(first + 1)
    numbered = (
        select(
            events,
            func.row_number()
            .over(partition_by=events.c.account_id, order_by=newest_first)
            .label("position"),
        )
        .where(*conditions)
        .subquery("numbered")
    )
    return (
        select(numbered)
        .where(numbered.c.position <= first + 1)
        .order_by(numbered.c.account_id, numbered.c.position)
    )


# --- the cursor -----------------------------------------------------------------------


def encode_timeline_cursor(at: datetime, rank: int, source_id: int) -> str:
    text = f"{_CURSOR_PREFIX}{at.astimezone(UTC).isoformat()}|{rank}|{source_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_timeline_cursor(cursor: str | None) -> tuple[datetime, int, int] | None:
    """(at, rank, source id) of the event a page starts after; None for the first page."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        at_text, rank_text, id_text = text.removeprefix(_CURSOR_PREFIX).split("|")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None or not (rank_text.isdigit() and id_text.isdigit()):
            raise ValueError(text)
        return at, int(rank_text), int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInputError(
            f"{cursor[:60]!r} is not a cursor of this timeline.", field="after"
        ) from None


# --- one SELECT per kind of event -------------------------------------------------------


def _columns(
    account_id: Any,
    at: Any,
    kind: TimelineKind,
    source_id: Any,
    *,
    campaign_id: Any = None,
    response_id: Any = None,
    follow_up_id: Any = None,
    text_a: Any = None,
    text_b: Any = None,
    text_c: Any = None,
    number: Any = None,
) -> list[ColumnElement[Any]]:
    """The columns every SELECT of the union has, in the same order and types."""

    def integer(value: Any) -> ColumnElement[Any]:
        return cast(null() if value is None else value, Integer)

    def string(value: Any) -> ColumnElement[Any]:
        return cast(null() if value is None else value, String)

    return [
        integer(account_id).label("account_id"),
        type_coerce(at, UTCDateTime()).label("at"),
        cast(literal(kind.value, String), String).label("kind"),
        cast(literal(_RANK[kind], Integer), Integer).label("rank"),
        integer(source_id).label("source_id"),
        integer(campaign_id).label("campaign_id"),
        integer(response_id).label("response_id"),
        integer(follow_up_id).label("follow_up_id"),
        string(text_a).label("text_a"),
        string(text_b).label("text_b"),
        string(text_c).label("text_c"),
        integer(number).label("number"),
    ]


def _sources(ids: list[int]) -> list[Select[Any]]:
    invitation_contact = Contact.__table__.alias("invitation_contact")
    response_contact = Contact.__table__.alias("response_contact")
    overall = (
        select(Answer.score)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Answer.response_id == Response.id, Aspect.code == OVERALL)
        .scalar_subquery()
    )
    primary_reason = (
        select(DefectionReason.reason)
        .where(DefectionReason.defection_id == Defection.id, DefectionReason.is_primary)
        .limit(1)
        .scalar_subquery()
    )
    follow_up_campaign = (
        select(Response.campaign_id).where(Response.id == FollowUp.response_id).scalar_subquery()
    )

    def invitation_select(kind: TimelineKind, at: Any) -> Select[Any]:
        return (
            select(
                *_columns(
                    Invitation.account_id,
                    at,
                    kind,
                    Invitation.id,
                    campaign_id=Invitation.campaign_id,
                    text_a=Campaign.name,
                    text_b=invitation_contact.c.name,
                    text_c=invitation_contact.c.role,
                )
            )
            .join(Campaign, Campaign.id == Invitation.campaign_id)
            .outerjoin(invitation_contact, invitation_contact.c.id == Invitation.contact_id)
            .where(Invitation.account_id.in_(ids), at.is_not(None))
        )

    def follow_up_select(kind: TimelineKind, at: Any, text_a: Any) -> Select[Any]:
        return select(
            *_columns(
                FollowUp.account_id,
                at,
                kind,
                FollowUp.id,
                campaign_id=follow_up_campaign,
                response_id=FollowUp.response_id,
                follow_up_id=FollowUp.id,
                text_a=text_a,
            )
        ).where(FollowUp.account_id.in_(ids), at.is_not(None))

    return [
        invitation_select(
            TimelineKind.INVITED, func.coalesce(Invitation.sent_at, Invitation.created_at)
        ),
        invitation_select(TimelineKind.OPENED, Invitation.opened_at),
        select(
            *_columns(
                Response.account_id,
                Response.submitted_at,
                TimelineKind.RESPONDED,
                Response.id,
                campaign_id=Response.campaign_id,
                response_id=Response.id,
                text_a=Campaign.name,
                text_b=response_contact.c.name,
                text_c=response_contact.c.role,
                number=overall,
            )
        )
        .join(Campaign, Campaign.id == Response.campaign_id)
        .outerjoin(response_contact, response_contact.c.id == Response.contact_id)
        .where(Response.account_id.in_(ids)),
        follow_up_select(TimelineKind.FOLLOW_UP_OPENED, FollowUp.opened_at, FollowUp.owner),
        follow_up_select(
            TimelineKind.FOLLOW_UP_ESCALATED, FollowUp.escalated_at, FollowUp.escalated_to
        ),
        follow_up_select(
            TimelineKind.FOLLOW_UP_RESOLVED, FollowUp.resolved_at, FollowUp.root_cause
        ),
        select(
            *_columns(
                FollowUp.account_id,
                FollowUpNote.at,
                TimelineKind.FOLLOW_UP_NOTE,
                FollowUpNote.id,
                campaign_id=follow_up_campaign,
                response_id=FollowUp.response_id,
                follow_up_id=FollowUp.id,
                text_a=func.substr(FollowUpNote.text, 1, NOTE_DETAIL_LENGTH + 1),
                text_b=FollowUpNote.author,
            )
        )
        .join(FollowUp, FollowUp.id == FollowUpNote.follow_up_id)
        .where(FollowUp.account_id.in_(ids)),
        select(
            *_columns(
                Defection.account_id,
                _midnight(Defection.defected_on),
                TimelineKind.DEFECTED,
                Defection.id,
                text_a=primary_reason,
                text_b=Defection.competitor,
            )
        ).where(Defection.account_id.in_(ids)),
        # Audit entries name an account by its external id, as defections' do.
        select(
            *_columns(
                KeyAccount.id,
                AuditEntry.at,
                TimelineKind.TIER_CHANGED,
                AuditEntry.id,
                text_a=AuditEntry.details,
            )
        )
        .join(KeyAccount, KeyAccount.external_id == AuditEntry.target_id)
        .where(
            KeyAccount.id.in_(ids),
            AuditEntry.action == ACCOUNT_TIER_CHANGE,
            AuditEntry.target_type == "account",
        ),
        select(
            *_columns(
                Contact.account_id,
                Contact.opted_out_at,
                TimelineKind.CONTACT_OPTED_OUT,
                Contact.id,
                text_b=Contact.name,
                text_c=Contact.role,
            )
        ).where(Contact.account_id.in_(ids), Contact.opted_out_at.is_not(None)),
    ]


def _midnight(day: Any) -> ColumnElement[Any]:
    """A DATE column as the timestamp of its midnight, written as each backend stores
    UTCDateTime (SQLite: text with six decimals), so it orders and compares with them."""
    if db.session.get_bind().dialect.name == "sqlite":
        return day.op("||")(" 00:00:00.000000")
    return cast(day, UTCDateTime().impl)


# --- rows to events -------------------------------------------------------------------


def _event(row: Any, locale: str) -> TimelineEvent:
    kind = TimelineKind(row.kind)
    return TimelineEvent(
        at=row.at,
        kind=kind,
        label=kind.label(locale),
        detail=event_detail(kind, row, locale),
        campaign_id=row.campaign_id,
        response_id=row.response_id,
        follow_up_id=row.follow_up_id,
        cursor=encode_timeline_cursor(row.at, row.rank, row.source_id),
    )


__all__ = [
    "TIMELINE_MAX_PAGE_SIZE",
    "TIMELINE_PAGE_SIZE",
    "TimelineEvent",
    "TimelineKind",
    "TimelinePage",
    "account_timeline",
    "account_timelines",
    "decode_timeline_cursor",
    "encode_timeline_cursor",
]
