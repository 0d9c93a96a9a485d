"""Geometry of the key-driver chart; the markup is templates/manage/_driver_chart.html.

Importance × performance: one point per aspect, performance (mean score) across,
importance (Pearson's r with overall) up, the medians of both as dashed lines that
cut the plot into the four quadrants, whose names sit in the corners (fix first top
left, keep up top right, secondary bottom left, possible overkill bottom right).
Each point is drawn in its quadrant's shape (triangle, circle, square, diamond) and
hollow when its sample is low, carries its number and name, and a vertical whisker
for its 95% interval, so the chart reads without colour; the table repeats it all.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from survey.analysis import KeyDriver, KeyDriverAnalysis
from survey.scale import DriverQuadrant

WIDTH = 480.0
PLOT_LEFT = 46.0
PLOT_RIGHT = 470.0
PLOT_TOP = 10.0
PLOT_BOTTOM = 330.0
HEIGHT = 420.0  # room below the plot for ticks, the axis title and the legend
FONT = 12.0
#: A name further than this from its marker (pixels) gets a leader line.
LEADER_GAP = 14.0
#: Names longer than this (in half-width characters, a Chinese one counting two)
#: are cut in the chart; the table and the point's <title> have them whole.
NAME_WIDTH = 18
SHAPES: dict[DriverQuadrant, str] = {
    DriverQuadrant.FIX_FIRST: "triangle",
    DriverQuadrant.KEEP_UP: "circle",
    DriverQuadrant.SECONDARY: "square",
    DriverQuadrant.POSSIBLE_OVERKILL: "diamond",
}
COLOURS: dict[DriverQuadrant, str] = {
    DriverQuadrant.FIX_FIRST: "#9e1c16",
    DriverQuadrant.KEEP_UP: "#1b7f3b",
    DriverQuadrant.SECONDARY: "#5b6473",
    DriverQuadrant.POSSIBLE_OVERKILL: "#2f5fa7",
}


def text_width(text: str, size: float = FONT) -> float:
    """About how wide `text` is drawn: wide (CJK) characters a full em, others 0.58."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.58 * size for c in text)


def shorten(text: str, limit: int = NAME_WIDTH) -> str:
    used, out = 0, []
    for c in text:
        used += 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if used > limit:
            return "".join(out).rstrip() + "…"
        out.append(c)
    return text


def marker_path(shape: str, x: float, y: float, r: float = 6.0) -> str:
    """An SVG path of `shape` centred on (x, y), from its corners relative to the centre."""
    corners = {
        "triangle": [(0, -1.2), (1, 0.8), (-1, 0.8)],
        "square": [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)],
        "diamond": [(0, -1.2), (1.2, 0), (0, 1.2), (-1.2, 0)],
    }
    if shape in corners:
        points = [f"{x + dx * r:.1f},{y + dy * r:.1f}" for dx, dy in corners[shape]]
        return "M" + " L".join(points) + " Z"
    return (
        f"M{x - r:.1f},{y:.1f} a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0 "
        f"a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0 Z"
    )


@dataclass(frozen=True, slots=True)
class Point:
    number: int
    driver: KeyDriver
    label: str
    short_label: str
    x: float
    y: float
    whisker_top: float
    whisker_bottom: float
    label_x: float
    label_y: float
    anchor: str
    #: A thin line from the marker to its name when the name sits away from it.
    leader: tuple[float, float, float, float] | None
    path: str
    colour: str
    hollow: bool


@dataclass(frozen=True, slots=True)
class DriverChart:
    points: list[Point]
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    median_x: float
    median_y: float
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    legend: list[tuple[DriverQuadrant, str, str, float, float]]


def _domain(
    values: Sequence[float], pad: float, floor: float, ceiling: float, span: float
) -> tuple[float, float]:
    """An axis's range: the values with `pad` each side, at least `span` wide, within
    [floor, ceiling]."""
    low, high = min(values) - pad, max(values) + pad
    if high - low < span:
        middle = (low + high) / 2
        low, high = middle - span / 2, middle + span / 2
    if low < floor:
        low, high = floor, min(ceiling, floor + max(high - low, span))
    if high > ceiling:
        low, high = max(floor, ceiling - max(high - low, span)), ceiling
    return low, high


def _ticks(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 6) for i in range(first, last + 1)]


