"""Exit surveys: ask the accounts that left why ("where is our black box?").

An exit campaign samples accounts that defected in a window (see
`campaigns.build_exit_frame`) and sends them a short questionnaire: the main
reason (the shared reason vocabulary), other reasons, what would have kept them,
whether they would consider working with us again, and a comment. The answers are
stored as a Response (no scores) plus one ExitFeedback row, and counted next to
the reasons staff recorded, marked by source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from . import analytics
from .analytics import DEFAULT_MIN_GROUP_SIZE, DefectionFilter, Dimension
from .clock import utcnow
from .db import db
from .errors import InvalidInputError
from .models import (
    KIND_EXIT,
    SOURCE_EXIT_SURVEY,
    SOURCE_STAFF,
    Defection,
    ExitFeedback,
    KeyAccount,
    Questionnaire,
    Response,
)
from .responses import (
    MAX_COMMENT_LENGTH,
    MAX_ENTERED_BY_LENGTH,
    answerable_invitation,
    clean_text,
    storing_response,
)
from .scale import Channel, ReasonCode, normalise_locale

EXIT_QUESTIONNAIRE = "exit"
#: "Would you consider working with us again?"
WOULD_RETURN: tuple[str, ...] = ("yes", "maybe", "no")
WOULD_RETURN_LABELS: dict[str, tuple[str, str]] = {
    "yes": ("会考虑", "Yes"),
    "maybe": ("也许", "Maybe"),
    "no": ("不会", "No"),
}
MAX_KEPT_LENGTH = 1000
SOURCES: tuple[str, ...] = (SOURCE_STAFF, SOURCE_EXIT_SURVEY)
_REASON_CODES = frozenset(ReasonCode.codes())


def ensure_exit_questionnaire() -> Questionnaire:
    """The exit questionnaire (its questions are fixed, so it has no aspect items).
    Flushes, never commits."""
    questionnaire = db.session.scalar(
        select(Questionnaire).where(Questionnaire.name == EXIT_QUESTIONNAIRE)
    )
    if questionnaire is None:
        questionnaire = Questionnaire(name=EXIT_QUESTIONNAIRE, kind=KIND_EXIT)
        db.session.add(questionnaire)
        db.session.flush()
    return questionnaire


@dataclass(frozen=True, slots=True)
class ExitAnswers:
    """A lost account's answers to the exit survey."""

    main_reason: str | None
    other_reasons: Sequence[str] = ()
    what_would_have_kept: str | None = None
    would_return: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class _Clean:
    main_reason: str
    other_reasons: tuple[str, ...]
    kept: str | None
    would_return: str | None
    comment: str | None


def _clean(answers: ExitAnswers) -> _Clean:
    main = (answers.main_reason or "").strip()
    if not main:
        raise InvalidInputError("main_reason: please choose the main reason", field="main_reason")
    if main not in _REASON_CODES:
        raise InvalidInputError(f"main_reason: unknown reason {main!r}", field="main_reason")
    others = tuple(r for r in dict.fromkeys(answers.other_reasons) if r != main)
    bad = [r for r in others if r not in _REASON_CODES]
    if bad:
        raise InvalidInputError(
            f"other_reasons: unknown reason {', '.join(map(repr, bad))}", field="other_reasons"
        )
    would_return = (answers.would_return or "").strip() or None
    if would_return is not None and would_return not in WOULD_RETURN:
        raise InvalidInputError(
            f"would_return: use one of {', '.join(WOULD_RETURN)}", field="would_return"
        )
    return _Clean(
        main_reason=main,
        other_reasons=others,
        kept=clean_text(
            answers.what_would_have_kept, limit=MAX_KEPT_LENGTH, field="what_would_have_kept"
        ),
        would_return=would_return,
        comment=clean_text(answers.comment, limit=MAX_COMMENT_LENGTH, field="comment"),
    )


