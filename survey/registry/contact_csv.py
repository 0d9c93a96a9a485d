"""Contact CSV files: their columns, and checking every row before anything is written.

Read like the account CSV (survey.registry.csv_files): UTF-8 with or without BOM,
every problem at once as `line N: column: what is wrong`. Whether each row's account
exists is the importer's check (survey.registry.contact_import): it needs the registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from survey.registry.csv_files import Problem, RowCheck, read_csv_file
from survey.registry.messages import join_choices, quote_input
from survey.scale import ContactRole

#: The columns of a contact CSV, in the order the sample file uses.
CONTACT_CSV_COLUMNS: tuple[str, ...] = (
    "account_external_id",
    "name",
    "role",
    "email",
    "phone",
    "locale",
    "primary",
)
#: Limits follow the column sizes of survey.models.Contact.
MAX_LENGTH: dict[str, int] = {"account_external_id": 64, "name": 120, "email": 254, "phone": 40}
#: How the `primary` column says yes and no (empty is no).
YES: tuple[str, ...] = ("yes", "是", "1")
NO: tuple[str, ...] = ("no", "否", "0", "")


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A valid row of a contact CSV, parsed and normalised."""

    line: int
    account_external_id: str
    name: str
    role: str
    email: str | None
    phone: str | None
    #: None when empty: a new contact then speaks the account's language.
    locale: str | None
    primary: bool

    @property
    def key(self) -> str:
        """Who the row is within its account: the e-mail, or the phone without one."""
        return f"email:{self.email.lower()}" if self.email else f"phone:{self.phone}"


@dataclass(slots=True)
class ContactValidation:
    """What a contact CSV holds: its valid rows and every problem found."""

    rows: list[ContactRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    total_rows: int = 0
    invalid_rows: int = 0
    #: The file itself (encoding, header) is unusable: no row can be imported.
    fatal: bool = False


def validate_contacts_csv(stream: IO[bytes]) -> ContactValidation:
    """Read a contact CSV (UTF-8, with or without BOM) and check every row: the cells,
    the same person twice in one account, two primary contacts for one account.

    Never touches the database and never raises for bad content.
    """
    result = ContactValidation()
    file = read_csv_file(stream, CONTACT_CSV_COLUMNS)
    if file.fatal:
        result.problems.extend(file.problems)
        result.fatal = True
        return result

    parsed: list[tuple[int, ContactRow | None, list[Problem]]] = []
    for record in file.records:
        result.total_rows += 1
        if record.values is None:
            assert record.problem is not None
            parsed.append((record.line, None, [record.problem]))
        else:
            parsed.append((record.line, *_parse_row(record.line, record.values)))

    extra = _repeated(row for _, row, _ in parsed if row is not None)
    for line, row, problems in parsed:
        problems.extend(extra.get(line, []))
        if problems:
            result.invalid_rows += 1
            problems.sort(key=lambda p: _column_order(p.column))
            result.problems.extend(problems)
        elif row is not None:
            result.rows.append(row)
    return result


def _column_order(column: str) -> int:
    return CONTACT_CSV_COLUMNS.index(column) if column in CONTACT_CSV_COLUMNS else -1


def _repeated(rows: Iterable[ContactRow]) -> dict[int, list[Problem]]:
    """Problems of rows that repeat a person, or mark a second primary, in one account."""
    by_person: dict[tuple[str, str], list[ContactRow]] = {}
    primaries: dict[str, list[ContactRow]] = {}
    for row in rows:
        by_person.setdefault((row.account_external_id, row.key), []).append(row)
        if row.primary:
            primaries.setdefault(row.account_external_id, []).append(row)
    found: dict[int, list[Problem]] = {}
    for (account, _key), same in by_person.items():
        if len(same) < 2:
            continue
        for row in same:
            column, value = ("email", row.email) if row.email else ("phone", row.phone)
            others = _lines(r.line for r in same if r is not row)
            found.setdefault(row.line, []).append(
                Problem(
                    row.line,
                    column,
                    f"{quote_input(value or '')} of account {quote_input(account)} "
                    f"is also on {others}",
                )
            )
    for account, marked in primaries.items():
        people = {r.key for r in marked}
        if len(people) < 2:
            continue
        for row in marked:
            others = _lines(r.line for r in marked if r is not row)
            found.setdefault(row.line, []).append(
                Problem(
                    row.line,
                    "primary",
                    f"account {quote_input(account)} can have one primary contact, "
                    f"but {others} also marks one",
                )
            )
    return found


def _lines(numbers: Iterable[int]) -> str:
    listed = [str(n) for n in numbers]
    return f"line {listed[0]}" if len(listed) == 1 else f"lines {', '.join(listed)}"


def _parse_row(line: int, values: dict[str, str]) -> tuple[ContactRow | None, list[Problem]]:
    check = RowCheck(line, values, MAX_LENGTH)
    problem = check.problem
    account = check.text("account_external_id", required=True)
    name = check.text("name", required=False)

    role = ContactRole.OTHER.value
    if values["role"]:
        try:
            role = str(ContactRole.parse(values["role"]).value)
        except ValueError:
            problem(
                "role",
                f"{quote_input(values['role'])} is not a contact role; use "
                f"{join_choices(ContactRole.codes())} (or the Chinese or English label)",
            )

    email = check.email("email")
    phone = check.phone("phone")
    if email is None and phone is None:
        problem("email", "an e-mail or a phone is required")
    locale = check.locale("locale")

    flag = values["primary"].lower()
    if flag not in YES + NO:
        problem(
            "primary",
            f"{quote_input(values['primary'])} is not yes or no; use yes, no, 是, 否, 1 or 0",
        )

    problems = check.problems(CONTACT_CSV_COLUMNS)
    if problems:
        return None, problems
    return (
        ContactRow(
            line=line,
            account_external_id=account,
            name=name,
            role=role,
            email=email,
            phone=phone,
            locale=locale,
            primary=flag in YES,
        ),
        [],
    )


__all__ = [
    "CONTACT_CSV_COLUMNS",
    "ContactRow",
    "ContactValidation",
    "validate_contacts_csv",
]
