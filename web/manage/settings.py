"""The console's "My settings" page: the signed-in staff member chooses the language of
every e-mail they receive (follow-up notifications, escalations).

Every signed-in staff member may change their own settings, viewers included (the
one POST a viewer may send besides signing out)."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as HttpResponse
from wtforms import RadioField

from survey.registry import get_active_staff, set_staff_locale

from .blueprint import bp

LANGUAGES = [("zh", "中文"), ("en", "English")]


class SettingsForm(FlaskForm):
    locale = RadioField(
        _l("Language of the e-mails I receive"),
        description=_l("Follow-up notifications and escalations are written in this language."),
        validate_choice=True,
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = list(LANGUAGES)


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> str | tuple[str, int] | HttpResponse:
    assert g.staff is not None
    member = get_active_staff(g.staff.id)
    assert member is not None
    form = SettingsForm(locale=member.locale)
    if form.validate_on_submit():
        set_staff_locale(g.staff.id, str(form.locale.data), actor=g.staff.name)
        flash(_("Settings saved."), "success")
        return redirect(url_for("manage.settings"), 303)
    return render_template("manage/settings.html", form=form), (422 if form.errors else 200)


__all__ = ["SettingsForm"]
