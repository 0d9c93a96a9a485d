"""Why accounts left: defection reasons per group, as staff recorded them, and the
same groups with the reasons lost accounts gave in exit surveys beside them.

The month of a defection is the month of `defected_on`. Two small queries per
source, whatever the number of defections.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select

from survey.analysis.filters import (
    ALL_KEY,
    DEFAULT_MIN_GROUP_SIZE,
    ORDERED_DIMENSIONS,
    DefectionFilter,
    Dimension,
    defection_conditions,
    defection_group_column,
    group_key,
    group_label,
    key_infos,
    resolve_locale,
    validate_defection_filter,
    year_month,
)
from survey.analysis.reasons import ReasonShare, reason_order, reason_shares
from survey.answers import SOURCES
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    SOURCE_EXIT_SURVEY,
    SOURCE_STAFF,
    Defection,
    DefectionReason,
    ExitFeedback,
    KeyAccount,
    Response,
)


@dataclass(frozen=True, slots=True)
class ReasonBreakdown:
    """Defections in one group; reason shares are of the group's defections."""

    key: str
    label: str
    defections: int
    lost_revenue: int
    reasons: tuple[ReasonShare, ...]
    #: Fewer defections than the minimum group size.
    low_sample: bool = False


def defection_reasons(
    group_by: Dimension | None = None,
    f: DefectionFilter | None = None,
    *,
    locale: str | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> list[ReasonBreakdown]:
    """Why accounts left, which kind and when: defections matching `f` per group,
    with every reason given (primary and secondary) counted once per defection.

    Without `group_by` there is one group, key "all". Groups of an ordered dimension
    come in its order (months in calendar order, tiers A, B, C), others with the most
    defections first. Two queries.
    """
    f = f or DefectionFilter()
    validate_defection_filter(f)
    locale = resolve_locale(locale)
    key = defection_group_column(group_by) if group_by is not None else None
    conditions = defection_conditions(f)
    keys = [key] if key is not None else []

    groups = db.session.execute(
        select(
            *keys,
            func.count(Defection.id),
            func.coalesce(func.sum(Defection.lost_annual_revenue), 0),
        )
        .select_from(Defection)
        .join(KeyAccount, KeyAccount.id == Defection.account_id)
        .where(*conditions)
        .group_by(*keys)
    ).all()
    reason_rows = db.session.execute(
        select(*keys, DefectionReason.reason, func.count())
        .select_from(Defection)
        .join(KeyAccount, KeyAccount.id == Defection.account_id)
        .join(DefectionReason, DefectionReason.defection_id == Defection.id)
        .where(*conditions)
        .group_by(*keys, DefectionReason.reason)
    ).all()

    def key_of(row: Sequence[Any]) -> str:
        return group_key(row[0]) if key is not None else ALL_KEY

    offset = 1 if key is not None else 0
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    for row in reason_rows:
        reasons[key_of(row)][row[offset]] = int(row[offset + 1])
    result: list[ReasonBreakdown] = []
    infos = key_infos(group_by, [key_of(r) for r in groups], locale) if group_by else {}
    for row in groups:
        count = int(row[offset])
        if count == 0:  # no GROUP BY over no rows still yields one row of zeros
            continue
        k = key_of(row)
        label = group_label(k, infos, locale)
        result.append(
            ReasonBreakdown(
                key=k,
                label=label,
                defections=count,
                lost_revenue=int(row[offset + 1]),
                reasons=tuple(reason_shares(reasons.get(k, {}), count)),
                low_sample=count < min_group_size,
            )
        )
    if group_by in ORDERED_DIMENSIONS:  # months in calendar order, tiers A, B, C
        result.sort(key=lambda g: infos[g.key].order if g.key in infos else ())
    else:
        result.sort(key=lambda g: (-g.defections, infos[g.key].order if g.key in infos else ()))
    return result


# ---------------------------------------------------------------------------
# By source: staff's record or the account's own exit survey


@dataclass(frozen=True, slots=True)
class SourcedReason:
    """A reason given `count` times by one source; `share` is of that source's
    group size (defections for STAFF, exit responses for EXIT_SURVEY)."""

    reason: str
    count: int
    share: float
    source: str


@dataclass(frozen=True, slots=True)
class SourcedBreakdown:
    key: str
    label: str
    defections: int
    lost_revenue: int
    exit_responses: int
    reasons: tuple[SourcedReason, ...] = ()
    low_sample: bool = False


def exit_reason_counts(
    group_by: Dimension | None, f: DefectionFilter
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Exit responses per group and the reasons they gave (main and other, each once
    per response), grouped like `defection_reasons`. Two small queries;
    other reasons are a short comma list per response, split here."""
    key = defection_group_column(group_by) if group_by is not None else None
    keys: list[Any] = [key] if key is not None else []
    conditions = defection_conditions(f)
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
        group = group_key(row[0]) if key is not None else ALL_KEY
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
    `defection_reasons` (every exit respondent has a defection)."""
    if source is not None and source not in SOURCES:
        raise InvalidInputError(f"Unknown source {source!r}.", field="source")
    f = f or DefectionFilter()
    staff = defection_reasons(group_by, f, locale=locale, min_group_size=min_group_size)
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
                for r in reason_shares(exit_reasons.get(group.key, {}), answered)
            ]
        result.append(
            SourcedBreakdown(
                key=group.key,
                label=group.label,
                defections=group.defections,
                lost_revenue=group.lost_revenue,
                exit_responses=answered,
                reasons=tuple(reasons),
                low_sample=group.low_sample,
            )
        )
    return result


# ---------------------------------------------------------------------------
# Per month, stacked by main reason (the results page's chart)


@dataclass(frozen=True, slots=True)
class MonthReasons:
    """Defections in one month ("YYYY-MM") by their main (primary) reason: each
    defection counted once, so the counts add up to `defections`. A defection
    recorded without a main reason counts under the reason "" (not recorded)."""

    month: str
    defections: int
    #: (reason, count), reasons in vocabulary order, "" last.
    reasons: tuple[tuple[str, int], ...]


def defections_by_month_and_main_reason(f: DefectionFilter | None = None) -> list[MonthReasons]:
    """Defections matching `f` per month and main reason, months in calendar order.
    One statement: GROUP BY month, reason."""
    f = f or DefectionFilter()
    validate_defection_filter(f)
    month = year_month(Defection.defected_on)
    rows = db.session.execute(
        select(month, DefectionReason.reason, func.count(Defection.id))
        .select_from(Defection)
        .join(KeyAccount, KeyAccount.id == Defection.account_id)
        .outerjoin(
            DefectionReason,
            and_(
                DefectionReason.defection_id == Defection.id,
                DefectionReason.is_primary.is_(True),
            ),
        )
        .where(*defection_conditions(f))
        .group_by(month, DefectionReason.reason)
    ).all()
    by_month: dict[str, dict[str, int]] = defaultdict(dict)
    for key, reason, count in rows:
        by_month[group_key(key)][reason or ""] = int(count)
    return [
        MonthReasons(
            month=m,
            defections=sum(counts.values()),
            reasons=tuple(sorted(counts.items(), key=lambda item: reason_order(item[0]))),
        )
        for m, counts in sorted(by_month.items())
    ]
