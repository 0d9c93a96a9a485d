"""Is a change real? Each campaign's margin of error on its overall satisfied share,
and two campaigns compared on an aspect with a two-proportion z-test.

A campaign's figures carry the finite population correction for its sampling frame
when the frame is known and not smaller than the responses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select

from survey.analysis.filters import Interval
from survey.db import db
from survey.errors import InvalidInputError, NotFoundError
from survey.models import Answer, Aspect, Campaign, Response
from survey.scale import OVERALL, SATISFIED_MIN
from survey.statistics import margin_of_error, two_proportion_z_test, wilson_interval

#: A difference between two campaigns is called significant below this p-value.
SIGNIFICANCE = 0.05


def _satisfied_counts(campaign_ids: Sequence[int], aspect: str) -> dict[int, tuple[int, int]]:
    """(answers, satisfied answers) on `aspect` per campaign, one GROUP BY."""
    rows = db.session.execute(
        select(
            Response.campaign_id,
            func.count(Answer.id),
            func.sum(case((Answer.score >= SATISFIED_MIN, 1), else_=0)),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Aspect.code == aspect, Response.campaign_id.in_(list(campaign_ids)))
        .group_by(Response.campaign_id)
    )
    return {cid: (int(n), int(sat or 0)) for cid, n, sat in rows}


def campaign_margins(campaign_ids: Sequence[int]) -> dict[int, float | None]:
    """The 95% margin of error of each campaign's overall satisfied share, for the
    responses received, with the finite population correction for its sampling frame
    (two queries for any number of campaigns). None without responses."""
    ids = list(dict.fromkeys(campaign_ids))
    if not ids:
        return {}
    frames = dict(
        db.session.execute(
            select(Campaign.id, Campaign.frame_size).where(Campaign.id.in_(ids))
        ).all()
    )
    counts = _satisfied_counts(ids, OVERALL)
    result: dict[int, float | None] = {}
    for cid in ids:
        n, satisfied = counts.get(cid, (0, 0))
        frame = frames.get(cid)
        # A frame smaller than the responses (a hand-made campaign) cannot correct.
        population = frame if frame and frame >= n else None
        result[cid] = margin_of_error(satisfied / n, n, population) if n else None
    return result


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
    counts = _satisfied_counts([a_id, b_id], aspect)

    def share(cid: int) -> CampaignShare:
        n, satisfied = counts.get(cid, (0, 0))
        frame = rows[cid]
        population = frame if frame and frame >= n else None
        return CampaignShare(
            campaign_id=cid,
            name=names[cid],
            answers=n,
            satisfied=satisfied,
            satisfied_share=satisfied / n if n else None,
            satisfied_share_interval=wilson_interval(satisfied, n),
            margin_of_error=margin_of_error(satisfied / n, n, population) if n else None,
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
