"""Managers move follow-up cases along and add notes."""

from __future__ import annotations

import strawberry

from survey import follow_ups

from ..context import Info
from ..errors import domain_errors
from ..permissions import IsManager
from ..scalars import parse_id
from .types import FollowUp, FollowUpStatus, build_follow_ups


@strawberry.type
class FollowUpMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Move a follow-up case to a status and/or add a note (manager or admin).",
    )
    def update_follow_up(
        self,
        info: Info,
        id: strawberry.ID,
        status: FollowUpStatus | None = None,
        note: str | None = None,
    ) -> FollowUp:
        follow_up_id = parse_id(id)
        with domain_errors():
            follow_ups.update_follow_up(
                follow_up_id,
                status=status.value if status is not None else None,
                note=note,
                author=info.context.staff_name,
            )
        row = follow_ups.follow_up_with_notes(follow_up_id)
        return build_follow_ups([row], info.context.locale)[0]
