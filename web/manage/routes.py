"""The manager console at /manage: sign in, launch and follow campaigns, see results.

Thin on purpose: every figure comes from the same `survey/` services the GraphQL
API uses (campaigns, analytics, reports); this module checks who is signed in,
turns forms into service calls and domain errors into messages, and renders.
Viewers see every page; only managers and admins may change anything (POST).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response as HttpResponse

from survey import clock
from survey.analysis import (
    ACCOUNT_DIMENSIONS,
    DEFAULT_WINDOW_DAYS,
    DefectionFilter,
    Dimension,
    ResponseFilter,
    account_briefs,
    at_risk_by_expected_loss,
    campaign_funnel,
    campaign_responses,
    coverage,
    defection_reasons,
    defection_reasons_by_source,
    dimension_labels,
    dissatisfaction_drilldown,
    satisfaction_summary,
    stratum_progress,
    unheard_accounts,
)
from survey.campaigns import (
    ALL_STRATUM,
    DEFAULT_DEFECTED_WITHIN_DAYS,
    EXCLUSION_REASONS,
    EXIT_EXCLUSION_REASONS,
    KINDS,
    CampaignRequest,
    Frame,
    build_exit_frame,
    build_frame,
    campaign_links,
    close_campaign,
    get_campaign_summary,
    launch_campaign,
    list_campaigns,
    plan_campaign,
)
from survey.delivery import MailSettings, queue_reminders
from survey.errors import ConflictError, DomainError, NotFoundError, SurveyClosedError
from survey.models import CAMPAIGN_OPEN, KIND_EXIT, KIND_SATISFACTION, ROLE_MANAGER
from survey.registry import authenticate_password, get_active_staff, role_at_least
from survey.scale import TIER_LABELS, ReasonCode, Satisfaction, normalise_locale

from ..extensions import limiter
from .charts import PATTERNS, diverging_chart
from .exports import csv_download
from .forms import (
    KIND_LABELS,
    STRATIFY_LABELS,
    ActionForm,
    LaunchForm,
    LoginForm,
    RemindForm,
    ResultsFilterForm,
    suggested_seed,
)

bp = Blueprint("manage", __name__, url_prefix="/manage")

SESSION_STAFF = "staff_id"
SESSION_LANG = "lang"
#: Per address and e-mail, so one person's typos lock out nobody else; only failed
#: attempts count. The second limit stops one address trying many e-mails.
LOGIN_RATE_LIMIT = "5 per minute"
LOGIN_ADDRESS_RATE_LIMIT = "30 per minute"
PUBLIC_ENDPOINTS = frozenset({"manage.login"})
#: Drill-down levels under "aspect" offered on the results page.
DRILL_DIMENSIONS: tuple[Dimension, ...] = (
    Dimension.TIER,
    Dimension.VALUE_TYPE,
    Dimension.REGION,
    Dimension.ACCOUNT_MANAGER,
)
DRILL_LABELS: dict[Dimension, Any] = {
    Dimension.TIER: _l("Tier"),
    Dimension.VALUE_TYPE: _l("Value type"),
    Dimension.REGION: _l("Region"),
    Dimension.ACCOUNT_MANAGER: _l("Account manager"),
}
COVERAGE_LABELS: dict[Dimension, Any] = {
    **DRILL_LABELS,
    Dimension.RELATIONSHIP_STAGE: _l("Relationship stage"),
}
EXCLUSION_LABELS: dict[str, Any] = {
    "inactive": _l("Inactive or lost"),
    "no_contact": _l("No e-mail or phone"),
    "opted_out": _l("Opted out"),
    "recently_surveyed": _l("Surveyed recently"),
    "already_asked": _l("Asked in an earlier exit survey"),
}
STATUS_LABELS: dict[str, Any] = {
    "open": _l("Open"),
    "closed": _l("Closed"),
    "pending": _l("Not sent yet"),
    "sent": _l("Sent"),
    "opened": _l("Opened"),
    "responded": _l("Responded"),
    "bounced": _l("Bounced"),
    "expired": _l("Expired"),
}
MSG_BAD_LOGIN = _l("The e-mail or password is not right. Please try again.")
MSG_LOCKED_OUT = _l(
    "Too many sign-in attempts. Please wait a minute, then try again "
    "(or ask an administrator to reset your password)."
)
AT_RISK_SHOWN = 20
UNHEARD_SHOWN = 10
COMMENTS_SHOWN = 5
DEFAULT_OPEN_DAYS = 14


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who is using the console, as the templates need it."""

    id: int
    name: str
    role: str

    @property
    def can_manage(self) -> bool:
        return role_at_least(self.role, ROLE_MANAGER)


