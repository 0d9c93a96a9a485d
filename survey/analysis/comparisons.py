"""Is a change real? Each campaign's margin of error on its overall satisfied share,
and two campaigns compared on an aspect with a two-proportion z-test.

A campaign's figures carry the finite population correction for its sampling frame
when the frame is known and not smaller than the responses. When its design is not
self-weighting (the responding accounts' inclusion probabilities π differ, e.g.
census tiers beside a random sample), its margin is that of the design-weighted
(Hájek) share with Kish's effective n over the accounts' weights 1/π.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select

from survey.analysis.filters import Interval
from survey.analysis.weighting import DesignSums, design_sums
from survey.db import db
from survey.errors import InvalidInputError, NotFoundError
from survey.models import Answer, Aspect, Campaign, Response
from survey.scale import OVERALL, SATISFIED_MIN
from survey.statistics import (
    design_margin_of_error,
    margin_of_error,
    two_proportion_z_test,
    wilson_interval,
)

#: A difference between two campaigns is called significant below this p-value.
SIGNIFICANCE = 0.05


def _counts(
    campaign_ids: Sequence[int], aspect: str
) -> dict[int, tuple[int, int, DesignSums | None]]:
    """(answers, satisfied answers, design sums) on `aspect` per campaign: one
    statement, the raw GROUP BY beside the design-weighted sums of its accounts."""
    ids = list(campaign_ids)
    raw = (
        select(
            Response.campaign_id.label("campaign_id"),
            func.count(Answer.id).label("n"),
            func.sum(case((Answer.score >= SATISFIED_MIN, 1), else_=0)).label("satisfied"),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Aspect.code == aspect, Response.campaign_id.in_(ids))
        .group_by(Response.campaign_id)
        .subquery("raw_counts")
    )
    design = design_sums(ids, aspect)
    rows = db.session.execute(
        select(
            raw.c.campaign_id,
            raw.c.n,
            raw.c.satisfied,
            *(design.c[c] for c in ("w", "w_satisfied", "w_squared", "accounts", "w_min", "w_max")),
        ).select_from(raw.outerjoin(design, design.c.g0 == raw.c.campaign_id))
    )
    result: dict[int, tuple[int, int, DesignSums | None]] = {}
    for cid, n, satisfied, w, w_satisfied, w_squared, accounts, w_min, w_max in rows:
        sums = (
            DesignSums(
                float(w),
                float(w_satisfied),
                float(w_squared),
                int(accounts),
                float(w_min),
                float(w_max),
            )
            if accounts
            else None
        )
        result[cid] = (int(n), int(satisfied or 0), sums)
    return result


def _margin(n: int, satisfied: int, design: DesignSums | None, frame: int | None) -> float | None:
    """The campaign's 95% margin of error on the satisfied share: the plain one on its
    answers, or, when the design is not self-weighting, the design-weighted share's
    with Kish's effective n over its accounts (both finite population corrected)."""
    if design is not None and not design.self_weighting:
        # A frame smaller than the accounts (a hand-made campaign) cannot correct.
        population = frame if frame and frame >= design.accounts else None
        return design_margin_of_error(
            design.satisfied_share, design.effective_n, design.accounts, population
        )
    # A frame smaller than the responses (a hand-made campaign) cannot correct.
    population = frame if frame and frame >= n else None
    return margin_of_error(satisfied / n, n, population) if n else None


def campaign_margins(campaign_ids: Sequence[int]) -> dict[int, float | None]:
    """The 95% margin of error of each campaign's overall satisfied share, for the
    responses received, with the finite population correction for its sampling frame
    (two queries for any number of campaigns). None without responses. When the
    design is not self-weighting, the margin of the design-weighted share with Kish's
    effective n (see _margin)."""
    ids = list(dict.fromkeys(campaign_ids))
    if not ids:
        return {}
    frames = dict(
        db.session.execute(
            select(Campaign.id, Campaign.frame_size).where(Campaign.id.in_(ids))
        ).all()
    )
    counts = _counts(ids, OVERALL)
    return {cid: _margin(*counts.get(cid, (0, 0, None)), frames.get(cid)) for cid in ids}


@dataclass(frozen=True, slots=True)
class CampaignShare:
    campaign_id: int
    name: str
    answers: int
    satisfied: int
    satisfied_share: float | None
    satisfied_share_interval: Interval
    margin_of_error: float | None


@dataclass(frozen=True, slots=True)
class CampaignComparison:
    """Campaign B against campaign A on one aspect. `difference` is B's satisfied
    share minus A's; `p_value` is the pooled two-sided z-test's (None when a campaign
    has no answers on the aspect); `significant` when p < 0.05."""

    aspect: str
    a: CampaignShare
    b: CampaignShare
    difference: float | None
    z: float | None
    p_value: float | None
    significant: bool


def compare_campaigns(a_id: int, b_id: int, aspect: str = OVERALL) -> CampaignComparison:
    """Tell a real change in the satisfied share (scores 4-5) from noise: both shares
    with their intervals, the difference B - A and a pooled two-proportion z-test.
    Three queries. NotFoundError for an unknown campaign, InvalidInputError for an
    unknown aspect."""
    known = db.session.scalar(select(Aspect.id).where(Aspect.code == aspect))
    if known is None:
        raise InvalidInputError(f"Unknown aspect {aspect!r}.", field="aspect")
    rows = dict(
        db.session.execute(
            select(Campaign.id, Campaign.frame_size).where(Campaign.id.in_([a_id, b_id]))
        ).all()
    )
    names = dict(
        db.session.execute(
            select(Campaign.id, Campaign.name).where(Campaign.id.in_([a_id, b_id]))
        ).all()
    )
    for field, cid in (("a", a_id), ("b", b_id)):
        if cid not in rows:
            raise NotFoundError(f"There is no campaign with ID {cid}.", field=field)
    counts = _counts([a_id, b_id], aspect)

    def share(cid: int) -> CampaignShare:
        n, satisfied, design = counts.get(cid, (0, 0, None))
        return CampaignShare(
            campaign_id=cid,
            name=names[cid],
            answers=n,
            satisfied=satisfied,
            satisfied_share=satisfied / n if n else None,
            satisfied_share_interval=wilson_interval(satisfied, n),
            margin_of_error=_margin(n, satisfied, design, rows[cid]),
        )

    first, second = share(a_id), share(b_id)
    test = two_proportion_z_test(second.satisfied, second.answers, first.satisfied, first.answers)
    difference = (
        second.satisfied_share - first.satisfied_share
        if second.satisfied_share is not None and first.satisfied_share is not None
        else None
    )
    z, p_value = test if test is not None else (None, None)
    return CampaignComparison(
        aspect=aspect,
        a=first,
        b=second,
        difference=difference,
        z=z,
        p_value=p_value,
        significant=p_value is not None and p_value < SIGNIFICANCE,
    )
