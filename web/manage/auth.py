"""Signing in and out of the console, and who the session's staff member is.

Every console request passes `_signed_in` first: it sets `g.staff` (and the page
language), sends strangers to the sign-in page, and lets only managers and admins
change anything (POST); viewers see every page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as HttpResponse
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from survey.models import ROLE_MANAGER
from survey.registry import (
    MAX_PASSWORD_LENGTH,
    authenticate_password,
    get_active_staff,
    role_at_least,
)

from ..extensions import limiter
from .blueprint import bp
from .console import SESSION_LANG, choose_locale

SESSION_STAFF = "staff_id"
#: Per address and e-mail, so one person's typos lock out nobody else; only failed
#: attempts count. The second limit stops one address trying many e-mails.
LOGIN_RATE_LIMIT = "5 per minute"
LOGIN_ADDRESS_RATE_LIMIT = "30 per minute"
PUBLIC_ENDPOINTS = frozenset({"manage.login"})
#: What any signed-in staff member may POST, viewers included: their own session and settings.
OWN_ENDPOINTS = frozenset({"manage.logout", "manage.settings"})
MSG_BAD_LOGIN = _l("The e-mail or password is not right. Please try again.")
MSG_LOCKED_OUT = _l(
    "Too many sign-in attempts. Please wait a minute, then try again "
    "(or ask an administrator to reset your password)."
)


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(message=_l("Please enter your e-mail.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(message=_l("Please enter your password.")),
            Length(max=MAX_PASSWORD_LENGTH),
        ],
    )
    submit = SubmitField(_l("Sign in"))


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who is using the console, as the templates need it."""

    id: int
    name: str
    role: str

    @property
    def can_manage(self) -> bool:
        return role_at_least(self.role, ROLE_MANAGER)


@bp.before_request
def _signed_in() -> HttpResponse | None:
    choose_locale()
    staff_id = session.get(SESSION_STAFF)
    member = get_active_staff(staff_id) if isinstance(staff_id, int) else None
    g.staff = SignedIn(member.id, member.name, member.role) if member else None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if g.staff is None:
        session.pop(SESSION_STAFF, None)
        if request.method == "GET":
            return redirect(url_for("manage.login", next=request.full_path.rstrip("?")))
        # A form sent after the session ended: nothing is done; sign in and try again.
        flash(_("Please sign in again; nothing was changed."), "error")
        return redirect(url_for("manage.login"), 303)
    if (
        request.method == "POST"
        and request.endpoint not in OWN_ENDPOINTS
        and not g.staff.can_manage
    ):
        abort(403)
    return None


@bp.errorhandler(403)
def _forbidden(_exc: Exception) -> tuple[str, int]:
    return render_template("manage/forbidden.html"), 403


# --- signing in and out ---------------------------------------------------------------


def _login_key() -> str:
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"{get_remote_address()}|{email}"


def _failed(response: HttpResponse) -> bool:
    return response.status_code != 303


@bp.errorhandler(RateLimitExceeded)
def _locked_out(_exc: RateLimitExceeded) -> tuple[str, int]:
    """The sign-in page again, with one message whatever the e-mail (existing or not)."""
    # The limiter stops the request before this blueprint's before_request runs.
    choose_locale()
    g.staff = None
    form = LoginForm()
    form.password.data = ""
    form.form_errors.append(str(MSG_LOCKED_OUT))
    return render_template("manage/login.html", form=form), 429


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console: never another site (open redirect)."""
    if target and target.startswith("/manage") and "//" not in target and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    LOGIN_RATE_LIMIT,
    key_func=_login_key,
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(LOGIN_ADDRESS_RATE_LIMIT, methods=["POST"], deduct_when=_failed)
def login() -> str | tuple[str, int] | HttpResponse:
    if g.staff is not None and request.method == "GET":
        return redirect(url_for("manage.campaigns"))
    form = LoginForm()
    if form.validate_on_submit():
        member = authenticate_password(form.email.data or "", form.password.data or "")
        if member is not None:
            lang = session.get(SESSION_LANG)
            # A new session on sign-in: nothing from before (a planted id) survives.
            session.clear()
            session[SESSION_STAFF] = member.id
            if lang:
                session[SESSION_LANG] = lang
            target = _safe_next(request.args.get("next")) or url_for("manage.campaigns")
            return redirect(target, 303)
        form.form_errors.append(str(MSG_BAD_LOGIN))
    if request.method == "POST":
        form.password.data = ""
        return render_template("manage/login.html", form=form), 422
    return render_template("manage/login.html", form=form)


@bp.post("/logout")
def logout() -> HttpResponse:
    lang = session.get(SESSION_LANG)
    session.clear()
    if lang:
        session[SESSION_LANG] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("manage.login"), 303)
