"""The audit log as the API shows it to admins: newest first, keyset pages."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from survey import audit

from .context import Info
from .pagination import Connection, Edge, PageInfo, check_first, decode_cursor, encode_cursor
from .permissions import IsAdmin


@strawberry.type(description="Who did what, when: one audit log entry.")
class AuditLogEntry:
    id: strawberry.ID
    at: datetime
    actor: str | None = strawberry.field(description="The staff member or CLI user.")
    action: str = strawberry.field(
        description="campaign.launch, campaign.close, campaign.remind, defection.record, "
        "account.tier_change, account.team_import, staff.add, staff.token_issue, staff.revoke, "
        "staff.locale, follow_up.update, follow_up.resolve or follow_up.escalate."
    )
    target_type: str | None
    target_id: str | None
    details: JSON = strawberry.field(description="What the action changed, as recorded.")


def resolve_audit_log(
    info: Info, first: int | None = 50, after: str | None = None, action: str | None = None
) -> Connection[AuditLogEntry]:
    """Resolver of Query.auditLog (admin only: the permission sits on the field)."""
    size = check_first(first, info.context.max_page_size, default=50)
    page = audit.list_audit(first=size, before_id=decode_cursor(after), action=action)
    nodes = [
        AuditLogEntry(
            id=strawberry.ID(str(r.id)),
            at=r.at,
            actor=r.actor,
            action=r.action,
            target_type=r.target_type,
            target_id=r.target_id,
            details=r.details,
        )
        for r in page.records
    ]
    edges = [
        Edge(cursor=encode_cursor(r.id), node=n) for r, n in zip(page.records, nodes, strict=True)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
        ),
        count=lambda: audit.count_audit(action=action),
    )


@strawberry.type
class AuditQuery:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Who launched, closed or reminded a campaign, recorded a defection or "
        "changed an API token, and when; newest first (admin only). `action` filters.",
    )
    def audit_log(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        action: str | None = None,
    ) -> Connection[AuditLogEntry]:
        return resolve_audit_log(info, first, after, action)
