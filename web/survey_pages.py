"""The customer-facing survey pages: the home page and the personal link /s/<token>.

Thin on purpose: `survey.answers` decides what a link opens and stores answers;
this module picks the language, renders and maps domain errors to pages
(unknown link 404, closed 410, answered twice 409, bad input 422, database
unavailable 503 with what was typed kept, too many unknown links 429).
"""

from __future__ import annotations

import logging
from typing import NoReturn

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response as HttpResponse

from survey.answers import (
    MAX_COMMENT_LENGTH,
    MAX_KEPT_LENGTH,
    MAX_REASON_TEXT_LENGTH,
    InvitationContext,
    OpenedSurvey,
    is_open,
    load_invitation,
    note_first_view,
    open_survey,
    record_exit_response,
    stored_after_failure,
    submit_response,
)
from survey.db import db
from survey.delivery import MailSettings
from survey.errors import AlreadyRespondedError, InvalidInputError, SurveyClosedError
from survey.formats import format_moment
from survey.models import KIND_EXIT, ROLE_MANAGER
from survey.registry import authenticate, role_at_least
from survey.scale import DEFAULT_LOCALE, DISSATISFIED_MAX, LOCALES, Channel, normalise_locale

from .extensions import csrf
from .formats import page_language
from .forms import (
    ErrorLink,
    ExitSurveyForm,
    SurveyForm,
    SurveySubmission,
    exit_form_for,
    read_survey_post,
)
from .limits import count_failed_lookup
from .survey_csrf import check_link_csrf
from .survey_page_cache import fresh_page, survey_form_class_for, worded_date

bp = Blueprint("survey", __name__)
log = logging.getLogger(__name__)


@bp.get("/")
def home() -> str:
    # GraphiQL and the SDL exist in development only (web.graphiql): link them then.
    return render_template("home.html", api_docs="api_docs" in current_app.blueprints)


@bp.get("/favicon.ico")
def favicon() -> HttpResponse:
    """Browsers ask for /favicon.ico on their own: answer with the SVG icon."""
    return current_app.send_static_file("favicon.svg")


def _open_link(token: str) -> tuple[InvitationContext, str]:
    """The invitation behind a link and the page language, or a 404 page.

    The language is set on `g` before anything is translated: the visible switch
    (?lang=) wins, then the invitation's language; the browser's Accept-Language
    counts only when the invitation's language is not one the site speaks.
    """
    ctx = load_invitation(token)
    if ctx is None:
        _unknown_link()
    g.locale = _page_locale(ctx)
    return ctx, g.locale


def _page_locale(ctx: InvitationContext) -> str:
    return (
        normalise_locale(request.args.get("lang"))
        or normalise_locale(ctx.locale)
        # Only for an invitation in a language the site does not speak.
        or request.accept_languages.best_match(LOCALES)
        or DEFAULT_LOCALE
    )


def _unknown_link() -> NoReturn:
    """404 for an unknown link, the same for every one, until this client has tried
    too many; then 429. Valid links never reach here, so they are never refused."""
    _count_failed_lookup()
    abort(404)


def _count_failed_lookup() -> None:
    """Count one failed look-up (an unknown link, a wrong staff token on a phone page)
    for this client (web.limits); 429 with Retry-After once it has made too many."""
    retry_after = count_failed_lookup()
    if retry_after is not None:
        raise TooManyRequests(retry_after=retry_after)


def _phone_interviewer(phone: bool) -> tuple[str | None, str | None]:
    """For a phone interview (?channel=phone): the staff member whose access token
    was posted with the form, and an error message when it is missing, unknown or
    not a manager's. The token travels in the POST body, never in the URL."""
    if not phone:
        return None, None
    token = request.form.get("staff_token", "")
    member = authenticate(token) if token.strip() else None
    if member is None:
        if token.strip():
            _count_failed_lookup()
        return None, str(_("Please enter a valid staff access token."))
    if not role_at_least(member.role, ROLE_MANAGER):
        return None, str(_("Only managers can enter phone interviews."))
    return member.name, None


