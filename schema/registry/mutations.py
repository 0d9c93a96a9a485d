"""Managers record that a key account left, when and why.

The service (survey.registry) validates, writes and commits in one transaction; a
service error rolls back, so bad input changes nothing.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import strawberry
from flask import current_app

from survey.clock import utcnow
from survey.registry import defection_with_account, record_defection

from ..context import Info
from ..errors import service_errors
from ..permissions import IsManager
from ..scalars import BigInt, ReasonCode, parse_id
from .types import Defection, build_accounts, build_defection

DEFECTION_FIELDS = {
    "account": "accountId",
    "account_id": "accountId",
    "external_id": "accountId",
    "defected_on": "defectedOn",
    "reasons": "primaryReason",
    "lost_annual_revenue": "lostAnnualRevenue",
}


@strawberry.input
class RecordDefectionInput:
    account_id: strawberry.ID
    defected_on: date
    primary_reason: ReasonCode  # type: ignore[valid-type]
    other_reasons: list[ReasonCode] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list
    )
    competitor: str | None = None
    lost_annual_revenue: BigInt | None = None
    note: str | None = None


def _business_today() -> date:
    """Today where the business is (a date "in the future" is judged there)."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")
    return utcnow().astimezone(zone).date()


@strawberry.type
class DefectionMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Record that a key account left, when and why (manager or admin).",
    )
    def record_defection(self, info: Info, input: RecordDefectionInput) -> Defection:
        account_id = parse_id(input.account_id, "accountId")
        reasons = [input.primary_reason.value, *(r.value for r in input.other_reasons)]
        with service_errors(DEFECTION_FIELDS):
            defection = record_defection(
                account_id=account_id,
                defected_on=input.defected_on,
                reasons=reasons,
                competitor=input.competitor,
                lost_annual_revenue=input.lost_annual_revenue,
                note=input.note,
                recorded_by=info.context.staff_name,
                today=_business_today(),
            )
        row = defection_with_account(defection.id)
        return build_defection(row, build_accounts([row.account])[0])
