"""The console's key-driver page: which aspect moves overall satisfaction most, as an
importance × performance chart and a table, with the results page's answer filter
and the unit and weight of the analysis (survey.analysis.key_drivers)."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from survey.analysis import DriverUnit, DriverWeight, key_drivers
from survey.scale import DriverQuadrant

from .blueprint import bp
from .console import page_locale
from .driver_charts import driver_chart, marker_path
from .results import AnswersFilterForm, answers_scope, offer_campaigns

UNIT_LABELS: dict[DriverUnit, Any] = {
    DriverUnit.RESPONSE: _l("Each response"),
    DriverUnit.ACCOUNT: _l("Each account (the mean of its responses)"),
}
WEIGHT_LABELS: dict[DriverWeight, Any] = {
    DriverWeight.ANSWERS: _l("Equally"),
    DriverWeight.REVENUE: _l("By annual revenue"),
}


class DriversFilterForm(AnswersFilterForm):
    """The results page's answer filter, and what one observation is and weighs."""

    unit = SelectField(
        _l("One observation is"),
        choices=[],
        default=DriverUnit.RESPONSE.value,
    )
    weight = SelectField(
        _l("Observations count"),
        choices=[],
        default=DriverWeight.ANSWERS.value,
    )


@bp.get("/drivers")
def drivers() -> str | tuple[str, int]:
    locale = page_locale()
    form = DriversFilterForm(request.args)
    campaigns = offer_campaigns(form)
    form.unit.choices = [(u.value, label) for u, label in UNIT_LABELS.items()]
    form.weight.choices = [(w.value, label) for w, label in WEIGHT_LABELS.items()]
    valid = form.validate() if request.args else True
    scope = answers_scope(form, campaigns)
    unit = DriverUnit(form.unit.data) if not form.unit.errors else DriverUnit.RESPONSE
    weight = DriverWeight(form.weight.data) if not form.weight.errors else DriverWeight.ANSWERS
    min_size = int(current_app.config.get("MIN_GROUP_SIZE") or 0)
    result = key_drivers(scope.filter, unit, weight, min_group_size=min_size)
    page = render_template(
        "manage/drivers.html",
        form=form,
        scope=scope,
        result=result,
        chart=driver_chart(result, locale),
        quadrant_label=lambda code: DriverQuadrant(code).label(locale),
        marker_path=marker_path,
        locale=locale,
        unit_label=UNIT_LABELS[unit],
        weight_label=WEIGHT_LABELS[weight],
        min_size=max(min_size, 4),
    )
    return (page, 422) if not valid else page
