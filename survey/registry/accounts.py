"""The key-account registry: CSV validation and import, and recording defections.

The importer validates every row before it writes anything, so a user sees every
problem of a file at once, each as `line N: column: what is wrong` with N the line
an editor shows. Writing is one transaction with one query per batch of rows, never
one per row, so a registry of 50,000 accounts imports in seconds.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from sqlalchemy import Row, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from survey import clock
from survey.audit import DEFECTION_RECORD, record_audit
from survey.db import db
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.models import SOURCE_EXIT_SURVEY, SOURCE_STAFF, Defection, DefectionReason, KeyAccount
from survey.scale import (
    DEFAULT_LOCALE,
    TIERS,
    ReasonCode,
    RelationshipStage,
    ValueType,
    normalise_locale,
)

#: The columns of an account CSV, in the order the template and exports use.
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "external_id",
    "name",
    "tier",
    "value_type",
    "relationship_stage",
    "region",
    "annual_revenue",
    "account_manager",
    "contact_name",
    "contact_email",
    "contact_phone",
    "locale",
)

#: Limits follow the column sizes in survey/models.py (PostgreSQL enforces them).
MAX_LENGTH: dict[str, int] = {
    "external_id": 64,
    "name": 200,
    "region": 100,
    "account_manager": 120,
    "contact_name": 120,
    "contact_email": 254,
    "contact_phone": 40,
}
MIN_PHONE_LENGTH = 5
MAX_REVENUE = 2**63 - 1  # BIGINT
MAX_COMPETITOR_LENGTH = 200
MAX_RECORDED_BY_LENGTH = 120
DEFECTION_SOURCES: tuple[str, ...] = (SOURCE_STAFF, SOURCE_EXIT_SURVEY)

#: Rows per query when writing; well under SQLite's limit on bound parameters.
BATCH_SIZE = 1000
#: Read the whole registry at once when it is at most this big, or at most this many
#: times the number of rows being imported.
FULL_SCAN_MIN = 20_000
FULL_SCAN_RATIO = 4

# The fields the importer writes, besides external_id.
_FIELDS: tuple[str, ...] = ACCOUNT_COLUMNS[1:]

# The WHATWG HTML "valid e-mail address" grammar, with a dot required in the domain:
# strict enough to catch typos, loose enough for every address people really use.
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
# Unicode category Cc except tab and line breaks, which are legitimate inside a quoted
# cell; the rest is invisible garbage (and PostgreSQL refuses NUL outright).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK_RE = re.compile(rb"\r\n|\r|\n")
_PHONE_RE = re.compile(r"[0-9 +\-()]+")
# Plain digits, or digits grouped by thousands ("1,200,000"); ".00" is tolerated
# because spreadsheets often format money that way.
_REVENUE_RE = re.compile(r"(?P<int>[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.0+)?")
_NUMBER_LIKE_RE = re.compile(r"[+-]?[0-9][0-9,]*(?:\.[0-9]*)?")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file, at the line an editor shows."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return f"line {self.line}: {self.column}: {self.message}"
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class AccountRow:
    """A valid row of an account CSV, with every value parsed and normalised."""

    line: int
    external_id: str
    name: str
    tier: str
    value_type: str
    relationship_stage: str
    region: str
    annual_revenue: int
    account_manager: str
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    locale: str

    @property
    def has_contact(self) -> bool:
        return bool(self.contact_email or self.contact_phone)

    def values(self) -> dict[str, Any]:
        """The model fields this row sets (everything but external_id)."""
        return {name: getattr(self, name) for name in _FIELDS}


@dataclass(slots=True)
class ValidationResult:
    """What a CSV file holds: its valid rows and every problem found."""

    rows: list[AccountRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Data rows read (blank lines not counted).
    total_rows: int = 0
    #: Rows with at least one problem.
    invalid_rows: int = 0
    #: Valid rows with neither e-mail nor phone: importable, but never sampled.
    no_contact: int = 0
    #: The file itself (encoding, header) is unusable: no row can be imported.
    fatal: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


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


# --- validation -------------------------------------------------------------------


def validate_accounts_csv(stream: IO[bytes]) -> ValidationResult:
    """Read an account CSV (UTF-8, with or without BOM) and check every row.

    Never touches the database and never raises for bad content: every problem is
    reported as a `Problem`, and every valid row is returned parsed.
    """
    result = ValidationResult()
    data = stream.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Count line breaks the way the CSV reader does (\r\n, \n or a lone \r).
        line = len(_LINE_BREAK_RE.findall(data, 0, exc.start)) + 1
        result.problems.append(Problem(line, "", "file is not UTF-8 text (save it as UTF-8)"))
        result.fatal = True
        return result

    records = _records(text)
    header = _read_header(records, result)
    if header is None:
        result.fatal = True
        return result

    first_line_of: dict[str, int] = {}
    duplicates: dict[str, list[int]] = {}
    parsed: list[tuple[int, AccountRow | None, list[Problem]]] = []
    for line, cells, csv_problem in records:
        if csv_problem is None and all(not c.strip() for c in cells):
            continue  # blank line, or a spreadsheet's row of empty cells
        result.total_rows += 1
        if csv_problem is not None:
            parsed.append((line, None, [csv_problem]))
            continue
        if len(cells) != len(header):
            message = f"has {len(cells)} cells but the header has {len(header)}"
            if len(cells) > len(header):
                message += ' (put values that contain a comma in "double quotes")'
            parsed.append((line, None, [Problem(line, "", message)]))
            continue
        values = {name: cells[i].strip() for i, name in enumerate(header)}
        external_id = values["external_id"]
        if external_id and len(external_id) <= MAX_LENGTH["external_id"]:
            if external_id in first_line_of:
                duplicates.setdefault(external_id, [first_line_of[external_id]]).append(line)
            else:
                first_line_of[external_id] = line
        parsed.append((line, *_parse_row(line, values)))

    # Every copy of a repeated id is a problem: importing either would be a guess.
    duplicate_problems: dict[int, Problem] = {}
    for external_id, lines in duplicates.items():
        for line in lines:
            others = [str(n) for n in lines if n != line]
            where = f"line {others[0]}" if len(others) == 1 else f"lines {', '.join(others)}"
            duplicate_problems[line] = Problem(
                line, "external_id", f"{_show(external_id)} is also on {where}"
            )

    for line, row, problems in parsed:
        if line in duplicate_problems:
            problems.insert(0, duplicate_problems[line])
        if problems:
            result.invalid_rows += 1
            result.problems.extend(problems)
        elif row is not None:
            result.rows.append(row)
            if not row.has_contact:
                result.no_contact += 1
    return result


def _records(text: str) -> Iterator[tuple[int, list[str], Problem | None]]:
    """(first line of the record, cells, problem) for each CSV record, blank ones too."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line_after_previous = 0
    while True:
        start = line_after_previous + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line_after_previous = reader.line_num
            yield start, [], Problem(start, "", _csv_error_message(exc))
            continue
        line_after_previous = reader.line_num
        yield start, cells, None


