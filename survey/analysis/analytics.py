"""Satisfaction summaries, dissatisfaction drill-downs, defection reasons, trends.

Accounts at risk are ranked by expected lost revenue in survey.insights.

SQL does the counting (GROUP BY with conditional sums); Python only arranges the
few result rows into dataclasses. Every function issues a small, fixed number of
statements whatever the size of the data, so the GraphQL layer can call them per
request without N+1 surprises.

An *answer* is one (response, aspect) score. "Dissatisfied" is a score of 1-2,
"satisfied" 4-5 (survey.scale). The month of a response is the UTC month of its
submission, "YYYY-MM"; the month of a defection is the month of `defected_on`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    case,
    cast,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    Answer,
    AnswerReason,
    Aspect,
    Campaign,
    Defection,
    DefectionReason,
    Invitation,
    KeyAccount,
    Response,
)
from survey.scale import (
    DISSATISFIED_MAX,
    OVERALL,
    SATISFIED_MIN,
    TIER_LABELS,
    Channel,
    ReasonCode,
    RelationshipStage,
    ValueType,
    normalise_locale,
)
from survey.statistics import weighted_wilson_interval, wilson_interval

#: How many comments a drill-down node keeps at most (newest first).
MAX_NODE_COMMENTS = 20

#: Below this many answers (or accounts) a group's shares are too uncertain to act on:
#: it is flagged `low_sample` (the MIN_GROUP_SIZE setting overrides it in the apps).
DEFAULT_MIN_GROUP_SIZE = 5

#: A share's 95% interval (low, high), or None when there is nothing to estimate from.
Interval = tuple[float, float] | None


class Weight(StrEnum):
    """How much each answer counts in a summary's mean and shares.

    ANSWERS: every answer once (how many answers said so). ACCOUNTS: each responding
    account once, through its latest response in the filter. REVENUE: each account
    in proportion to its annual revenue ("are the accounts that bring most of our
    business satisfied?").
    """

    ANSWERS = "answers"
    ACCOUNTS = "accounts"
    REVENUE = "revenue"


class Dimension(StrEnum):
    """What answers, nodes or defections can be grouped by."""

    ASPECT = "aspect"
    TIER = "tier"
    VALUE_TYPE = "value_type"
    RELATIONSHIP_STAGE = "relationship_stage"
    REGION = "region"
    ACCOUNT_MANAGER = "account_manager"
    CAMPAIGN = "campaign"
    MONTH = "month"


#: Dimensions a defection can be grouped by (it has no aspect and no campaign).
DEFECTION_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension.TIER,
    Dimension.VALUE_TYPE,
    Dimension.RELATIONSHIP_STAGE,
    Dimension.REGION,
    Dimension.ACCOUNT_MANAGER,
    Dimension.MONTH,
)


class year_month(FunctionElement[str]):  # noqa: N801  (reads like the SQL function it is)
    """'YYYY-MM' of a date or timestamp column, on SQLite and PostgreSQL alike."""

    type = String()
    name = "year_month"
    inherit_cache = True


@compiles(year_month)
def _year_month_sqlite(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(year_month, "postgresql")
def _year_month_postgresql(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


# ---------------------------------------------------------------------------
# Filters


@dataclass(frozen=True, slots=True)
class ResponseFilter:
    """Which answers (or responses) to count. Dates are inclusive UTC days."""

    campaign_id: int | None = None
    aspect: str | None = None
    tier: str | None = None
    value_type: str | None = None
    relationship_stage: str | None = None
    region: str | None = None
    account_manager: str | None = None
    since: date | None = None
    until: date | None = None
    score_at_most: int | None = None
    score_at_least: int | None = None
    channel: str | None = None  # "web" or "phone": how the response was collected


@dataclass(frozen=True, slots=True)
class DefectionFilter:
    """Which defections to count. Dates are inclusive days of `defected_on`."""

    since: date | None = None
    until: date | None = None
    tier: str | None = None
    value_type: str | None = None
    relationship_stage: str | None = None
    region: str | None = None
    account_manager: str | None = None


def _check_choice(value: str | None, choices: Iterable[str], field_name: str) -> None:
    allowed = list(choices)
    if value is not None and value not in allowed:
        raise InvalidInputError(
            f"Unknown {field_name} {value!r}: use one of {', '.join(allowed)}.", field=field_name
        )


def _check_dates(since: date | None, until: date | None) -> None:
    if since is not None and until is not None and since > until:
        raise InvalidInputError("`since` must not be after `until`.", field="since")


def _check_account_fields(
    tier: str | None, value_type: str | None, relationship_stage: str | None
) -> None:
    _check_choice(tier, TIER_LABELS, "tier")
    _check_choice(value_type, ValueType.codes(), "valueType")
    _check_choice(relationship_stage, RelationshipStage.codes(), "relationshipStage")


def validate_response_filter(f: ResponseFilter) -> None:
    """Raise InvalidInputError (with the field's API name) for a filter that makes no sense."""
    _check_account_fields(f.tier, f.value_type, f.relationship_stage)
    _check_dates(f.since, f.until)
    _check_choice(f.channel, Channel.codes(), "channel")
    for name, score in (("scoreAtMost", f.score_at_most), ("scoreAtLeast", f.score_at_least)):
        if score is not None and not 1 <= score <= 5:
            raise InvalidInputError(f"`{name}` must be between 1 and 5.", field=name)
    if (
        f.score_at_most is not None
        and f.score_at_least is not None
        and f.score_at_least > f.score_at_most
    ):
        raise InvalidInputError(
            "`scoreAtLeast` must not be above `scoreAtMost`.", field="scoreAtLeast"
        )
    if f.aspect is not None:
        known = db.session.scalar(select(Aspect.id).where(Aspect.code == f.aspect))
        if known is None:
            codes = db.session.scalars(select(Aspect.code).order_by(Aspect.position)).all()
            raise InvalidInputError(
                f"Unknown aspect {f.aspect!r}: use one of {', '.join(codes)}.", field="aspect"
            )


def validate_defection_filter(f: DefectionFilter) -> None:
    _check_account_fields(f.tier, f.value_type, f.relationship_stage)
    _check_dates(f.since, f.until)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _account_conditions(
    tier: str | None,
    value_type: str | None,
    relationship_stage: str | None,
    region: str | None,
    account_manager: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (KeyAccount.tier, tier),
        (KeyAccount.value_type, value_type),
        (KeyAccount.relationship_stage, relationship_stage),
        (KeyAccount.region, region),
        (KeyAccount.account_manager, account_manager),
    ):
        if value is not None:
            conditions.append(column == value)
    return conditions


def _response_level_conditions(f: ResponseFilter) -> list[ColumnElement[bool]]:
    """Conditions on the response and its account (needs KeyAccount joined)."""
    conditions = _account_conditions(
        f.tier, f.value_type, f.relationship_stage, f.region, f.account_manager
    )
    if f.campaign_id is not None:
        conditions.append(Response.campaign_id == f.campaign_id)
    if f.channel is not None:
        conditions.append(Response.channel == f.channel)
    if f.since is not None:
        conditions.append(Response.submitted_at >= _day_start(f.since))
    if f.until is not None:
        conditions.append(Response.submitted_at < _day_start(f.until + timedelta(days=1)))
    return conditions


def _answer_level_conditions(f: ResponseFilter) -> list[ColumnElement[bool]]:
    """Conditions on the answer itself (needs Aspect joined)."""
    conditions: list[ColumnElement[bool]] = []
    if f.aspect is not None:
        conditions.append(Aspect.code == f.aspect)
    if f.score_at_most is not None:
        conditions.append(Answer.score <= f.score_at_most)
    if f.score_at_least is not None:
        conditions.append(Answer.score >= f.score_at_least)
    return conditions


def response_conditions(f: ResponseFilter) -> list[ColumnElement[bool]]:
    """Conditions selecting *responses* (KeyAccount joined): the aspect and score
    bounds become "has an answer on that aspect with such a score"."""
    conditions = _response_level_conditions(f)
    answer_conditions = _answer_level_conditions(f)
    if answer_conditions:
        conditions.append(
            exists()
            .where(Answer.response_id == Response.id, Aspect.id == Answer.aspect_id)
            .where(*answer_conditions)
        )
    return conditions


def _answers(stmt: Select[Any], f: ResponseFilter) -> Select[Any]:
    """`stmt` over the answers matching `f`, with response, account and aspect joined
    when its columns or `f` read them.

    Every answer has exactly one response, account and aspect (non-null foreign
    keys), so leaving out a join nobody reads changes no count; it saves a join of
    every answer to the responses and the whole registry (benchmarks/: a summary by
    aspect over all answers took ten times its raw GROUP BY with them).
    """
    read = set(stmt.columns_clause_froms)
    account_filter = any(
        v is not None
        for v in (f.tier, f.value_type, f.relationship_stage, f.region, f.account_manager)
    )
    need_account = account_filter or KeyAccount.__table__ in read
    need_response = (
        need_account
        or any(v is not None for v in (f.campaign_id, f.channel, f.since, f.until))
        or Response.__table__ in read
    )
    stmt = stmt.select_from(Answer)
    if need_response:
        stmt = stmt.join(Response, Response.id == Answer.response_id)
    if need_account:
        stmt = stmt.join(KeyAccount, KeyAccount.id == Response.account_id)
    if f.aspect is not None or Aspect.__table__ in read:
        stmt = stmt.join(Aspect, Aspect.id == Answer.aspect_id)
    return stmt.where(*_response_level_conditions(f), *_answer_level_conditions(f))


# ---------------------------------------------------------------------------
# Dimensions: the SQL key of each, its label and its natural order


def _answer_key(dimension: Dimension) -> ColumnElement[Any]:
    return {
        Dimension.ASPECT: Aspect.code,
        Dimension.TIER: KeyAccount.tier,
        Dimension.VALUE_TYPE: KeyAccount.value_type,
        Dimension.RELATIONSHIP_STAGE: KeyAccount.relationship_stage,
        Dimension.REGION: KeyAccount.region,
        Dimension.ACCOUNT_MANAGER: KeyAccount.account_manager,
        Dimension.CAMPAIGN: Response.campaign_id,
        Dimension.MONTH: year_month(Response.submitted_at),
    }[dimension]


def _defection_key(dimension: Dimension) -> ColumnElement[Any]:
    if dimension not in DEFECTION_DIMENSIONS:
        allowed = ", ".join(d.name for d in DEFECTION_DIMENSIONS)
        raise InvalidInputError(
            f"Defections cannot be grouped by {dimension.name}: use one of {allowed}.",
            field="groupBy",
        )
    if dimension is Dimension.MONTH:
        return year_month(Defection.defected_on)
    return _answer_key(dimension)


@dataclass(frozen=True, slots=True)
class _KeyInfo:
    label: str
    order: tuple[Any, ...]


def _enum_info(enum: Any, key: str, locale: str) -> _KeyInfo:
    members = list(enum)
    try:
        member = enum(key)
    except ValueError:
        return _KeyInfo(key, (len(members), key))
    return _KeyInfo(member.label(locale), (members.index(member), key))


def _key_infos(dimension: Dimension, keys: Iterable[str], locale: str) -> dict[str, _KeyInfo]:
    """Label and sort order of each key; at most one small query (aspects, campaigns)."""
    keys = set(keys)
    if not keys:
        return {}
    if dimension is Dimension.ASPECT:
        rows = db.session.execute(
            select(Aspect.code, Aspect.label_zh, Aspect.label_en, Aspect.position).where(
                Aspect.code.in_(keys)
            )
        ).all()
        return {
            code: _KeyInfo(en if locale == "en" else zh, (position, code))
            for code, zh, en, position in rows
        }
    if dimension is Dimension.CAMPAIGN:
        rows = db.session.execute(
            select(Campaign.id, Campaign.name).where(Campaign.id.in_([int(k) for k in keys]))
        ).all()
        return {str(cid): _KeyInfo(name, (cid,)) for cid, name in rows}
    if dimension is Dimension.TIER:
        return {
            k: _KeyInfo(TIER_LABELS[k][1 if locale == "en" else 0], (k,))
            if k in TIER_LABELS
            else _KeyInfo(k, (k,))
            for k in keys
        }
    if dimension is Dimension.VALUE_TYPE:
        return {k: _enum_info(ValueType, k, locale) for k in keys}
    if dimension is Dimension.RELATIONSHIP_STAGE:
        return {k: _enum_info(RelationshipStage, k, locale) for k in keys}
    # Region, account manager and month are their own labels.
    return {k: _KeyInfo(k, (k,)) for k in keys}


def dimension_labels(
    dimension: Dimension, keys: Iterable[str], locale: str | None = None
) -> dict[str, str]:
    """The label of each key of `dimension` in `locale`; unknown keys label themselves."""
    keys = list(keys)
    infos = _key_infos(dimension, keys, _locale(locale))
    return {k: infos[k].label if k in infos else k for k in keys}


def _locale(locale: str | None) -> str:
    return normalise_locale(locale) or "zh"


def _key(value: Any) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------
# Satisfaction summary


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
    #: Accounts counted under the ACCOUNTS or REVENUE weight; None under ANSWERS.
    accounts: int | None = None


def _score_columns() -> list[ColumnElement[Any]]:
    return [
        func.count(Answer.id),
        func.coalesce(func.sum(Answer.score), 0),
        *(func.sum(case((Answer.score == score, 1), else_=0)) for score in range(1, 6)),
    ]


def _weighted_columns(weight: Weight, latest: Select[Any]) -> list[ColumnElement[Any]]:
    """Sums of w, w·score, w·satisfied, w·dissatisfied, w² and the accounts counted,
    where w is the answer's weight: 0 unless its response is its account's latest."""
    unit: ColumnElement[Any] = (
        cast(KeyAccount.annual_revenue, Float) if weight is Weight.REVENUE else literal(1.0)
    )
    # Floats: squared revenues overflow SQLite's 64-bit integers.
    w = case((Answer.response_id.in_(latest), unit), else_=literal(0.0))
    return [
        func.coalesce(func.sum(w), 0.0),
        func.coalesce(func.sum(w * Answer.score), 0.0),
        func.coalesce(func.sum(case((Answer.score >= SATISFIED_MIN, w), else_=0.0)), 0.0),
        func.coalesce(func.sum(case((Answer.score <= DISSATISFIED_MAX, w), else_=0.0)), 0.0),
        func.coalesce(func.sum(w * w), 0.0),
        func.sum(case((Answer.response_id.in_(latest), 1), else_=0)),
    ]


def _latest_responses(f: ResponseFilter, per_campaign: bool) -> Select[Any]:
    """Ids of each account's latest response among those `f` selects (per campaign
    when summaries are batched by campaign)."""
    partition = [Response.account_id, *([Response.campaign_id] if per_campaign else [])]
    ranked = (
        select(
            Response.id.label("id"),
            func.row_number()
            .over(
                partition_by=partition, order_by=(Response.submitted_at.desc(), Response.id.desc())
            )
            .label("rn"),
        )
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .where(*_response_level_conditions(f))
        .subquery()
    )
    return select(ranked.c.id).where(ranked.c.rn == 1)


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
        n_eff = w * w / w_squared if w_squared else 0.0
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


def _aspect_infos(f: ResponseFilter, locale: str) -> dict[str, _KeyInfo]:
    """Every aspect (or the filter's one) with its label and order, in one query."""
    stmt = select(Aspect.code, Aspect.label_zh, Aspect.label_en, Aspect.position)
    if f.aspect is not None:
        stmt = stmt.where(Aspect.code == f.aspect)
    return {
        code: _KeyInfo(en if locale == "en" else zh, (position, code))
        for code, zh, en, position in db.session.execute(stmt)
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
    locale = _locale(locale)
    key = _answer_key(group_by)
    columns: list[ColumnElement[Any]] = [key]
    if campaign_ids is not None:
        columns.insert(0, Response.campaign_id)
    measures = _score_columns()
    if weight is not Weight.ANSWERS:
        # Still one GROUP BY: the weight is 0 for answers outside the latest responses.
        measures += _weighted_columns(weight, _latest_responses(f, campaign_ids is not None))
    stmt = _answers(select(*columns, *measures), f).group_by(*columns)
    if campaign_ids is not None:
        stmt = stmt.where(Response.campaign_id.in_(campaign_ids))
    counts: dict[int | None, dict[str, Sequence[Any]]] = defaultdict(dict)
    for row in db.session.execute(stmt):
        if campaign_ids is not None:
            counts[row[0]][_key(row[1])] = row[2:]
        else:
            counts[None][_key(row[0])] = row[1:]

    owners: list[int | None] = list(campaign_ids) if campaign_ids is not None else [None]
    if group_by is Dimension.ASPECT:
        # Every aspect is listed, so its labels come with the list itself.
        infos = _aspect_infos(f, locale)
        every_aspect = list(infos)
    else:
        every_aspect = []
        infos = _key_infos(group_by, set().union(*(set(c) for c in counts.values())), locale)
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


# ---------------------------------------------------------------------------
# Dissatisfaction drill-down


@dataclass(frozen=True, slots=True)
class ReasonShare:
    """How often a reason was given: `share` = count / the group's size (0..1)."""

    reason: str
    count: int
    share: float
    #: The group's size `share` is a part of (0 when unknown).
    of: int = 0

    @property
    def share_interval(self) -> Interval:
        """95% Wilson interval of `share`."""
        return wilson_interval(self.count, self.of) if self.of >= self.count else None


@dataclass(slots=True)
class DrilldownNode:
    dimension: Dimension
    key: str
    label: str
    answers: int
    dissatisfied: int
    dissatisfied_share: float
    top_reasons: list[ReasonShare] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    children: list[DrilldownNode] = field(default_factory=list)
    #: Fewer answers than the minimum group size: still returned, but flagged.
    low_sample: bool = False

    @property
    def dissatisfied_share_interval(self) -> Interval:
        """95% Wilson interval of `dissatisfied_share`."""
        return wilson_interval(self.dissatisfied, self.answers)


def _reason_order(code: str) -> int:
    codes = ReasonCode.codes()
    return codes.index(code) if code in codes else len(codes)


def _reason_shares(counts: dict[str, int], total: int) -> list[ReasonShare]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], _reason_order(item[0])))
    return [ReasonShare(reason, n, n / total if total else 0.0, total) for reason, n in ordered]


