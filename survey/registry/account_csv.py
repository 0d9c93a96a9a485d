"""Account CSV files: their columns, and checking every row before anything is written.

Every problem of a file is reported at once, each as `line N: column: what is
wrong` with N the line an editor shows; every valid row comes back parsed and
normalised.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from survey.registry.csv_files import CsvRecord, Problem, RowCheck, read_csv_file
from survey.registry.messages import join_choices, quote_input
from survey.scale import DEFAULT_LOCALE, TIERS, RelationshipStage, ValueType

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

#: The fields the importer writes, besides external_id.
#: The columns that describe the account's primary contact (survey.models.Contact).
CONTACT_COLUMNS: tuple[str, ...] = ("contact_name", "contact_email", "contact_phone")
#: The account fields the importer writes, besides external_id.
IMPORTED_FIELDS: tuple[str, ...] = tuple(c for c in ACCOUNT_COLUMNS[1:] if c not in CONTACT_COLUMNS)

_PHONE_RE = re.compile(r"[0-9 +\-()]+")
# Plain digits, or digits grouped by thousands ("1,200,000"); ".00" is tolerated
# because spreadsheets often format money that way.
_REVENUE_RE = re.compile(r"(?P<int>[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.0+)?")
_NUMBER_LIKE_RE = re.compile(r"[+-]?[0-9][0-9,]*(?:\.[0-9]*)?")


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
        """The account fields this row sets (everything but external_id and the
        contact, which is the account's primary contact)."""
        return {name: getattr(self, name) for name in IMPORTED_FIELDS}

    def contact(self) -> dict[str, Any] | None:
        """The primary contact this row describes; None when its contact cells are
        all empty (the account's contacts are then left as they are)."""
        if not (self.contact_name or self.contact_email or self.contact_phone):
            return None
        return {
            "name": self.contact_name,
            "email": self.contact_email,
            "phone": self.contact_phone,
            "locale": self.locale,
        }


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


# --- validation -------------------------------------------------------------------


def validate_accounts_csv(stream: IO[bytes]) -> ValidationResult:
    """Read an account CSV (UTF-8, with or without BOM) and check every row.

    Never touches the database and never raises for bad content: every problem is
    reported as a `Problem`, and every valid row is returned parsed.
    """
    result = ValidationResult()
    file = read_csv_file(stream, ACCOUNT_COLUMNS)
    if file.fatal:
        result.problems.extend(file.problems)
        result.fatal = True
        return result
    return check_account_records(file.records, result)


def check_account_records(
    records: Iterable[CsvRecord], result: ValidationResult | None = None, *, unit: str = "line"
) -> ValidationResult:
    """Check account records (a CSV file's, or the API's items with their index as
    `line` and `unit="item"`): every problem, the valid rows parsed, a repeated
    external id a problem on each copy."""
    result = result if result is not None else ValidationResult()
    first_line_of: dict[str, int] = {}
    duplicates: dict[str, list[int]] = {}
    parsed: list[tuple[int, AccountRow | None, list[Problem]]] = []
    for record in records:
        line, values = record.line, record.values
        result.total_rows += 1
        if values is None:
            assert record.problem is not None
            parsed.append((line, None, [record.problem]))
            continue
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
            where = f"{unit} {others[0]}" if len(others) == 1 else f"{unit}s {', '.join(others)}"
            duplicate_problems[line] = Problem(
                line, "external_id", f"{quote_input(external_id)} is also on {where}"
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


def _parse_row(line: int, values: dict[str, str]) -> tuple[AccountRow | None, list[Problem]]:
    check = RowCheck(line, values, MAX_LENGTH)
    problem, text = check.problem, check.text
    external_id = text("external_id", required=True)
    name = text("name", required=True)
    region = text("region", required=True)
    account_manager = text("account_manager", required=True)
    contact_name = text("contact_name", required=False)

    tier = values["tier"].upper()
    if tier not in TIERS:
        got = f"{quote_input(values['tier'])} is not a tier" if values["tier"] else "is required"
        problem("tier", f"{got}; use {join_choices(TIERS)}")

    value_type = _parse_choice(values, "value_type", ValueType, "value type", problem)
    stage = _parse_choice(
        values, "relationship_stage", RelationshipStage, "relationship stage", problem
    )

    revenue = 0
    try:
        revenue = parse_revenue(values["annual_revenue"])
    except ValueError as exc:
        problem("annual_revenue", str(exc))

    email = check.email("contact_email")
    phone = check.phone("contact_phone")
    locale = check.locale("locale") or DEFAULT_LOCALE

    problems = check.problems(ACCOUNT_COLUMNS)
    if problems:
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
        allowed = f"use {join_choices(enum.codes())} (or the Chinese or English label)"
        got = f"{quote_input(raw)} is not a {what}" if raw else "is required"
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
                raise ValueError(f"{quote_input(text)} is negative; it must be 0 or more")
            if "." in text:
                raise ValueError(f"{quote_input(text)} must be a whole number (no decimals)")
        raise ValueError(
            f"{quote_input(text)} is not a whole number (write e.g. 1200000 or 1,200,000)"
        )
    value = int(match.group("int").replace(",", ""))
    if value > MAX_REVENUE:
        raise ValueError(f"{quote_input(text)} is too large")
    return value


__all__ = [
    "ACCOUNT_COLUMNS",
    "CONTACT_COLUMNS",
    "IMPORTED_FIELDS",
    "MAX_LENGTH",
    "MAX_REVENUE",
    "AccountRow",
    "Problem",
    "ValidationResult",
    "check_account_records",
    "parse_revenue",
    "validate_accounts_csv",
]
