"""Why accounts left, by who said so: staff's record or the account's own exit survey."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from survey.analysis import analytics
from survey.analysis.analytics import DEFAULT_MIN_GROUP_SIZE, DefectionFilter, Dimension
from survey.answers import SOURCES
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    SOURCE_EXIT_SURVEY,
    SOURCE_STAFF,
    Defection,
    ExitFeedback,
    KeyAccount,
    Response,
)


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
