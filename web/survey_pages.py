"""The customer-facing survey pages: the home page and the personal link /s/<token>.

Thin on purpose: `survey.responses` decides what a link opens and stores answers;
this module picks the language, renders and maps domain errors to pages
(unknown link 404, closed 410, answered twice 409, bad input 422).
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import format_date, format_time
from werkzeug.wrappers import Response as HttpResponse

from survey.errors import AlreadyRespondedError, InvalidInputError, SurveyClosedError
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

# Links are unguessable, so this only stops a runaway client or script.
SURVEY_RATE_LIMIT = "60 per minute"


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
        abort(404)
    locale = (
        normalise_locale(request.args.get("lang"))
        or normalise_locale(ctx.locale)
        # Only for an invitation in a language the site does not speak.
        or request.accept_languages.best_match(LOCALES)
        or DEFAULT_LOCALE
    )
    g.locale = locale
    return ctx, locale


@bp.route("/s/<token>", methods=["GET", "POST"])
@limiter.limit(SURVEY_RATE_LIMIT)
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
        try:
            record_response(
                ctx.invitation_id,
                form.answers(),
                comment=form.comment.data,
                locale=locale,
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


def _render_form(token: str, ctx: InvitationContext, form: SurveyForm, locale: str) -> str:
    return render_template(
        "survey/form.html",
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
@limiter.limit(SURVEY_RATE_LIMIT)
def thanks(token: str) -> str | HttpResponse:
    ctx, locale = _open_link(token)
    if not ctx.responded:
        return redirect(url_for(".questionnaire", token=token, lang=locale), code=303)
    return render_template("survey/thanks.html", ctx=ctx)
