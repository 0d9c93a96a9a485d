"""Key accounts, who is asking, and the staff's API tokens."""

from __future__ import annotations

import strawberry
from sqlalchemy import ColumnElement, exists, select

from survey import analysis
from survey import models as m
from survey.db import db
from survey.registry import list_tokens

from ..context import Info
from ..pagination import Connection, check_first, make_connection, query_page
from ..permissions import IsAdmin
from ..scalars import parse_id
from .types import Account, ApiTokenInfo, Me, build_accounts


@strawberry.type
class AccountQuery:
    @strawberry.field(description="Key accounts in id order.")
    def accounts(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        tier: str | None = None,
        region: str | None = None,
        defected: bool | None = None,
        value_type: str | None = None,
        relationship_stage: str | None = None,
        account_manager: str | None = None,
    ) -> Connection[Account]:
        # Same vocabulary checks as the analytics filters: an unknown tier is a typo.
        analysis.validate_defection_filter(
            analysis.DefectionFilter(
                tier=tier, value_type=value_type, relationship_stage=relationship_stage
            )
        )
        conditions: list[ColumnElement[bool]] = []
        for column, value in (
            (m.KeyAccount.tier, tier),
            (m.KeyAccount.region, region),
            (m.KeyAccount.value_type, value_type),
            (m.KeyAccount.relationship_stage, relationship_stage),
            (m.KeyAccount.account_manager, account_manager),
        ):
            if value is not None:
                conditions.append(column == value)
        if defected is not None:
            lost = exists().where(m.Defection.account_id == m.KeyAccount.id)
            conditions.append(lost if defected else ~lost)
        size = check_first(first, info.context.max_page_size, default=50)
        rows, count = query_page(
            select(m.KeyAccount).where(*conditions), m.KeyAccount.id, size, after
        )
        return make_connection(build_accounts(rows), [r.id for r in rows], size, count)

    @strawberry.field
    def account(self, id: strawberry.ID) -> Account | None:
        row = db.session.get(m.KeyAccount, parse_id(id))
        return build_accounts([row])[0] if row is not None else None


@strawberry.type
class StaffQuery:
    @strawberry.field(description="Who is asking, with which role.")
    def me(self, info: Info) -> Me:
        return Me(name=info.context.staff_name, role=info.context.role, locale=info.context.locale)

    @strawberry.field(
        permission_classes=[IsAdmin], description="Every API token's metadata (admin only)."
    )
    def staff_tokens(self) -> list[ApiTokenInfo]:
        return [
            ApiTokenInfo(
                id=strawberry.ID(str(t.id)),
                staff_name=t.staff_name,
                staff_role=t.staff_role,
                staff_active=t.staff_active,
                created_at=t.created_at,
                revoked_at=t.revoked_at,
                last_used_at=t.last_used_at,
            )
            for t in list_tokens()
        ]
