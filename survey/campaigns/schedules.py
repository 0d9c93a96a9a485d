"""Schedules: named sampling plans with a cadence (定期调查), one campaign per cycle.

Creating, listing, pausing and resuming them; `schedule_runs` launches their cycles.
Input errors carry the message in Chinese and English (`ScheduleInputError.messages`)
so the console and the API can each answer in the reader's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from survey.audit import SCHEDULE_CREATE, SCHEDULE_PAUSE, SCHEDULE_RESUME, record_audit
from survey.campaigns.cycles import Cycle, cycle_containing
from survey.campaigns.frames import STRATIFY_DIMENSIONS
from survey.campaigns.invitees import contact_choice
from survey.campaigns.planning import KINDS, MAX_CLOSES_IN_DAYS, MAX_EXCLUDE_DAYS
from survey.clock import utcnow
from survey.db import db
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.models import (
    CADENCES,
    CONTACTS_PRIMARY,
    KIND_SATISFACTION,
    Campaign,
    Schedule,
    codes_to_column,
    column_to_codes,
)
from survey.scale import TIERS

SCHEDULE_NAME_MAX_LENGTH = 120


class ScheduleInputError(InvalidInputError):
    """A schedule that cannot be created as asked; `messages` has "en" and "zh"."""

    def __init__(self, messages: Mapping[str, str], *, field: str | None = None) -> None:
        super().__init__(messages["en"], field=field)
        self.messages = dict(messages)


def _bad(field_name: str, en: str, zh: str) -> ScheduleInputError:
    return ScheduleInputError({"en": en, "zh": zh}, field=field_name)


@dataclass(frozen=True)
class ScheduleSpec:
    """What a manager asks for when creating a schedule."""

    name: str
    every: str
    starts_on: date
    size: int | None = None
    fraction: float | None = None
    stratify_by: str | None = None
    census_tiers: tuple[str, ...] = ()
    cover_within_days: int = 365
    include_open_cases: bool = False
    contacts: str = CONTACTS_PRIMARY
    contact_roles: tuple[str, ...] = ()
    closes_after_days: int = 21
    exclude_days: int = 90
    kind: str = KIND_SATISFACTION


@dataclass(frozen=True)
class ScheduledCampaign:
    id: int
    name: str
    cycle: str
    opens_at: datetime
    status: str


@dataclass(frozen=True)
class ScheduleView:
    """A schedule with its next run and the campaigns it launched (oldest first)."""

    id: int
    name: str
    every: str
    starts_on: date
    kind: str
    size: int | None
    fraction: float | None
    stratify_by: str | None
    census_tiers: tuple[str, ...]
    cover_within_days: int
    include_open_cases: bool
    contacts: str
    contact_roles: tuple[str, ...]
    closes_after_days: int
    exclude_days: int
    paused_at: datetime | None
    created_at: datetime
    created_by: str | None
    #: The day the next campaign is due (today when the current cycle is not launched
    #: yet) and that campaign's cycle; None while paused.
    next_run: date | None
    next_cycle: Cycle | None
    campaigns: tuple[ScheduledCampaign, ...] = field(default_factory=tuple)

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


def _validate(spec: ScheduleSpec) -> dict[str, object]:
    name = (spec.name or "").strip()
    if not name:
        raise _bad("name", "The schedule needs a name.", "计划需要一个名称。")
    if len(name) > SCHEDULE_NAME_MAX_LENGTH:
        raise _bad(
            "name",
            f"The schedule name is {len(name)} characters long; at most "
            f"{SCHEDULE_NAME_MAX_LENGTH} are allowed.",
            f"计划名称有 {len(name)} 个字符，最多 {SCHEDULE_NAME_MAX_LENGTH} 个。",
        )
    if spec.every not in CADENCES:
        raise _bad(
            "every",
            f"Unknown cadence {spec.every!r}: use {', '.join(CADENCES)}.",
            f"未知的周期 {spec.every!r}：请用 {', '.join(CADENCES)}。",
        )
    if spec.kind not in KINDS:
        raise _bad(
            "kind",
            f"Unknown campaign kind {spec.kind!r}: use {' or '.join(KINDS)}.",
            f"未知的调查类型 {spec.kind!r}：请用 {' 或 '.join(KINDS)}。",
        )
    if (spec.size is None) == (spec.fraction is None):
        raise _bad(
            "size",
            "Give either a sample size or a fraction of the frame, not both or neither.",
            "请给出样本量或抽样比例，二者取其一。",
        )
    if spec.size is not None and spec.size < 1:
        raise _bad(
            "size",
            f"The sample size must be at least 1, got {spec.size}.",
            f"样本量至少为 1，收到 {spec.size}。",
        )
    if spec.fraction is not None and not 0 < spec.fraction <= 1:
        raise _bad(
            "fraction",
            f"The fraction must be greater than 0 and at most 1 (e.g. 0.2 for 20%), "
            f"got {spec.fraction}.",
            f"抽样比例必须大于 0 且不超过 1（如 0.2 表示 20%），收到 {spec.fraction}。",
        )
    if spec.stratify_by is not None and spec.stratify_by not in STRATIFY_DIMENSIONS:
        raise _bad(
            "stratify_by",
            f"Unknown stratification {spec.stratify_by!r}: use one of "
            f"{', '.join(STRATIFY_DIMENSIONS)}.",
            f"未知的分层维度 {spec.stratify_by!r}：请用 {', '.join(STRATIFY_DIMENSIONS)} 之一。",
        )
    tiers: list[str] = []
    for tier in spec.census_tiers:
        code = tier.strip().upper()
        if code not in TIERS:
            raise _bad(
                "census_tiers",
                f"Unknown tier {tier!r}: use {', '.join(TIERS)}.",
                f"未知的客户等级 {tier!r}：请用 {', '.join(TIERS)}。",
            )
        if code not in tiers:
            tiers.append(code)
    for field_name, value, low, high, en, zh in (
        (
            "cover_within_days",
            spec.cover_within_days,
            1,
            MAX_EXCLUDE_DAYS,
            "coverage goal",
            "覆盖目标",
        ),
        (
            "closes_after_days",
            spec.closes_after_days,
            1,
            MAX_CLOSES_IN_DAYS,
            "open period",
            "开放期",
        ),
        ("exclude_days", spec.exclude_days, 0, MAX_EXCLUDE_DAYS, "exclusion window", "排除期"),
    ):
        if not low <= value <= high:
            raise _bad(
                field_name,
                f"The {en} must be between {low} and {high} days, got {value}.",
                f"{zh}必须在 {low} 到 {high} 天之间，收到 {value}。",
            )
    try:
        choice = contact_choice(spec.contacts, spec.contact_roles)
    except InvalidInputError as exc:
        raise _bad(
            exc.field or "contacts",
            exc.message,
            f"联系人选择无效：{spec.contacts!r} / {', '.join(spec.contact_roles)}"
            "（请用 primary 或 all，角色用代码或中英文名称）。",
        ) from None
    taken = db.session.scalar(select(Schedule.id).where(Schedule.name == name))
    if taken is not None:
        raise ConflictError(
            f"A schedule named {name!r} already exists; choose another name.", field="name"
        )
    return {
        "name": name,
        "every": spec.every,
        "starts_on": spec.starts_on,
        "kind": spec.kind,
        "size": spec.size,
        "fraction": spec.fraction,
        "stratify_by": spec.stratify_by,
        "census_tiers": codes_to_column(sorted(tiers)),
        "cover_within_days": spec.cover_within_days,
        "include_open_cases": spec.include_open_cases,
        "contacts": choice.contacts,
        "contact_roles": choice.roles_text,
        "closes_after_days": spec.closes_after_days,
        "exclude_days": spec.exclude_days,
    }


def create_schedule(spec: ScheduleSpec, *, actor: str | None, today: date) -> ScheduleView:
    """Validate and store a schedule (audited). ScheduleInputError for bad input,
    ConflictError when the name is taken."""
    values = _validate(spec)
    now = utcnow()
    schedule = Schedule(**values, created_at=now, created_by=actor)
    try:
        db.session.add(schedule)
        db.session.flush()
        record_audit(
            actor,
            SCHEDULE_CREATE,
            "schedule",
            schedule.id,
            at=now,
            details={k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()},
        )
        schedule_id = schedule.id
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ConflictError(
            f"A schedule named {values['name']!r} was created at the same time; "
            "choose another name.",
            field="name",
        ) from exc
    return list_schedules(today, ids=[schedule_id])[0]


def _set_paused(which: int | str, paused: bool, actor: str | None, today: date) -> ScheduleView:
    if isinstance(which, int):
        schedule = db.session.get(Schedule, which)
        missing = f"No schedule with ID {which}."
    else:
        schedule = db.session.scalar(select(Schedule).where(Schedule.name == which.strip()))
        missing = f"No schedule named {which!r}."
    if schedule is None:
        raise NotFoundError(missing, field="name")
    now = utcnow()
    changed = (schedule.paused_at is None) == paused
    if changed:
        schedule.paused_at = now if paused else None
        record_audit(
            actor,
            SCHEDULE_PAUSE if paused else SCHEDULE_RESUME,
            "schedule",
            schedule.id,
            at=now,
            details={"name": schedule.name},
        )
    schedule_id = schedule.id
    db.session.commit()
    return list_schedules(today, ids=[schedule_id])[0]


def pause_schedule(which: int | str, *, actor: str | None, today: date) -> ScheduleView:
    """Stop launching the schedule (its id or name) until resumed (audited; pausing a
    paused one changes nothing)."""
    return _set_paused(which, True, actor, today)


def resume_schedule(which: int | str, *, actor: str | None, today: date) -> ScheduleView:
    """Launch cycles again from the current one (missed cycles are not back-filled)."""
    return _set_paused(which, False, actor, today)


def next_run(schedule: Schedule, launched: set[str], today: date) -> tuple[date, Cycle] | None:
    """When the schedule launches next, and which cycle; None while paused."""
    if schedule.paused_at is not None:
        return None
    if schedule.starts_on > today:
        return schedule.starts_on, cycle_containing(schedule.every, schedule.starts_on)
    current = cycle_containing(schedule.every, today)
    if current.key not in launched:
        return today, current
    following = current.next()
    return following.starts_on, following


def list_schedules(today: date, *, ids: Iterable[int] | None = None) -> list[ScheduleView]:
    """Every schedule (by name) with its next run and past campaigns: two queries."""
    query = select(Schedule).order_by(Schedule.name)
    if ids is not None:
        query = query.where(Schedule.id.in_(list(ids)))
    schedules = list(db.session.scalars(query))
    campaigns: dict[int, list[ScheduledCampaign]] = {s.id: [] for s in schedules}
    if schedules:
        rows = db.session.execute(
            select(
                Campaign.schedule_id,
                Campaign.id,
                Campaign.name,
                Campaign.cycle,
                Campaign.opens_at,
                Campaign.status,
            )
            .where(Campaign.schedule_id.in_(list(campaigns)))
            .order_by(Campaign.opens_at, Campaign.id)
        )
        for row in rows:
            campaigns[row.schedule_id].append(
                ScheduledCampaign(row.id, row.name, row.cycle or "", row.opens_at, row.status)
            )
    views = []
    for s in schedules:
        past = campaigns[s.id]
        upcoming = next_run(s, {c.cycle for c in past}, today)
        views.append(
            ScheduleView(
                id=s.id,
                name=s.name,
                every=s.every,
                starts_on=s.starts_on,
                kind=s.kind,
                size=s.size,
                fraction=s.fraction,
                stratify_by=s.stratify_by,
                census_tiers=column_to_codes(s.census_tiers),
                cover_within_days=s.cover_within_days,
                include_open_cases=s.include_open_cases,
                contacts=s.contacts,
                contact_roles=column_to_codes(s.contact_roles),
                closes_after_days=s.closes_after_days,
                exclude_days=s.exclude_days,
                paused_at=s.paused_at,
                created_at=s.created_at,
                created_by=s.created_by,
                next_run=upcoming[0] if upcoming else None,
                next_cycle=upcoming[1] if upcoming else None,
                campaigns=tuple(past),
            )
        )
    return views


def schedule_by_id(schedule_id: int, today: date) -> ScheduleView | None:
    found = list_schedules(today, ids=[schedule_id])
    return found[0] if found else None


__all__ = [
    "SCHEDULE_NAME_MAX_LENGTH",
    "ScheduleInputError",
    "ScheduleSpec",
    "ScheduleView",
    "ScheduledCampaign",
    "create_schedule",
    "list_schedules",
    "next_run",
    "pause_schedule",
    "resume_schedule",
    "schedule_by_id",
]
