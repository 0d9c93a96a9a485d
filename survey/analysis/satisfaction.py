"""How satisfied key accounts are: score summaries per group (weighted by answers,
accounts, revenue or the sampling design, with 95% intervals), and each account's
trend across campaigns.

SQL does the counting (GROUP BY with conditional sums); Python only arranges the
few result rows into dataclasses. Every function issues a small, fixed number of
statements whatever the size of the data, so the GraphQL layer can call them per
request without N+1 surprises.

An *answer* is one (response, aspect) score. "Dissatisfied" is a score of 1-2,
"satisfied" 4-5 (survey.scale).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, select

from survey.analysis.filters import (
    DEFAULT_MIN_GROUP_SIZE,
    Dimension,
    Interval,
    KeyInfo,
    ResponseFilter,
    Weight,
    group_column,
    group_key,
    key_infos,
    matching_answers,
    resolve_locale,
    validate_response_filter,
)
from survey.analysis.weighting import weighted_groups
from survey.db import db, read_rows
from survey.models import Answer, Aspect, Campaign, Response
from survey.scale import DISSATISFIED_MAX, OVERALL, SATISFIED_MIN
from survey.statistics import kish_effective_n, weighted_wilson_interval, wilson_interval


@dataclass(frozen=True, slots=True)
class Distribution:
    very_dissatisfied: int = 0
    somewhat_dissatisfied: int = 0
    no_opinion: int = 0
    satisfied: int = 0
    very_satisfied: int = 0


@dataclass(frozen=True, slots=True)
class SatisfactionGroup:
    """Answers in one group; mean and shares are None when the group has no answers."""

    key: str
    label: str
    answers: int
    distribution: Distribution
    mean: float | None
    satisfied_share: float | None
    dissatisfied_share: float | None
    #: 95% Wilson intervals of the shares; None with no answers. Weighted by revenue,
    #: the interval uses Kish's effective sample size (an approximation).
    satisfied_share_interval: Interval = None
    dissatisfied_share_interval: Interval = None
    #: Fewer answers (accounts, when weighted) than the minimum group size.
    low_sample: bool = False
    #: Accounts counted under the ACCOUNTS, REVENUE or DESIGN weight; None under ANSWERS.
    accounts: int | None = None


def _score_columns() -> list[ColumnElement[Any]]:
    return list(_SCORE_COLUMNS)


# count(*), not count(answers.id): answers are the base of every such query (never the
# outer side of a join), so both count the same, and SQLite reads no column for
# count(*) (a tenth of a summary by aspect). The scale's constants are written into the
# SQL, not bound. The expressions are immutable: made once, not per request.
_SCORE_COLUMNS: tuple[ColumnElement[Any], ...] = (
    func.count(),
    func.coalesce(func.sum(Answer.score), literal_column("0")),
    *(
        func.sum(
            case(
                (Answer.score == literal_column(str(score)), literal_column("1")),
                else_=literal_column("0"),
            )
        )
        for score in range(1, 6)
    ),
)


def _group(
    key: str,
    label: str,
    counts: Sequence[Any] | None,
    min_size: int = DEFAULT_MIN_GROUP_SIZE,
    weight: Weight = Weight.ANSWERS,
) -> SatisfactionGroup:
    if not counts or not counts[0]:
        return SatisfactionGroup(
            key,
            label,
            0,
            Distribution(),
            None,
            None,
            None,
            low_sample=True,
            accounts=None if weight is Weight.ANSWERS else 0,
        )
    answers, total = int(counts[0]), int(counts[1])
    by_score = [int(c) for c in counts[2:7]]
    satisfied = sum(by_score[SATISFIED_MIN - 1 :])
    dissatisfied = sum(by_score[:DISSATISFIED_MAX])
    if weight is Weight.ANSWERS:
        return SatisfactionGroup(
            key=key,
            label=label,
            answers=answers,
            distribution=Distribution(*by_score),
            mean=total / answers,
            satisfied_share=satisfied / answers,
            dissatisfied_share=dissatisfied / answers,
            satisfied_share_interval=wilson_interval(satisfied, answers),
            dissatisfied_share_interval=wilson_interval(dissatisfied, answers),
            low_sample=answers < min_size,
        )
    w, w_score, w_satisfied, w_dissatisfied, w_squared = (float(c or 0) for c in counts[7:12])
    accounts = int(counts[12] or 0)
    if w <= 0:
        mean = satisfied_share = dissatisfied_share = None
        n_eff = 0.0
    else:
        mean, satisfied_share, dissatisfied_share = w_score / w, w_satisfied / w, w_dissatisfied / w
        # ACCOUNTS: weights of 1, so n_eff is the number of accounts and Wilson is exact.
        n_eff = kish_effective_n(w, w_squared)
    return SatisfactionGroup(
        key=key,
        label=label,
        answers=answers,
        distribution=Distribution(*by_score),
        mean=mean,
        satisfied_share=satisfied_share,
        dissatisfied_share=dissatisfied_share,
        satisfied_share_interval=weighted_wilson_interval(satisfied_share, n_eff),
        dissatisfied_share_interval=weighted_wilson_interval(dissatisfied_share, n_eff),
        low_sample=accounts < min_size,
        accounts=accounts,
    )


def _aspect_infos(f: ResponseFilter, locale: str) -> dict[str, KeyInfo]:
    """Every aspect (or the filter's one) with its label and order, in one query."""
    stmt = select(Aspect.code, Aspect.label_zh, Aspect.label_en, Aspect.position)
    if f.aspect is not None:
        stmt = stmt.where(Aspect.code == f.aspect)
    return {
        code: KeyInfo(en if locale == "en" else zh, (position, code))
        for code, zh, en, position in read_rows(stmt)
    }


def satisfaction_summary(
    group_by: Dimension,
    f: ResponseFilter | None = None,
    *,
    locale: str | None = None,
    weight: Weight = Weight.ANSWERS,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> list[SatisfactionGroup]:
    """Answers matching `f` per group of `group_by`, in the dimension's natural order.

    Grouped by ASPECT, every aspect appears (those without answers with zeros and
    null mean), so a report shows every question; other groups appear when they have
    answers. Mean and shares follow `weight` (see Weight); `answers` and the
    distribution stay raw counts of the answers matching `f`. Every share carries a
    95% Wilson interval; groups under `min_group_size` are flagged `low_sample`.
    """
    return satisfaction_summaries(
        group_by, f, locale=locale, weight=weight, min_group_size=min_group_size
    )[None]


def satisfaction_summaries(
    group_by: Dimension,
    f: ResponseFilter | None = None,
    *,
    campaign_ids: Sequence[int] | None = None,
    locale: str | None = None,
    weight: Weight = Weight.ANSWERS,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> dict[int | None, list[SatisfactionGroup]]:
    """Like `satisfaction_summary`, once per campaign in `campaign_ids` (in one
    GROUP BY for all of them), or once for everything under the key None."""
    f = f or ResponseFilter()
    validate_response_filter(f)
    locale = resolve_locale(locale)
    key = group_column(group_by)
    columns: list[ColumnElement[Any]] = [key]
    if campaign_ids is not None:
        columns.insert(0, Response.campaign_id)
    stmt = matching_answers(select(*columns, *_score_columns()), f).group_by(*columns)
    if campaign_ids is not None:
        stmt = stmt.where(Response.campaign_id.in_(campaign_ids))
    if weight is not Weight.ANSWERS:
        # Still one statement: the raw counts per group beside the weighted sums of
        # each account's latest campaign (see weighting.weighted_groups).
        raw = stmt.with_only_columns(
            *(c.label(f"g{i}") for i, c in enumerate(columns)), *_score_columns()
        ).subquery("raw_groups")
        weighted = weighted_groups(weight, f, columns, campaign_ids)
        same_group = and_(
            *(raw.c[f"g{i}"].is_not_distinct_from(weighted.c[f"g{i}"]) for i in range(len(columns)))
        )
        stmt = select(
            raw,
            *(
                func.coalesce(weighted.c[name], 0)
                for name in ("w", "w_score", "w_satisfied", "w_unhappy", "w_squared", "accounts")
            ),
        ).select_from(raw.outerjoin(weighted, same_group))
    counts: dict[int | None, dict[str, Sequence[Any]]] = defaultdict(dict)
    for row in read_rows(stmt):
        if campaign_ids is not None:
            counts[row[0]][group_key(row[1])] = row[2:]
        else:
            counts[None][group_key(row[0])] = row[1:]

    owners: list[int | None] = list(campaign_ids) if campaign_ids is not None else [None]
    if group_by is Dimension.ASPECT:
        # Every aspect is listed, so its labels come with the list itself.
        infos = _aspect_infos(f, locale)
        every_aspect = list(infos)
    else:
        every_aspect = []
        infos = key_infos(group_by, set().union(*(set(c) for c in counts.values())), locale)
    result: dict[int | None, list[SatisfactionGroup]] = {}
    for owner in owners:
        keys = set(counts.get(owner, {})) | set(every_aspect)
        ordered = sorted(keys, key=lambda k: infos[k].order if k in infos else (k,))
        result[owner] = [
            _group(
                k,
                infos[k].label if k in infos else k,
                counts.get(owner, {}).get(k),
                min_group_size,
                weight,
            )
            for k in ordered
        ]
    return result


def answered_responses(f: ResponseFilter | None = None) -> int:
    """How many responses have an answer matching `f`: what a manager counts when
    a summary says "n answers" per aspect (one answer per response and aspect, so
    a response answering eight aspects gives eight answers). One statement."""
    f = f or ResponseFilter()
    validate_response_filter(f)
    stmt = matching_answers(select(func.count(func.distinct(Answer.response_id))), f)
    return int(db.session.scalar(stmt) or 0)


# ---------------------------------------------------------------------------
# Trends: each account across campaigns


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """An account's mean overall score in one campaign."""

    campaign_id: int
    campaign_name: str
    opens_at: datetime
    mean: float
    answers: int


def satisfaction_trends(account_ids: Sequence[int]) -> dict[int, list[TrendPoint]]:
    """Mean overall score per campaign for each account, oldest campaign first (one query)."""
    if not account_ids:
        return {}
    rows = db.session.execute(
        select(
            Response.account_id,
            Campaign.id,
            Campaign.name,
            Campaign.opens_at,
            func.sum(Answer.score),
            func.count(Answer.id),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Campaign, Campaign.id == Response.campaign_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Aspect.code == OVERALL, Response.account_id.in_(account_ids))
        .group_by(Response.account_id, Campaign.id, Campaign.name, Campaign.opens_at)
        .order_by(Response.account_id, Campaign.opens_at, Campaign.id)
    ).all()
    trends: dict[int, list[TrendPoint]] = defaultdict(list)
    for account_id, campaign_id, name, opens_at, total, count in rows:
        trends[account_id].append(
            TrendPoint(campaign_id, name, opens_at, int(total) / int(count), int(count))
        )
    return trends
