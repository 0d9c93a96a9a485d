"""Importing contacts from CSV: validate the whole file, then create or update.

A row names its account by external id and its person by e-mail (or, without one,
by phone): that contact is updated, or created. All or nothing, like the account
import, unless `skip_invalid`. Exactly one primary contact per account with
contacts: a row marked primary takes the flag from the previous primary (a row not
marked leaves the flag where it is), and an account left with contacts but no
primary gets its first contact as primary. A few statements per 1,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from survey.db import db
from survey.errors import ConflictError
from survey.models import KeyAccount
from survey.registry.contact_csv import ContactRow, validate_contacts_csv
from survey.registry.contacts import (
    BATCH_SIZE,
    StoredContact,
    matching_contact,
    stored_contacts,
    write_contacts,
)
from survey.registry.csv_files import Problem
from survey.registry.messages import quote_input


@dataclass(slots=True)
class ContactImportReport:
    """The outcome of one contact import. `imported` is False when nothing was written."""

    created: int
    updated: int
    unchanged: int
    skipped: int
    problems: list[Problem]
    imported: bool


def import_contacts_csv(stream: IO[bytes], *, skip_invalid: bool = False) -> ContactImportReport:
    """Validate a contact CSV, check that every row's account exists, then upsert the
    contacts by (account, e-mail), or (account, phone) without an e-mail.

    With any problem nothing is imported, unless `skip_invalid` is set: then the
    valid rows are imported and the others reported. One transaction; committed here.
    """
    checked = validate_contacts_csv(stream)
    problems = list(checked.problems)
    rows = checked.rows
    skipped = checked.invalid_rows
    if not checked.fatal and rows:
        accounts = _accounts([r.account_external_id for r in rows])
        unknown = [r for r in rows if r.account_external_id not in accounts]
        for row in unknown:
            problems.append(
                Problem(
                    row.line,
                    "account_external_id",
                    f"{quote_input(row.account_external_id)} is not a key account in the "
                    "registry (import it with flask accounts import first)",
                )
            )
        if unknown:
            problems.sort(key=lambda p: p.line)
            rows = [r for r in rows if r.account_external_id in accounts]
            skipped += len(unknown)
    if checked.fatal or (problems and not skip_invalid) or not rows:
        return ContactImportReport(0, 0, 0, 0, problems, imported=False)

    try:
        created, updated, unchanged = _upsert(rows, accounts)
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ConflictError(
            "the contacts changed while importing (another import at the same time?); "
            "nothing was imported, run the import again"
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    return ContactImportReport(created, updated, unchanged, skipped, problems, imported=True)


def _accounts(external_ids: list[str]) -> dict[str, tuple[int, str]]:
    """(id, locale) of the accounts among `external_ids` (one query per 1,000)."""
    wanted = sorted(set(external_ids))
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(wanted), BATCH_SIZE):
        for external_id, account_id, locale in db.session.execute(
            select(KeyAccount.external_id, KeyAccount.id, KeyAccount.locale).where(
                KeyAccount.external_id.in_(wanted[start : start + BATCH_SIZE])
            )
        ):
            found[external_id] = (account_id, locale)
    return found


def _upsert(rows: list[ContactRow], accounts: dict[str, tuple[int, str]]) -> tuple[int, int, int]:
    contacts = stored_contacts({accounts[r.account_external_id][0] for r in rows})
    touched: list[StoredContact] = []
    for row in rows:
        account_id, account_locale = accounts[row.account_external_id]
        mine = contacts[account_id]
        contact = matching_contact(mine, row.email, row.phone)
        if contact is None:
            contact = StoredContact(
                None, account_id, "", row.role, None, None, account_locale, False, False
            )
            mine.append(contact)
        contact.name = row.name
        contact.role = row.role
        contact.email = row.email
        contact.phone = row.phone
        if row.locale is not None:
            contact.locale = row.locale
        if row.primary:
            for other in mine:
                other.is_primary = other is contact
        touched.append(contact)  # once: the file names each person once (validated)
    for group in contacts.values():
        if group and not any(c.is_primary for c in group):
            group[0].is_primary = True  # the first contact, in id order then file order
    created = sum(1 for c in touched if c.id is None)
    updated = sum(1 for c in touched if c.id is not None and _differs(c))
    write_contacts(contacts)
    return created, updated, len(touched) - created - updated


def _differs(contact: StoredContact) -> bool:
    return contact.fields() != contact.stored or contact.is_primary != contact.was_primary


__all__ = [
    "ContactImportReport",
    "import_contacts_csv",
]
