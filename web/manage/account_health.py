"""The account page's health section: the stored score, and the geometry of its
history chart (markup: templates/manage/_account_health.html).

The chart is a line of the daily snapshots, oldest on the left, on a 0-100 axis,
with the band limits of the score's model version as dashed lines labelled with
the band's name and limit, the first and last scores written beside their points
(each point has its day and score as a tooltip), so it reads without colour; the
table below it holds every snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from survey.scale import HealthBand
from survey.scoring import AccountHealth, account_health

#: Snapshots the page shows (the chart and its table).
HISTORY_SHOWN = 26
WIDTH = 480.0
HEIGHT = 200.0
LEFT = 34.0
RIGHT = 70.0  # room for the band names
TOP = 12.0
BOTTOM = 30.0  # room for the first and last dates


@dataclass(frozen=True, slots=True)
class ChartPoint:
    day: date
    score: float
    x: float
    y: float

    @property
    def label(self) -> str:
        return f"{self.score:.0f}"


@dataclass(frozen=True, slots=True)
class BandLine:
    band: str
    y: float
    limit: float


@dataclass(frozen=True, slots=True)
class HealthChart:
    points: tuple[ChartPoint, ...]
    #: Runs of consecutive scored snapshots, as SVG polyline point lists.
    lines: tuple[str, ...]
    bands: tuple[BandLine, ...]
    ticks: tuple[tuple[float, str], ...]
    first_day: date
    last_day: date
    width: float = WIDTH
    height: float = HEIGHT
    plot_x: float = LEFT
    plot_right: float = WIDTH - RIGHT
    plot_bottom: float = HEIGHT - BOTTOM


def _y(score: float) -> float:
    return round(TOP + (100.0 - score) / 100.0 * (HEIGHT - TOP - BOTTOM), 2)


def health_chart(health: AccountHealth) -> HealthChart | None:
    """The history (newest first in `health`) laid out oldest first; None with
    fewer than two snapshots."""
    history = list(reversed(health.history))
    if len(history) < 2:
        return None
    first, last = history[0].day, history[-1].day
    span = max((last - first).days, 1)
    plot = WIDTH - RIGHT - LEFT
    points: list[ChartPoint] = []
    lines: list[str] = []
    run: list[str] = []
    for point in history:
        x = round(LEFT + (point.day - first).days / span * plot, 2)
        if point.score is None:
            if len(run) > 1:
                lines.append(" ".join(run))
            run = []
            continue
        y = _y(point.score)
        points.append(ChartPoint(point.day, point.score, x, y))
        run.append(f"{x},{y}")
    if len(run) > 1:
        lines.append(" ".join(run))
    bands = tuple(
        BandLine(name, _y(limit), limit)
        for name, limit in sorted(health.band_limits.items(), key=lambda item: -item[1])
        if name in {b.value for b in HealthBand}
    )
    ticks = tuple((_y(v), str(v)) for v in (0, 50, 100))
    return HealthChart(tuple(points), tuple(lines), bands, ticks, first, last)


@dataclass(frozen=True, slots=True)
class HealthSection:
    health: AccountHealth | None
    chart: HealthChart | None
    locale: str

    def band_label(self, code: str | None) -> str:
        return HealthBand(code).label(self.locale) if code else ""

    @property
    def why(self) -> str | None:
        moved = self.health.why_moved if self.health is not None else None
        return moved.text(self.locale) if moved is not None else None


def health_section(account_id: int, locale: str) -> HealthSection:
    """What the account page's health section shows (two statements)."""
    health = account_health(account_id, HISTORY_SHOWN)
    chart = health_chart(health) if health is not None else None
    return HealthSection(health, chart, locale)
