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
import json
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
    ASPECTS_BY_CODE,
    OVERALL,
    TIER_LABELS,
    ContactRole,
    ReasonCode,
    Satisfaction,
    TimelineKind,
    normalise_locale,
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
#: A note's text is cut to this many characters in `detail`.
NOTE_DETAIL_LENGTH = 80

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
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    locale: str,
) -> TimelinePage:
    """The account's events newest first: at most `first`, after the cursor `after`.

    One SQL statement. Raises InvalidInputError for a page size outside 0..200 or a
    cursor this function did not hand out. An unknown account has no events.
    """
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"first must be 0 to {MAX_PAGE_SIZE}.", field="first")
    key = decode_timeline_cursor(after)
    events = union_all(*_sources(account_id)).subquery("events")
    stmt = select(events)
    if key is not None:
        at, rank, source_id = key
        stmt = stmt.where(
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
    stmt = stmt.order_by(events.c.at.desc(), events.c.rank.desc(), events.c.source_id.desc()).limit(
        first + 1
    )
    rows = list(db.session.execute(stmt))
    lang = normalise_locale(locale) or "zh"
    built = tuple(_event(row, lang) for row in rows[:first])
    return TimelinePage(
        events=built,
        has_next_page=len(rows) > first,
        end_cursor=built[-1].cursor if built else None,
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


def _sources(account_id: int) -> list[Select[Any]]:
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
    external_id = (
        select(KeyAccount.external_id).where(KeyAccount.id == account_id).scalar_subquery()
    )
    follow_up_campaign = (
        select(Response.campaign_id).where(Response.id == FollowUp.response_id).scalar_subquery()
    )

    def invitation_select(kind: TimelineKind, at: Any) -> Select[Any]:
        return (
            select(
                *_columns(
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
            .where(Invitation.account_id == account_id, at.is_not(None))
        )

    def follow_up_select(kind: TimelineKind, at: Any, text_a: Any) -> Select[Any]:
        return select(
            *_columns(
                at,
                kind,
                FollowUp.id,
                campaign_id=follow_up_campaign,
                response_id=FollowUp.response_id,
                follow_up_id=FollowUp.id,
                text_a=text_a,
            )
        ).where(FollowUp.account_id == account_id, at.is_not(None))

    return [
        invitation_select(
            TimelineKind.INVITED, func.coalesce(Invitation.sent_at, Invitation.created_at)
        ),
        invitation_select(TimelineKind.OPENED, Invitation.opened_at),
        select(
            *_columns(
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
        .where(Response.account_id == account_id),
        follow_up_select(TimelineKind.FOLLOW_UP_OPENED, FollowUp.opened_at, FollowUp.owner),
        follow_up_select(
            TimelineKind.FOLLOW_UP_ESCALATED, FollowUp.escalated_at, FollowUp.escalated_to
        ),
        follow_up_select(
            TimelineKind.FOLLOW_UP_RESOLVED, FollowUp.resolved_at, FollowUp.root_cause
        ),
        select(
            *_columns(
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
        .where(FollowUp.account_id == account_id),
        select(
            *_columns(
                _midnight(Defection.defected_on),
                TimelineKind.DEFECTED,
                Defection.id,
                text_a=primary_reason,
                text_b=Defection.competitor,
            )
        ).where(Defection.account_id == account_id),
        select(
            *_columns(
                AuditEntry.at, TimelineKind.TIER_CHANGED, AuditEntry.id, text_a=AuditEntry.details
            )
        ).where(
            AuditEntry.action == ACCOUNT_TIER_CHANGE,
            AuditEntry.target_type == "account",
            AuditEntry.target_id == external_id,
        ),
        select(
            *_columns(
                Contact.opted_out_at,
                TimelineKind.CONTACT_OPTED_OUT,
                Contact.id,
                text_b=Contact.name,
                text_c=Contact.role,
            )
        ).where(Contact.account_id == account_id, Contact.opted_out_at.is_not(None)),
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
        detail=_detail(kind, row, locale),
        campaign_id=row.campaign_id,
        response_id=row.response_id,
        follow_up_id=row.follow_up_id,
        cursor=encode_timeline_cursor(row.at, row.rank, row.source_id),
    )


_SEPARATOR = " · "
_TEXTS: dict[str, dict[str, str]] = {
    "owner": {"zh": "负责人：{}", "en": "Owner: {}"},
    "escalated_to": {"zh": "升级至 {}", "en": "Escalated to {}"},
    "root_cause": {"zh": "根本原因：{}", "en": "Root cause: {}"},
    "competitor": {"zh": "转向 {}", "en": "Went to {}"},
    "score": {"zh": "{aspect} {score} 分（{label}）", "en": "{aspect}: {score} ({label})"},
}


def _text(key: str, locale: str) -> str:
    return _TEXTS[key][locale]


def _detail(kind: TimelineKind, row: Any, locale: str) -> str | None:
    if kind in (TimelineKind.INVITED, TimelineKind.OPENED):
        return _join(row.text_a, _person(row.text_b, row.text_c, locale))
    if kind is TimelineKind.RESPONDED:
        score = None
        if row.number is not None:
            score = _text("score", locale).format(
                aspect=ASPECTS_BY_CODE[OVERALL].label(locale),
                score=row.number,
                label=Satisfaction(row.number).label(locale),
            )
        return _join(row.text_a, score, _person(row.text_b, row.text_c, locale))
    if kind is TimelineKind.FOLLOW_UP_OPENED:
        return _text("owner", locale).format(row.text_a) if row.text_a else None
    if kind is TimelineKind.FOLLOW_UP_ESCALATED:
        return _text("escalated_to", locale).format(row.text_a) if row.text_a else None
    if kind is TimelineKind.FOLLOW_UP_RESOLVED:
        if not row.text_a:
            return None
        return _text("root_cause", locale).format(_code_label(ReasonCode, row.text_a, locale))
    if kind is TimelineKind.FOLLOW_UP_NOTE:
        note = " ".join((row.text_a or "").split())
        if len(note) > NOTE_DETAIL_LENGTH:
            note = note[: NOTE_DETAIL_LENGTH - 1] + "…"
        author = f"{row.text_b}: " if row.text_b and note else (row.text_b or "")
        return f"{author}{note}" or None
    if kind is TimelineKind.DEFECTED:
        reason = _code_label(ReasonCode, row.text_a, locale) if row.text_a else None
        went = _text("competitor", locale).format(row.text_b) if row.text_b else None
        return _join(reason, went)
    if kind is TimelineKind.TIER_CHANGED:
        return _tier_change(row.text_a, locale)
    return _person(row.text_b, row.text_c, locale)  # CONTACT_OPTED_OUT


def _person(name: str | None, role: str | None, locale: str) -> str | None:
    """ "王芳（采购）" / "Wang Fang (Purchaser)"; None for an invitation without a contact."""
    if not name and not role:
        return None
    role_label = _code_label(ContactRole, role, locale) if role else None
    if not name:
        return role_label
    if not role_label:
        return name
    return f"{name}（{role_label}）" if locale == "zh" else f"{name} ({role_label})"


def _tier_change(details: str | None, locale: str) -> str | None:
    try:
        values = json.loads(details or "{}")
    except ValueError:
        return None
    old, new = values.get("old"), values.get("new")
    if not old or not new:
        return None
    index = 1 if locale == "en" else 0
    return f"{TIER_LABELS.get(old, (old, old))[index]} → {TIER_LABELS.get(new, (new, new))[index]}"


def _code_label(enum: type[ReasonCode] | type[ContactRole], code: str, locale: str) -> str:
    try:
        return enum(code).label(locale)
    except ValueError:
        return code


def _join(*parts: str | None) -> str | None:
    text = _SEPARATOR.join(p for p in parts if p)
    return text or None


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "TimelineEvent",
    "TimelineKind",
    "TimelinePage",
    "account_timeline",
    "decode_timeline_cursor",
    "encode_timeline_cursor",
]
