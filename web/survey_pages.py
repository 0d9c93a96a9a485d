"""The customer-facing survey pages: the home page and the personal link /s/<token>.

Thin on purpose: `survey.responses` decides what a link opens and stores answers;
this module picks the language, renders and maps domain errors to pages
(unknown link 404, closed 410, answered twice 409, bad input 422, database
unavailable 503 with what was typed kept, too many unknown links 429).
"""

from __future__ import annotations

import logging
from typing import NoReturn

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import format_date, format_time
from flask_limiter.util import get_remote_address
from limits import parse as parse_limit
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.wrappers import Response as HttpResponse

from survey.db import db
from survey.errors import AlreadyRespondedError, InvalidInputError, SurveyClosedError
from survey.mail import MailSettings
from survey.responses import (
    MAX_COMMENT_LENGTH,
    MAX_REASON_TEXT_LENGTH,
    InvitationContext,
    is_open,
    load_invitation,
    mark_opened,
    questionnaire_questions,
    record_response,
)
from survey.scale import DEFAULT_LOCALE, DISSATISFIED_MAX, LOCALES, normalise_locale

from .extensions import limiter
from .forms import SurveyForm, survey_form_for

bp = Blueprint("survey", __name__)
log = logging.getLogger(__name__)

#: Unknown or malformed links one client (IP address) may open before getting 429.
#: Only failed look-ups count: many contacts of one key account share an office IP
#: and must never be locked out of their own links. RATELIMIT_FAILED_LOOKUPS overrides.
FAILED_LOOKUP_LIMIT = "30 per 10 minutes"


@bp.get("/")
def home() -> str:
    return render_template("home.html")


def _open_link(token: str) -> tuple[InvitationContext, str]:
    """The invitation behind a link and the page language, or a 404 page.

    The language is set on `g` before anything is translated: the visible switch
    (?lang=) wins, then the invitation's language; the browser's Accept-Language
    counts only when the invitation's language is not one the site speaks.
    """
    ctx = load_invitation(token)
    if ctx is None:
        _unknown_link()
    locale = (
        normalise_locale(request.args.get("lang"))
        or normalise_locale(ctx.locale)
        # Only for an invitation in a language the site does not speak.
        or request.accept_languages.best_match(LOCALES)
        or DEFAULT_LOCALE
    )
    g.locale = locale
    return ctx, locale


def _unknown_link() -> NoReturn:
    """404 for an unknown link, the same for every one, until this client has tried
    too many; then 429. Valid links never reach here, so they are never refused."""
    if current_app.config.get("RATELIMIT_ENABLED", True) and limiter.enabled:
        rule = current_app.config.get("RATELIMIT_FAILED_LOOKUPS") or FAILED_LOOKUP_LIMIT
        try:
            allowed = limiter.limiter.hit(parse_limit(rule), "survey-link", get_remote_address())
        except Exception:  # the limiter's storage (Redis) is down: a 404 is still right
            log.exception("rate limit storage unavailable; not counting this failed look-up")
            allowed = True
        if not allowed:
            abort(429)
    abort(404)


@bp.route("/s/<token>", methods=["GET", "POST"])
def questionnaire(token: str) -> str | tuple[str, int] | HttpResponse:
    ctx, locale = _open_link(token)
    if ctx.responded:
        # A double click or replayed POST must not look like a failure to the customer.
        status = 409 if request.method == "POST" else 200
        return render_template("survey/already.html", ctx=ctx), status
    if not is_open(ctx):
        abort(410)

    questions = questionnaire_questions(ctx.questionnaire_id)
    form = survey_form_for(questions, locale)
    if request.method == "GET":
        mark_opened(ctx.invitation_id)
        return _render_form(token, ctx, form, locale)

    if form.validate():
        # If the database fails below, the 503 page shows this form again as typed.
        g.pending_survey = (token, ctx, form, locale)
        try:
            record_response(
                ctx.invitation_id,
                form.answers(),
                comment=form.comment.data,
                locale=locale,
                follow_up_days=current_app.config["FOLLOW_UP_DAYS"],
                mail=MailSettings.from_config(current_app.config),
            )
        except AlreadyRespondedError:
            return render_template("survey/already.html", ctx=ctx), 409
        except SurveyClosedError:
            abort(410)
        except InvalidInputError as exc:
            form.add_service_error(exc)
        else:
            return redirect(url_for(".thanks", token=token, lang=locale), code=303)
    return _render_form(token, ctx, form, locale), 422


def _render_form(
    token: str, ctx: InvitationContext, form: SurveyForm, locale: str, *, unavailable: bool = False
) -> str:
    return render_template(
        "survey/form.html",
        unavailable=unavailable,
        ctx=ctx,
        form=form,
        locale=locale,
        summary=form.error_summary(),
        closes_on=f"{format_date(ctx.closes_at, 'long')} {format_time(ctx.closes_at, 'short')}",
        action=url_for(".questionnaire", token=token, lang=locale),
        dissatisfied_max=DISSATISFIED_MAX,
        form_limits={"why": MAX_REASON_TEXT_LENGTH, "comment": MAX_COMMENT_LENGTH},
    )


@bp.get("/s/<token>/thanks")
def thanks(token: str) -> str | HttpResponse:
    ctx, locale = _open_link(token)
    if not ctx.responded:
        return redirect(url_for(".questionnaire", token=token, lang=locale), code=303)
    return render_template("survey/thanks.html", ctx=ctx)


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
@bp.errorhandler(PoolTimeoutError)
def database_unavailable(exc: Exception) -> tuple[str, int]:
    """The database is down, locked past its busy timeout or out of connections.

    Nothing was stored (the transaction rolls back). The person gets a 503 that keeps
    what they typed: the whole form when it could be built, else a page that sends
    their answers again as they were. The next request gets a fresh connection
    (pool_pre_ping), so the site recovers by itself when the database returns.
    """
    log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the pool replaces it
        log.debug("rollback after a database failure failed too", exc_info=True)
    pending = g.pop("pending_survey", None)
    if pending is not None:
        token, ctx, form, locale = pending
        return _render_form(token, ctx, form, locale, unavailable=True), 503
    if request.method == "POST" and request.form:
        fields = [(k, v) for k, values in request.form.lists() for v in values]
        return render_template("survey/unavailable.html", fields=fields), 503
    return render_template("error.html", code=503), 503
