"""The console's schedules page: each schedule's cadence, next run, coverage goal,
census tiers, past campaigns and trend per cycle; managers create, pause and resume.

Registered on the console blueprint: viewers read, managers and admins change (POST).
The create form is a plain POST form (no JavaScript).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as HttpResponse
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from survey.analysis import schedule_trends
from survey.campaigns import (
    STRATIFY_DIMENSIONS,
    ScheduleInputError,
    ScheduleSpec,
    create_schedule,
    cycle_label,
    list_schedules,
    pause_schedule,
    resume_schedule,
)
from survey.errors import DomainError
from survey.models import CADENCES, CONTACT_CHOICES
from survey.scale import TIERS

from .blueprint import bp
from .campaigns import ActionForm
from .console import page_locale, today

CADENCE_LABELS: dict[str, Any] = {
    "month": _l("Monthly"),
    "quarter": _l("Quarterly"),
    "half-year": _l("Half-yearly"),
    "year": _l("Yearly"),
}
STRATIFY_LABELS: dict[str, Any] = {
    "": _l("Not stratified"),
    "tier": _l("Tier"),
    "value_type": _l("Value type"),
    "relationship_stage": _l("Relationship stage"),
    "region": _l("Region"),
}
CONTACT_LABELS: dict[str, Any] = {
    "primary": _l("Each account's primary contact"),
    "all": _l("All contacts of each account"),
}


class ScheduleForm(FlaskForm):
    """A new schedule: one campaign per cycle from its first day."""

    name = StringField(
        _l("Schedule name"),
        description=_l("Each campaign is named after it and its cycle, e.g. “… 2026-Q4”."),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(message=_l("Please give the schedule a name.")),
            Length(max=120, message=_l("At most %(max)d characters, please.", max=120)),
        ],
    )
    every = SelectField(_l("Every"), choices=[])
    starts_on = DateField(
        _l("First day"),
        validators=[InputRequired(message=_l("Please give the first day (YYYY-MM-DD)."))],
    )
    size = IntegerField(
        _l("Accounts drawn at random each cycle"),
        validators=[
            Optional(),
            NumberRange(min=1, message=_l("The sample size must be at least 1.")),
        ],
    )
    percent = DecimalField(
        _l("or share of the frame (%)"),
        places=None,
        validators=[
            Optional(),
            NumberRange(min=0.01, max=100, message=_l("Please give a share between 0.01 and 100.")),
        ],
    )
    stratify_by = SelectField(_l("Stratify by"), choices=[])
    census_tiers = SelectMultipleField(
        _l("Tiers surveyed in full every cycle"),
        description=_l("On top of the random part; hold Ctrl or ⌘ to choose several."),
        choices=[],
        validators=[Optional()],
    )
    cover_within_days = IntegerField(
        _l("Coverage goal (days)"),
        description=_l("No account goes longer than this without being invited."),
        default=365,
        validators=[InputRequired(), NumberRange(min=1, max=3650)],
    )
    include_open_cases = BooleanField(_l("Also survey accounts with an open follow-up case"))
    contacts = SelectField(_l("Whom to invite"), choices=[])
    closes_after_days = IntegerField(
        _l("Each campaign closes after (days)"),
        default=21,
        validators=[InputRequired(), NumberRange(min=1, max=366)],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not in the class: WTForms warns about tuples passed at construction.
        self.every.choices = [(c, CADENCE_LABELS[c]) for c in CADENCES]
        self.stratify_by.choices = [(k, STRATIFY_LABELS[k]) for k in ("", *STRATIFY_DIMENSIONS)]
        self.census_tiers.choices = [(t, t) for t in TIERS]
        self.contacts.choices = [(c, CONTACT_LABELS[c]) for c in CONTACT_CHOICES]


def _labels() -> dict[str, Any]:
    return {"cadence_labels": CADENCE_LABELS, "cycle_label": cycle_label}


def _page(form: ScheduleForm, status: int = 200) -> tuple[str, int]:
    views = list_schedules(today())
    trends = schedule_trends([v.id for v in views])
    return (
        render_template(
            "manage/schedules.html",
            schedules=views,
            trends=trends,
            form=form,
            locale=page_locale(),
            **_labels(),
        ),
        status,
    )


@bp.get("/schedules")
def schedules() -> tuple[str, int]:
    return _page(ScheduleForm())


@bp.post("/schedules")
def create_schedule_page() -> HttpResponse | tuple[str, int]:
    form = ScheduleForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    spec = ScheduleSpec(
        name=form.name.data or "",
        every=form.every.data,
        starts_on=form.starts_on.data,
        size=form.size.data,
        fraction=float(form.percent.data) / 100 if form.percent.data is not None else None,
        stratify_by=form.stratify_by.data or None,
        census_tiers=tuple(form.census_tiers.data or ()),
        cover_within_days=form.cover_within_days.data or 365,
        include_open_cases=bool(form.include_open_cases.data),
        contacts=form.contacts.data,
        closes_after_days=form.closes_after_days.data or 21,
    )
    try:
        view = create_schedule(spec, actor=g.staff.name, today=today())
    except ScheduleInputError as exc:
        form.form_errors.append(exc.messages["en" if page_locale() == "en" else "zh"])
        return _page(form, 400)
    except DomainError as exc:
        form.form_errors.append(exc.message)
        return _page(form, 400)
    flash(_("Schedule “%(name)s” created.", name=view.name), "success")
    return redirect(url_for("manage.schedules", _anchor=f"schedule-{view.id}"), 303)


@bp.post("/schedules/<int:schedule_id>/<any(pause, resume):action>")
def change_schedule(schedule_id: int, action: str) -> HttpResponse:
    if not ActionForm().validate_on_submit():
        abort(400)
    change = pause_schedule if action == "pause" else resume_schedule
    try:
        view = change(schedule_id, actor=g.staff.name, today=today())
    except DomainError:
        abort(404)
    message = (
        _("Schedule “%(name)s” paused.", name=view.name)
        if view.paused
        else _("Schedule “%(name)s” resumed.", name=view.name)
    )
    flash(message, "success")
    return redirect(url_for("manage.schedules", _anchor=f"schedule-{view.id}"), 303)


__all__ = ["ScheduleForm"]