# The survey link's CSRF token is bound to the link (web.survey_csrf), not kept in
# the session: checked below once the link is known, so an unknown link is a 404
# whatever was posted, and the page never sets a cookie.
@csrf.exempt
@bp.route("/s/<token>", methods=["GET", "POST"])
def questionnaire(token: str) -> str | bytes | tuple[str, int] | HttpResponse:
    survey, locale = _open_survey(token)
    if request.method == "POST":
        check_link_csrf(token)
    ctx = survey.context
    phone = request.args.get("channel") == Channel.PHONE.value
    if ctx.responded:
        # A double click or replayed POST must not look like a failure to the customer.
        status = 409 if request.method == "POST" else 200
        return render_template("survey/already.html", ctx=ctx), status
    if not is_open(ctx):
        abort(410)
    if ctx.campaign_kind == KIND_EXIT:
        return _exit_questionnaire(token, survey, locale, phone)
    if request.method == "GET":
        if not phone:  # staff opening the link to phone the contact is not the contact
            note_first_view(survey)
        return fresh_page(
            token,
            ctx,
            survey.questions,
            locale,
            phone=phone,
            closes_on=worded_date(ctx.closes_at, locale, lambda: _closes_on(ctx)),
            render=lambda t, c, f, closes_on: _render_form(
                t, c, f, locale, phone=phone, closes_on=closes_on
            ),
        )

    # The posted fields are read directly; a form is bound only to show errors.
    submission = _read_post(survey)
    form: SurveyForm | None = None
    if submission is None:
        form = _survey_form(survey, locale)
        if form.validate():
            submission = SurveySubmission(form.answers(), form.comment.data)
    interviewer, staff_error = _phone_interviewer(phone)
    if submission is not None and staff_error is None:
        # If the database fails below, the 503 page shows this form again as typed.
        g.pending_survey = (token, survey, form, locale)
        try:
            submit_response(
                survey,
                submission.answers,
                comment=submission.comment,
                locale=locale,
                channel=Channel.PHONE.value if phone else Channel.WEB.value,
                entered_by=interviewer,
                follow_up_days=current_app.config["FOLLOW_UP_DAYS"],
                mail=MailSettings.from_config(current_app.config),
            )
        except AlreadyRespondedError:
            return render_template("survey/already.html", ctx=ctx), 409
        except SurveyClosedError:
            abort(410)
        except InvalidInputError as exc:
            form = form or _validated_form(survey, locale)
            form.add_service_error(exc)
        else:
            return redirect(
                url_for(".thanks", token=token, lang=locale, channel="phone" if phone else None),
                code=303,
            )
    form = form or _validated_form(survey, locale)
    return _render_form(token, ctx, form, locale, phone=phone, staff_error=staff_error), 422


def _open_survey(token: str) -> tuple[OpenedSurvey, str]:
    """The link's survey (one statement) and the page language, or a 404 page."""
    # A POST reads the link in the transaction that stores the answers.
    survey = open_survey(token, in_transaction=request.method == "POST")
    if survey is None:
        _unknown_link()
    g.locale = _page_locale(survey.context)
    return survey, g.locale


def _read_post(survey: OpenedSurvey) -> SurveySubmission | None:
    """The submission read straight from the posted fields when they are plain form
    fields with a valid CSRF token and pass every check; None leaves it to the form."""
    if request.files or not request.form:
        return None
    if current_app.config.get("WTF_CSRF_ENABLED", True) and not g.get("csrf_valid"):
        return None  # CSRFProtect did not check this request: the form will
    return read_survey_post(survey.questions, request.form)


def _survey_form(survey: OpenedSurvey, locale: str) -> SurveyForm:
    """A form of the questionnaire's kept class, bound to this request."""
    return survey_form_class_for(survey.context.questionnaire_id, survey.questions, locale)()


def _validated_form(survey: OpenedSurvey, locale: str) -> SurveyForm:
    """The bound form with its checks run, to show what was typed and the errors."""
    form = _survey_form(survey, locale)
    form.validate()
    return form


