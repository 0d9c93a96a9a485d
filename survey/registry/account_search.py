"""Finding key accounts: the filters an account list offers (tier, region, account
manager, relationship stage, value type, lost or not) and a search by name or
external id, as SQL conditions both the console and the API use; and the values
the console's filter form offers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import aliased

from survey.db import db
from survey.errors import InvalidInputError
from survey.models import Defection, KeyAccount

#: The longest search accepted: longer than any name or external id we keep.
MAX_SEARCH_LENGTH = 100


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """Which accounts a list shows; None leaves a field unfiltered. `defected` True
    keeps the lost accounts (a recorded defection), False the others. `search` is a
    case-insensitive substring of the name or the external id."""

    tier: str | None = None
    region: str | None = None
    account_manager: str | None = None
    relationship_stage: str | None = None
    value_type: str | None = None
    defected: bool | None = None
    search: str | None = None


def clean_search(search: str | None) -> str | None:
    """The search as it is matched: trimmed, None when empty.

    Raises InvalidInputError when longer than MAX_SEARCH_LENGTH characters.
    """
    if search is None:
        return None
    search = search.strip()
    if len(search) > MAX_SEARCH_LENGTH:
        raise InvalidInputError(
            f"Search for at most {MAX_SEARCH_LENGTH} characters.", field="search"
        )
    return search or None


def account_conditions(f: AccountFilter) -> list[ColumnElement[bool]]:
    """SQL conditions on KeyAccount for `f` (no join needed: lost is an EXISTS).

    The search's own % and _ match themselves (autoescape), not any text.
    """
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (KeyAccount.tier, f.tier),
        (KeyAccount.region, f.region),
        (KeyAccount.account_manager, f.account_manager),
        (KeyAccount.relationship_stage, f.relationship_stage),
        (KeyAccount.value_type, f.value_type),
    ):
        if value is not None:
            conditions.append(column == value)
    if f.defected is not None:
        # An alias: the query may join Defection itself (for the date it shows).
        defection = aliased(Defection)
        lost = exists().where(defection.account_id == KeyAccount.id)
        conditions.append(lost if f.defected else ~lost)
    search = clean_search(f.search)
    if search is not None:
        conditions.append(
            or_(
                KeyAccount.name.icontains(search, autoescape=True),
                KeyAccount.external_id.icontains(search, autoescape=True),
            )
        )
    return conditions


@dataclass(frozen=True, slots=True)
class AccountChoices:
    """The regions and account managers the registry holds, sorted."""

    regions: tuple[str, ...]
    account_managers: tuple[str, ...]


def account_filter_choices() -> AccountChoices:
    """Every region and account manager in the registry (one query)."""
    rows = db.session.execute(
        select(KeyAccount.region, KeyAccount.account_manager)
        .group_by(KeyAccount.region, KeyAccount.account_manager)
        .order_by(KeyAccount.region, KeyAccount.account_manager)
    ).all()
    return AccountChoices(
        regions=tuple(sorted({r for r, _m in rows if r})),
        account_managers=tuple(sorted({m for _r, m in rows if m})),
    )


__all__ = [
    "MAX_SEARCH_LENGTH",
    "AccountChoices",
    "AccountFilter",
    "account_conditions",
    "account_filter_choices",
    "clean_search",
]
