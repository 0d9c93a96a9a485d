"""Indicator periods: a year `YYYY`, a quarter `YYYY-Qn` or a month `YYYY-MM`.

`parse_period` is strict (no spaces inside, a four-digit year from 1900 to 2999,
quarters 1-4, months 01-12) and returns the canonical text and the period's last
day, so periods of any length order by time. Which period scores read by default
is `default_period` in survey.scoring.value: the latest period_end, the longer
period first when a year, its last quarter and its December end on the same day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")

MIN_YEAR = 1900
MAX_YEAR = 2999


@dataclass(frozen=True, slots=True)
class Period:
    """A canonical period: `text` as stored, `end` its last day, `months` its length."""

    text: str
    end: date
    months: int


class PeriodError(ValueError):
    """A period that is not `YYYY`, `YYYY-Qn` or `YYYY-MM`; the message says why."""


def parse_period(value: str) -> Period:
    """`2026`, `2026-Q3` (or `2026-q3`) or `2026-07` as a Period; PeriodError otherwise."""
    text = value.strip()
    if match := _YEAR.fullmatch(text):
        year = _year(match.group(1))
        return Period(f"{year:04d}", date(year, 12, 31), 12)
    if match := _QUARTER.fullmatch(text):
        year, quarter = _year(match.group(1)), int(match.group(2))
        month = quarter * 3
        return Period(
            f"{year:04d}-Q{quarter}",
            date(year, month, calendar.monthrange(year, month)[1]),
            3,
        )
    if match := _MONTH.fullmatch(text):
        year, month = _year(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"{text!r}: the month must be 01 to 12")
        return Period(
            f"{year:04d}-{month:02d}", date(year, month, calendar.monthrange(year, month)[1]), 1
        )
    raise PeriodError(
        f"{text[:20]!r} is not a period; write a year (2026), a quarter (2026-Q3) "
        "or a month (2026-07)"
    )


def _year(digits: str) -> int:
    year = int(digits)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"the year {digits} is out of range ({MIN_YEAR}-{MAX_YEAR})")
    return year


def period_months(text: str) -> int:
    """The length in months of a canonical period's text (12, 3 or 1)."""
    if len(text) == 4:
        return 12
    return 3 if "Q" in text else 1


__all__ = ["Period", "PeriodError", "parse_period", "period_months"]
