"""Managers move follow-up cases along, add notes, change owner or due date, and
resolve them with a root cause."""

from __future__ import annotations

from datetime import datetime

import strawberry

from survey import follow_ups
from survey.scale import ReasonCode as Codes
from survey.transactions import rollback

from ..context import Info
from ..errors import InputError, domain_errors
from ..permissions import IsManager
from ..scalars import ReasonCode, parse_id
from .types import FollowUp, FollowUpStatus, build_follow_ups

ROOT_CAUSE_REQUIRED = {
    "zh": "解决案例需要填写根本原因（rootCause）：{codes} 之一。未做任何更改。",
    "en": "Resolving a case needs its root cause (rootCause): one of {codes}. Nothing was changed.",
}


@strawberry.type
class FollowUpMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Change a follow-up case (manager or admin): its status, a note, its owner "
        "or due date. Resolving needs `rootCause`; ESCALATED is set by escalation only.",
    )
    def update_follow_up(
        self,
        info: Info,
        id: strawberry.ID,
        status: FollowUpStatus | None = None,
        note: str | None = None,
        root_cause: ReasonCode | None = None,  # type: ignore[valid-type]
        root_cause_note: str | None = None,
        owner: str | None = None,
        due_at: datetime | None = None,
    ) -> FollowUp:
        follow_up_id = parse_id(id)
        try:
            with domain_errors():
                follow_ups.update_follow_up(
                    follow_up_id,
                    status=status.value if status is not None else None,
                    note=note,
                    author=info.context.staff_name,
                    root_cause=root_cause.value if root_cause is not None else None,
                    root_cause_note=root_cause_note,
                    owner=owner,
                    due_at=due_at,
                )
        except follow_ups.RootCauseRequiredError as exc:
            rollback()
            codes = ", ".join(c.name for c in Codes)
            raise InputError(
                {k: v.format(codes=codes) for k, v in ROOT_CAUSE_REQUIRED.items()}
            ) from exc
        row = follow_ups.follow_up_with_notes(follow_up_id)
        return build_follow_ups([row], info.context.locale)[0]