def driver_chart(result: KeyDriverAnalysis, locale: str) -> DriverChart | None:
    """Lay out the drivers that have a quadrant (importance and performance), numbered
    in questionnaire order; None when none has."""
    shown = [
        (n, d)
        for n, d in enumerate(result.drivers, start=1)
        if d.importance is not None and d.performance is not None and d.quadrant is not None
    ]
    if not shown:
        return None
    importance = [d.importance for _, d in shown if d.importance is not None]
    performance = [d.performance for _, d in shown if d.performance is not None]
    # The importance axis holds the intervals too, so every whisker is seen whole.
    spans = [v for _, d in shown for v in (d.importance_low, d.importance_high) if v is not None]
    x_low, x_high = _domain(performance, 0.2, 1.0, 5.0, 1.0)
    y_low, y_high = _domain(importance + spans, 0.04, -1.0, 1.0, 0.4)

    def sx(v: float) -> float:
        return PLOT_LEFT + (v - x_low) / (x_high - x_low) * (PLOT_RIGHT - PLOT_LEFT)

    def sy(v: float) -> float:
        v = min(max(v, y_low), y_high)
        return PLOT_BOTTOM - (v - y_low) / (y_high - y_low) * (PLOT_BOTTOM - PLOT_TOP)

    median_y = result.median_importance if result.median_importance is not None else y_low
    median_x = result.median_performance if result.median_performance is not None else x_low
    centres = {
        number: (sx(d.performance), sy(d.importance))
        for number, d in shown
        if d.performance is not None and d.importance is not None
    }
    # Markers and the corner names are obstacles for every label.
    placed: list[Box] = [(x - 8, y - 8, x + 8, y + 8) for x, y in centres.values()]
    placed += [
        (PLOT_LEFT, PLOT_TOP, PLOT_LEFT + 130, PLOT_TOP + 20),
        (PLOT_RIGHT - 130, PLOT_TOP, PLOT_RIGHT, PLOT_TOP + 20),
        (PLOT_LEFT, PLOT_BOTTOM - 20, PLOT_LEFT + 130, PLOT_BOTTOM),
        (PLOT_RIGHT - 130, PLOT_BOTTOM - 20, PLOT_RIGHT, PLOT_BOTTOM),
    ]
    points: list[Point] = []
    for number, d in sorted(shown, key=lambda item: -(item[1].importance or 0.0)):
        assert d.importance is not None and d.performance is not None and d.quadrant
        x, y = centres[number]
        label = d.label(locale)
        short = f"{number} {shorten(label)}"
        label_x, label_y, anchor, box = _place_label(x, y, text_width(short), placed)
        placed.append(box)
        leader = _leader(x, y, box)
        low = d.importance_low if d.importance_low is not None else d.importance
        high = d.importance_high if d.importance_high is not None else d.importance
        points.append(
            Point(
                number=number,
                driver=d,
                label=label,
                short_label=short,
                x=round(x, 1),
                y=round(y, 1),
                whisker_top=round(sy(high), 1),
                whisker_bottom=round(sy(low), 1),
                label_x=round(label_x, 1),
                label_y=round(label_y, 1),
                anchor=anchor,
                leader=leader,
                path=marker_path(SHAPES[d.quadrant], x, y),
                colour=COLOURS[d.quadrant],
                hollow=d.low_sample,
            )
        )
    points.sort(key=lambda p: p.number)
    x_step = 0.5 if x_high - x_low > 1.6 else 0.25
    y_step = 0.2 if y_high - y_low > 0.8 else 0.1
    legend_y = HEIGHT - 42
    legend = [
        (q, SHAPES[q], COLOURS[q], 16 + (i % 2) * 230, legend_y + (i // 2) * 20)
        for i, q in enumerate(DriverQuadrant)
    ]
    return DriverChart(
        points=points,
        width=WIDTH,
        height=HEIGHT,
        left=PLOT_LEFT,
        right=PLOT_RIGHT,
        top=PLOT_TOP,
        bottom=PLOT_BOTTOM,
        median_x=round(sx(median_x), 1),
        median_y=round(sy(median_y), 1),
        x_ticks=[(round(sx(v), 1), f"{v:g}") for v in _ticks(x_low, x_high, x_step)],
        y_ticks=[(round(sy(v), 1), f"{v:.1f}") for v in _ticks(y_low, y_high, y_step)],
        legend=legend,
    )


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _place_label(
    x: float, y: float, width: float, taken: list[Box]
) -> tuple[float, float, str, Box]:
    """Where a point's label goes: right of it, left, above, below or diagonally, the
    first spot inside the plot clear of the other labels, markers and corner names;
    failing all, right (or left) of it, nudged down until clear."""
    candidates = [
        (x + 10, y + 4, "start"),
        (x - 10, y + 4, "end"),
        (x, y - 11, "middle"),
        (x, y + 20, "middle"),
        (x + 7, y - 9, "start"),
        (x - 7, y - 9, "end"),
        (x + 7, y + 18, "start"),
        (x - 7, y + 18, "end"),
        # Points that (nearly) coincide: further up or down, still beside the point.
        *((x + 10, y + dy, "start") for dy in (-20, 28, -32, 40)),
        *((x - 10, y + dy, "end") for dy in (-20, 28, -32, 40)),
    ]

    def box_of(lx: float, ly: float, anchor: str) -> Box:
        left = {"start": lx, "end": lx - width, "middle": lx - width / 2}[anchor]
        return (left, ly - FONT + 1, left + width, ly + 3)

    def inside(b: Box) -> bool:
        return (
            b[0] >= PLOT_LEFT + 2
            and b[2] <= PLOT_RIGHT - 2
            and b[1] >= PLOT_TOP
            and (b[3] <= PLOT_BOTTOM)
        )

    for lx, ly, anchor in candidates:
        b = box_of(lx, ly, anchor)
        if inside(b) and not any(_overlap(b, other) for other in taken):
            return lx, ly, anchor, b
    lx, anchor = (x + 10, "start") if x + 10 + width <= PLOT_RIGHT else (x - 10, "end")
    ly = y + 4
    for _ in range(30):
        b = box_of(lx, ly, anchor)
        if not any(_overlap(b, other) for other in taken):
            break
        ly += FONT + 1
    return lx, ly, anchor, box_of(lx, ly, anchor)


def _leader(x: float, y: float, box: Box) -> tuple[float, float, float, float] | None:
    """From the marker's edge towards the nearest point of its name's box, or None
    when the name is right beside the marker (closer than LEADER_GAP)."""
    nx, ny = min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])
    distance = math.hypot(nx - x, ny - y)
    if distance < LEADER_GAP:
        return None
    start = 8.0 / distance
    return (
        round(x + (nx - x) * start, 1),
        round(y + (ny - y) * start, 1),
        round(nx, 1),
        round(ny, 1),
    )


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
