"""Reading a registry CSV file: what every import shares (accounts, contacts).

UTF-8 with or without a BOM, a header row naming the columns in any order and any
case, and every problem reported at once as `line N: column: what is wrong`, N
being the line an editor shows. Each import names its columns and parses its own
cells with the checks here (e-mail, phone, control characters).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from survey.registry.messages import quote_input

MIN_PHONE_LENGTH = 5

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

#: (first line of the record, cells, problem) for each CSV record.
Record = tuple[int, list[str], "Problem | None"]


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


def decode(data: bytes) -> tuple[str, Problem | None]:
    """The file's text (a BOM dropped), or a problem when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        # Count line breaks the way the CSV reader does (\r\n, \n or a lone \r).
        line = len(_LINE_BREAK_RE.findall(data, 0, exc.start)) + 1
        return "", Problem(line, "", "file is not UTF-8 text (save it as UTF-8)")


def records(text: str) -> Iterator[Record]:
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


def read_header(
    rows: Iterator[Record], columns: Sequence[str], problems: list[Problem]
) -> list[str] | None:
    """The column names in file order, or None (with `problems` added) if unusable."""
    listed = ",".join(columns)
    first = next((r for r in rows if r[2] is not None or any(c.strip() for c in r[1])), None)
    if first is None:
        problems.append(
            Problem(1, "", "the file is empty; the first line must name the columns: " + listed)
        )
        return None
    line, cells, csv_problem = first
    if csv_problem is not None:
        problems.append(csv_problem)
        return None

    names = [c.strip().lower() for c in cells]
    found: list[Problem] = []
    if not set(names) & set(columns):
        message = "the first line must name the columns: " + listed
        if len(cells) == 1 and (";" in cells[0] or "\t" in cells[0]):
            separator = "semicolons" if ";" in cells[0] else "tabs"
            message = f"columns must be separated by commas, not {separator}; " + message
        problems.append(Problem(line, "", message))
        return None
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            message = f"column {position} has no name; name it or delete the empty column"
            found.append(Problem(line, "", message))
        elif name in seen:
            found.append(Problem(line, name, "column appears twice in the header"))
        elif name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f"did you mean {close[0]}?" if close else f"the columns are {listed}"
            found.append(Problem(line, name[:40], f"unknown column; {hint}"))
        seen.add(name)
    for name in columns:
        if name not in seen:
            found.append(Problem(line, name, "column is missing from the header"))
    if found:
        problems.extend(found)
        return None
    return names


def data_rows(
    rows: Iterator[Record], header: list[str]
) -> Iterator[tuple[int, dict[str, str] | None, Problem | None]]:
    """(line, stripped values by column, problem) per data row; blank rows skipped.

    A row that cannot be read, or has another number of cells than the header, comes
    with its problem and no values.
    """
    for line, cells, csv_problem in rows:
        if csv_problem is None and all(not c.strip() for c in cells):
            continue  # blank line, or a spreadsheet's row of empty cells
        if csv_problem is not None:
            yield line, None, csv_problem
            continue
        if len(cells) != len(header):
            message = f"has {len(cells)} cells but the header has {len(header)}"
            if len(cells) > len(header):
                message += ' (put values that contain a comma in "double quotes")'
            yield line, None, Problem(line, "", message)
            continue
        yield line, {name: cells[i].strip() for i, name in enumerate(header)}, None


def cell_reporter(line: int, problems: list[Problem]) -> Callable[[str, str], None]:
    """`problem(column, message)`, keeping one problem per cell: the first one found
    is the one to fix."""
    reported: set[str] = set()

    def problem(column: str, message: str) -> None:
        if column not in reported:
            reported.add(column)
            problems.append(Problem(line, column, message))

    return problem


def check_control_characters(values: dict[str, str], problem: Callable[[str, str], None]) -> None:
    for column, value in values.items():
        found = _CONTROL_RE.search(value)
        if found is not None:
            problem(column, f"contains the control character U+{ord(found.group()):04X}")


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
    if not _EMAIL_RE.fullmatch(address):
        return False
    local = address.split("@", 1)[0]
    return not (local.startswith(".") or local.endswith(".") or ".." in local)


__all__ = [
    "MIN_PHONE_LENGTH",
    "Problem",
    "Record",
    "cell_reporter",
    "check_control_characters",
    "data_rows",
    "decode",
    "parse_email",
    "parse_phone",
    "read_header",
    "records",
    "valid_email",
]
