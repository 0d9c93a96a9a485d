"""Geometry of the results page's charts; the markup is in templates/manage/.

Both charts are rows of HTML (a label, a bar, its figures) whose bars are small SVGs
drawn in percentages of their own width: no viewBox to scale, so the bars reflow to
any screen while patterns and text keep their pixel size (and no inline style, which
the Content-Security-Policy forbids). On a narrow screen each label sits above its bar.

Five-point answers are shown the standard way for Likert data, as diverging stacked
bars: a centre line, the dissatisfied shares stacked to its left (very dissatisfied
outermost), the satisfied shares to its right (very satisfied outermost), and "no
opinion" split in half across the centre. Every bar is scaled to its own number of
answers, so 100% on either side reaches the edge of the bar. Each score also has
its own pattern (hatching for dissatisfied, dots for no opinion, solid for
satisfied), so the chart reads without colour, and the page adds a data table.

Defections by month are stacked by main reason, each reason with a pattern of its
own; the longest bar is the month with the most defections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from survey.analysis import MonthReasons, SatisfactionGroup
from survey.scale import ReasonCode, Satisfaction

#: Percent of a bar for 100% on one side of the centre line; the centre is at 50%.
HALF_WIDTH = 50.0
CENTRE = 50.0
#: A segment narrower than this (percent of the bar) gets no figure inside it.
MIN_LABELLED_WIDTH = 10.0

#: The pattern (an SVG <pattern> id in _chart_patterns.html) of each score.
PATTERNS: dict[int, str] = {
    Satisfaction.VERY_DISSATISFIED: "kp-very-dissatisfied",
    Satisfaction.SOMEWHAT_DISSATISFIED: "kp-somewhat-dissatisfied",
    Satisfaction.NO_OPINION: "kp-no-opinion",
    Satisfaction.SATISFIED: "kp-satisfied",
    Satisfaction.VERY_SATISFIED: "kp-very-satisfied",
}
#: The pattern of each defection reason; "" is a defection with no main reason.
REASON_PATTERNS: dict[str, str] = {
    **{code: f"kp-reason-{code}" for code in ReasonCode.codes()},
    "": "kp-reason-none",
}
# Drawing order: outward from the centre on each side.
_LEFT = (Satisfaction.SOMEWHAT_DISSATISFIED, Satisfaction.VERY_DISSATISFIED)
_RIGHT = (Satisfaction.SATISFIED, Satisfaction.VERY_SATISFIED)


@dataclass(frozen=True, slots=True)
class Segment:
    """One score's part of a bar, in percent of the bar's width. `count` and `share`
    are of the whole score even when the segment is one half of the split "no opinion"."""

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
    segments: list[Segment]
    satisfied_share: float | None
    dissatisfied_share: float | None


@dataclass(frozen=True, slots=True)
class DivergingChart:
    rows: list[ChartRow]

    @property
    def ticks(self) -> list[tuple[float, str]]:
        """Axis ticks: x (percent of the bar) and label for 100%, 50%, 0, 50%, 100%."""
        step = HALF_WIDTH / 2
        return [(round(CENTRE + i * step, 2), f"{abs(i) * 50}%") for i in (-2, -1, 0, 1, 2)]


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
    counts: dict[int, int], centre_x: float = CENTRE, half_width: float = HALF_WIDTH
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


def diverging_chart(groups: Sequence[SatisfactionGroup]) -> DivergingChart:
    """One diverging bar per group (e.g. per aspect), in the given order."""
    rows: list[ChartRow] = []
    for group in groups:
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
                segments=bar_segments(counts),
                satisfied_share=group.satisfied_share,
                dissatisfied_share=group.dissatisfied_share,
            )
        )
    return DivergingChart(rows=rows)


# ---------------------------------------------------------------------------
# Defections per month, stacked by main reason


@dataclass(frozen=True, slots=True)
class StackSegment:
    """One reason's part of a month's bar, in percent of the longest bar."""

    reason: str
    count: int
    x: float
    width: float
    pattern: str
    show_label: bool

    @property
    def text_x(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True, slots=True)
class StackRow:
    month: str
    defections: int
    segments: list[StackSegment]


@dataclass(frozen=True, slots=True)
class StackedChart:
    rows: list[StackRow]
    #: The reasons the chart shows, in vocabulary order ("" last): its legend.
    reasons: list[str]


def stacked_month_chart(months: Sequence[MonthReasons]) -> StackedChart:
    """One bar per month, its reasons stacked left to right in vocabulary order; the
    month with the most defections fills the bar."""
    longest = max((m.defections for m in months), default=0)
    rows: list[StackRow] = []
    seen: dict[str, None] = {}
    for m in months:
        edge = 0.0
        segments: list[StackSegment] = []
        for reason, count in m.reasons:
            width = count * 100 / longest
            segments.append(
                StackSegment(
                    reason=reason,
                    count=count,
                    x=round(edge, 2),
                    width=round(width, 2),
                    pattern=REASON_PATTERNS.get(reason, REASON_PATTERNS[ReasonCode.OTHER.value]),
                    show_label=width >= MIN_LABELLED_WIDTH / 2,
                )
            )
            edge += width
            seen[reason] = None
        rows.append(StackRow(month=m.month, defections=m.defections, segments=segments))
    order = {code: i for i, code in enumerate(REASON_PATTERNS)}
    return StackedChart(rows=rows, reasons=sorted(seen, key=lambda r: order.get(r, len(order))))
