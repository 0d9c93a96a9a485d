"""A CRM keeps the registry current: `upsertAccounts`, with the account CSV's columns and
checks, all or nothing (admin)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from survey.registry import MAX_UPSERT, AccountItemsError, upsert_accounts
from survey.transactions import rollback

from ..context import Info
from ..errors import service_errors
from ..permissions import IsAdmin
from ..scalars import BigInt

#: The CSV column each input field is checked as, and back for the errors.
FIELDS = {
    "external_id": "externalId",
    "name": "name",
    "tier": "tier",
    "value_type": "valueType",
    "relationship_stage": "relationshipStage",
    "region": "region",
    "annual_revenue": "annualRevenue",
    "account_manager": "accountManager",
    "contact_name": "contactName",
    "contact_email": "contactEmail",
    "contact_phone": "contactPhone",
    "locale": "locale",
}


@strawberry.input(
    description="A key account as the account CSV describes it; created or updated by "
    "externalId. The contact fields are its primary contact."
)
class AccountInput:
    external_id: str
    name: str
    tier: str = strawberry.field(description="A, B or C.")
    value_type: str = strawberry.field(description="As in the CSV: a code or its label.")
    relationship_stage: str
    region: str
    annual_revenue: BigInt
    account_manager: str
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    locale: str | None = None


@strawberry.type(description="What an upsert did.")
class UpsertAccountsResult:
    created: int
    updated: int
    unchanged: int


def _item_errors(error: AccountItemsError) -> GraphQLError:
    items: list[dict[str, Any]] = [
        {"index": p.line, "field": FIELDS.get(p.column, p.column), "message": p.message}
        for p in error.problems
    ]
    return GraphQLError(
        error.message,
        extensions={"code": "BAD_USER_INPUT", "field": "input", "items": items},
    )


@strawberry.type
class AccountSyncMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description=f"Create or update up to {MAX_UPSERT} accounts by externalId with the "
        "account CSV's checks, all or nothing: a problem anywhere writes nothing, and "
        "`extensions.items` lists each (index, field, message) (admin).",
    )
    def upsert_accounts(self, info: Info, input: list[AccountInput]) -> UpsertAccountsResult:
        # AccountInput's attributes are the CSV's column names.
        items = [{column: getattr(item, column) for column in FIELDS} for item in input]
        try:
            with service_errors({"input": "input"}):
                report = upsert_accounts(items, actor=info.context.staff_name)
        except AccountItemsError as error:
            rollback()
            raise _item_errors(error) from None
        return UpsertAccountsResult(
            created=report.created, updated=report.updated, unchanged=report.unchanged
        )
