"""Whom of a sampled account a campaign invites: its primary contact, or all its
contacts, narrowed to some roles; and which of them may be invited now.

A contact may be invited when it has an e-mail or a phone, has not opted out and
was not invited to any campaign within the campaign's `exclude_days` (each contact
has its own frequency check). An account is in the frame when at least one of its
chosen contacts may be invited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, exists, func, not_, or_, select, true

from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    CONTACT_CHOICES,
    CONTACTS_ALL,
    CONTACTS_PRIMARY,
    Contact,
    Invitation,
    KeyAccount,
    codes_to_column,
)
from survey.scale import ContactRole

#: Accounts per query when reading their contacts.
BATCH_SIZE = 1000


class Invitee(NamedTuple):
    """A contact a launch invites."""

    contact_id: int
    locale: str


@dataclass(frozen=True)
class ContactChoice:
    """Which contacts of each sampled account to invite."""

    contacts: str = CONTACTS_PRIMARY
    #: Role codes; empty means every role.
    roles: tuple[str, ...] = ()

    @property
    def roles_text(self) -> str | None:
        """The roles as stored on the campaign (comma-separated), None for all."""
        return codes_to_column(self.roles)

    def chosen(self) -> list[ColumnElement[bool]]:
        """SQL: the contact belongs to the account of the enclosing query and is chosen."""
        conditions: list[ColumnElement[bool]] = [Contact.account_id == KeyAccount.id]
        if self.contacts == CONTACTS_PRIMARY:
            conditions.append(Contact.is_primary.is_(True))
        if self.roles:
            conditions.append(Contact.role.in_(self.roles))
        return conditions


def contact_choice(contacts: str | None, roles: Iterable[str] | None) -> ContactChoice:
    """A validated ContactChoice: `contacts` "primary" or "all" (any case), `roles`
    codes or Chinese or English labels. InvalidInputError (field "contacts" or
    "contact_roles") for anything else."""
    mode = (contacts or CONTACTS_PRIMARY).strip().lower()
    if mode not in CONTACT_CHOICES:
        raise InvalidInputError(
            f"Unknown contact choice {contacts!r}: use {CONTACTS_PRIMARY!r} (each sampled "
            f"account's primary contact) or {CONTACTS_ALL!r} (all its contacts).",
            field="contacts",
        )
    codes: list[str] = []
    for raw in roles or ():
        try:
            code = str(ContactRole.parse(raw).value)
        except ValueError:
            raise InvalidInputError(
                f"Unknown contact role {raw!r}: use one of {', '.join(ContactRole.codes())} "
                "(or the Chinese or English label).",
                field="contact_roles",
            ) from None
        if code not in codes:
            codes.append(code)
    return ContactChoice(mode, tuple(sorted(codes)))


def reachable() -> ColumnElement[bool]:
    """SQL: the contact has an e-mail or a phone (not blank)."""
    return or_(
        func.coalesce(func.trim(Contact.email), "") != "",
        func.coalesce(func.trim(Contact.phone), "") != "",
    )


def not_recently_invited(cutoff: datetime | None) -> ColumnElement[bool]:
    """SQL: the contact was not invited to any campaign since `cutoff` (None: true)."""
    if cutoff is None:
        return true()
    return not_(
        exists().where(Invitation.contact_id == Contact.id, Invitation.created_at >= cutoff)
    )


def exclusion_whens(
    choice: ContactChoice, cutoff: datetime | None
) -> list[tuple[ColumnElement[bool], str]]:
    """(condition, reason) for the contact-related reasons an account is left out:
    no chosen contact with an e-mail or phone, all of those opted out, all the rest
    invited recently (only when `cutoff` is given)."""
    chosen = choice.chosen()
    whens: list[tuple[ColumnElement[bool], Any]] = [
        (not_(exists().where(*chosen, reachable())), "no_contact"),
        (not_(exists().where(*chosen, reachable(), Contact.opted_out_at.is_(None))), "opted_out"),
    ]
    if cutoff is not None:
        invitable = exists().where(
            *chosen, reachable(), Contact.opted_out_at.is_(None), not_recently_invited(cutoff)
        )
        whens.append((not_(invitable), "recently_surveyed"))
    return whens


def invitable_contacts(
    account_ids: Sequence[int], choice: ContactChoice, cutoff: datetime | None
) -> dict[int, list[Invitee]]:
    """The chosen contacts of these accounts that may be invited now, by account,
    primary contact first (one query per BATCH_SIZE accounts)."""
    found: dict[int, list[Invitee]] = defaultdict(list)
    conditions: list[ColumnElement[bool]] = [
        reachable(),
        Contact.opted_out_at.is_(None),
        not_recently_invited(cutoff),
    ]
    if choice.contacts == CONTACTS_PRIMARY:
        conditions.append(Contact.is_primary.is_(True))
    if choice.roles:
        conditions.append(Contact.role.in_(choice.roles))
    ids = list(account_ids)
    for start in range(0, len(ids), BATCH_SIZE):
        rows = db.session.execute(
            select(Contact.account_id, Contact.id, Contact.locale)
            .where(Contact.account_id.in_(ids[start : start + BATCH_SIZE]), *conditions)
            .order_by(Contact.account_id, Contact.is_primary.desc(), Contact.id)
        )
        for account_id, contact_id, locale in rows:
            found[account_id].append(Invitee(contact_id, locale))
    return dict(found)


__all__ = [
    "ContactChoice",
    "Invitee",
    "contact_choice",
    "exclusion_whens",
    "invitable_contacts",
    "not_recently_invited",
    "reachable",
]