# --- who and which language -----------------------------------------------------------


def _choose_locale() -> None:
    """?lang= switches the console's language and the choice is remembered in the
    session, so it holds across pages; otherwise the browser's Accept-Language."""
    chosen = normalise_locale(request.args.get("lang"))
    if chosen:
        session[SESSION_LANG] = chosen
    g.locale = chosen or normalise_locale(session.get(SESSION_LANG))


@bp.before_request
def _signed_in() -> HttpResponse | None:
    _choose_locale()
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
    if request.method == "POST" and request.endpoint != "manage.logout" and not g.staff.can_manage:
        abort(403)
    return None


@bp.errorhandler(403)
def _forbidden(_exc: Exception) -> tuple[str, int]:
    return render_template("manage/forbidden.html"), 403


@bp.after_request
def _no_store(response: HttpResponse) -> HttpResponse:
    # Console pages show customers' answers and personal links: keep them out of caches.
    response.headers["Cache-Control"] = "no-store"
    return response


def _locale() -> str:
    return str(g.get("locale") or "") or (request.accept_languages.best_match(["zh", "en"]) or "zh")


def _timezone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")


def _today() -> date:
    return clock.today(_timezone())


@bp.app_template_filter("pct")
def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


@bp.context_processor
def _console_helpers() -> dict[str, Any]:
    locale = _locale()
    return {
        "staff": g.get("staff"),
        "reason_label": lambda code: _reason_label(code, locale),
        "status_label": lambda code: STATUS_LABELS.get(code, code),
        "kind_label": lambda code: KIND_LABELS.get(code, code),
        "stratify_label": lambda code: STRATIFY_LABELS.get(code, code) if code else "–",
        "tier_label": lambda code: (
            TIER_LABELS[code][1 if locale == "en" else 0] if code in TIER_LABELS else code
        ),
        "scale": [(int(s), s.label(locale), PATTERNS[s]) for s in reversed(list(Satisfaction))],
        "scale_labels": {int(s): s.label(locale) for s in Satisfaction},
    }


def _reason_label(code: str, locale: str) -> str:
    try:
        return ReasonCode(code).label(locale)
    except ValueError:
        return code


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
    _choose_locale()
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


# --- campaigns ------------------------------------------------------------------------


@bp.get("/")
def index() -> HttpResponse:
    return redirect(url_for("manage.campaigns"))


@bp.get("/campaigns")
def campaigns() -> str:
    return render_template("manage/campaigns.html", campaigns=list_campaigns())


