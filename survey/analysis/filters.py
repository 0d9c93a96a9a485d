"""What the analysis counts and how it groups it: the filters (ResponseFilter,
DefectionFilter, Weight) and their validation, the SQL conditions they become, the
dimensions groups are keyed by, and each key's label and natural order.

The other analysis modules build their queries from these, so a filter or a
dimension means the same in every figure. The month of a response is the UTC month
of its submission, "YYYY-MM"; the month of a defection is the month of `defected_on`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, String, exists, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from survey.db import db
from survey.errors import InvalidInputError
from survey.models import Answer, Aspect, Campaign, Contact, Defection, KeyAccount, Response
from survey.scale import (
    TIER_LABELS,
    TIERS,
    Channel,
    ContactRole,
    RelationshipStage,
    ValueType,
    normalise_locale,
)

#: Below this many answers (or accounts) a group's shares are too uncertain to act on:
#: it is flagged `low_sample` (the MIN_GROUP_SIZE setting overrides it in the apps).
DEFAULT_MIN_GROUP_SIZE = 5

#: A share's 95% interval (low, high), or None when there is nothing to estimate from.
Interval = tuple[float, float] | None


class Weight(StrEnum):
    """How much each answer counts in a summary's mean and shares.

    ANSWERS: every answer once (how many answers said so). ACCOUNTS: each responding
    account once however many of its people answered: through its latest campaign in
    the filter (by opening), where each respondent's answer weighs 1/k, k being the
    account's respondents in that campaign who answered that aspect, so the account
    counts with the mean of its people (two contacts saying 5 and 1: one account,
    mean 3, half satisfied, half dissatisfied). REVENUE: the same, each account
    weighing its annual revenue ("are the accounts that bring most of our business
    satisfied?"). DESIGN: the same, each account weighing 1/π, π being the inclusion
    probability its invitation recorded (1 for census and coverage accounts, n_h/N_h
    when drawn at random in stratum h): the Hájek estimate Σw·y / Σw of the whole
    frame, correcting for strata sampled at different rates. Each of k respondents
    of an account in a campaign weighs 1/(k·π); a response whose invitation has no π
    (none should after migration 0007) counts with π = 1. Weighted intervals use
    Kish's effective n = (Σw)² / Σw² over the accounts' weights.
    """

    ANSWERS = "answers"
    ACCOUNTS = "accounts"
    REVENUE = "revenue"
    DESIGN = "design"


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
    #: The role of the contact who answered (ContactRole); answers without one: other.
    #: Answers only: defections and accounts have no respondent.
    CONTACT_ROLE = "contact_role"


#: Dimensions a defection can be grouped by (it has no aspect and no campaign).
DEFECTION_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension.TIER,
    Dimension.VALUE_TYPE,
    Dimension.RELATIONSHIP_STAGE,
    Dimension.REGION,
    Dimension.ACCOUNT_MANAGER,
    Dimension.MONTH,
)
#: Dimensions whose groups have an order of their own (the value pyramid, a vocabulary,
#: time): lists of their groups follow it (tier A, B, C, then any other), never a figure.
ORDERED_DIMENSIONS: frozenset[Dimension] = frozenset(
    {
        Dimension.ASPECT,
        Dimension.TIER,
        Dimension.VALUE_TYPE,
        Dimension.RELATIONSHIP_STAGE,
        Dimension.CAMPAIGN,
        Dimension.MONTH,
        Dimension.CONTACT_ROLE,
    }
)
#: Dimensions an account (not an answer) can be grouped by.
ACCOUNT_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension.TIER,
    Dimension.VALUE_TYPE,
    Dimension.RELATIONSHIP_STAGE,
    Dimension.REGION,
    Dimension.ACCOUNT_MANAGER,
)

#: Key and labels of the one group a figure has when it is not grouped.
ALL_KEY = "all"
_ALL_LABELS = {"zh": "全部", "en": "All"}

#: How far back "recently" reaches (coverage, defections after a response), in days.
DEFAULT_WINDOW_DAYS = 365
MAX_WINDOW_DAYS = 3660


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


def check_window(within_days: int) -> None:
    """Raise InvalidInputError unless `within_days` is 1..MAX_WINDOW_DAYS."""
    if not 1 <= within_days <= MAX_WINDOW_DAYS:
        raise InvalidInputError(
            f"`withinDays` must be between 1 and {MAX_WINDOW_DAYS}, got {within_days}.",
            field="withinDays",
        )


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


def defection_conditions(f: DefectionFilter) -> list[ColumnElement[bool]]:
    """Conditions selecting the defections `f` asks for (needs KeyAccount joined)."""
    conditions = _account_conditions(
        f.tier, f.value_type, f.relationship_stage, f.region, f.account_manager
    )
    if f.since is not None:
        conditions.append(Defection.defected_on >= f.since)
    if f.until is not None:
        conditions.append(Defection.defected_on <= f.until)
    return conditions


def response_level_conditions(f: ResponseFilter) -> list[ColumnElement[bool]]:
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
    conditions = response_level_conditions(f)
    answer_conditions = _answer_level_conditions(f)
    if answer_conditions:
        conditions.append(
            exists()
            .where(Answer.response_id == Response.id, Aspect.id == Answer.aspect_id)
            .where(*answer_conditions)
        )
    return conditions


def matching_answers(stmt: Select[Any], f: ResponseFilter) -> Select[Any]:
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
    need_contact = Contact.__table__ in read
    need_response = (
        need_account
        or need_contact
        or any(v is not None for v in (f.campaign_id, f.channel, f.since, f.until))
        or Response.__table__ in read
    )
    stmt = stmt.select_from(Answer)
    if need_response:
        stmt = stmt.join(Response, Response.id == Answer.response_id)
    if need_account:
        stmt = stmt.join(KeyAccount, KeyAccount.id == Response.account_id)
    if need_contact:
        # Responses older than contacts have none: they count under "other".
        stmt = stmt.outerjoin(Contact, Contact.id == Response.contact_id)
    if f.aspect is not None or Aspect.__table__ in read:
        stmt = stmt.join(Aspect, Aspect.id == Answer.aspect_id)
    return stmt.where(*response_level_conditions(f), *_answer_level_conditions(f))


# ---------------------------------------------------------------------------
# Dimensions: the SQL key of each, its label and its natural order


def group_column(dimension: Dimension) -> ColumnElement[Any]:
    """The SQL key of `dimension` for answers, responses and accounts (CONTACT_ROLE:
    answers and responses only, with the respondent joined as matching_answers does)."""
    return {
        Dimension.ASPECT: Aspect.code,
        Dimension.TIER: KeyAccount.tier,
        Dimension.VALUE_TYPE: KeyAccount.value_type,
        Dimension.RELATIONSHIP_STAGE: KeyAccount.relationship_stage,
        Dimension.REGION: KeyAccount.region,
        Dimension.ACCOUNT_MANAGER: KeyAccount.account_manager,
        Dimension.CAMPAIGN: Response.campaign_id,
        Dimension.MONTH: year_month(Response.submitted_at),
        # A constant, not a parameter: SELECT and GROUP BY must read the same on PostgreSQL.
        Dimension.CONTACT_ROLE: func.coalesce(
            Contact.role, literal_column(f"'{ContactRole.OTHER.value}'", String)
        ),
    }[dimension]


def defection_group_column(dimension: Dimension) -> ColumnElement[Any]:
    """The SQL key of `dimension` for defections; InvalidInputError for one they lack."""
    if dimension not in DEFECTION_DIMENSIONS:
        allowed = ", ".join(d.name for d in DEFECTION_DIMENSIONS)
        raise InvalidInputError(
            f"Defections cannot be grouped by {dimension.name}: use one of {allowed}.",
            field="groupBy",
        )
    if dimension is Dimension.MONTH:
        return year_month(Defection.defected_on)
    return group_column(dimension)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A group key's label and its place in the dimension's natural order."""

    label: str
    order: tuple[Any, ...]


def _enum_info(enum: Any, key: str, locale: str) -> KeyInfo:
    members = list(enum)
    try:
        member = enum(key)
    except ValueError:
        return KeyInfo(key, (len(members), key))
    return KeyInfo(member.label(locale), (members.index(member), key))


def key_infos(dimension: Dimension, keys: Iterable[str], locale: str) -> dict[str, KeyInfo]:
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
            code: KeyInfo(en if locale == "en" else zh, (position, code))
            for code, zh, en, position in rows
        }
    if dimension is Dimension.CAMPAIGN:
        rows = db.session.execute(
            select(Campaign.id, Campaign.name).where(Campaign.id.in_([int(k) for k in keys]))
        ).all()
        return {str(cid): KeyInfo(name, (cid,)) for cid, name in rows}
    if dimension is Dimension.TIER:
        # The pyramid from the top (A, B, C), then any other tier by its name.
        return {
            k: KeyInfo(TIER_LABELS[k][1 if locale == "en" else 0], (TIERS.index(k), k))
            if k in TIERS
            else KeyInfo(k, (len(TIERS), k))
            for k in keys
        }
    if dimension is Dimension.VALUE_TYPE:
        return {k: _enum_info(ValueType, k, locale) for k in keys}
    if dimension is Dimension.RELATIONSHIP_STAGE:
        return {k: _enum_info(RelationshipStage, k, locale) for k in keys}
    if dimension is Dimension.CONTACT_ROLE:
        return {k: _enum_info(ContactRole, k, locale) for k in keys}
    # Region, account manager and month are their own labels.
    return {k: KeyInfo(k, (k,)) for k in keys}


def dimension_labels(
    dimension: Dimension, keys: Iterable[str], locale: str | None = None
) -> dict[str, str]:
    """The label of each key of `dimension` in `locale`; unknown keys label themselves."""
    keys = list(keys)
    infos = key_infos(dimension, keys, resolve_locale(locale))
    return {k: infos[k].label if k in infos else k for k in keys}


def resolve_locale(locale: str | None) -> str:
    """The locale labels are given in: `locale` if supported, else Chinese."""
    return normalise_locale(locale) or "zh"


def group_key(value: Any) -> str:
    """The string key of a group from its SQL value (NULL becomes "")."""
    return "" if value is None else str(value)


def group_label(key: str, infos: dict[str, KeyInfo], locale: str) -> str:
    """The label of a group: from `infos`, "All" for ALL_KEY, else the key itself."""
    if key in infos:
        return infos[key].label
    return _ALL_LABELS[locale] if key == ALL_KEY else key
