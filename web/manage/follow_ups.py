"""The console's "Follow-ups" page: cases opened by very dissatisfied answers, the
overdue ones first, and whether following up works (recovery).

Registered on the console blueprint (web/manage/blueprint.py), so it shares its sign-in,
language and role checks: viewers read, managers and admins change (POST).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as HttpResponse
from wtforms import StringField, TextAreaField
from wtforms.validators import AnyOf, Length, Optional

from survey.analysis import recovery
from survey.errors import InvalidInputError, NotFoundError
from survey.follow_ups import (
    FOLLOW_UP_STATUSES,
    MAX_NOTE_LENGTH,
    list_follow_ups,
    update_follow_up,
)

from .blueprint import bp

FOLLOW_UP_LABELS: dict[str, Any] = {
    "open": _l("Open"),
    "contacted": _l("Contacted"),
    "resolved": _l("Resolved"),
}


class FollowUpForm(FlaskForm):
    """Move a case on, with a note of what was done."""

    # The page draws its own <select>; the service checks the code as well.
    status = StringField(
        _l("Status"),
        validators=[
            Optional(),
            AnyOf(FOLLOW_UP_STATUSES, message=_l("Choose a new status or write a note.")),
        ],
    )
    note = TextAreaField(
        _l("Note"),
        validators=[
            Optional(),
            Length(
                max=MAX_NOTE_LENGTH,
                message=_l("At most %(max)d characters, please.", max=MAX_NOTE_LENGTH),
            ),
        ],
    )


@bp.get("/follow-ups")
def follow_ups() -> str:
    status = request.args.get("status") or None
    if status not in (None, *FOLLOW_UP_STATUSES):
        status = None
    overdue = True if request.args.get("overdue") == "1" else None
    return render_template(
        "manage/follow_ups.html",
        cases=list_follow_ups(status=status, overdue=overdue),
        status=status,
        overdue=overdue,
        recovery=recovery(),
        labels=FOLLOW_UP_LABELS,
        form=FollowUpForm(),
    )


@bp.post("/follow-ups/<int:follow_up_id>")
def update_follow_up_case(follow_up_id: int) -> HttpResponse:
    form = FollowUpForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        for error in [*form.status.errors, *form.note.errors]:
            flash(str(error), "error")
        return redirect(url_for("manage.follow_ups"), 303)
    assert g.staff is not None
    try:
        update_follow_up(
            follow_up_id,
            status=form.status.data or None,
            note=form.note.data,
            author=g.staff.name,
        )
    except NotFoundError:
        abort(404)
    except InvalidInputError:
        flash(_("Choose a new status or write a note."), "error")
    else:
        flash(_("Follow-up updated."), "success")
    return redirect(url_for("manage.follow_ups"), 303)