def _closes_at(day: date) -> datetime:
    """The end of the closing day where the company is (the app's time zone)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=_timezone())


def _campaign_request(form: LaunchForm) -> CampaignRequest:
    assert g.staff is not None
    return CampaignRequest(
        name=form.name.data or "",
        size=form.size.data,
        fraction=form.fraction,
        target_margin=form.margin,
        expected_response_rate=form.response_rate,
        stratify_by=form.stratify_by.data or None,
        seed=form.seed.data,
        exclude_days=form.exclude_days.data if form.exclude_days.data is not None else 90,
        closes_at=_closes_at(form.closes_on.data) if form.closes_on.data else None,
        kind=form.kind.data or KIND_SATISFACTION,
        defected_within_days=form.defected_within_days.data or DEFAULT_DEFECTED_WITHIN_DAYS,
        created_by=g.staff.name,
    )


def _frame_for(form: LaunchForm) -> Frame:
    stratify_by = form.stratify_by.data or None
    if form.kind.data == KIND_EXIT:
        return build_exit_frame(
            defected_within_days=form.defected_within_days.data or DEFAULT_DEFECTED_WITHIN_DAYS,
            stratify_by=stratify_by,
        )
    return build_frame(exclude_days=form.exclude_days.data or 0, stratify_by=stratify_by)


def _show_service_error(form: LaunchForm, exc: DomainError) -> Frame | None:
    """Put what the service refused next to the field it is about, in the page's
    language; returns the frame when seeing it helps (too small or empty)."""
    if isinstance(exc, ConflictError) and exc.field == "name":
        form.name.errors = [_("A campaign with this name already exists; choose another name.")]
        return None
    if exc.field in ("size", "fraction"):
        frame = _frame_for(form)
        form.size.errors = [
            _(
                "Only %(n)d accounts can be asked with these settings; ask for fewer.",
                n=frame.size,
            )
        ]
        return frame
    if exc.field in (None, "defected_within_days"):
        frame = _frame_for(form)
        if frame.size == 0:
            form.form_errors.append(
                _(
                    "No account can be asked with these settings: the sampling frame is "
                    "empty. A shorter exclusion window may help."
                )
                if form.kind.data != KIND_EXIT
                else _(
                    "No lost account can be asked with these settings: none left in that "
                    "window with an e-mail or phone, not opted out and not asked before."
                )
            )
            return frame
    target = getattr(form, exc.field or "", None)
    if exc.field == "closes_at":
        target = form.closes_on
    elif exc.field == "expected_response_rate":
        target = form.expected_rate
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, exc.message]
    else:
        form.form_errors.append(exc.message)
    return None


def _allocation_rows(plan_allocation: list[Any], stratify_by: str | None) -> list[Any]:
    keys = [a.key for a in plan_allocation]
    labels = dimension_labels(Dimension(stratify_by), keys, _locale()) if stratify_by else {}
    return [
        (labels.get(a.key) or (_("All accounts") if a.key == ALL_STRATUM else a.key), a)
        for a in plan_allocation
    ]


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new_campaign() -> str | tuple[str, int] | HttpResponse:
    form = LaunchForm(kinds=KINDS)
    form.today = _today()
    context: dict[str, Any] = {
        "form": form,
        "plan": None,
        "frame": None,
        "allocation": [],
        "exclusion_labels": EXCLUSION_LABELS,
        "exclusion_reasons": EXIT_EXCLUSION_REASONS
        if form.kind.data == KIND_EXIT
        else EXCLUSION_REASONS,
    }
    if request.method == "GET":
        form.seed.data = form.seed.data if form.seed.data is not None else suggested_seed()
        form.closes_on.data = form.today + timedelta(days=DEFAULT_OPEN_DAYS)
        return render_template("manage/new_campaign.html", **context)

    if not form.validate():
        return render_template("manage/new_campaign.html", **context), 422
    campaign_request = _campaign_request(form)
    try:
        if form.launch.data:
            result = launch_campaign(
                campaign_request,
                secret_key=current_app.config["SECRET_KEY"],
                mail=MailSettings.from_config(current_app.config),
            )
            flash(
                _(
                    "Campaign launched: %(n)d accounts invited, %(mails)d invitation "
                    "e-mails queued (accounts without e-mail are to be phoned).",
                    n=result.plan.sample_size,
                    mails=result.emails_queued,
                ),
                "success",
            )
            return redirect(url_for("manage.campaign", campaign_id=result.campaign_id), 303)
        plan = plan_campaign(campaign_request)
    except DomainError as exc:
        context["frame"] = _show_service_error(form, exc)
        return render_template("manage/new_campaign.html", **context), 422
    context["plan"] = plan
    context["allocation"] = _allocation_rows(plan.allocation, plan.stratify_by)
    return render_template("manage/new_campaign.html", **context)


@bp.get("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int) -> str:
    try:
        summary = get_campaign_summary(campaign_id)
    except NotFoundError:
        abort(404)
    funnel = campaign_funnel(campaign_id)
    strata = stratum_progress(campaign_id)
    keys = [s.key for s in strata]
    if summary.stratify_by:
        labels = dimension_labels(Dimension(summary.stratify_by), keys, _locale())
    else:
        labels = {ALL_STRATUM: _("All accounts")}
    return render_template(
        "manage/campaign.html",
        campaign=summary,
        funnel=funnel,
        strata=[(labels.get(s.key) or s.key or "–", s) for s in strata],
        is_open=summary.status == CAMPAIGN_OPEN,
        action_form=ActionForm(),
        remind_form=RemindForm(),
    )


@bp.post("/campaigns/<int:campaign_id>/close")
def close(campaign_id: int) -> HttpResponse:
    if not ActionForm().validate_on_submit():
        abort(400)
    assert g.staff is not None
    try:
        closed = close_campaign(campaign_id, actor=g.staff.name)
    except NotFoundError:
        abort(404)
    flash(_("Campaign “%(name)s” is closed.", name=closed.name), "success")
    return redirect(url_for("manage.campaign", campaign_id=campaign_id), 303)


@bp.post("/campaigns/<int:campaign_id>/remind")
def remind(campaign_id: int) -> HttpResponse:
    form = RemindForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        for error in form.after_days.errors:
            flash(str(error), "error")
        return redirect(url_for("manage.campaign", campaign_id=campaign_id), 303)
    assert g.staff is not None
    try:
        queued = queue_reminders(
            campaign_id,
            MailSettings.from_config(current_app.config),
            after_days=form.after_days.data or 0,
            actor=g.staff.name,
        )
    except NotFoundError:
        abort(404)
    except SurveyClosedError:
        flash(_("The campaign is closed: reminders go to open campaigns only."), "error")
    else:
        flash(_("%(n)d reminder e-mails queued.", n=queued), "success")
    return redirect(url_for("manage.campaign", campaign_id=campaign_id), 303)


@bp.get("/campaigns/<int:campaign_id>/links.csv")
def links_csv(campaign_id: int) -> HttpResponse:
    # Each link lets its holder answer as the customer: managers only.
    assert g.staff is not None
    if not g.staff.can_manage:
        abort(403)
    try:
        links = campaign_links(
            campaign_id,
            secret_key=current_app.config["SECRET_KEY"],
            base_url=current_app.config["BASE_URL"],
        )
    except NotFoundError:
        abort(404)
    header = [
        _("Account ID"),
        _("Account"),
        _("Contact"),
        _("E-mail"),
        _("Phone"),
        _("Language"),
        _("Status"),
        _("Survey link"),
    ]
    rows = [
        (
            link.external_id,
            link.account_name,
            link.contact_name,
            link.contact_email,
            link.contact_phone,
            link.locale,
            link.status,
            link.url,
        )
        for link in links
    ]
    return csv_download(f"campaign-{campaign_id}-links.csv", header, rows)


@bp.get("/campaigns/<int:campaign_id>/responses.csv")
def responses_csv(campaign_id: int) -> HttpResponse:
    try:
        export = campaign_responses(campaign_id)
    except NotFoundError:
        abort(404)
    locale = _locale()
    header: list[str] = [
        _("Response"),
        _("Submitted (UTC)"),
        _("Account ID"),
        _("Account"),
        _("Tier"),
        _("Value type"),
        _("Region"),
        _("Account manager"),
        _("Channel"),
        _("Language"),
        _("Entered by"),
    ]
    for _code, zh, en in export.aspects:
        label = en if locale == "en" else zh
        header += [
            _("%(aspect)s: score", aspect=label),
            _("%(aspect)s: reasons", aspect=label),
            _("%(aspect)s: why", aspect=label),
        ]
    header.append(_("Comment"))
    rows = []
    for r in export.responses:
        row: list[Any] = [
            r.response_id,
            r.submitted_at.strftime("%Y-%m-%d %H:%M"),
            r.account.external_id,
            r.account.name,
            r.account.tier,
            r.account.value_type,
            r.account.region,
            r.account.account_manager,
            r.channel,
            r.locale,
            r.entered_by,
        ]
        for code, _zh, _en in export.aspects:
            answer = r.answers.get(code)
            row += (
                [
                    answer.score,
                    "; ".join(_reason_label(c, locale) for c in answer.reasons),
                    answer.reason_text,
                ]
                if answer
                else ["", "", ""]
            )
        row.append(r.comment)
        rows.append(row)
    return csv_download(f"campaign-{campaign_id}-responses.csv", header, rows)


# --- results --------------------------------------------------------------------------


@bp.get("/results")
def results() -> str | tuple[str, int]:
    locale = _locale()
    form = ResultsFilterForm(request.args)
    every_campaign = list_campaigns()
    form.campaign.choices = [("", _("All campaigns"))] + [
        (str(c.id), c.name) for c in every_campaign
    ]
    form.by.choices = [(d.value, DRILL_LABELS[d]) for d in DRILL_DIMENSIONS]
    form.coverage_by.choices = [(d.value, COVERAGE_LABELS[d]) for d in ACCOUNT_DIMENSIONS]
    valid = form.validate() if request.args else True
    # Use what is valid, drop what is not (and say so next to the field).
    campaign_id = (
        int(form.campaign.data) if form.campaign.data and not form.campaign.errors else None
    )
    since = form.since.data if not form.since.errors and not form.until.errors else None
    until = form.until.data if not form.since.errors and not form.until.errors else None
    by = Dimension(form.by.data) if form.by.data and not form.by.errors else Dimension.TIER
    coverage_by = (
        Dimension(form.coverage_by.data)
        if form.coverage_by.data and not form.coverage_by.errors
        else Dimension.TIER
    )

    answers_filter = ResponseFilter(campaign_id=campaign_id, since=since, until=until)
    # Groups smaller than this are flagged, not hidden: a share of 3 answers misleads.
    min_size = int(current_app.config.get("MIN_GROUP_SIZE") or 0)
    aspects = satisfaction_summary(
        Dimension.ASPECT, answers_filter, locale=locale, min_group_size=min_size
    )
    drilldown = dissatisfaction_drilldown(
        [Dimension.ASPECT, by],
        answers_filter,
        locale=locale,
        comments_limit=COMMENTS_SHOWN,
        min_group_size=min_size,
    )
    # Ranked by expected lost revenue (risk score × annual revenue), not revenue alone.
    at_risk = at_risk_by_expected_loss(AT_RISK_SHOWN)
    # Coverage is about the account registry, not answers: the filter does not apply.
    coverage_groups = coverage(coverage_by, within_days=DEFAULT_WINDOW_DAYS, locale=locale)
    unheard = unheard_accounts(within_days=DEFAULT_WINDOW_DAYS, first=UNHEARD_SHOWN)
    # One query for the names of both lists.
    briefs = account_briefs([a.account_id for a in at_risk] + unheard)
    aspect_labels = {a.key: a.label for a in aspects}
    missing = {code for a in at_risk for code in a.dissatisfied_aspects} - set(aspect_labels)
    if missing:
        aspect_labels |= dimension_labels(Dimension.ASPECT, missing, locale)
    defection_filter = DefectionFilter(since=since, until=until)
    page = render_template(
        "manage/results.html",
        min_size=min_size,
        form=form,
        aspects=aspects,
        answered=sum(a.answers for a in aspects),
        chart=diverging_chart([a for a in aspects if a.answers]),
        drilldown=drilldown,
        by_label=DRILL_LABELS[by],
        at_risk=[(a, briefs.get(a.account_id)) for a in at_risk],
        coverage=coverage_groups,
        coverage_label=COVERAGE_LABELS[coverage_by],
        coverage_days=DEFAULT_WINDOW_DAYS,
        unheard=[briefs[i] for i in unheard if i in briefs],
        aspect_labels=aspect_labels,
        by_month=defection_reasons_by_source(Dimension.MONTH, defection_filter, locale=locale),
        by_tier=defection_reasons(Dimension.TIER, defection_filter, locale=locale),
        by_value_type=defection_reasons(Dimension.VALUE_TYPE, defection_filter, locale=locale),
        campaign_name=next((c.name for c in every_campaign if c.id == campaign_id), None),
        since=since,
        until=until,
    )
    return (page, 422) if not valid else page
