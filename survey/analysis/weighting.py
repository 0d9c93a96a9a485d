"""How much each answer weighs under ACCOUNTS, REVENUE and DESIGN (see Weight): the
SQL subqueries the summaries, drill-downs and campaign margins aggregate.

Each account counts through its latest campaign among the responses a filter
selects (every campaign, when figures are per campaign) and, within it, through
every respondent: an answer weighs 1/k of the account's unit, k being how many of
its respondents in that campaign answered that aspect, so an account weighs one
unit per aspect however many of its people answered. The unit is 1 (ACCOUNTS), the
account's annual revenue (REVENUE) or 1/π of the respondent's invitation (DESIGN;
a missing or zero π counts as 1). Kish's effective n is taken over the accounts'
weights (survey.statistics.kish_effective_n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, case, cast, func, literal, select

from survey.analysis.filters import (
    ResponseFilter,
    Weight,
    matching_answers,
    response_level_conditions,
)
from survey.models import Answer, Campaign, Invitation, KeyAccount, Response
from survey.scale import DISSATISFIED_MAX, SATISFIED_MIN
from survey.statistics import kish_effective_n


def weight_unit(weight: Weight) -> ColumnElement[Any]:
    """What one account weighs under `weight` (a float SQL expression): 1, its annual
    revenue, or 1/π of its invitation (needs Invitation joined; a missing or zero π
    counts as 1, as for a census account)."""
    if weight is Weight.REVENUE:
        return cast(KeyAccount.annual_revenue, Float)
    if weight is Weight.DESIGN:
        probability = func.coalesce(
            func.nullif(cast(Invitation.inclusion_probability, Float), 0.0), 1.0
        )
        return literal(1.0) / probability
    return literal(1.0)


def latest_campaigns(f: ResponseFilter, *, per_campaign: bool) -> Any:
    """(account_id, campaign_id) of each account's latest campaign among the responses
    `f` selects (latest by opening, then id); every pair when batched by campaign."""
    partition = [Response.account_id, *([Response.campaign_id] if per_campaign else [])]
    ranked = (
        select(
            Response.account_id.label("account_id"),
            Response.campaign_id.label("campaign_id"),
            func.row_number()
            .over(partition_by=partition, order_by=(Campaign.opens_at.desc(), Campaign.id.desc()))
            .label("rn"),
        )
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .join(Campaign, Campaign.id == Response.campaign_id)
        .where(*response_level_conditions(f))
        .subquery("ranked_campaigns")
    )
    return (
        select(ranked.c.account_id, ranked.c.campaign_id)
        .where(ranked.c.rn == 1)
        .subquery("latest_campaigns")
    )


def weighted_answers(
    weight: Weight,
    f: ResponseFilter,
    keys: Sequence[ColumnElement[Any]],
    campaign_ids: Sequence[int] | None = None,
) -> Select[Any]:
    """A SELECT of the answers matching `f` that count under `weight`: their groups
    (g0, g1 ... of `keys`), account_id, score and weight w (the account's unit / k)."""
    unit = weight_unit(weight)
    latest = latest_campaigns(f, per_campaign=campaign_ids is not None)
    respondents = func.count().over(
        partition_by=(Response.account_id, Response.campaign_id, Answer.aspect_id)
    )
    labelled = [k.label(f"g{i}") for i, k in enumerate(keys)]
    answers = matching_answers(
        select(
            *labelled,
            Response.account_id.label("account_id"),
            Answer.score.label("score"),
            # Floats: squared revenues overflow SQLite's 64-bit integers.
            (unit / cast(respondents, Float)).label("w"),
        ),
        f,
    ).join(
        latest,
        and_(
            latest.c.account_id == Response.account_id, latest.c.campaign_id == Response.campaign_id
        ),
    )
    if weight is Weight.DESIGN:
        answers = answers.join(Invitation, Invitation.id == Response.invitation_id)
    if campaign_ids is not None:
        answers = answers.where(Response.campaign_id.in_(campaign_ids))
    return answers


def per_account(answers: Any, levels: int, name: str = "weighted_accounts") -> Any:
    """A subquery over `answers` (weighted_answers as a subquery or CTE): per group of
    its first `levels` keys and account, the account's weight W in the group and
    W·score, W·satisfied, W·dissatisfied (w, w_score, w_satisfied, w_unhappy)."""
    a = answers.c
    groups = [a[f"g{i}"] for i in range(levels)]
    return (
        select(
            *groups,
            a.account_id,
            func.sum(a.w).label("w"),
            func.sum(a.w * a.score).label("w_score"),
            func.sum(case((a.score >= SATISFIED_MIN, a.w), else_=0.0)).label("w_satisfied"),
            func.sum(case((a.score <= DISSATISFIED_MAX, a.w), else_=0.0)).label("w_unhappy"),
        )
        .group_by(*groups, a.account_id)
        .subquery(name)
    )


def weighted_groups(
    weight: Weight,
    f: ResponseFilter,
    keys: Sequence[ColumnElement[Any]],
    campaign_ids: Sequence[int] | None = None,
) -> Any:
    """A subquery: per group (columns g0, g1 ... of `keys`), sums of W, W·score,
    W·satisfied, W·dissatisfied and W² over the accounts in it, and how many accounts
    (w, w_score, w_satisfied, w_unhappy, w_squared, accounts), W being an account's
    weight in the group (see per_account)."""
    answers = weighted_answers(weight, f, keys, campaign_ids).subquery("weighted_answers")
    accounts = per_account(answers, len(keys))
    outer = [accounts.c[f"g{i}"] for i in range(len(keys))]
    return (
        select(
            *outer,
            func.sum(accounts.c.w).label("w"),
            func.sum(accounts.c.w_score).label("w_score"),
            func.sum(accounts.c.w_satisfied).label("w_satisfied"),
            func.sum(accounts.c.w_unhappy).label("w_unhappy"),
            func.sum(accounts.c.w * accounts.c.w).label("w_squared"),
            func.count().label("accounts"),
        )
        .group_by(*outer)
        .subquery("weighted_groups")
    )


#: Design weights within this relative spread count as equal (floating-point dust).
SELF_WEIGHTING_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class DesignSums:
    """One campaign's responding accounts on an aspect under the DESIGN weight: Σw,
    Σw·satisfied, Σw², how many accounts, and their smallest and largest weight."""

    w: float
    w_satisfied: float
    w_squared: float
    accounts: int
    w_min: float
    w_max: float

    @property
    def self_weighting(self) -> bool:
        """Every responding account weighs the same (π equal): unweighted shares and
        their plain margin are already the design's."""
        return self.w_max - self.w_min <= SELF_WEIGHTING_TOLERANCE * self.w_max

    @property
    def satisfied_share(self) -> float | None:
        return self.w_satisfied / self.w if self.w > 0 else None

    @property
    def effective_n(self) -> float:
        return kish_effective_n(self.w, self.w_squared)


def design_sums(campaign_ids: Sequence[int], aspect: str) -> Any:
    """A subquery: per campaign (g0) of `campaign_ids`, its own respondents' answers on
    `aspect` under the DESIGN weight, summed per account and then over the accounts
    (w, w_satisfied, w_squared, accounts, w_min, w_max; see DesignSums)."""
    answers = weighted_answers(
        Weight.DESIGN, ResponseFilter(aspect=aspect), [Response.campaign_id], list(campaign_ids)
    ).subquery("design_answers")
    accounts = per_account(answers, 1, name="design_accounts")
    return (
        select(
            accounts.c.g0,
            func.sum(accounts.c.w).label("w"),
            func.sum(accounts.c.w_satisfied).label("w_satisfied"),
            func.sum(accounts.c.w * accounts.c.w).label("w_squared"),
            func.count().label("accounts"),
            func.min(accounts.c.w).label("w_min"),
            func.max(accounts.c.w).label("w_max"),
        )
        .group_by(accounts.c.g0)
        .subquery("design_sums")
    )
