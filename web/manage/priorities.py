"""The console's priorities page: value × health, and whether health predicts defection.

The matrix (value bands A→C down, health poor→good across, "no score" last) with
each cell's accounts and revenue linking to the accounts behind it; "high value,
poor health" comes first and says so in words. Below it the check of health against
the accounts that left (survey.scoring.validation): the AUC in plain words, the
defection rate per health quintile as a server-drawn SVG with a table, and the
weights a logistic regression suggests, with the command an admin would adopt them
with. Everyone signed in reads it; nothing on it changes data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, render_template, request
from flask_babel import lazy_gettext as _l

from survey.errors import DomainError
from survey.scale import HealthBand, HealthMeasure
from survey.scoring.priority import (
    HEALTH_BANDS,
    NO_SCORE,
    VALUE_BANDS,
    check_cell,
    priority_accounts,
    priority_matrix,
)
from survey.scoring.suggested_weights import adopt_command, suggested_health_weights
from survey.scoring.validation import Quintile, health_validation

from .blueprint import bp
from .console import page_locale

PAGE_SIZE = 50
DEFAULT_HORIZON_DAYS = 365
#: The SVG's geometry (viewBox units; the chart scales to the page's width).
CHART_WIDTH = 360.0
CHART_TOP = 24.0
CHART_HEIGHT = 150.0
BAR_GAP = 14.0
LEFT = 8.0

VALUE_LABELS: dict[str, Any] = {
    "A": _l("A (highest value)"),
    "B": _l("B"),
    "C": _l("C (lowest value)"),
    NO_SCORE: _l("No value score"),
}
NO_HEALTH_LABEL = _l("No health score")


@dataclass(frozen=True, slots=True)
class Bar:
    quintile: int
    x: float
    y: float
    width: float
    height: float
    rate: float | None
    accounts: int
    defections: int

    @property
    def text_x(self) -> float:
        return round(self.x + self.width / 2, 2)


def quintile_bars(quintiles: list[Quintile]) -> list[Bar]:
    """One bar per quintile, heights to the largest rate (or 100 % when all are 0)."""
    top = max((q.rate or 0.0 for q in quintiles), default=0.0) or 1.0
    width = (CHART_WIDTH - 2 * LEFT - BAR_GAP * (len(quintiles) - 1)) / max(len(quintiles), 1)
    bars = []
    for i, q in enumerate(quintiles):
        height = round(CHART_HEIGHT * (q.rate or 0.0) / top, 2)
        bars.append(
            Bar(
                quintile=q.quintile,
                x=round(LEFT + i * (width + BAR_GAP), 2),
                y=round(CHART_TOP + CHART_HEIGHT - height, 2),
                width=round(width, 2),
                height=height,
                rate=q.rate,
                accounts=q.accounts,
                defections=q.defections,
            )
        )
    return bars


def _health_label(band: str, locale: str) -> str:
    return str(NO_HEALTH_LABEL) if band == NO_SCORE else HealthBand(band).label(locale)


def _measure_label(code: str, locale: str) -> str:
    try:
        return HealthMeasure(code).label(locale)
    except ValueError:
        return code


@bp.get("/priorities")
def priorities() -> str:
    locale = page_locale()
    value_band = request.args.get("value")
    health_band = request.args.get("health")
    cell = None
    page = None
    if value_band is not None or health_band is not None:
        try:
            cell = check_cell(value_band or "", health_band or "")
        except DomainError:
            abort(404)
        after = request.args.get("after", type=int)
        page = priority_accounts(*cell, first=PAGE_SIZE, after_id=after)
    horizon = request.args.get("horizon", default=DEFAULT_HORIZON_DAYS, type=int)
    try:
        validation = health_validation(horizon)
        weights = suggested_health_weights(horizon)
    except DomainError:
        abort(404)
    return render_template(
        "manage/priorities.html",
        matrix=priority_matrix(),
        value_bands=VALUE_BANDS,
        health_bands=HEALTH_BANDS,
        value_labels=VALUE_LABELS,
        health_label=lambda band: _health_label(band, locale),
        measure_label=lambda code: _measure_label(code, locale),
        cell=cell,
        page=page,
        validation=validation,
        bars=quintile_bars(validation.quintiles),
        chart={"width": CHART_WIDTH, "top": CHART_TOP, "height": CHART_HEIGHT},
        weights=weights,
        command=adopt_command(weights),
        no_score=NO_SCORE,
        locale=locale,
    )
