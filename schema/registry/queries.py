"""Key accounts, who is asking, and the staff's API tokens."""

from __future__ import annotations

import strawberry

from survey import analysis
from survey.registry import MAX_SEARCH_LENGTH, account_by_id, account_page, list_tokens

from ..context import Info
from ..errors import InputError
from ..pagination import Connection, check_first, decode_cursor, page_connection
from ..permissions import IsAdmin
from ..scalars import parse_id
from .types import Account, ApiTokenInfo, Me, build_accounts


@strawberry.type
class AccountQuery:
    @strawberry.field(
        description=(
            "Key accounts in id order. `search` keeps those whose name or external id "
            f"contains it, ignoring case (at most {MAX_SEARCH_LENGTH} characters)."
        )
    )
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
        search: str | None = None,
    ) -> Connection[Account]:
        # Same vocabulary checks as the analytics filters: an unknown tier is a typo.
        analysis.validate_defection_filter(
            analysis.DefectionFilter(
                tier=tier, value_type=value_type, relationship_stage=relationship_stage
            )
        )
        if search is not None and len(search.strip()) > MAX_SEARCH_LENGTH:
            raise InputError(
                {
                    "en": f"`search` may be at most {MAX_SEARCH_LENGTH} characters long.",
                    "zh": f"`search` 最多 {MAX_SEARCH_LENGTH} 个字符。",
                }
            )
        size = check_first(first, info.context.max_page_size, default=50)
        page = account_page(
            first=size,
            after_id=decode_cursor(after),
            tier=tier,
            region=region,
            defected=defected,
            value_type=value_type,
            relationship_stage=relationship_stage,
            account_manager=account_manager,
            search=search,
        )
        return page_connection(page, build_accounts(page.rows))

    @strawberry.field
    def account(self, id: strawberry.ID) -> Account | None:
        row = account_by_id(parse_id(id))
        return build_accounts([row])[0] if row is not None else None


@strawberry.type
class StaffQuery:
    @strawberry.field(description="Who is asking, with which role.")
    def me(self, info: Info) -> Me:
        return Me(name=info.context.staff_name, role=info.context.role, locale=info.context.locale)

    @strawberry.field(
        permission_classes=[IsAdmin], description="Every API token's metadata (admin only)."
    )
    def staff_tokens(self, info: Info) -> list[ApiTokenInfo]:
        # The caller's own token is in use now: shown with this use counted, as it
        # will be stored once the answer is out (schema.view).
        own, own_last_use = info.context.token_id, info.context.token_last_use
        return [
            ApiTokenInfo(
                id=strawberry.ID(str(t.id)),
                staff_name=t.staff_name,
                staff_role=t.staff_role,
                staff_active=t.staff_active,
                created_at=t.created_at,
                revoked_at=t.revoked_at,
                last_used_at=own_last_use
                if t.id == own and own_last_use is not None
                else t.last_used_at,
            )
            for t in list_tokens()
        ]
