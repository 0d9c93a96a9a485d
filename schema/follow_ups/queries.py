"""Follow-up cases in id order, and whether following up works."""

from __future__ import annotations

import strawberry

from survey import analysis
from survey.follow_ups import follow_up_page

from ..context import Info
from ..pagination import Connection, check_first, decode_cursor, page_connection
from .types import FollowUp, FollowUpStatus, Recovery, build_follow_ups


@strawberry.type
class FollowUpQuery:
    @strawberry.field(
        description="Follow-up cases in id order; `overdue` filters late ones, `tier` the "
        "accounts' tier."
    )
    def follow_ups(
        self,
        info: Info,
        status: FollowUpStatus | None = None,
        owner: str | None = None,
        overdue: bool | None = None,
        tier: str | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[FollowUp]:
        size = check_first(first, info.context.max_page_size, default=50)
        page = follow_up_page(
            first=size,
            after_id=decode_cursor(after),
            status=status.value if status is not None else None,
            owner=owner,
            overdue=overdue,
            tier=tier,
        )
        return page_connection(page, build_follow_ups(page.rows, info.context.locale))

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