def _validate_levels(by: Sequence[Dimension]) -> None:
    if not by:
        raise InvalidInputError("Give at least one dimension to drill down by.", field="by")
    if len(set(by)) != len(by):
        raise InvalidInputError("Each dimension may appear once in `by`.", field="by")


def dissatisfaction_drilldown(
    by: Sequence[Dimension],
    f: ResponseFilter | None = None,
    *,
    locale: str | None = None,
    comments_limit: int = MAX_NODE_COMMENTS,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> list[DrilldownNode]:
    """Split the dissatisfied answers (scores 1-2) matching `f` by `by[0]`, each node
    by `by[1]`, and so on; siblings sorted by `dissatisfied`, most first.

    A node exists when it holds at least one dissatisfied answer. `answers` counts
    all its answers matching `f`, so `dissatisfied_share` = dissatisfied / answers.
    Reasons are those given for the node's dissatisfied answers (share of them);
    comments are their reason texts and their responses' comments, newest first
    (an answer's reason text before its response's comment).
    Three GROUP BY queries over the finest cells, whatever the depth and the number
    of nodes; every coarser node adds up its cells in Python.
    """
    f = f or ResponseFilter()
    validate_response_filter(f)
    _validate_levels(by)
    locale = _locale(locale)
    dissatisfied = Answer.score <= DISSATISFIED_MAX
    depth = len(by)
    keys = [_answer_key(d).label(f"k{i}") for i, d in enumerate(by)]
    group_keys = [_answer_key(d) for d in by]

    # Each answer sits in exactly one finest cell, so a coarser node's counts and
    # reasons are the sums of its cells': one pass over the answers, not one per level.
    # No HAVING here: a cell without complaints still counts towards its parent's answers.
    counts: list[dict[tuple[str, ...], list[int]]] = [defaultdict(lambda: [0, 0]) for _ in by]
    for row in db.session.execute(
        _answers(
            select(*keys, func.count(Answer.id), func.sum(case((dissatisfied, 1), else_=0))), f
        ).group_by(*group_keys)
    ):
        path = tuple(_key(v) for v in row[:depth])
        answers, unhappy = int(row[depth]), int(row[depth + 1] or 0)
        for level in range(depth):
            total = counts[level][path[: level + 1]]
            total[0] += answers
            total[1] += unhappy

    reason_counts: list[dict[tuple[str, ...], dict[str, int]]] = [
        defaultdict(lambda: defaultdict(int)) for _ in by
    ]
    for row in db.session.execute(
        _answers(select(*keys, AnswerReason.reason, func.count()), f)
        .join(AnswerReason, AnswerReason.answer_id == Answer.id)
        .where(dissatisfied)
        .group_by(*group_keys, AnswerReason.reason)
    ):
        path = tuple(_key(v) for v in row[:depth])
        for level in range(depth):
            reason_counts[level][path[: level + 1]][row[depth]] += int(row[depth + 1])

    texts = _node_comments(keys, f, comments_limit) if comments_limit > 0 else {}

    levels: list[dict[tuple[str, ...], DrilldownNode]] = []
    for level in range(depth):
        nodes: dict[tuple[str, ...], DrilldownNode] = {}
        present = {path: c for path, c in counts[level].items() if c[1] > 0}
        infos = _key_infos(by[level], {path[-1] for path in present}, locale)
        comments = _merge_comments(texts, level + 1, comments_limit)
        for path, (answers, unhappy) in present.items():
            info = infos.get(path[-1])
            nodes[path] = DrilldownNode(
                dimension=by[level],
                key=path[-1],
                label=info.label if info else path[-1],
                answers=answers,
                dissatisfied=unhappy,
                dissatisfied_share=unhappy / answers,
                top_reasons=_reason_shares(dict(reason_counts[level].get(path, {})), unhappy),
                comments=comments.get(path, []),
                low_sample=answers < min_group_size,
            )
        levels.append(nodes)

    for level in range(depth - 1, 0, -1):
        for path, node in levels[level].items():
            parent = levels[level - 1].get(path[:-1])
            if parent is not None:
                parent.children.append(node)
    for nodes in levels:
        for node in nodes.values():
            node.children.sort(key=lambda n: (-n.dissatisfied, n.key))
    return sorted(levels[0].values(), key=lambda n: (-n.dissatisfied, n.key))


@dataclass(frozen=True, slots=True)
class _Text:
    """A reason text (kind 0, id of its answer) or a comment (kind 1, id of its response)."""

    at: datetime
    kind: int
    source_id: int
    text: str

    @property
    def newest_first(self) -> tuple[Any, ...]:
        # The SQL window's order: newest first, reason text before comment, higher id first.
        return (-self.at.timestamp(), self.kind, -self.source_id)


def _merge_comments(
    texts: dict[tuple[str, ...], list[_Text]], length: int, limit: int
) -> dict[tuple[str, ...], list[str]]:
    """The newest `limit` texts of each node `length` levels deep, from its cells'.

    A node's newest `limit` are among its cells' newest `limit` each; a response's
    comment can sit in several cells of one node and counts once.
    """
    grouped: dict[tuple[str, ...], dict[tuple[int, int], _Text]] = defaultdict(dict)
    for cell, cell_texts in texts.items():
        unique = grouped[cell[:length]]
        for t in cell_texts:
            unique[(t.kind, t.source_id)] = t
    return {
        path: [t.text for t in sorted(unique.values(), key=lambda t: t.newest_first)[:limit]]
        for path, unique in grouped.items()
    }


def _node_comments(
    keys: list[Any], f: ResponseFilter, limit: int
) -> dict[tuple[str, ...], list[_Text]]:
    """The newest `limit` texts per cell: dissatisfied answers' reason texts and the
    comments of responses with a dissatisfied answer in the cell (one query)."""
    dissatisfied = Answer.score <= DISSATISFIED_MAX
    reason_texts = _answers(
        select(
            *keys,
            Answer.reason_text.label("text"),
            Response.submitted_at.label("at"),
            literal(0).label("kind"),
            Answer.id.label("tiebreak"),
        ),
        f,
    ).where(dissatisfied, Answer.reason_text.is_not(None), Answer.reason_text != "")
    comments = (
        _answers(
            select(
                *keys,
                Response.comment.label("text"),
                Response.submitted_at.label("at"),
                literal(1).label("kind"),
                Response.id.label("tiebreak"),
            ),
            f,
        )
        .where(dissatisfied, Response.comment.is_not(None), Response.comment != "")
        .distinct()
    )
    texts = union_all(reason_texts, comments).subquery()
    key_columns = [texts.c[f"k{i}"] for i in range(len(keys))]
    ranked = select(
        *key_columns,
        texts.c.text,
        texts.c.at,
        texts.c.kind,
        texts.c.tiebreak,
        func.row_number()
        .over(
            partition_by=key_columns,
            order_by=(texts.c.at.desc(), texts.c.kind, texts.c.tiebreak.desc()),
        )
        .label("rn"),
    ).subquery()
    rows = db.session.execute(
        select(ranked).where(ranked.c.rn <= limit).order_by(ranked.c.rn)
    ).all()
    result: dict[tuple[str, ...], list[_Text]] = defaultdict(list)
    n = len(keys)
    for row in rows:
        text, at, kind, tiebreak = row[n : n + 4]
        result[tuple(_key(v) for v in row[:n])].append(_Text(at, int(kind), int(tiebreak), text))
    return result


# ---------------------------------------------------------------------------
# Defection reasons


@dataclass(frozen=True, slots=True)
class ReasonBreakdown:
    """Defections in one group; reason shares are of the group's defections."""

    key: str
    label: str
    defections: int
    lost_revenue: int
    reasons: list[ReasonShare]
    #: Fewer defections than the minimum group size.
    low_sample: bool = False


ALL_KEY = "all"
_ALL_LABELS = {"zh": "全部", "en": "All"}


def defection_reasons(
    group_by: Dimension | None = None,
    f: DefectionFilter | None = None,
    *,
    locale: str | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> list[ReasonBreakdown]:
    """Why accounts left, which kind and when: defections matching `f` per group,
    with every reason given (primary and secondary) counted once per defection.

    Without `group_by` there is one group, key "all". Groups by MONTH come in
    calendar order, others with the most defections first. Two queries.
    """
    f = f or DefectionFilter()
    validate_defection_filter(f)
    locale = _locale(locale)
    key = _defection_key(group_by) if group_by is not None else None
    conditions = _account_conditions(
        f.tier, f.value_type, f.relationship_stage, f.region, f.account_manager
    )
    if f.since is not None:
        conditions.append(Defection.defected_on >= f.since)
    if f.until is not None:
        conditions.append(Defection.defected_on <= f.until)
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

    def group_key(row: Sequence[Any]) -> str:
        return _key(row[0]) if key is not None else ALL_KEY

    offset = 1 if key is not None else 0
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    for row in reason_rows:
        reasons[group_key(row)][row[offset]] = int(row[offset + 1])
    result: list[ReasonBreakdown] = []
    infos = _key_infos(group_by, [group_key(r) for r in groups], locale) if group_by else {}
    for row in groups:
        count = int(row[offset])
        if count == 0:  # no GROUP BY over no rows still yields one row of zeros
            continue
        k = group_key(row)
        label = infos[k].label if k in infos else _ALL_LABELS[locale] if k == ALL_KEY else k
        result.append(
            ReasonBreakdown(
                key=k,
                label=label,
                defections=count,
                lost_revenue=int(row[offset + 1]),
                reasons=_reason_shares(reasons.get(k, {}), count),
                low_sample=count < min_group_size,
            )
        )
    if group_by is Dimension.MONTH:
        result.sort(key=lambda g: g.key)
    else:
        result.sort(key=lambda g: (-g.defections, infos[g.key].order if g.key in infos else ()))
    return result


# ---------------------------------------------------------------------------
# Dissatisfied aspects (survey.insights ranks accounts at risk with them)


def dissatisfied_aspects_by_response(response_ids: Sequence[int]) -> dict[int, list[str]]:
    """The aspect codes each response rated 1-2, in questionnaire order (one query)."""
    aspects: dict[int, list[str]] = defaultdict(list)
    if not response_ids:
        return aspects
    for response_id, code in db.session.execute(
        select(Answer.response_id, Aspect.code)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Answer.response_id.in_(response_ids), Answer.score <= DISSATISFIED_MAX)
        .order_by(Answer.response_id, Aspect.position, Aspect.code)
    ):
        aspects[response_id].append(code)
    return aspects


# ---------------------------------------------------------------------------
# Per-account and per-campaign figures, batched over many ids


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


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    sampled: int
    responded: int

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.sampled if self.sampled else None


def campaign_progress(campaign_ids: Sequence[int]) -> dict[int, CampaignProgress]:
    """Invitations and responses per campaign (one query); missing ids get zeros."""
    result = {cid: CampaignProgress(0, 0) for cid in campaign_ids}
    if not campaign_ids:
        return result
    for campaign_id, sampled, responded in db.session.execute(
        select(Invitation.campaign_id, func.count(Invitation.id), func.count(Response.id))
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(Invitation.campaign_id.in_(campaign_ids))
        .group_by(Invitation.campaign_id)
    ):
        result[campaign_id] = CampaignProgress(int(sampled), int(responded))
    return result