def record_exit_response(
    invitation_id: int,
    answers: ExitAnswers,
    *,
    locale: str,
    channel: str = "web",
    entered_by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Store an exit-survey response (Response + ExitFeedback) in one transaction;
    return the response id.

    NotFoundError for an unknown invitation, InvalidInputError for an invitation
    that is not to an exit survey or for bad answers, SurveyClosedError when the
    campaign is closed, AlreadyRespondedError for a second response.
    """
    now = now or utcnow()
    target = answerable_invitation(invitation_id, now)
    if target.campaign_kind != KIND_EXIT:
        raise InvalidInputError(
            "this invitation is to a satisfaction survey, not an exit survey",
            field="invitation_id",
        )
    account_id, campaign_id = target.account_id, target.campaign_id
    chosen_locale = normalise_locale(locale)
    if chosen_locale is None:
        raise InvalidInputError(f"unsupported locale {locale!r}", field="locale")
    if channel not in Channel.codes():
        raise InvalidInputError(f"unknown channel {channel!r}", field="channel")
    clean = _clean(answers)
    staff_name = clean_text(entered_by, limit=MAX_ENTERED_BY_LENGTH, field="entered_by")
    with storing_response(invitation_id, now):
        response_id = db.session.scalar(
            insert(Response)
            .values(
                invitation_id=invitation_id,
                campaign_id=campaign_id,
                account_id=account_id,
                submitted_at=now,
                channel=channel,
                locale=chosen_locale,
                comment=clean.comment,
                entered_by=staff_name,
            )
            .returning(Response.id)
        )
        assert response_id is not None
        db.session.execute(
            insert(ExitFeedback).values(
                response_id=response_id,
                main_reason=clean.main_reason,
                other_reasons=",".join(clean.other_reasons) or None,
                what_would_have_kept=clean.kept,
                would_return=clean.would_return,
            )
        )
    return response_id


# --- reasons by source -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourcedReason:
    """A reason given `count` times by one source; `share` is of that source's
    group size (defections for STAFF, exit responses for EXIT_SURVEY)."""

    reason: str
    count: int
    share: float
    source: str


@dataclass(slots=True)
class SourcedBreakdown:
    key: str
    label: str
    defections: int
    lost_revenue: int
    exit_responses: int
    reasons: list[SourcedReason] = field(default_factory=list)
    low_sample: bool = False


def exit_reason_counts(
    group_by: Dimension | None, f: DefectionFilter
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Exit responses per group and the reasons they gave (main and other, each once
    per response), grouped like `analytics.defection_reasons`. Two small queries;
    other reasons are a short comma list per response, split here."""
    key = analytics._defection_key(group_by) if group_by is not None else None
    keys: list[Any] = [key] if key is not None else []
    conditions = analytics._account_conditions(
        f.tier, f.value_type, f.relationship_stage, f.region, f.account_manager
    )
    if f.since is not None:
        conditions.append(Defection.defected_on >= f.since)
    if f.until is not None:
        conditions.append(Defection.defected_on <= f.until)
    base = (
        select(*keys, ExitFeedback.main_reason, ExitFeedback.other_reasons)
        .select_from(ExitFeedback)
        .join(Response, Response.id == ExitFeedback.response_id)
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .join(Defection, Defection.account_id == Response.account_id)
        .where(*conditions)
    )
    responses: dict[str, int] = defaultdict(int)
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # GROUP BY the reason pair: as many rows as distinct answers, not as responses.
    grouped = base.with_only_columns(
        *keys, ExitFeedback.main_reason, ExitFeedback.other_reasons, func.count()
    ).group_by(*keys, ExitFeedback.main_reason, ExitFeedback.other_reasons)
    for row in db.session.execute(grouped):
        offset = 1 if key is not None else 0
        group = analytics._key(row[0]) if key is not None else analytics.ALL_KEY
        main, others, n = row[offset], row[offset + 1], int(row[offset + 2])
        responses[group] += n
        for reason in dict.fromkeys([main, *(others.split(",") if others else [])]):
            reasons[group][reason] += n
    return dict(responses), {g: dict(r) for g, r in reasons.items()}


def defection_reasons_by_source(
    group_by: Dimension | None = None,
    f: DefectionFilter | None = None,
    *,
    locale: str | None = None,
    source: str | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> list[SourcedBreakdown]:
    """Why accounts left, from both sources: the reasons staff recorded with each
    defection (source "staff", shares of the group's defections) and the reasons
    lost accounts gave in exit surveys (source "exit_survey", shares of the group's
    exit responses). `source` keeps one of them. Groups as in
    `analytics.defection_reasons` (every exit respondent has a defection)."""
    if source is not None and source not in SOURCES:
        raise InvalidInputError(f"Unknown source {source!r}.", field="source")
    f = f or DefectionFilter()
    staff = analytics.defection_reasons(group_by, f, locale=locale, min_group_size=min_group_size)
    responses, exit_reasons = exit_reason_counts(group_by, f)
    result: list[SourcedBreakdown] = []
    for group in staff:
        answered = responses.get(group.key, 0)
        reasons: list[SourcedReason] = []
        if source in (None, SOURCE_STAFF):
            reasons += [
                SourcedReason(r.reason, r.count, r.share, SOURCE_STAFF) for r in group.reasons
            ]
        if source in (None, SOURCE_EXIT_SURVEY):
            reasons += [
                SourcedReason(r.reason, r.count, r.share, SOURCE_EXIT_SURVEY)
                for r in analytics._reason_shares(exit_reasons.get(group.key, {}), answered)
            ]
        result.append(
            SourcedBreakdown(
                key=group.key,
                label=group.label,
                defections=group.defections,
                lost_revenue=group.lost_revenue,
                exit_responses=answered,
                reasons=reasons,
                low_sample=group.low_sample,
            )
        )
    return result


__all__ = [
    "EXIT_QUESTIONNAIRE",
    "SOURCES",
    "WOULD_RETURN",
    "WOULD_RETURN_LABELS",
    "ExitAnswers",
    "SourcedBreakdown",
    "SourcedReason",
    "defection_reasons_by_source",
    "ensure_exit_questionnaire",
    "exit_reason_counts",
    "record_exit_response",
]
