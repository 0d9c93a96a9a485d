"""Running schedules: launch, for every active schedule, the cycle that contains today.

Cron (`flask schedules run`) and the outbox worker's loop call `run_schedules`. A
cycle already launched is left alone, missed past cycles are not back-filled (the
report names them), and two runs at the same moment launch one campaign: launches
are serialised by the launch lock, the campaign's name is unique and so is
(schedule_id, cycle).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from survey.campaigns.cycles import Cycle, cycle_containing, cycles_between
from survey.campaigns.launch import launch_campaign
from survey.campaigns.planning import CampaignRequest, plan_campaign
from survey.clock import today as clock_today
from survey.clock import utcnow
from survey.db import db
from survey.delivery import MailSettings
from survey.errors import DomainError
from survey.models import Campaign, Schedule, column_to_codes


@dataclass(frozen=True)
class CycleLaunch:
    schedule: str
    cycle: Cycle
    campaign_name: str
    campaign_id: int | None  # None in a dry run
    sampled: int
    invited: int


@dataclass(frozen=True)
class CycleProblem:
    schedule: str
    cycle: Cycle
    message: str


@dataclass
class ScheduleRunReport:
    today: date
    dry_run: bool = False
    launched: list[CycleLaunch] = field(default_factory=list)
    #: Cycles containing today that were launched already (by this run's predecessor
    #: or a concurrent run): (schedule, cycle key).
    already: list[tuple[str, str]] = field(default_factory=list)
    #: Past cycles without a campaign, not back-filled: (schedule, cycle keys).
    missed: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    not_started: list[tuple[str, date]] = field(default_factory=list)
    failed: list[CycleProblem] = field(default_factory=list)


def cycle_seed(schedule_id: int, cycle_key: str) -> int:
    """The seed of a cycle's draw: derived from the schedule and the cycle, so the
    same cycle always draws the same way (and can be verified)."""
    digest = hashlib.sha256(f"keypulse-schedule:{schedule_id}:{cycle_key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def campaign_name(schedule_name: str, cycle: Cycle) -> str:
    return f"{schedule_name} {cycle.key}"


def _request(schedule: Schedule, cycle: Cycle, actor: str | None) -> CampaignRequest:
    return CampaignRequest(
        name=campaign_name(schedule.name, cycle),
        size=schedule.size,
        fraction=schedule.fraction,
        stratify_by=schedule.stratify_by,
        seed=cycle_seed(schedule.id, cycle.key),
        exclude_days=schedule.exclude_days,
        closes_in_days=schedule.closes_after_days,
        kind=schedule.kind,
        created_by=actor,
        contacts=schedule.contacts,
        contact_roles=column_to_codes(schedule.contact_roles),
        schedule_id=schedule.id,
        cycle=cycle.key,
        census_tiers=column_to_codes(schedule.census_tiers),
        cover_within_days=schedule.cover_within_days,
        include_open_cases=schedule.include_open_cases,
    )


def _launch_moment(today: date, tz: tzinfo | None) -> datetime:
    """The launch's "now": the clock's when `today` is today in `tz` (the zone the
    caller's `today` was read in: after 16:00 UTC it is already tomorrow in
    Shanghai), or this time of day on another `today`."""
    now = utcnow()
    if today == clock_today(tz):
        return now
    return datetime.combine(today, now.time(), UTC)


def _launched_cycles(schedule_ids: list[int]) -> dict[int, set[str]]:
    launched: dict[int, set[str]] = {i: set() for i in schedule_ids}
    if schedule_ids:
        rows = db.session.execute(
            select(Campaign.schedule_id, Campaign.cycle).where(
                Campaign.schedule_id.in_(schedule_ids)
            )
        )
        for schedule_id, cycle in rows:
            launched[schedule_id].add(cycle)
    return launched


def _cycle_taken(schedule_id: int, key: str) -> bool:
    return (
        db.session.scalar(
            select(Campaign.id).where(Campaign.schedule_id == schedule_id, Campaign.cycle == key)
        )
        is not None
    )


def run_schedules(
    today: date,
    *,
    secret_key: str,
    mail: MailSettings | None,
    actor: str | None,
    dry_run: bool = False,
    tz: tzinfo | None = None,
) -> ScheduleRunReport:
    """Launch the cycle containing `today` of every active schedule that has started,
    unless launched already; one transaction per launch. A cycle that cannot be
    launched (e.g. an empty frame) is reported and the others go on. `tz` is the zone
    `today` was read in (UTC when omitted): on today's date the launch happens now."""
    report = ScheduleRunReport(today=today, dry_run=dry_run)
    schedules = list(db.session.scalars(select(Schedule).order_by(Schedule.name)))
    launched = _launched_cycles([s.id for s in schedules])
    # Plain values: a rollback below expires the ORM objects.
    plans = [
        (
            s.id,
            s.name,
            s.every,
            s.starts_on,
            s.paused_at is not None,
            _request_or_none(s, today, actor),
        )
        for s in schedules
    ]
    db.session.rollback()
    for schedule_id, name, every, starts_on, paused, request in plans:
        if paused:
            report.paused.append(name)
            continue
        if starts_on > today:
            report.not_started.append((name, starts_on))
            continue
        cycle = cycle_containing(every, today)
        missed = tuple(
            c.key
            for c in cycles_between(every, starts_on, today)
            if c.key not in launched[schedule_id]
        )
        if missed:
            report.missed.append((name, missed))
        if cycle.key in launched[schedule_id]:
            report.already.append((name, cycle.key))
            continue
        assert request is not None
        now = _launch_moment(today, tz)
        try:
            if dry_run:
                plan = plan_campaign(request, now=now)
                report.launched.append(
                    CycleLaunch(name, cycle, plan.name, None, plan.sample_size, plan.contact_count)
                )
                continue
            result = launch_campaign(request, secret_key=secret_key, now=now, mail=mail)
        except (DomainError, IntegrityError) as exc:
            db.session.rollback()
            if _cycle_taken(schedule_id, cycle.key):
                report.already.append((name, cycle.key))  # a concurrent run launched it
            else:
                report.failed.append(CycleProblem(name, cycle, getattr(exc, "message", str(exc))))
            db.session.rollback()
            continue
        report.launched.append(
            CycleLaunch(
                name,
                cycle,
                result.plan.name,
                result.campaign_id,
                result.plan.sample_size,
                result.plan.contact_count,
            )
        )
    return report


def _request_or_none(schedule: Schedule, today: date, actor: str | None) -> CampaignRequest | None:
    if schedule.paused_at is not None or schedule.starts_on > today:
        return None
    return _request(schedule, cycle_containing(schedule.every, today), actor)


__all__ = [
    "CycleLaunch",
    "CycleProblem",
    "ScheduleRunReport",
    "campaign_name",
    "cycle_seed",
    "run_schedules",
]
