"""The console's value page: the value pyramid as a picture, the model and period it
was computed for, and the tier suggestions a manager may apply.

Registered on the console blueprint: everyone signed in reads; applying suggestions
is a POST (manager or admin, CSRF) that changes the chosen accounts' tiers to their
suggestions, one audit entry each, and says what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as HttpResponse

from survey.errors import DomainError
from survey.scale import FLAG_LABELS
from survey.scoring.tiers import apply_tier_suggestions, tier_suggestions
from survey.scoring.value_reads import ValuePyramid, value_model_choices, value_pyramid

from .blueprint import bp
from .console import page_locale

#: Suggestions shown (high value first).
SUGGESTIONS_SHOWN = 200
#: The pyramid's drawing: a triangle WIDTH × HEIGHT cut into three bands.
WIDTH = 360.0
HEIGHT = 240.0
GAP = 4.0
#: Fill pattern of each band (solid, hatched, dotted: readable without colour).
BAND_PATTERNS = {"A": "kp-band-a", "B": "kp-band-b", "C": "kp-band-c"}


@dataclass(frozen=True, slots=True)
class PyramidShape:
    """One band of the drawn pyramid: its polygon, and where its text goes."""

    band: str
    points: str
    text_y: float
    pattern: str
    accounts: int
    value_share: float


def pyramid_shapes(pyramid: ValuePyramid) -> list[PyramidShape]:
    """Three stacked bands of a triangle, top (A) first; equal heights, so the shape
    is the pyramid and the numbers are in the text."""
    rows = len(pyramid.bands)
    height = HEIGHT / rows
    centre = WIDTH / 2

    def half(y: float) -> float:
        return centre * y / HEIGHT

    shapes = []
    for i, band in enumerate(pyramid.bands):
        top, bottom = i * height, (i + 1) * height - GAP
        points = [
            (centre - half(top), top),
            (centre + half(top), top),
            (centre + half(bottom), bottom),
            (centre - half(bottom), bottom),
        ]
        shapes.append(
            PyramidShape(
                band=band.band,
                points=" ".join(f"{x:.1f},{y:.1f}" for x, y in points),
                text_y=top + height * (0.72 if i == 0 else 0.6),
                pattern=BAND_PATTERNS.get(band.band, "kp-band-c"),
                accounts=band.accounts,
                value_share=band.value_share,
            )
        )
    return shapes


@bp.context_processor
def _value_helpers() -> dict[str, Any]:
    locale = page_locale()
    index = 1 if locale == "en" else 0
    return {
        "value_locale": locale,
        "flag_label": lambda code: FLAG_LABELS.get(code, (code, code))[index],
    }


@bp.get("/value")
def value() -> str | tuple[str, int]:
    locale = page_locale()
    models = value_model_choices()
    chosen = request.args.get("model") or None
    if chosen not in {m.code for m in models}:
        chosen = None
    pyramid = value_pyramid(chosen)
    suggestions = tier_suggestions(limit=SUGGESTIONS_SHOWN)
    tiering = next((m for m in models if m.tiering), models[0])
    return render_template(
        "manage/value.html",
        locale=locale,
        models=models,
        pyramid=pyramid,
        shapes=pyramid_shapes(pyramid),
        width=WIDTH,
        height=HEIGHT,
        suggestions=suggestions,
        tiering=tiering,
    )


@bp.post("/value/apply")
def apply_tiers() -> HttpResponse:
    ids = []
    for raw in request.form.getlist("account_id"):
        try:
            ids.append(int(raw))
        except ValueError:
            continue
    if not ids:
        flash(_("Choose at least one account to change its tier."), "error")
        return redirect(url_for("manage.value"), 303)
    try:
        changes = apply_tier_suggestions(ids, actor=g.staff.name)
    except DomainError:
        flash(
            _(
                "Nothing was changed: one of the accounts no longer has a tier suggestion "
                "(its tier matches its value band, or its scores changed). Please look again."
            ),
            "error",
        )
        return redirect(url_for("manage.value"), 303)
    listed = ", ".join(f"{c.external_id} {c.old} → {c.new}" for c in changes)
    flash(
        _(
            "Tiers changed (%(num)d): %(list)s. The audit log and each account's timeline "
            "record it.",
            num=len(changes),
            list=listed,
        ),
        "success",
    )
    return redirect(url_for("manage.value"), 303)
