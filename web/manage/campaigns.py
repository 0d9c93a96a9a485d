"""The console's campaign pages: the list, a new campaign (preview, then launch), one
campaign's progress, closing it and queueing reminders; with the forms they post."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as HttpResponse
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from survey import clock
from survey.analysis import Dimension, campaign_funnel, dimension_labels, stratum_progress
from survey.campaigns import (
    ALL_STRATUM,
    DEFAULT_DEFECTED_WITHIN_DAYS,
    EXCLUSION_REASONS,
    EXIT_EXCLUSION_REASONS,
    KINDS,
    MAX_EXCLUDE_DAYS,
    MAX_SEED,
    NAME_MAX_LENGTH,
    STRATIFY_DIMENSIONS,
    CampaignRequest,
    Frame,
    build_exit_frame,
    build_frame,
    close_campaign,
    contact_choice,
    get_campaign_summary,
    launch_campaign,
    list_campaigns,
    plan_campaign,
)
from survey.delivery import MAX_REMINDER_AFTER_DAYS, MailSettings, queue_reminders
from survey.errors import ConflictError, DomainError, NotFoundError, SurveyClosedError
from survey.models import (
    CAMPAIGN_OPEN,
    CONTACTS_ALL,
    CONTACTS_PRIMARY,
    KIND_EXIT,
    KIND_SATISFACTION,
)
from survey.scale import TIERS, ContactRole

from .blueprint import bp
from .console import KIND_LABELS, STRATIFY_LABELS, app_timezone, page_locale, today

#: Seeds the form suggests: small enough to read out and type again.
SUGGESTED_SEED_BELOW = 1_000_000
EXCLUSION_LABELS: dict[str, Any] = {
    "inactive": _l("Inactive or lost"),
    "no_contact": _l("No e-mail or phone"),
    "opted_out": _l("Opted out"),
    "recently_surveyed": _l("Surveyed recently"),
    "already_asked": _l("Asked in an earlier exit survey"),
    "open_case": _l("Open follow-up case"),
}
DEFAULT_OPEN_DAYS = 14


def suggested_seed() -> int:
    return secrets.randbelow(SUGGESTED_SEED_BELOW)


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class RemindForm(FlaskForm):
    """Queue reminders for invitations e-mailed at least `after_days` days ago."""

    after_days = IntegerField(
        _l("Remind those last e-mailed at least this many days ago"),
        default=5,
        validators=[
            InputRequired(message=_l("Please give a number of days.")),
            NumberRange(
                min=0,
                max=MAX_REMINDER_AFTER_DAYS,
                message=_l("Between 0 and %(max)d days, please.", max=MAX_REMINDER_AFTER_DAYS),
            ),
        ],
    )


class LaunchForm(FlaskForm):
    """What a campaign draws: who, how many, how, until when."""

    name = StringField(
        _l("Campaign name"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(message=_l("Please give the campaign a name.")),
            Length(
                max=NAME_MAX_LENGTH,
                message=_l("At most %(max)d characters, please.", max=NAME_MAX_LENGTH),
            ),
        ],
    )
    size = IntegerField(
        _l("Sample size (accounts)"),
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
    target_margin = DecimalField(
        _l("or target margin of error (± points)"),
        description=_l("Instead of a size: the smallest sample expected to reach it, e.g. 5."),
        places=None,
        validators=[
            Optional(),
            NumberRange(min=0.1, max=50, message=_l("Please give a margin between 0.1 and 50.")),
        ],
    )
    expected_rate = DecimalField(
        _l("Expected response rate (%)"),
        description=_l("Leave empty for the mean of past campaigns (30% before the first)."),
        places=None,
        validators=[
            Optional(),
            NumberRange(min=1, max=100, message=_l("Please give a rate between 1 and 100.")),
        ],
    )
    stratify_by = SelectField(_l("Stratify by"), default="")
    seed = IntegerField(
        _l("Random seed"),
        description=_l("The same seed and frame draw the same sample again."),
        validators=[
            InputRequired(message=_l("Please give a whole number as the seed.")),
            NumberRange(
                min=0, max=MAX_SEED, message=_l("The seed must be a whole number of 0 or more.")
            ),
        ],
    )
    exclude_days = IntegerField(
        _l("Leave out accounts surveyed in the last (days)"),
        default=90,
        validators=[
            InputRequired(message=_l("Please give a number of days (0 leaves nobody out).")),
            NumberRange(
                min=0,
                max=MAX_EXCLUDE_DAYS,
                message=_l("Between 0 and %(max)d days, please.", max=MAX_EXCLUDE_DAYS),
            ),
        ],
    )
    closes_on = DateField(
        _l("Closing date"),
        description=_l("The survey closes at the end of this day."),
        validators=[InputRequired(message=_l("Please choose a closing date."))],
    )
    kind = SelectField(_l("Kind"), default=KIND_SATISFACTION)
    contacts = SelectField(_l("Whom to invite at each sampled account"), default=CONTACTS_PRIMARY)
    contact_roles = SelectMultipleField(
        _l("Only contacts in these roles"),
        description=_l("None chosen: every role. Choose several with Ctrl (⌘) or Shift."),
        default=[],
    )
    census_tiers = SelectMultipleField(
        _l("Survey these tiers in full (census)"),
        description=_l("Every account of these tiers, on top of the random sample."),
        default=[],
    )
    cover_within_days = IntegerField(
        _l("Coverage goal (days)"),
        description=_l(
            "Also invite every account that would otherwise go longer than this without an "
            "invitation by the closing date. Empty: no goal."
        ),
        validators=[
            Optional(),
            NumberRange(min=1, max=3650, message=_l("Between 1 and 3650 days, please.")),
        ],
    )
    open_cases = SelectField(_l("Accounts with an open follow-up case"), default="out")
    defected_within_days = IntegerField(
        _l("Exit survey: accounts lost in the last (days)"),
        description=_l("Only for exit surveys; satisfaction surveys ignore it."),
        default=DEFAULT_DEFECTED_WITHIN_DAYS,
        validators=[
            Optional(),
            NumberRange(
                min=1,
                max=MAX_EXCLUDE_DAYS,
                message=_l("Between 1 and %(max)d days, please.", max=MAX_EXCLUDE_DAYS),
            ),
        ],
    )
    #: "Today" where the campaign runs (the app's time zone); set by the view.
    today: date | None = None
    preview = SubmitField(_l("Preview sample"))
    launch = SubmitField(_l("Launch"))

    def __init__(self, *args: Any, kinds: tuple[str, ...] = (KIND_SATISFACTION,), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.stratify_by.choices = [("", _l("Not stratified (simple random sample)"))] + [
            (d, STRATIFY_LABELS[d]) for d in STRATIFY_DIMENSIONS
        ]
        self.kind.choices = [(k, KIND_LABELS.get(k, k)) for k in kinds]
        self.contacts.choices = [
            (CONTACTS_PRIMARY, _l("Its primary contact")),
            (CONTACTS_ALL, _l("All its contacts (one personal link each)")),
        ]
        self.contact_roles.choices = [(r.value, r.label(page_locale())) for r in ContactRole]
        self.census_tiers.choices = [(t, t) for t in TIERS]
        self.open_cases.choices = [
            ("out", _l("Leave them out (no survey while we owe an answer)")),
            ("in", _l("Keep them in the frame")),
        ]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.target_margin.data is not None and not self.target_margin.errors:
            if self.size.data is not None or self.percent.data is not None:
                self.target_margin.errors = [
                    _l("Give a target margin of error or a sample size, not both.")
                ]
                valid = False
        elif not self.size.errors and not self.percent.errors:
            if self.size.data is None and self.percent.data is None:
                self.size.errors = [_l("Give a sample size or a share of the frame.")]
                valid = False
            elif self.size.data is not None and self.percent.data is not None:
                self.size.errors = [_l("Give a sample size or a share of the frame, not both.")]
                valid = False
        today = self.today or clock.today()
        if self.closes_on.data is not None and self.closes_on.data <= today:
            self.closes_on.errors = [_l("The closing date must be after today.")]
            valid = False
        return valid

    @property
    def fraction(self) -> float | None:
        return float(self.percent.data) / 100 if self.percent.data is not None else None

    @property
    def margin(self) -> float | None:
        """The target margin of error as a share (5 points → 0.05)."""
        data = self.target_margin.data
        return float(data) / 100 if data is not None else None

    @property
    def response_rate(self) -> float | None:
        data = self.expected_rate.data
        return float(data) / 100 if data is not None else None


@bp.get("/")
def index() -> HttpResponse:
    return redirect(url_for("manage.campaigns"))


@bp.get("/campaigns")
def campaigns() -> str:
    return render_template("manage/campaigns.html", campaigns=list_campaigns())


def _closes_at(day: date) -> datetime:
    """The end of the closing day where the company is (the app's time zone)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=app_timezone())


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
        contacts=form.contacts.data or CONTACTS_PRIMARY,
        contact_roles=tuple(form.contact_roles.data or ()),
        census_tiers=tuple(form.census_tiers.data or ()),
        cover_within_days=form.cover_within_days.data,
        include_open_cases=form.open_cases.data == "in",
    )


