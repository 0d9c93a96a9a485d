"""A schedule, the campaigns it launched, and its trend per cycle."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from zoneinfo import ZoneInfo

import strawberry
from flask import current_app

from survey import analysis, clock
from survey.campaigns import ScheduleView, cycle_label

from ..analysis.types import ShareInterval, share_interval


@strawberry.enum(description="How often a schedule launches a campaign.")
class Cadence(Enum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half-year"
    YEAR = "year"


def local_today() -> date:
    """Today in the installation's time zone: cycles start at local midnight."""
    return clock.today(ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC"))


@strawberry.type(description="A campaign a schedule launched for one of its cycles.")
class ScheduledCampaign:
    id: strawberry.ID
    name: str
    cycle: str = strawberry.field(description="The cycle's key: 2026-11, 2026-Q4, 2026-H2, 2026.")
    cycle_label: str = strawberry.field(description="The cycle in the request's language.")
    opens_at: datetime
    status: str


@strawberry.type(description="A named sampling plan with a cadence (定期调查).")
class Schedule:
    id: strawberry.ID
    name: str
    every: Cadence
    starts_on: date
    kind: str
    sample_size: int | None = strawberry.field(description="Accounts drawn at random each cycle.")
    sample_fraction: float | None = strawberry.field(description="Or: this share of the frame.")
    stratify_by: str | None
    census_tiers: list[str] = strawberry.field(description="Tiers surveyed in full every cycle.")
    cover_within_days: int = strawberry.field(
        description="The coverage goal: no account goes longer than this without an invitation."
    )
    include_open_cases: bool
    contacts: str
    contact_roles: list[str]
    closes_after_days: int
    exclude_days: int
    paused: bool
    paused_at: datetime | None
    created_at: datetime
    created_by: str | None
    next_run: date | None = strawberry.field(
        description="When the next campaign is launched (today when the current cycle is "
        "due); null while paused."
    )
    next_cycle: str | None = strawberry.field(description="The cycle the next run launches.")
    next_cycle_label: str | None
    campaigns: list[ScheduledCampaign] = strawberry.field(
        description="The campaigns it launched, oldest first."
    )


def build_schedule(view: ScheduleView, locale: str) -> Schedule:
    return Schedule(
        id=strawberry.ID(str(view.id)),
        name=view.name,
        every=Cadence(view.every),
        starts_on=view.starts_on,
        kind=view.kind,
        sample_size=view.size,
        sample_fraction=view.fraction,
        stratify_by=view.stratify_by,
        census_tiers=list(view.census_tiers),
        cover_within_days=view.cover_within_days,
        include_open_cases=view.include_open_cases,
        contacts=view.contacts,
        contact_roles=list(view.contact_roles),
        closes_after_days=view.closes_after_days,
        exclude_days=view.exclude_days,
        paused=view.paused,
        paused_at=view.paused_at,
        created_at=view.created_at,
        created_by=view.created_by,
        next_run=view.next_run,
        next_cycle=view.next_cycle.key if view.next_cycle else None,
        next_cycle_label=view.next_cycle.label(locale) if view.next_cycle else None,
        campaigns=[
            ScheduledCampaign(
                id=strawberry.ID(str(c.id)),
                name=c.name,
                cycle=c.cycle,
                cycle_label=cycle_label(view.every, c.cycle, locale),
                opens_at=c.opens_at,
                status=c.status,
            )
            for c in view.campaigns
        ],
    )


@strawberry.type(
    description="One cycle of a schedule: the satisfied share of overall satisfaction, "
    "design-weighted (each account by 1/π of its invitation: census and coverage accounts "
    "do not over-weight it), with its 95% interval (Kish's effective n)."
)
class ScheduleTrendPoint:
    campaign_id: strawberry.ID
    campaign_name: str
    cycle: str
    opens_at: datetime
    answers: int = strawberry.field(description="Overall-satisfaction answers received.")
    accounts: int = strawberry.field(description="Accounts heard from.")
    satisfied_share: float | None = strawberry.field(
        description="Design-weighted (Weight.DESIGN) share scoring 4-5."
    )
    satisfied_share_interval: ShareInterval | None
    low_sample: bool


def build_trend(points: list[analysis.ScheduleTrendPoint]) -> list[ScheduleTrendPoint]:
    return [
        ScheduleTrendPoint(
            campaign_id=strawberry.ID(str(p.campaign_id)),
            campaign_name=p.campaign_name,
            cycle=p.cycle,
            opens_at=p.opens_at,
            answers=p.answers,
            accounts=p.accounts,
            satisfied_share=p.satisfied_share,
            satisfied_share_interval=share_interval(p.satisfied_share_interval),
            low_sample=p.low_sample,
        )
        for p in points
    ]