def _exit_questionnaire(
    token: str, survey: OpenedSurvey, locale: str, phone: bool
) -> str | tuple[str, int] | HttpResponse:
    """The exit questionnaire: why did a lost account leave?"""
    ctx = survey.context
    form = exit_form_for(locale)
    if request.method == "GET":
        if not phone:
            note_first_view(survey)
        return _render_form(token, ctx, form, locale, phone=phone)

    valid = form.validate()
    interviewer, staff_error = _phone_interviewer(phone)
    if valid and staff_error is None:
        g.pending_survey = (token, survey, form, locale)
        try:
            record_exit_response(
                ctx.invitation_id,
                form.answers(),
                locale=locale,
                channel=Channel.PHONE.value if phone else Channel.WEB.value,
                entered_by=interviewer,
            )
        except AlreadyRespondedError:
            return render_template("survey/already.html", ctx=ctx), 409
        except SurveyClosedError:
            abort(410)
        except InvalidInputError as exc:
            form.add_service_error(exc)
        else:
            return redirect(
                url_for(".thanks", token=token, lang=locale, channel="phone" if phone else None),
                code=303,
            )
    return _render_form(token, ctx, form, locale, phone=phone, staff_error=staff_error), 422


def _closes_on(ctx: InvitationContext) -> str:
    return format_moment(ctx.closes_at, page_language(), get_timezone())


def _render_form(
    token: str,
    ctx: InvitationContext,
    form: SurveyForm | ExitSurveyForm,
    locale: str,
    *,
    unavailable: bool = False,
    phone: bool = False,
    staff_error: str | None = None,
    closes_on: str | None = None,
) -> str:
    summary = form.error_summary()
    if staff_error:
        summary.append(ErrorLink("staff-token", staff_error))
    exit_survey = isinstance(form, ExitSurveyForm)
    return render_template(
        "survey/exit_form.html" if exit_survey else "survey/form.html",
        unavailable=unavailable,
        ctx=ctx,
        form=form,
        locale=locale,
        summary=summary,
        closes_on=_closes_on(ctx) if closes_on is None else closes_on,
        action=url_for(
            ".questionnaire", token=token, lang=locale, channel="phone" if phone else None
        ),
        dissatisfied_max=DISSATISFIED_MAX,
        form_limits={
            "why": MAX_REASON_TEXT_LENGTH,
            "comment": MAX_COMMENT_LENGTH,
            "kept": MAX_KEPT_LENGTH,
        },
        phone=phone,
        staff_error=staff_error,
    )


@bp.get("/s/<token>/thanks")
def thanks(token: str) -> str | HttpResponse:
    ctx, locale = _open_link(token)
    if not ctx.responded:
        return redirect(url_for(".questionnaire", token=token, lang=locale), code=303)
    return render_template(
        "survey/thanks.html", ctx=ctx, phone=request.args.get("channel") == Channel.PHONE.value
    )


@bp.errorhandler(404)
def wrong_link(_exc: Exception) -> tuple[str, int]:
    """An unknown link: the same page for every one, saying whom to contact."""
    return render_template("survey/wrong_link.html"), 404


@bp.errorhandler(410)
def closed(_exc: Exception) -> tuple[str, int]:
    """A closed survey: thanks, and whom to contact."""
    return render_template("survey/closed.html"), 410


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
@bp.errorhandler(PoolTimeoutError)
def database_unavailable(exc: Exception) -> tuple[str, int] | HttpResponse:
    """The database is down, locked past its busy timeout or out of connections.

    Usually nothing was stored (the transaction rolls back). The person gets a 503
    that keeps what they typed: the whole form when it could be built, else a page
    that sends their answers again as they were. But a COMMIT can succeed while the
    connection drops before its answer arrives: a submission first asks whether its
    response is stored after all and, if so, goes to the thank-you page like any
    stored one. The next request gets a fresh connection (pool_pre_ping), so the site
    recovers by itself when the database returns.
    """
    log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the pool replaces it
        log.debug("rollback after a database failure failed too", exc_info=True)
    pending = g.pop("pending_survey", None)
    if pending is not None:
        token, survey, form, locale = pending
        phone = request.args.get("channel") == Channel.PHONE.value
        if stored_after_failure(survey.context.invitation_id):
            log.warning("invitation %s: stored despite the failure", survey.context.invitation_id)
            return redirect(
                url_for(".thanks", token=token, lang=locale, channel="phone" if phone else None),
                code=303,
            )
        # The answers were valid: the form shows them as typed, without errors.
        form = form or _survey_form(survey, locale)
        return _render_form(token, survey.context, form, locale, unavailable=True, phone=phone), 503
    if request.method == "POST" and request.form:
        fields = [(k, v) for k, values in request.form.lists() for v in values]
        return render_template("survey/unavailable.html", fields=fields), 503
    return render_template("error.html", code=503), 503
