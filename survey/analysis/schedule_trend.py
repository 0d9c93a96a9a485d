"""A schedule's trend: per cycle, the satisfied share of overall satisfaction.

Weighted by design (Weight.DESIGN: each account by 1/π of its invitation, the
Hájek share, with Kish's effective n for the interval), so census tiers and coverage
accounts surveyed in every wave do not over-weight the figure; with the number of
accounts heard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from survey.analysis.filters import Dimension, Interval, ResponseFilter, Weight
from survey.analysis.satisfaction import satisfaction_summaries
from survey.db import db
from survey.errors import NotFoundError
from survey.models import Campaign, Schedule
from survey.scale import OVERALL

#: How a schedule's cycles are weighted (see the module's docstring).
TREND_WEIGHT = Weight.DESIGN


@dataclass(frozen=True, slots=True)
class ScheduleTrendPoint:
    campaign_id: int
    campaign_name: str
    cycle: str
    opens_at: datetime
    #: Overall-satisfaction answers received, and the accounts they came from.
    answers: int
    accounts: int
    satisfied_share: float | None
    satisfied_share_interval: Interval
    low_sample: bool


def schedule_trend(schedule_id: int) -> list[ScheduleTrendPoint]:
    """One point per campaign the schedule launched, oldest cycle first (three
    queries whatever the number of cycles). NotFoundError for an unknown schedule."""
    if db.session.get(Schedule, schedule_id) is None:
        raise NotFoundError(f"No schedule with ID {schedule_id}.", field="id")
    return schedule_trends([schedule_id])[schedule_id]


def schedule_trends(schedule_ids: Sequence[int]) -> dict[int, list[ScheduleTrendPoint]]:
    """`schedule_trend` for several schedules at once (two queries in all)."""
    result: dict[int, list[ScheduleTrendPoint]] = {i: [] for i in schedule_ids}
    campaigns = db.session.execute(
        select(Campaign.schedule_id, Campaign.id, Campaign.name, Campaign.cycle, Campaign.opens_at)
        .where(Campaign.schedule_id.in_(list(schedule_ids)))
        .order_by(Campaign.opens_at, Campaign.id)
    ).all()
    if not campaigns:
        return result
    summaries = satisfaction_summaries(
        Dimension.ASPECT,
        ResponseFilter(aspect=OVERALL),
        campaign_ids=[c.id for c in campaigns],
        weight=TREND_WEIGHT,
    )
    for c in campaigns:
        group = next(iter(summaries.get(c.id) or ()), None)
        result[c.schedule_id].append(
            ScheduleTrendPoint(
                campaign_id=c.id,
                campaign_name=c.name,
                cycle=c.cycle or "",
                opens_at=c.opens_at,
                answers=group.answers if group else 0,
                accounts=(group.accounts or 0) if group else 0,
                satisfied_share=group.satisfied_share if group else None,
                satisfied_share_interval=group.satisfied_share_interval if group else None,
                low_sample=group.low_sample if group else True,
            )
        )
    return result


__all__ = ["TREND_WEIGHT", "ScheduleTrendPoint", "schedule_trend", "schedule_trends"]
