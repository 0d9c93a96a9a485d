"""Schedules (manager or admin) and one schedule's trend per cycle."""

from __future__ import annotations

import strawberry

from survey import analysis
from survey.campaigns import list_schedules

from ..context import Info
from ..errors import domain_errors
from ..permissions import IsManager
from ..scalars import parse_id
from .types import Schedule, ScheduleTrendPoint, build_schedule, build_trend, local_today


@strawberry.type
class ScheduleQuery:
    @strawberry.field(
        permission_classes=[IsManager],
        description="Every schedule (by name) with its next run and past campaigns "
        "(manager or admin).",
    )
    def schedules(self, info: Info) -> list[Schedule]:
        return [build_schedule(v, info.context.locale) for v in list_schedules(local_today())]

    @strawberry.field(
        description="Per cycle of a schedule, oldest first: the design-weighted satisfied "
        "share of overall satisfaction with its interval, and the accounts heard."
    )
    def schedule_trend(self, id: strawberry.ID) -> list[ScheduleTrendPoint]:
        with domain_errors():
            return build_trend(analysis.schedule_trend(parse_id(id)))
