"""Managers create, pause and resume schedules (the same services as the CLI)."""

from __future__ import annotations

from datetime import date

import strawberry

from survey.campaigns import (
    ScheduleInputError,
    ScheduleSpec,
    create_schedule,
    pause_schedule,
    resume_schedule,
)
from survey.transactions import rollback

from ..campaigns.mutations import STRATIFY_BY
from ..campaigns.types import CampaignKind, InvitedContacts
from ..context import Info
from ..errors import InputError, bad_input, service_errors
from ..permissions import IsManager
from ..scalars import Dimension, domain_dimension, parse_id
from .types import Cadence, Schedule, build_schedule, local_today

SCHEDULE_FIELDS = {
    "name": "name",
    "every": "every",
    "size": "sampleSize",
    "fraction": "sampleFraction",
    "stratify_by": "stratifyBy",
    "census_tiers": "censusTiers",
    "cover_within_days": "coverWithinDays",
    "contacts": "contacts",
    "contact_roles": "contactRoles",
    "closes_after_days": "closesAfterDays",
    "exclude_days": "excludeSurveyedWithinDays",
    "kind": "kind",
}


@strawberry.input(description="A new schedule: one campaign per cycle from startsOn.")
class CreateScheduleInput:
    name: str
    every: Cadence
    starts_on: date
    sample_size: int | None = strawberry.field(
        default=None, description="Accounts drawn at random each cycle (or sampleFraction)."
    )
    sample_fraction: float | None = None
    stratify_by: Dimension | None = None  # type: ignore[valid-type]
    census_tiers: list[str] | None = strawberry.field(
        default=None, description="Tiers surveyed in full every cycle (A, B, C)."
    )
    cover_within_days: int = 365
    include_open_cases: bool = False
    contacts: InvitedContacts = InvitedContacts.PRIMARY
    contact_roles: list[str] | None = None
    closes_after_days: int = 21
    exclude_surveyed_within_days: int = 90
    kind: CampaignKind = CampaignKind.SATISFACTION


def _stratify(value: Dimension | None) -> str | None:  # type: ignore[valid-type]
    if value is None:
        return None
    dimension = domain_dimension(value)
    if dimension not in STRATIFY_BY:
        allowed = ", ".join(d.name for d in STRATIFY_BY)
        raise bad_input(f"A sample can be stratified by {allowed} only.", "stratifyBy")
    return STRATIFY_BY[dimension]


@strawberry.type
class ScheduleMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Create a schedule (manager or admin); `schedules run` launches its cycles.",
    )
    def create_schedule(self, info: Info, input: CreateScheduleInput) -> Schedule:
        spec = ScheduleSpec(
            name=input.name,
            every=input.every.value,
            starts_on=input.starts_on,
            size=input.sample_size,
            fraction=input.sample_fraction,
            stratify_by=_stratify(input.stratify_by),
            census_tiers=tuple(input.census_tiers or ()),
            cover_within_days=input.cover_within_days,
            include_open_cases=input.include_open_cases,
            contacts=input.contacts.value,
            contact_roles=tuple(input.contact_roles or ()),
            closes_after_days=input.closes_after_days,
            exclude_days=input.exclude_surveyed_within_days,
            kind=input.kind.value,
        )
        try:
            with service_errors(SCHEDULE_FIELDS):
                view = create_schedule(spec, actor=info.context.staff_name, today=local_today())
        except ScheduleInputError as exc:
            rollback()
            raise InputError(exc.messages, field=exc.field) from None
        return build_schedule(view, info.context.locale)

    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Stop launching a schedule's cycles until resumed (manager or admin).",
    )
    def pause_schedule(self, info: Info, id: strawberry.ID) -> Schedule:
        with service_errors({"name": "id"}):
            view = pause_schedule(parse_id(id), actor=info.context.staff_name, today=local_today())
        return build_schedule(view, info.context.locale)

    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Launch a schedule's cycles again, from the current one; missed cycles "
        "are not back-filled (manager or admin).",
    )
    def resume_schedule(self, info: Info, id: strawberry.ID) -> Schedule:
        with service_errors({"name": "id"}):
            view = resume_schedule(parse_id(id), actor=info.context.staff_name, today=local_today())
        return build_schedule(view, info.context.locale)
