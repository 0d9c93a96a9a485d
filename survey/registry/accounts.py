"""Key accounts: listing them (filtered, a page at a time) and finding one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, selectinload

from survey.db import db
from survey.errors import InvalidInputError, NotFoundError
from survey.models import Contact, Defection, KeyAccount
from survey.registry.messages import join_choices, quote_input
from survey.scale import TIERS


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One line of an account list."""

    id: int
    external_id: str
    name: str
    tier: str
    region: str
    account_manager: str
    active: bool
    defected_on: date | None
    #: How many contacts (people we may ask) the account has.
    contacts: int = 0


@dataclass(frozen=True, slots=True)
class AccountList:
    """A page of accounts and how many match in all."""

    total: int
    accounts: list[AccountSummary]


def get_account(*, account_id: int | None = None, external_id: str | None = None) -> KeyAccount:
    """One account by id or external id, with its defection and reasons and its
    contacts (primary first) loaded.

    Raises NotFoundError if there is no such account.
    """
    statement = select(KeyAccount).options(
        joinedload(KeyAccount.defection).selectinload(Defection.reasons),
        selectinload(KeyAccount.contacts),
    )
    return find_account(statement, account_id=account_id, external_id=external_id)


def get_account_details(external_id: str) -> KeyAccount:
    """One account by external id with everything its page shows loaded: its
    defection and reasons, its contacts (primary first) and our team around it
    (four queries). Raises NotFoundError if there is no such account."""
    statement = select(KeyAccount).options(
        joinedload(KeyAccount.defection).selectinload(Defection.reasons),
        selectinload(KeyAccount.contacts),
        selectinload(KeyAccount.team),
    )
    return find_account(statement, account_id=None, external_id=external_id)


def list_accounts(
    *,
    tier: str | None = None,
    region: str | None = None,
    defected: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> AccountList:
    """Accounts ordered by external id; `defected` True lists lost accounts, False
    active ones. Raises InvalidInputError for an unknown tier."""
    conditions = []
    if tier is not None:
        if tier.strip().upper() not in TIERS:
            raise InvalidInputError(
                f"{quote_input(tier)} is not a tier; use {join_choices(TIERS)}", field="tier"
            )
        conditions.append(KeyAccount.tier == tier.strip().upper())
    if region is not None:
        conditions.append(KeyAccount.region == region.strip())
    # Accounts and defections are one-to-one, so an outer join never repeats a row.
    has_defection = Defection.id.is_not(None)
    if defected is True:
        conditions.append(has_defection)
    elif defected is False:
        conditions.append(KeyAccount.active.is_(True))
        conditions.append(~has_defection)

    total = db.session.scalar(
        select(func.count())
        .select_from(KeyAccount)
        .outerjoin(Defection, Defection.account_id == KeyAccount.id)
        .where(*conditions)
    )
    rows = db.session.execute(
        select(
            KeyAccount.id,
            KeyAccount.external_id,
            KeyAccount.name,
            KeyAccount.tier,
            KeyAccount.region,
            KeyAccount.account_manager,
            KeyAccount.active,
            Defection.defected_on,
            select(func.count(Contact.id))
            .where(Contact.account_id == KeyAccount.id)
            .scalar_subquery(),
        )
        .outerjoin(Defection, Defection.account_id == KeyAccount.id)
        .where(*conditions)
        .order_by(KeyAccount.external_id)
        .limit(limit)
        .offset(offset)
    )
    return AccountList(total=total or 0, accounts=[AccountSummary(*row) for row in rows])


def find_account(
    statement: Select[Any], *, account_id: int | None, external_id: str | None
) -> KeyAccount:
    """The account `statement` selects, narrowed to one id or external id (give one).

    Raises InvalidInputError for neither or both, NotFoundError if there is none.
    """
    if (account_id is None) == (external_id is None):
        raise InvalidInputError("give either an account id or an external id", field="account")
    if account_id is not None:
        statement = statement.where(KeyAccount.id == account_id)
        label = f"id {account_id}"
    else:
        assert external_id is not None
        statement = statement.where(KeyAccount.external_id == external_id.strip())
        label = quote_input(external_id.strip())
    account = db.session.scalars(statement).unique().one_or_none()
    if account is None:
        raise NotFoundError(f"there is no key account with {label}", field="account")
    return account


__all__ = [
    "AccountList",
    "AccountSummary",
    "find_account",
    "get_account",
    "get_account_details",
    "list_accounts",
]
