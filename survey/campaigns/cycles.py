"""A schedule's cycles: calendar months, quarters, half-years and years.

A cycle is named by its key (`2026-11`, `2026-Q4`, `2026-H2`, `2026`) and runs from
the first day of its calendar period up to (not including) the first day of the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from survey.models import CADENCES

CADENCE_MONTH, CADENCE_QUARTER, CADENCE_HALF_YEAR, CADENCE_YEAR = CADENCES
#: Months per cycle of each cadence.
_MONTHS = {CADENCE_MONTH: 1, CADENCE_QUARTER: 3, CADENCE_HALF_YEAR: 6, CADENCE_YEAR: 12}


@dataclass(frozen=True, order=True)
class Cycle:
    """One period of a cadence: [starts_on, ends_on)."""

    starts_on: date
    ends_on: date
    cadence: str

    @property
    def key(self) -> str:
        year, month = self.starts_on.year, self.starts_on.month
        if self.cadence == CADENCE_MONTH:
            return f"{year}-{month:02d}"
        if self.cadence == CADENCE_QUARTER:
            return f"{year}-Q{(month - 1) // 3 + 1}"
        if self.cadence == CADENCE_HALF_YEAR:
            return f"{year}-H{(month - 1) // 6 + 1}"
        return f"{year}"

    def label(self, locale: str | None) -> str:
        """The cycle as people read it: `2026年第4季度` in Chinese, the key in English."""
        if locale == "en":
            return self.key
        year, month = self.starts_on.year, self.starts_on.month
        if self.cadence == CADENCE_MONTH:
            return f"{year}年{month}月"
        if self.cadence == CADENCE_QUARTER:
            return f"{year}年第{(month - 1) // 3 + 1}季度"
        if self.cadence == CADENCE_HALF_YEAR:
            return f"{year}年{'上' if month <= 6 else '下'}半年"
        return f"{year}年"

    def next(self) -> Cycle:
        return cycle_containing(self.cadence, self.ends_on)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def cycle_containing(cadence: str, day: date) -> Cycle:
    """The cycle of `cadence` that `day` falls in."""
    months = _MONTHS[cadence]
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    return Cycle(starts_on=start, ends_on=_add_months(start, months), cadence=cadence)


def cycles_between(cadence: str, first: date, before: date) -> list[Cycle]:
    """The cycles from the one containing `first` up to, not including, the one
    containing `before` (empty when `before` is in the same cycle or earlier)."""
    cycles: list[Cycle] = []
    cycle = cycle_containing(cadence, first)
    stop = cycle_containing(cadence, before)
    while cycle < stop:
        cycles.append(cycle)
        cycle = cycle.next()
    return cycles


def cycle_label(cadence: str, key: str, locale: str | None) -> str:
    """The label of the cycle named `key` (as stored on a campaign); the key itself
    when it cannot be read."""
    try:
        year_text, _, rest = key.partition("-")
        year = int(year_text)
        if cadence == CADENCE_MONTH:
            start = date(year, int(rest), 1)
        elif cadence == CADENCE_QUARTER:
            start = date(year, (int(rest.removeprefix("Q")) - 1) * 3 + 1, 1)
        elif cadence == CADENCE_HALF_YEAR:
            start = date(year, (int(rest.removeprefix("H")) - 1) * 6 + 1, 1)
        else:
            start = date(year, 1, 1)
    except ValueError:
        return key
    return cycle_containing(cadence, start).label(locale)


__all__ = [
    "CADENCE_HALF_YEAR",
    "CADENCE_MONTH",
    "CADENCE_QUARTER",
    "CADENCE_YEAR",
    "Cycle",
    "cycle_containing",
    "cycle_label",
    "cycles_between",
]
