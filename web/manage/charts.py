"""Geometry of the server-rendered SVG charts; the markup is in templates/manage/.

Five-point answers are shown the standard way for Likert data, as diverging stacked
bars: a centre line, the dissatisfied shares stacked to its left (very dissatisfied
outermost), the satisfied shares to its right (very satisfied outermost), and "no
opinion" split in half across the centre. Every bar is scaled to its own number of
answers, so 100% on either side reaches the edge of the plot. Each score also has
its own pattern (hatching for dissatisfied, dots for no opinion, solid for
satisfied), so the chart reads without colour, and the page adds a data table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from survey.analysis import SatisfactionGroup
from survey.scale import Satisfaction

#: Pixels for 100% on one side of the centre line.
HALF_WIDTH = 300.0
LABEL_WIDTH = 300.0
SHARES_WIDTH = 150.0
ROW_HEIGHT = 26.0
ROW_GAP = 12.0
TOP = 46.0  # room for the side headings and the axis ticks
LEGEND_HEIGHT = 40.0
#: A segment narrower than this (pixels) gets no percentage text inside it.
MIN_LABELLED_WIDTH = 30.0

#: The pattern (an SVG <pattern> id in the template) of each score.
PATTERNS: dict[int, str] = {
    Satisfaction.VERY_DISSATISFIED: "kp-very-dissatisfied",
    Satisfaction.SOMEWHAT_DISSATISFIED: "kp-somewhat-dissatisfied",
    Satisfaction.NO_OPINION: "kp-no-opinion",
    Satisfaction.SATISFIED: "kp-satisfied",
    Satisfaction.VERY_SATISFIED: "kp-very-satisfied",
}
# Drawing order: outward from the centre on each side.
_LEFT = (Satisfaction.SOMEWHAT_DISSATISFIED, Satisfaction.VERY_DISSATISFIED)
_RIGHT = (Satisfaction.SATISFIED, Satisfaction.VERY_SATISFIED)


@dataclass(frozen=True, slots=True)
class Segment:
    """One score's part of a bar. `count` and `share` are of the whole score even
    when the segment is one half of the split "no opinion"."""

    score: int
    x: float
    width: float
    count: int
    share: float
    pattern: str
    show_label: bool

    @property
    def percent(self) -> str:
        return f"{self.share:.0%}"

    @property
    def text_x(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True, slots=True)
class ChartRow:
    key: str
    label: str
    answers: int
    y: float
    segments: list[Segment]
    satisfied_share: float | None
    dissatisfied_share: float | None

    @property
    def text_y(self) -> float:
        return round(self.y + ROW_HEIGHT / 2, 2)


@dataclass(frozen=True, slots=True)
class DivergingChart:
    rows: list[ChartRow]
    width: float
    height: float
    centre_x: float
    half_width: float
    plot_top: float
    plot_bottom: float
    legend_y: float

    @property
    def ticks(self) -> list[tuple[float, str]]:
        """Axis ticks: x and label for 100%, 50%, 0, 50%, 100%."""
        step = self.half_width / 2
        return [(round(self.centre_x + i * step, 2), f"{abs(i) * 50}%") for i in (-2, -1, 0, 1, 2)]

    @property
    def shares_x(self) -> float:
        return self.centre_x + self.half_width + 12


def _segment(score: int, x: float, width: float, count: int, answers: int) -> Segment:
    return Segment(
        score=int(score),
        x=round(x, 2),
        width=round(width, 2),
        count=count,
        share=count / answers,
        pattern=PATTERNS[score],
        show_label=width >= MIN_LABELLED_WIDTH,
    )


def bar_segments(
    counts: dict[int, int], centre_x: float, half_width: float = HALF_WIDTH
) -> list[Segment]:
    """The segments of one bar from answer counts by score (1-5), left to right.

    Empty scores get no segment; "no opinion" gives two half-width segments that
    meet at the centre line.
    """
    answers = sum(counts.values())
    if answers == 0:
        return []
    scale = half_width / answers
    middle = counts.get(Satisfaction.NO_OPINION, 0) * scale / 2
    left: list[Segment] = []
    right: list[Segment] = []
    if middle:
        n = counts[Satisfaction.NO_OPINION]
        left.append(_segment(Satisfaction.NO_OPINION, centre_x - middle, middle, n, answers))
        right.append(_segment(Satisfaction.NO_OPINION, centre_x, middle, n, answers))
    edge = centre_x - middle
    for score in _LEFT:
        width = counts.get(score, 0) * scale
        if width:
            edge -= width
            left.append(_segment(score, edge, width, counts[score], answers))
    edge = centre_x + middle
    for score in _RIGHT:
        width = counts.get(score, 0) * scale
        if width:
            right.append(_segment(score, edge, width, counts[score], answers))
            edge += width
    # A sliver narrower than the drawing's precision (0.01) is not drawn at all.
    return [s for s in (*reversed(left), *right) if s.width > 0]


def diverging_chart(
    groups: Sequence[SatisfactionGroup], *, half_width: float = HALF_WIDTH
) -> DivergingChart:
    """Lay out one diverging bar per group (e.g. per aspect), in the given order."""
    centre_x = LABEL_WIDTH + half_width
    rows: list[ChartRow] = []
    for i, group in enumerate(groups):
        d = group.distribution
        counts = {
            Satisfaction.VERY_DISSATISFIED: d.very_dissatisfied,
            Satisfaction.SOMEWHAT_DISSATISFIED: d.somewhat_dissatisfied,
            Satisfaction.NO_OPINION: d.no_opinion,
            Satisfaction.SATISFIED: d.satisfied,
            Satisfaction.VERY_SATISFIED: d.very_satisfied,
        }
        rows.append(
            ChartRow(
                key=group.key,
                label=group.label,
                answers=group.answers,
                y=TOP + i * (ROW_HEIGHT + ROW_GAP),
                segments=bar_segments(counts, centre_x, half_width),
                satisfied_share=group.satisfied_share,
                dissatisfied_share=group.dissatisfied_share,
            )
        )
    plot_bottom = TOP + len(rows) * (ROW_HEIGHT + ROW_GAP) - ROW_GAP
    return DivergingChart(
        rows=rows,
        width=LABEL_WIDTH + 2 * half_width + SHARES_WIDTH,
        height=plot_bottom + 12 + LEGEND_HEIGHT,
        centre_x=centre_x,
        half_width=half_width,
        plot_top=TOP - 6,
        plot_bottom=plot_bottom + 6,
        legend_y=plot_bottom + 24,
    )
