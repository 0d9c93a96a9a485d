"""The console's follow-up pages: the list of cases opened by very dissatisfied answers
(filters in a GET form, overdue first, each with why it was opened), one case's page
with its history and the form to work it, and whether following up works (recovery,
by root cause).

Registered on the console blueprint (web/manage/blueprint.py), so it shares its sign-in,
language and role checks: viewers read, managers and admins change (POST).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as HttpResponse
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from survey.analysis import recovery, root_cause_breakdown
from survey.errors import InvalidInputError, NotFoundError
from survey.follow_ups import (
    FOLLOW_UP_STATUSES,
    MAX_NOTE_LENGTH,
    SETTABLE_STATUSES,
    FollowUpCase,
    RootCauseRequiredError,
    follow_up_owners,
    get_follow_up_case,
    list_follow_ups,
    update_follow_up,
)
from survey.scale import TIERS, ReasonCode

from .blueprint import bp
from .console import app_timezone, page_locale

FOLLOW_UP_LABELS: dict[str, Any] = {
    "open": _l("Open"),
    "contacted": _l("Contacted"),
    "escalated": _l("Escalated"),
    "resolved": _l("Resolved"),
}
MSG_EMPTY = _l("Choose a new status or write a note.")
MSG_ROOT_CAUSE = _l("Choose the root cause to resolve the case. Nothing was changed.")
MSG_ROOT_CAUSE_ONLY_RESOLVING = _l("A root cause is recorded when the case is resolved.")
MSG_OWNER = _l("An owner is a name of at most 120 characters.")


class FollowUpForm(FlaskForm):
    """Work a case: a new status, a note, the root cause when resolving, owner, due date."""

    # Choices are filled per request (labels in the page's language); the service checks
    # the codes, so an unknown one is its clear error, not WTForms' "Not a valid choice".
    status = SelectField(_l("New status"), choices=[], validate_choice=False)
    note = TextAreaField(
        _l("Note"),
        description=_l("What was done or agreed; kept in the case's history."),
        validators=[
            Optional(),
            Length(
                max=MAX_NOTE_LENGTH,
                message=_l("At most %(max)d characters, please.", max=MAX_NOTE_LENGTH),
            ),
        ],
    )
    root_cause = SelectField(
        _l("Root cause"),
        description=_l("Required when resolving: why the customer was dissatisfied."),
        choices=[],
        validate_choice=False,
    )
    root_cause_note = TextAreaField(
        _l("Root cause note"),
        validators=[
            Optional(),
            Length(
                max=MAX_NOTE_LENGTH,
                message=_l("At most %(max)d characters, please.", max=MAX_NOTE_LENGTH),
            ),
        ],
    )
    owner = StringField(_l("Owner"), validators=[Optional(), Length(max=120)])
    due_date = DateField(_l("Due date"), validators=[Optional()])

    def fill_choices(self, locale: str) -> None:
        self.status.choices = [("", _("No change"))] + [
            (code, str(FOLLOW_UP_LABELS[code])) for code in SETTABLE_STATUSES
        ]
        self.root_cause.choices = [("", "–")] + [(r.value, r.label(locale)) for r in ReasonCode]


def _filters() -> dict[str, Any]:
    """The list's filters from the query string; unknown values are ignored."""
    status = request.args.get("status") or None
    tier = request.args.get("tier") or None
    owner = (request.args.get("owner") or "").strip() or None
    return {
        "status": status if status in FOLLOW_UP_STATUSES else None,
        "owner": owner,
        "overdue": True if request.args.get("overdue") == "1" else None,
        "tier": tier if tier in TIERS else None,
    }


@bp.get("/follow-ups")
def follow_ups() -> str:
    locale = page_locale()
    filters = _filters()
    return render_template(
        "manage/follow_ups.html",
        cases=list_follow_ups(**filters, locale=locale),
        filters=filters,
        filtered=any(v is not None for v in filters.values()),
        owners=follow_up_owners(),
        tiers=TIERS,
        recovery=recovery(),
        root_causes=root_cause_breakdown(),
        labels=FOLLOW_UP_LABELS,
    )


def _due_day(case: FollowUpCase) -> date:
    return case.row.due_at.astimezone(app_timezone()).date()


def _render_case(case: FollowUpCase, form: FollowUpForm, status: int = 200) -> tuple[str, int]:
    return (
        render_template(
            "manage/follow_up.html",
            case=case,
            form=form,
            labels=FOLLOW_UP_LABELS,
        ),
        status,
    )


def _load(follow_up_id: int) -> FollowUpCase:
    try:
        return get_follow_up_case(follow_up_id, locale=page_locale())
    except NotFoundError:
        abort(404)


@bp.get("/follow-ups/<int:follow_up_id>")
def follow_up_case(follow_up_id: int) -> tuple[str, int]:
    case = _load(follow_up_id)
    form = FollowUpForm(formdata=None, owner=case.row.owner, due_date=_due_day(case), root_cause="")
    form.fill_choices(page_locale())
    return _render_case(case, form)


@bp.post("/follow-ups/<int:follow_up_id>")
def update_follow_up_case(follow_up_id: int) -> HttpResponse | tuple[str, int]:
    case = _load(follow_up_id)
    form = FollowUpForm()
    form.fill_choices(page_locale())
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _render_case(case, form, 422)
    assert g.staff is not None
    owner = (form.owner.data or "").strip()
    due_day = form.due_date.data
    due_at = None
    if due_day is not None and due_day != _due_day(case):
        # The end of that day where the business is.
        local = datetime.combine(due_day, time(23, 59, 59), tzinfo=app_timezone())
        due_at = local.astimezone(UTC)
    try:
        update_follow_up(
            follow_up_id,
            status=form.status.data or None,
            note=form.note.data,
            author=g.staff.name,
            root_cause=form.root_cause.data or None,
            root_cause_note=form.root_cause_note.data,
            owner=owner if owner and owner != case.row.owner else None,
            due_at=due_at,
        )
    except RootCauseRequiredError:
        form.root_cause.errors = [str(MSG_ROOT_CAUSE)]
        form.form_errors.append(str(MSG_ROOT_CAUSE))
        return _render_case(case, form, 422)
    except InvalidInputError as exc:
        message = {
            "root_cause": MSG_ROOT_CAUSE_ONLY_RESOLVING,
            "root_cause_note": MSG_ROOT_CAUSE_ONLY_RESOLVING,
            "owner": MSG_OWNER,
        }.get(exc.field or "", MSG_EMPTY)
        form.form_errors.append(str(message))
        return _render_case(case, form, 422)
    flash(_("Follow-up updated."), "success")
    return redirect(url_for("manage.follow_up_case", follow_up_id=follow_up_id), 303)


__all__ = ["FOLLOW_UP_LABELS", "FollowUpForm"]
