"""The names behind account ids: who an account is, in one line of a list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from survey.db import db
from survey.models import KeyAccount


@dataclass(frozen=True, slots=True)
class AccountBrief:
    id: int
    external_id: str
    name: str
    tier: str
    value_type: str
    region: str
    account_manager: str
    annual_revenue: int | None = None


#: The columns of an AccountBrief, in field order, but its revenue.
BRIEF_COLUMNS = (
    KeyAccount.id,
    KeyAccount.external_id,
    KeyAccount.name,
    KeyAccount.tier,
    KeyAccount.value_type,
    KeyAccount.region,
    KeyAccount.account_manager,
)


def account_briefs(account_ids: Sequence[int]) -> dict[int, AccountBrief]:
    """Names and kinds of the given accounts by id (one query)."""
    if not account_ids:
        return {}
    rows = db.session.execute(
        select(*BRIEF_COLUMNS, KeyAccount.annual_revenue).where(
            KeyAccount.id.in_(list(account_ids))
        )
    ).all()
    return {row[0]: AccountBrief(*row) for row in rows}