def _csv_error_message(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return 'a quoted value is never closed (a " is missing)'
    if "expected after" in text:
        return (
            'a " inside a value: put the whole value in "double quotes" '
            'and write each " inside it twice ("")'
        )
    if "field larger than field limit" in text:
        return "a value is far too long"
    return f"cannot be read as CSV ({text})"


def _read_header(
    records: Iterator[tuple[int, list[str], Problem | None]], result: ValidationResult
) -> list[str] | None:
    """The column names in file order, or None (with problems) if unusable."""
    first = next((r for r in records if r[2] is not None or any(c.strip() for c in r[1])), None)
    if first is None:
        result.problems.append(
            Problem(1, "", "the file is empty; the first line must name the columns: " + _COLS)
        )
        return None
    line, cells, csv_problem = first
    if csv_problem is not None:
        result.problems.append(csv_problem)
        return None

    names = [c.strip().lower() for c in cells]
    problems: list[Problem] = []
    if not set(names) & set(ACCOUNT_COLUMNS):
        message = "the first line must name the columns: " + _COLS
        if len(cells) == 1 and (";" in cells[0] or "\t" in cells[0]):
            separator = "semicolons" if ";" in cells[0] else "tabs"
            message = f"columns must be separated by commas, not {separator}; " + message
        result.problems.append(Problem(line, "", message))
        return None
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            message = f"column {position} has no name; name it or delete the empty column"
            problems.append(Problem(line, "", message))
        elif name in seen:
            problems.append(Problem(line, name, "column appears twice in the header"))
        elif name not in ACCOUNT_COLUMNS:
            close = difflib.get_close_matches(name, ACCOUNT_COLUMNS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"the columns are {_COLS}"
            problems.append(Problem(line, name[:40], f"unknown column; {hint}"))
        seen.add(name)
    for name in ACCOUNT_COLUMNS:
        if name not in seen:
            problems.append(Problem(line, name, "column is missing from the header"))
    if problems:
        result.problems.extend(problems)
        return None
    return names


_COLS = ",".join(ACCOUNT_COLUMNS)


def _parse_row(line: int, values: dict[str, str]) -> tuple[AccountRow | None, list[Problem]]:
    problems: list[Problem] = []
    reported: set[str] = set()

    def problem(column: str, message: str) -> None:
        # One problem per cell: the first one found is the one to fix.
        if column not in reported:
            reported.add(column)
            problems.append(Problem(line, column, message))

    for column, value in values.items():
        bad = _control_character(value)
        if bad is not None:
            problem(column, f"contains the control character U+{ord(bad):04X}")

    def text(column: str, *, required: bool) -> str:
        value = values[column]
        if not value:
            if required:
                problem(column, "is required")
            return ""
        limit = MAX_LENGTH[column]
        if len(value) > limit:
            problem(column, f"is {len(value)} characters long; at most {limit} are allowed")
        return value

    external_id = text("external_id", required=True)
    name = text("name", required=True)
    region = text("region", required=True)
    account_manager = text("account_manager", required=True)
    contact_name = text("contact_name", required=False)

    tier = values["tier"].upper()
    if tier not in TIERS:
        got = f"{_show(values['tier'])} is not a tier" if values["tier"] else "is required"
        problem("tier", f"{got}; use {_or(TIERS)}")

    value_type = _parse_choice(values, "value_type", ValueType, "value type", problem)
    stage = _parse_choice(
        values, "relationship_stage", RelationshipStage, "relationship stage", problem
    )

    revenue = 0
    try:
        revenue = parse_revenue(values["annual_revenue"])
    except ValueError as exc:
        problem("annual_revenue", str(exc))

    email = values["contact_email"] or None
    if email is not None and (len(email) > MAX_LENGTH["contact_email"] or not _valid_email(email)):
        problem("contact_email", f"{_show(email)} is not a valid e-mail address")

    phone = values["contact_phone"] or None
    if phone is not None:
        if not _PHONE_RE.fullmatch(phone):
            problem("contact_phone", f"{_show(phone)}: use only digits, spaces and + - ( )")
        elif not any(c.isdigit() for c in phone):
            problem("contact_phone", f"{_show(phone)} has no digits")
        elif not MIN_PHONE_LENGTH <= len(phone) <= MAX_LENGTH["contact_phone"]:
            problem(
                "contact_phone",
                f"{_show(phone)} is {len(phone)} characters long; "
                f"use {MIN_PHONE_LENGTH} to {MAX_LENGTH['contact_phone']}",
            )

    locale = DEFAULT_LOCALE
    if values["locale"]:
        found = normalise_locale(values["locale"])
        if found is None:
            problem(
                "locale", f"{_show(values['locale'])} is not a supported language; use zh or en"
            )
        else:
            locale = found

    if problems:
        # Report in the order of the columns, as a user reads the row.
        problems.sort(key=lambda p: ACCOUNT_COLUMNS.index(p.column))
        return None, problems
    assert value_type is not None and stage is not None
    return (
        AccountRow(
            line=line,
            external_id=external_id,
            name=name,
            tier=tier,
            value_type=value_type,
            relationship_stage=stage,
            region=region,
            annual_revenue=revenue,
            account_manager=account_manager,
            contact_name=contact_name,
            contact_email=email,
            contact_phone=phone,
            locale=locale,
        ),
        [],
    )


def _parse_choice(
    values: dict[str, str],
    column: str,
    enum: type[ValueType] | type[RelationshipStage],
    what: str,
    problem: Callable[[str, str], None],
) -> str | None:
    raw = values[column]
    code = _parse_code(enum, raw) if raw else None
    if code is None:
        allowed = f"use {_or(enum.codes())} (or the Chinese or English label)"
        got = f"{_show(raw)} is not a {what}" if raw else "is required"
        problem(column, f"{got}; {allowed}")
    return code


@functools.lru_cache(maxsize=256)
def _parse_code(enum: type[ValueType] | type[RelationshipStage], raw: str) -> str | None:
    # A registry repeats the same few spellings thousands of times: parse each once.
    try:
        return str(enum.parse(raw).value)
    except ValueError:
        return None


def parse_revenue(raw: str) -> int:
    """A non-negative whole amount: "1200000", "1,200,000", " 5 "; empty means 0.

    Raises ValueError with a message fit to show a user.
    """
    text = raw.strip()
    if not text:
        return 0
    match = _REVENUE_RE.fullmatch(text)
    if match is None:
        if _NUMBER_LIKE_RE.fullmatch(text):
            if text.startswith("-"):
                raise ValueError(f"{_show(text)} is negative; it must be 0 or more")
            if "." in text:
                raise ValueError(f"{_show(text)} must be a whole number (no decimals)")
        raise ValueError(f"{_show(text)} is not a whole number (write e.g. 1200000 or 1,200,000)")
    value = int(match.group("int").replace(",", ""))
    if value > MAX_REVENUE:
        raise ValueError(f"{_show(text)} is too large")
    return value


def _valid_email(address: str) -> bool:
    if not _EMAIL_RE.fullmatch(address):
        return False
    local = address.split("@", 1)[0]
    return not (local.startswith(".") or local.endswith(".") or ".." in local)


def _control_character(value: str) -> str | None:
    found = _CONTROL_RE.search(value)
    return found.group() if found else None


def _show(value: str, limit: int = 40) -> str:
    """A cell value quoted for a message, shortened so one bad cell can't flood it."""
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return f"'{shown}'"


def _or(options: Sequence[str]) -> str:
    return ", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0]


# --- import -----------------------------------------------------------------------


def import_accounts_csv(
    stream: IO[bytes],
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate an account CSV, then create or update accounts by `external_id`.

    With any problem nothing is imported, unless `skip_invalid` is set: then the
    valid rows are imported and the others reported. An inactive account that is in
    the file becomes active again, unless it has a recorded defection. One
    transaction; committed here. `progress` is called with the number of rows just
    written (an increment, as `click.progressbar.update` expects).
    """
    checked = validate_accounts_csv(stream)
    problems = checked.problems
    if checked.fatal or (problems and not skip_invalid) or (problems and not checked.rows):
        return ImportReport(0, 0, 0, 0, problems, checked.no_contact, imported=False)

    try:
        created, updated, unchanged = _upsert(checked.rows, progress)
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


def _upsert(rows: list[AccountRow], progress: Callable[[int], None] | None) -> tuple[int, int, int]:
    existing = _existing_accounts([row.external_id for row in rows])
    created = updated = unchanged = 0
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
                unchanged += 1
            else:
                updates.append({"id": current.id, "active": active, **values})
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
    return created, updated, unchanged


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
        *(getattr(KeyAccount, name) for name in _FIELDS),
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


# --- reading accounts -------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class AccountList:
    """A page of accounts and how many match in all."""

    total: int
    accounts: list[AccountSummary]


def get_account(*, account_id: int | None = None, external_id: str | None = None) -> KeyAccount:
    """One account by id or external id, with its defection and reasons loaded.

    Raises NotFoundError if there is no such account.
    """
    statement = select(KeyAccount).options(
        joinedload(KeyAccount.defection).selectinload(Defection.reasons)
    )
    return _one_account(statement, account_id=account_id, external_id=external_id)


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
            raise InvalidInputError(f"{_show(tier)} is not a tier; use {_or(TIERS)}", field="tier")
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
        )
        .outerjoin(Defection, Defection.account_id == KeyAccount.id)
        .where(*conditions)
        .order_by(KeyAccount.external_id)
        .limit(limit)
        .offset(offset)
    )
    return AccountList(total=total or 0, accounts=[AccountSummary(*row) for row in rows])


def _one_account(
    statement: Select[Any], *, account_id: int | None, external_id: str | None
) -> KeyAccount:
    if (account_id is None) == (external_id is None):
        raise InvalidInputError("give either an account id or an external id", field="account")
    if account_id is not None:
        statement = statement.where(KeyAccount.id == account_id)
        label = f"id {account_id}"
    else:
        assert external_id is not None
        statement = statement.where(KeyAccount.external_id == external_id.strip())
        label = _show(external_id.strip())
    account = db.session.scalars(statement).unique().one_or_none()
    if account is None:
        raise NotFoundError(f"there is no key account with {label}", field="account")
    return account


# --- defections -------------------------------------------------------------------


def parse_reasons(reasons: Sequence[str]) -> list[ReasonCode]:
    """Reason codes (or labels) in order, duplicates dropped; the first is primary.

    Raises InvalidInputError (field "reasons") for none or an unknown one.
    """
    if isinstance(reasons, str):
        reasons = [reasons]
    parsed: list[ReasonCode] = []
    unknown: list[str] = []
    for raw in reasons:
        try:
            code = ReasonCode.parse(raw)
        except ValueError:
            unknown.append(raw)
            continue
        if code not in parsed:
            parsed.append(code)  # type: ignore[arg-type]
    allowed = ", ".join(ReasonCode.codes())
    if unknown:
        names = ", ".join(_show(u) for u in unknown)
        raise InvalidInputError(f"unknown reason {names}; use {allowed}", field="reasons")
    if not parsed:
        raise InvalidInputError(
            f"give at least one reason (the first is the main one): {allowed}", field="reasons"
        )
    return parsed


def record_defection(
    *,
    account_id: int | None = None,
    external_id: str | None = None,
    defected_on: date,
    reasons: Sequence[str],
    competitor: str | None = None,
    lost_annual_revenue: int | None = None,
    note: str | None = None,
    recorded_by: str | None = None,
    source: str = SOURCE_STAFF,
    today: date | None = None,
) -> Defection:
    """Record that a key account left: when, why (first reason is the primary one),
    to whom and what it cost. Marks the account inactive and commits.

    `today` defaults to the server's local date; callers that know the business's
    time zone pass it. Raises InvalidInputError, NotFoundError, or ConflictError if
    the account already has a defection. Returns the defection with its account and
    reasons loaded.
    """
    codes = parse_reasons(reasons)
    if isinstance(defected_on, datetime):
        defected_on = defected_on.date()
    today = today or clock.today()
    if defected_on > today:
        raise InvalidInputError(
            f"the defection date {defected_on.isoformat()} is in the future "
            f"(today is {today.isoformat()})",
            field="defected_on",
        )
    if lost_annual_revenue is not None and lost_annual_revenue < 0:
        raise InvalidInputError(
            "the lost annual revenue cannot be negative", field="lost_annual_revenue"
        )
    if lost_annual_revenue is not None and lost_annual_revenue > MAX_REVENUE:
        raise InvalidInputError("the lost annual revenue is too large", field="lost_annual_revenue")
    if source not in DEFECTION_SOURCES:
        raise InvalidInputError(
            f"unknown source {_show(source)}; use {_or(DEFECTION_SOURCES)}", field="source"
        )
    competitor = _optional_text(competitor, "competitor", MAX_COMPETITOR_LENGTH)
    recorded_by = _optional_text(recorded_by, "recorded_by", MAX_RECORDED_BY_LENGTH)
    note = _optional_text(note, "note", None)

    account = _one_account(select(KeyAccount), account_id=account_id, external_id=external_id)
    earlier = db.session.scalar(
        select(Defection.defected_on).where(Defection.account_id == account.id)
    )
    if earlier is not None:
        raise ConflictError(
            f"{account.external_id} already has a defection recorded "
            f"(left on {earlier.isoformat()})",
            field="account",
        )

    defection = Defection(
        account_id=account.id,
        defected_on=defected_on,
        competitor=competitor,
        lost_annual_revenue=lost_annual_revenue,
        note=note,
        source=source,
        recorded_by=recorded_by,
    )
    defection.reasons = [
        DefectionReason(reason=code.value, is_primary=(i == 0)) for i, code in enumerate(codes)
    ]
    account.active = False
    db.session.add(defection)
    try:
        db.session.flush()  # the defection's id, for the audit entry
        # `recorded_by` is who acts: the audit log names them too.
        record_audit(
            recorded_by,
            DEFECTION_RECORD,
            "account",
            account.external_id,
            {
                "defection_id": defection.id,
                "defected_on": defected_on.isoformat(),
                "reasons": [code.value for code in codes],
                "source": source,
            },
        )
        db.session.commit()
    except IntegrityError as exc:
        # Someone recorded the same account between our check and our commit.
        db.session.rollback()
        raise ConflictError(
            f"{account.external_id} already has a defection recorded", field="account"
        ) from exc
    return get_defection(defection.id)


def get_defection(defection_id: int) -> Defection:
    """A defection with its account and reasons loaded. Raises NotFoundError."""
    defection = db.session.scalars(
        select(Defection)
        .options(joinedload(Defection.account), selectinload(Defection.reasons))
        .where(Defection.id == defection_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if defection is None:
        raise NotFoundError(f"there is no defection with id {defection_id}", field="defection")
    return defection


def _optional_text(value: str | None, field_name: str, limit: int | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if limit is not None and len(value) > limit:
        raise InvalidInputError(
            f"{field_name} is {len(value)} characters long; at most {limit} are allowed",
            field=field_name,
        )
    return value
