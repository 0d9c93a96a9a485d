"""Geometry of the account page's chart; the markup is templates/manage/_aspect_history.html.

One group per aspect (questionnaire order), one horizontal bar per campaign inside
it (oldest first, the latest few campaigns only; the table beside it has them all).
A bar's length is the account's mean score on the 0-5 axis, with the mean written
at its end and the campaign's name before it, so the chart reads without colour;
its fill (hatched, dotted, solid) repeats whether the mean is dissatisfied (2 or
less), in between, or satisfied (4 or more).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from survey.analysis import CampaignAspects
from survey.scale import DISSATISFIED_MAX, SATISFIED_MIN

#: The chart's campaigns at most (the newest); the table lists every one.
CHART_CAMPAIGNS = 4
LABEL_WIDTH = 156.0
PLOT_WIDTH = 210.0
VALUE_WIDTH = 50.0
HEADING_HEIGHT = 20.0
BAR_HEIGHT = 14.0
BAR_GAP = 4.0
GROUP_GAP = 10.0
TOP = 22.0  # room for the axis ticks
MAX_SCORE = 5
#: Campaign names wider than this are cut in the chart (whole in the table and title):
#: in half-width characters, a Chinese character counting two (the label column
#: holds about 22 at 11 px).
NAME_WIDTH = 22


@dataclass(frozen=True, slots=True)
class HistoryBar:
    campaign_name: str
    short_name: str
    mean: float
    respondents: int
    y: float
    width: float
    band: str

    @property
    def text_y(self) -> float:
        return round(self.y + BAR_HEIGHT / 2, 2)

    @property
    def mean_text(self) -> str:
        return f"{self.mean:.1f}"


@dataclass(frozen=True, slots=True)
class HistoryGroup:
    aspect: str
    label: str
    y: float
    bars: tuple[HistoryBar, ...]


@dataclass(frozen=True, slots=True)
class HistoryChart:
    groups: tuple[HistoryGroup, ...]
    width: float
    height: float
    plot_x: float
    plot_width: float

    @property
    def ticks(self) -> list[tuple[float, str]]:
        step = self.plot_width / MAX_SCORE
        return [(round(self.plot_x + i * step, 2), str(i)) for i in range(1, MAX_SCORE + 1)]

    @property
    def value_x(self) -> float:
        return self.plot_x + self.plot_width + 6


def band(mean: float) -> str:
    """ "low", "mid" or "high": dissatisfied, in between, satisfied on average."""
    if mean <= DISSATISFIED_MAX:
        return "low"
    return "high" if mean >= SATISFIED_MIN else "mid"


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """`name` cut to `width` half-width characters, with "…" when cut."""
    if sum(_width(c) for c in name) <= width:
        return name
    kept, used = [], 1  # room for the ellipsis
    for char in name:
        used += _width(char)
        if used > width:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…"


def aspect_order(history: Sequence[CampaignAspects]) -> list[tuple[str, str]]:
    """(code, label) of every aspect rated in `history`, in questionnaire order."""
    seen: dict[str, tuple[int, str]] = {}
    for campaign in history:
        for a in campaign.aspects:
            seen.setdefault(a.aspect, (a.position, a.label))
    return [(code, label) for code, (_p, label) in sorted(seen.items(), key=lambda i: i[1][0])]


def aspect_history_chart(history: Sequence[CampaignAspects]) -> HistoryChart:
    """Lay out the newest CHART_CAMPAIGNS campaigns of `history` (oldest first)."""
    campaigns = list(history)[-CHART_CAMPAIGNS:]
    order = aspect_order(campaigns)
    groups: list[HistoryGroup] = []
    y = TOP
    scale = PLOT_WIDTH / MAX_SCORE
    for code, label in order:
        bars: list[HistoryBar] = []
        bar_y = y + HEADING_HEIGHT
        for campaign in campaigns:
            score = campaign.score(code)
            if score is None:
                continue
            bars.append(
                HistoryBar(
                    campaign_name=campaign.campaign_name,
                    short_name=short_name(campaign.campaign_name),
                    mean=score.mean,
                    respondents=score.respondents,
                    y=bar_y,
                    width=round(score.mean * scale, 2),
                    band=band(score.mean),
                )
            )
            bar_y += BAR_HEIGHT + BAR_GAP
        groups.append(HistoryGroup(code, label, y, tuple(bars)))
        y = bar_y + GROUP_GAP
    return HistoryChart(
        groups=tuple(groups),
        width=LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH,
        height=y,
        plot_x=LABEL_WIDTH,
        plot_width=PLOT_WIDTH,
    )
