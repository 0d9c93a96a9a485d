"""Reading CSV files into the registry: decoding, the header, records, shared checks.

Every import of the registry (accounts, account teams, ...) reads its file here, so
each reports problems the same way: `line N: column: what is wrong`, N being the
line an editor shows, every problem of a file at once.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from survey.registry.messages import quote_input
from survey.scale import normalise_locale

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
#: The shortest phone number taken (the longest is the column's size).
MIN_PHONE_LENGTH = 5


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
class CsvRecord:
    """One non-blank data record of a CSV file: its cells by column, or why it can't be read."""

    line: int
    values: dict[str, str] | None
    problem: Problem | None = None


@dataclass(slots=True)
class CsvFile:
    """A CSV file read against its expected columns (any import of the registry)."""

    records: list[CsvRecord] = field(default_factory=list)
    #: Problems of the file itself (encoding, header): then `fatal`, and no records.
    problems: list[Problem] = field(default_factory=list)
    fatal: bool = False


def read_csv_file(stream: IO[bytes], columns: tuple[str, ...]) -> CsvFile:
    """Decode a CSV (UTF-8, with or without BOM), check its header names exactly
    `columns` (any order), and split the rest into records of stripped cells by column;
    blank lines are skipped, a record with the wrong number of cells is a problem."""
    data = stream.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Count line breaks the way the CSV reader does (\r\n, \n or a lone \r).
        line = len(_LINE_BREAK_RE.findall(data, 0, exc.start)) + 1
        problem = Problem(line, "", "file is not UTF-8 text (save it as UTF-8)")
        return CsvFile(problems=[problem], fatal=True)

    records = _records(text)
    file = CsvFile()
    header = _read_header(records, file.problems, columns)
    if header is None:
        file.fatal = True
        return file
    for line, cells, csv_problem in records:
        if csv_problem is None and all(not c.strip() for c in cells):
            continue  # blank line, or a spreadsheet's row of empty cells
        if csv_problem is not None:
            file.records.append(CsvRecord(line, None, csv_problem))
            continue
        if len(cells) != len(header):
            message = f"has {len(cells)} cells but the header has {len(header)}"
            if len(cells) > len(header):
                message += ' (put values that contain a comma in "double quotes")'
            file.records.append(CsvRecord(line, None, Problem(line, "", message)))
            continue
        values = {name: cells[i].strip() for i, name in enumerate(header)}
        file.records.append(CsvRecord(line, values))
    return file


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
    records: Iterator[tuple[int, list[str], Problem | None]],
    found: list[Problem],
    columns: tuple[str, ...],
) -> list[str] | None:
    """The column names in file order, or None (with problems added to `found`)."""
    cols = ",".join(columns)
    first = next((r for r in records if r[2] is not None or any(c.strip() for c in r[1])), None)
    if first is None:
        found.append(
            Problem(1, "", "the file is empty; the first line must name the columns: " + cols)
        )
        return None
    line, cells, csv_problem = first
    if csv_problem is not None:
        found.append(csv_problem)
        return None

    names = [c.strip().lower() for c in cells]
    problems: list[Problem] = []
    if not set(names) & set(columns):
        message = "the first line must name the columns: " + cols
        if len(cells) == 1 and (";" in cells[0] or "\t" in cells[0]):
            separator = "semicolons" if ";" in cells[0] else "tabs"
            message = f"columns must be separated by commas, not {separator}; " + message
        found.append(Problem(line, "", message))
        return None
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            message = f"column {position} has no name; name it or delete the empty column"
            problems.append(Problem(line, "", message))
        elif name in seen:
            problems.append(Problem(line, name, "column appears twice in the header"))
        elif name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f"did you mean {close[0]}?" if close else f"the columns are {cols}"
            problems.append(Problem(line, name[:40], f"unknown column; {hint}"))
        seen.add(name)
    for name in columns:
        if name not in seen:
            problems.append(Problem(line, name, "column is missing from the header"))
    if problems:
        found.extend(problems)
        return None
    return names


class RowCheck:
    """The checks of one row of a registry CSV. Problems are kept one per cell (the
    first one found is the one to fix) and come back in the file's column order, as a
    user reads the row. Control characters are reported on construction."""

    def __init__(self, line: int, values: dict[str, str], limits: Mapping[str, int]) -> None:
        self.line = line
        self.values = values
        self.limits = limits
        self._problems: dict[str, Problem] = {}
        for column, value in values.items():
            bad = control_character(value)
            if bad is not None:
                self.problem(column, f"contains the control character U+{ord(bad):04X}")

    def problem(self, column: str, message: str) -> None:
        self._problems.setdefault(column, Problem(self.line, column, message))

    def problems(self, columns: Sequence[str]) -> list[Problem]:
        """Every problem found, in the order of `columns`."""
        return sorted(self._problems.values(), key=lambda p: columns.index(p.column))

    def text(self, column: str, *, required: bool) -> str:
        """The cell's text ("" when empty); reports a missing required or too long one."""
        value = self.values[column]
        if not value:
            if required:
                self.problem(column, "is required")
            return ""
        limit = self.limits[column]
        if len(value) > limit:
            self.problem(column, f"is {len(value)} characters long; at most {limit} are allowed")
        return value

    def email(self, column: str) -> str | None:
        return parse_email(self.values[column], column, self.limits[column], self.problem)

    def phone(self, column: str) -> str | None:
        return parse_phone(self.values[column], column, self.limits[column], self.problem)

    def locale(self, column: str) -> str | None:
        """zh or en, None when empty; reports another language."""
        raw = self.values[column]
        if not raw:
            return None
        found = normalise_locale(raw)
        if found is None:
            self.problem(column, f"{quote_input(raw)} is not a supported language; use zh or en")
        return found


def parse_email(
    value: str, column: str, limit: int, problem: Callable[[str, str], None]
) -> str | None:
    """The address, None when empty; reports one that is not valid."""
    email = value or None
    if email is not None and (len(email) > limit or not valid_email(email)):
        problem(column, f"{quote_input(email)} is not a valid e-mail address")
    return email


def parse_phone(
    value: str, column: str, limit: int, problem: Callable[[str, str], None]
) -> str | None:
    """The number as written, None when empty; reports one that is not a number."""
    phone = value or None
    if phone is not None:
        if not _PHONE_RE.fullmatch(phone):
            problem(column, f"{quote_input(phone)}: use only digits, spaces and + - ( )")
        elif not any(c.isdigit() for c in phone):
            problem(column, f"{quote_input(phone)} has no digits")
        elif not MIN_PHONE_LENGTH <= len(phone) <= limit:
            problem(
                column,
                f"{quote_input(phone)} is {len(phone)} characters long; "
                f"use {MIN_PHONE_LENGTH} to {limit}",
            )
    return phone


def valid_email(address: str) -> bool:
    """Whether `address` is a plausible e-mail address (the WHATWG grammar, dotted domain)."""
    if not _EMAIL_RE.fullmatch(address):
        return False
    local = address.split("@", 1)[0]
    return not (local.startswith(".") or local.endswith(".") or ".." in local)


def control_character(value: str) -> str | None:
    """The first invisible control character in `value` (tabs and line breaks allowed)."""
    found = _CONTROL_RE.search(value)
    return found.group() if found else None


__all__ = [
    "MIN_PHONE_LENGTH",
    "CsvFile",
    "CsvRecord",
    "Problem",
    "RowCheck",
    "control_character",
    "parse_email",
    "parse_phone",
    "read_csv_file",
    "valid_email",
]
