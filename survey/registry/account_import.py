"""Importing key accounts from CSV: validate the whole file, then create or update.

Writing is one transaction with one query per batch of rows, never one per row, so
a registry of 50,000 accounts imports in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from survey.audit import ACCOUNT_TIER_CHANGE, record_audits
from survey.db import db
from survey.errors import ConflictError, InvalidInputError
from survey.models import Defection, KeyAccount
from survey.registry.account_csv import (
    ACCOUNT_COLUMNS,
    IMPORTED_FIELDS,
    AccountRow,
    Problem,
    check_account_records,
    validate_accounts_csv,
)
from survey.registry.contacts import set_primary_contacts
from survey.registry.csv_files import CsvRecord
from survey.registry.webhook_events import emit_tier_changed

#: Rows per query when writing; well under SQLite's limit on bound parameters.
BATCH_SIZE = 1000
#: Read the whole registry at once when it is at most this big, or at most this many
#: times the number of rows being imported.
FULL_SCAN_MIN = 20_000
FULL_SCAN_RATIO = 4


@dataclass(slots=True)
class ImportReport:
    """The outcome of one import. `imported` is False when nothing was written."""

    created: int
    updated: int
    unchanged: int
    skipped: int
    problems: list[Problem]
    no_contact: int
    imported: bool


def import_accounts_csv(
    stream: IO[bytes],
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Validate an account CSV, then create or update accounts by `external_id`.

    With any problem nothing is imported, unless `skip_invalid` is set: then the
    valid rows are imported and the others reported. An inactive account that is in
    the file becomes active again, unless it has a recorded defection. One
    transaction; committed here. `progress` is called with the number of rows just
    written (an increment, as `click.progressbar.update` expects). Each existing
    account whose tier changes gets an audit entry (old and new tier) by `actor`.
    """
    checked = validate_accounts_csv(stream)
    problems = checked.problems
    if checked.fatal or (problems and not skip_invalid) or (problems and not checked.rows):
        return ImportReport(0, 0, 0, 0, problems, checked.no_contact, imported=False)

    try:
        created, updated, unchanged, tier_changes = _upsert(checked.rows, progress)
        _record_tier_changes(tier_changes, actor, source="import")
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ConflictError(
            "the registry changed while importing (another import at the same time?); "
            "nothing was imported, run the import again"
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    return ImportReport(
        created,
        updated,
        unchanged,
        skipped=checked.invalid_rows,
        problems=problems,
        no_contact=checked.no_contact,
        imported=True,
    )


#: The most accounts one `upsert_accounts` call takes (the API's upsertAccounts).
MAX_UPSERT = 500


class AccountItemsError(InvalidInputError):
    """Some items of an upsert are invalid: nothing was written. `problems` name each
    item by its index (Problem.line) and the column."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"{len(problems)} problem(s) in the accounts, nothing was written; "
            f"the first: item {first.line}: {first.column}: {first.message}",
            field="input",
        )
        self.problems = problems


@dataclass(frozen=True, slots=True)
class UpsertReport:
    created: int
    updated: int
    unchanged: int


def upsert_accounts(
    items: Sequence[Mapping[str, object]], *, actor: str | None = None
) -> UpsertReport:
    """Create or update accounts by `external_id` from plain values (a CRM through the
    API), with the account CSV's columns and checks (survey.registry.account_csv),
    all or nothing: AccountItemsError lists every problem by item index. At most
    MAX_UPSERT items. Tier changes are audited and emit `account.tier_changed`
    (source "api"). One transaction; committed here."""
    if len(items) > MAX_UPSERT:
        raise InvalidInputError(
            f"At most {MAX_UPSERT} accounts per call ({len(items)} given).", field="input"
        )
    records = [
        CsvRecord(
            index,
            {c: "" if item.get(c) is None else str(item.get(c)).strip() for c in ACCOUNT_COLUMNS},
        )
        for index, item in enumerate(items)
    ]
    checked = check_account_records(records, unit="item")
    if checked.problems:
        raise AccountItemsError(checked.problems)
    try:
        created, updated, unchanged, tier_changes = _upsert(checked.rows, None)
        _record_tier_changes(tier_changes, actor, source="api")
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ConflictError(
            "the registry changed while writing (another import at the same time?); "
            "nothing was written, send the accounts again"
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    return UpsertReport(created, updated, unchanged)


def _record_tier_changes(
    changes: list[tuple[int, str, str, str]], actor: str | None, *, source: str
) -> None:
    """An audit entry and an `account.tier_changed` event per (account id, external
    id, old tier, new tier), in the caller's transaction."""
    record_audits(
        actor,
        ACCOUNT_TIER_CHANGE,
        "account",
        [(external_id, {"old": old, "new": new}) for _, external_id, old, new in changes],
    )
    emit_tier_changed(((a, old, new) for a, _, old, new in changes), source=source)


def _upsert(
    rows: list[AccountRow], progress: Callable[[int], None] | None
) -> tuple[int, int, int, list[tuple[int, str, str, str]]]:
    """Created, updated and unchanged counts, and (id, external_id, old tier, new tier)
    of each existing account whose tier changed."""
    existing = _existing_accounts([row.external_id for row in rows])
    created = updated = 0
    unchanged_ids: set[str] = set()
    tier_changes: list[tuple[int, str, str, str]] = []
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in batch:
            values = row.values()
            current = existing.get(row.external_id)
            if current is None:
                inserts.append({"external_id": row.external_id, "active": True, **values})
                continue
            # A defected account stays inactive: the file lists who we sell to, not
            # whether they still buy from us.
            active = current.active or current.defection_id is None
            if active == current.active and all(
                getattr(current, name) == value for name, value in values.items()
            ):
                unchanged_ids.add(row.external_id)
            else:
                updates.append({"id": current.id, "active": active, **values})
                if current.tier != row.tier:
                    tier_changes.append((current.id, row.external_id, current.tier, row.tier))
        # ORM bulk statements: one executemany per batch instead of a unit of work
        # per object; column defaults (created_at) and onupdate (updated_at) still apply.
        if inserts:
            db.session.execute(insert(KeyAccount), inserts)
            created += len(inserts)
        if updates:
            db.session.execute(update(KeyAccount), updates)
            updated += len(updates)
        if progress is not None:
            progress(len(batch))
    # The contact columns are the account's primary contact.
    changed = _set_primary_contacts(rows, existing)
    moved = len(unchanged_ids & changed)
    return created, updated + moved, len(unchanged_ids) - moved, tier_changes


def _set_primary_contacts(rows: list[AccountRow], existing: dict[str, Row[Any]]) -> set[str]:
    """Create or update the primary contact of every row that names one; the
    external ids of the accounts whose contacts changed."""
    wanted = {row.external_id: contact for row in rows if (contact := row.contact()) is not None}
    ids = {e: existing[e].id for e in wanted if e in existing}
    new = [e for e in wanted if e not in ids]
    for start in range(0, len(new), BATCH_SIZE):
        batch = new[start : start + BATCH_SIZE]
        for external_id, account_id in db.session.execute(
            select(KeyAccount.external_id, KeyAccount.id).where(KeyAccount.external_id.in_(batch))
        ):
            ids[external_id] = account_id
    external_of = {account_id: e for e, account_id in ids.items()}
    changed = set_primary_contacts({ids[e]: contact for e, contact in wanted.items()})
    return {external_of[a] for a in changed}


def _existing_accounts(external_ids: list[str]) -> dict[str, Row[Any]]:
    """The stored fields of the accounts among `external_ids`.

    Everything is read before anything is written. When the file covers a good part
    of the registry, one scan of the table is cheapest and immune to stale planner
    statistics (right after a bulk import PostgreSQL may still think the table is
    empty and answer each `IN (...)` batch with a full scan). A small file against
    a large registry is looked up by index, one query per batch.
    """
    statement = select(
        KeyAccount.id,
        KeyAccount.external_id,
        KeyAccount.active,
        Defection.id.label("defection_id"),
        *(getattr(KeyAccount, name) for name in IMPORTED_FIELDS),
    ).outerjoin(Defection, Defection.account_id == KeyAccount.id)
    registry_size = db.session.scalar(select(func.count()).select_from(KeyAccount)) or 0
    wanted = set(external_ids)
    if registry_size <= max(FULL_SCAN_MIN, FULL_SCAN_RATIO * len(wanted)):
        return {r.external_id: r for r in db.session.execute(statement) if r.external_id in wanted}
    found: dict[str, Row[Any]] = {}
    for start in range(0, len(external_ids), BATCH_SIZE):
        batch = external_ids[start : start + BATCH_SIZE]
        for row in db.session.execute(statement.where(KeyAccount.external_id.in_(batch))):
            found[row.external_id] = row
    return found


__all__ = [
    "BATCH_SIZE",
    "FULL_SCAN_MIN",
    "FULL_SCAN_RATIO",
    "MAX_UPSERT",
    "AccountItemsError",
    "ImportReport",
    "UpsertReport",
    "import_accounts_csv",
    "upsert_accounts",
]
