"""The demo's periodic survey: a quarterly schedule with its two past cycles answered,
so the schedules page has a trend to read and the current cycle is due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from survey.campaigns import (
    ScheduleSpec,
    close_campaign,
    create_schedule,
    cycle_containing,
    run_schedules,
)
from survey.db import db
from survey.models import Campaign

#: The schedule's name (its campaigns are "季度大客户调查 2026-Q3" ...).
DEMO_SCHEDULE = "季度大客户调查"


def add_quarterly_schedule(
    *, secret_key: str, now: datetime, answer: Callable[[int, datetime], int]
) -> int:
    """Create the schedule from the quarter before last and launch its two past cycles
    as they would have been launched (a few days into each quarter; the demo's clock
    is `now`), each answered by `answer(campaign_id, opened_at)` and closed. The current
    quarter is left due: `flask schedules run` launches it. Returns the responses added."""
    today = now.date()
    previous = cycle_containing(
        "quarter", cycle_containing("quarter", today).starts_on - timedelta(days=1)
    )
    before = cycle_containing("quarter", previous.starts_on - timedelta(days=1))
    create_schedule(
        ScheduleSpec(
            name=DEMO_SCHEDULE,
            every="quarter",
            starts_on=before.starts_on,
            size=30,
            stratify_by="tier",
            census_tiers=("A",),
        ),
        actor="demo",
        today=before.starts_on,
    )
    responses = 0
    for cycle in (before, previous):
        report = run_schedules(
            cycle.starts_on + timedelta(days=5), secret_key=secret_key, mail=None, actor="demo"
        )
        if not report.launched or report.launched[0].campaign_id is None:
            raise RuntimeError(f"the demo schedule did not launch {cycle.key}: {report.failed}")
        campaign_id = report.launched[0].campaign_id
        opened = db.session.scalar(select(Campaign.opens_at).where(Campaign.id == campaign_id))
        assert opened is not None
        responses += answer(campaign_id, opened)
        close_campaign(campaign_id, now=opened + timedelta(days=21), actor="demo")
    return responses


__all__ = ["DEMO_SCHEDULE", "add_quarterly_schedule"]
