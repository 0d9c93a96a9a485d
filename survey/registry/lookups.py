"""Reading key accounts and defections for the API: keyset pages, rows by id, and
the relations of many accounts at once (one IN query each, whatever their number).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from survey.db import db
from survey.models import Contact, Defection, KeyAccount
from survey.paging import Page, keyset_page
from survey.registry.account_search import AccountFilter, account_conditions


def account_page(
    *,
    first: int,
    after_id: int | None = None,
    tier: str | None = None,
    region: str | None = None,
    defected: bool | None = None,
    value_type: str | None = None,
    relationship_stage: str | None = None,
    account_manager: str | None = None,
    search: str | None = None,
) -> Page[KeyAccount]:
    """Accounts in id order matching every filter given; `defected` True keeps the
    lost accounts, False those still customers; `search` a case-insensitive part of
    the name or external id (InvalidInputError when too long)."""
    conditions = account_conditions(
        AccountFilter(
            tier=tier,
            region=region,
            account_manager=account_manager,
            relationship_stage=relationship_stage,
            value_type=value_type,
            defected=defected,
            search=search,
        )
    )
    return keyset_page(
        select(KeyAccount).where(*conditions), KeyAccount.id, first=first, after_id=after_id
    )


def account_by_id(account_id: int) -> KeyAccount | None:
    return db.session.get(KeyAccount, account_id)


def accounts_by_ids(account_ids: Collection[int]) -> dict[int, KeyAccount]:
    """The accounts with these ids (one query), in the order the database gives them."""
    rows = db.session.scalars(select(KeyAccount).where(KeyAccount.id.in_(account_ids)))
    return {row.id: row for row in rows}


def contacts_of_accounts(account_ids: Sequence[int]) -> dict[int, list[Contact]]:
    """Each account's contacts, primary first, then in id order (one query)."""
    found: dict[int, list[Contact]] = {}
    rows = db.session.scalars(
        select(Contact)
        .where(Contact.account_id.in_(account_ids))
        .order_by(Contact.account_id, Contact.is_primary.desc(), Contact.id)
    )
    for row in rows:
        found.setdefault(row.account_id, []).append(row)
    return found


def contacts_by_ids(contact_ids: Collection[int]) -> dict[int, Contact]:
    """The contacts with these ids (one query)."""
    rows = db.session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))
    return {row.id: row for row in rows}


def defections_of_accounts(account_ids: Sequence[int]) -> dict[int, Defection]:
    """Each lost account's defection with its reasons (two queries)."""
    rows = db.session.scalars(
        select(Defection)
        .where(Defection.account_id.in_(account_ids))
        .options(selectinload(Defection.reasons))
    )
    return {row.account_id: row for row in rows}


def defection_with_account(defection_id: int) -> Defection:
    """One defection with its reasons and account loaded (NoResultFound if none)."""
    return db.session.scalars(
        select(Defection)
        .where(Defection.id == defection_id)
        .options(selectinload(Defection.reasons), selectinload(Defection.account))
    ).one()
