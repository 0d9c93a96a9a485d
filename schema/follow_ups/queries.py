"""Follow-up cases in id order, and whether following up works."""

from __future__ import annotations

import strawberry
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from survey import analysis, follow_ups
from survey import models as m
from survey.db import db

from ..context import Info
from ..pagination import Connection, check_first, decode_cursor, make_connection
from .types import FollowUp, FollowUpStatus, Recovery, build_follow_ups


@strawberry.type
class FollowUpQuery:
    @strawberry.field(description="Follow-up cases in id order; `overdue` filters late ones.")
    def follow_ups(
        self,
        info: Info,
        status: FollowUpStatus | None = None,
        owner: str | None = None,
        overdue: bool | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[FollowUp]:
        size = check_first(first, info.context.max_page_size, default=50)
        after_id = decode_cursor(after)
        conditions = follow_ups.follow_up_conditions(
            status.value if status is not None else None, owner, overdue
        )
        count_stmt = select(func.count()).select_from(m.FollowUp).where(*conditions)
        page = select(m.FollowUp).where(*conditions)
        if after_id is not None:
            page = page.where(m.FollowUp.id > after_id)
        rows = list(
            db.session.scalars(
                page.options(selectinload(m.FollowUp.notes)).order_by(m.FollowUp.id).limit(size + 1)
            )
        )
        nodes = build_follow_ups(rows, info.context.locale)
        return make_connection(
            nodes, [r.id for r in rows], size, lambda: int(db.session.scalar(count_stmt) or 0)
        )

    @strawberry.field(description="Does following up work? The next overall score after it.")
    def recovery(self) -> Recovery:
        r = analysis.recovery()
        return Recovery(
            accounts=r.accounts,
            improved=r.improved,
            unchanged=r.unchanged,
            worse=r.worse,
            mean_change=r.mean_change,
        )
