"""Contacts, the buying centre: the people we ask at each key account.

Each account with contacts has exactly one primary contact. The account CSV's
contact columns describe it (`set_primary_contacts`); the contacts CSV adds and
updates anyone (`survey.registry.contact_import`). Writes are a few statements per
batch of accounts, never one per contact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from survey.db import db
from survey.models import Contact
from survey.scale import ContactRole

#: Contacts per query when reading or writing; well under SQLite's parameter limit.
BATCH_SIZE = 1000


@dataclass(slots=True, eq=False)
class StoredContact:
    """A contact as read before a write, changed in place while planning it."""

    id: int | None
    account_id: int
    name: str
    role: str
    email: str | None
    phone: str | None
    locale: str
    is_primary: bool
    #: As stored: the primary flag and fields(), to write only what changed.
    was_primary: bool
    stored: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.id is not None and self.stored is None:
            self.stored = self.fields()

    def fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "email": self.email,
            "phone": self.phone,
            "locale": self.locale,
        }


def stored_contacts(account_ids: Collection[int]) -> dict[int, list[StoredContact]]:
    """The contacts of these accounts in id order, grouped by account (one query per
    BATCH_SIZE accounts)."""
    found: dict[int, list[StoredContact]] = defaultdict(list)
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), BATCH_SIZE):
        rows = db.session.execute(
            select(
                Contact.id,
                Contact.account_id,
                Contact.name,
                Contact.role,
                Contact.email,
                Contact.phone,
                Contact.locale,
                Contact.is_primary,
            )
            .where(Contact.account_id.in_(ids[start : start + BATCH_SIZE]))
            .order_by(Contact.id)
        )
        for r in rows:
            found[r.account_id].append(StoredContact(*r, was_primary=r.is_primary))
    return found


def matching_contact(
    contacts: Iterable[StoredContact], email: str | None, phone: str | None
) -> StoredContact | None:
    """The contact a (e-mail, phone) pair names: by e-mail (case-insensitive), or by
    phone when there is no e-mail."""
    for contact in contacts:
        if email is not None:
            if contact.email is not None and contact.email.lower() == email.lower():
                return contact
        elif phone is not None and contact.email is None and contact.phone == phone:
            return contact
    return None


def set_primary_contacts(values: Mapping[int, Mapping[str, Any]]) -> set[int]:
    """Make each account's primary contact say `values[account_id]` (name, email,
    phone, locale): the contact with that e-mail becomes primary if there is one,
    else the primary contact is updated, else one is created (role "other").

    Adds to the caller's transaction; returns the accounts whose contacts changed.
    """
    contacts = stored_contacts(values.keys())
    for account_id, wanted in values.items():
        mine = contacts[account_id]
        primary = next((c for c in mine if c.is_primary), None)
        target = None
        if wanted.get("email") is not None:
            target = matching_contact(mine, wanted["email"], None)
        if target is None:
            target = primary
        if target is None:
            target = StoredContact(
                None, account_id, "", ContactRole.OTHER.value, None, None, "zh", False, False
            )
            mine.append(target)
        if primary is not None and primary is not target:
            primary.is_primary = False
        target.is_primary = True
        target.name = wanted.get("name") or ""
        target.email = wanted.get("email")
        target.phone = wanted.get("phone")
        target.locale = wanted.get("locale") or target.locale
    return write_contacts(contacts)


def write_contacts(planned: Mapping[int, list[StoredContact]]) -> set[int]:
    """Write what changed in `planned` since it was read: primary flags taken away
    first (one primary per account at every moment), then updates, then new contacts.
    Returns the accounts whose contacts changed."""
    unflag: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    changed: set[int] = set()
    for account_id, group in planned.items():
        for contact in group:
            if contact.id is None:
                inserts.append(
                    {
                        "account_id": account_id,
                        "is_primary": contact.is_primary,
                        **contact.fields(),
                    }
                )
                changed.add(account_id)
                continue
            if contact.was_primary and not contact.is_primary:
                unflag.append({"id": contact.id, "is_primary": False})
            if contact.fields() != contact.stored or contact.is_primary != contact.was_primary:
                changed.add(account_id)
                updates.append(
                    {"id": contact.id, "is_primary": contact.is_primary, **contact.fields()}
                )
    for statement, rows in ((update(Contact), unflag), (update(Contact), updates)):
        for start in range(0, len(rows), BATCH_SIZE):
            db.session.execute(statement, rows[start : start + BATCH_SIZE])
    for start in range(0, len(inserts), BATCH_SIZE):
        db.session.execute(insert(Contact), inserts[start : start + BATCH_SIZE])
    return changed


__all__ = [
    "BATCH_SIZE",
    "StoredContact",
    "matching_contact",
    "set_primary_contacts",
    "stored_contacts",
    "write_contacts",
]