def _frame_for(form: LaunchForm) -> Frame:
    stratify_by = form.stratify_by.data or None
    choice = contact_choice(form.contacts.data, form.contact_roles.data)
    if form.kind.data == KIND_EXIT:
        return build_exit_frame(
            defected_within_days=form.defected_within_days.data or DEFAULT_DEFECTED_WITHIN_DAYS,
            stratify_by=stratify_by,
            choice=choice,
        )
    return build_frame(
        exclude_days=form.exclude_days.data or 0,
        stratify_by=stratify_by,
        choice=choice,
        include_open_cases=form.open_cases.data == "in",
    )


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
    labels = dimension_labels(Dimension(stratify_by), keys, page_locale()) if stratify_by else {}
    return [
        (labels.get(a.key) or (_("All accounts") if a.key == ALL_STRATUM else a.key), a)
        for a in plan_allocation
    ]


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new_campaign() -> str | tuple[str, int] | HttpResponse:
    form = LaunchForm(kinds=KINDS)
    form.today = today()
    context: dict[str, Any] = {
        "form": form,
        "plan": None,
        "frame": None,
        "allocation": [],
        "exclusion_labels": EXCLUSION_LABELS
        if not form.contact_roles.data
        else {
            **EXCLUSION_LABELS,
            "no_contact": _l("No contact in the chosen roles with an e-mail or phone"),
        },
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
        labels = dimension_labels(Dimension(summary.stratify_by), keys, page_locale())
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
