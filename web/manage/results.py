"""The console's results page: a table of contents, how many responses and answers it
counts, satisfaction by aspect (chart and table), a drill-down
into the dissatisfied, what the comments say about each aspect (themes beside its
reasons, examples linking to the response), accounts at risk, who has not been heard
from (coverage), and defection reasons over time; with its filter form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SubmitField
from wtforms.validators import Optional

from survey.analysis import (
    ACCOUNT_DIMENSIONS,
    DEFAULT_WINDOW_DAYS,
    DefectionFilter,
    Dimension,
    ResponseFilter,
    account_briefs,
    answered_responses,
    at_risk_by_expected_loss,
    comment_themes_by_aspect,
    coverage,
    defection_reasons,
    defection_reasons_by_source,
    defections_by_month_and_main_reason,
    dimension_labels,
    dissatisfaction_drilldown,
    satisfaction_summary,
    unheard_accounts,
)
from survey.campaigns import list_campaigns

from .blueprint import bp
from .charts import REASON_PATTERNS, diverging_chart, stacked_month_chart
from .console import page_locale

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
AT_RISK_SHOWN = 20
UNHEARD_SHOWN = 10
COMMENTS_SHOWN = 5
#: Comment themes per aspect, and examples per theme, on the results page.
THEMES_SHOWN = 5
THEME_EXAMPLES_SHOWN = 3


class AnswersFilterForm(FlaskForm):
    """Which answers a results page counts: a campaign and dates (a GET form: nothing
    changes, so no CSRF token). The results and key-driver pages extend it."""

    class Meta:
        csrf = False

    campaign = SelectField(_l("Campaign"), default="")
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    submit = SubmitField(_l("Show"))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.since.data and self.until.data and self.since.data > self.until.data:
            self.until.errors = [_l("The end date must not be before the start date.")]
            valid = False
        return valid


class ResultsFilterForm(AnswersFilterForm):
    """The results page's filter: the answers, and how to drill down and cover."""

    by = SelectField(_l("Drill down by"), default="tier")
    coverage_by = SelectField(_l("Coverage by"), default="tier")


def offer_campaigns(form: AnswersFilterForm) -> list[Any]:
    """Fill the form's campaign choices; returns the campaigns (newest first)."""
    every_campaign = list_campaigns()
    form.campaign.choices = [("", _("All campaigns"))] + [
        (str(c.id), c.name) for c in every_campaign
    ]
    return every_campaign


@dataclass(frozen=True, slots=True)
class AnswersScope:
    """What a validated AnswersFilterForm selects (invalid fields dropped) and says."""

    filter: ResponseFilter
    campaign_name: str | None
    since: date | None
    until: date | None


def answers_scope(form: AnswersFilterForm, campaigns: list[Any]) -> AnswersScope:
    """Use what is valid in `form`, drop what is not (the form says so by the field)."""
    campaign_id = (
        int(form.campaign.data) if form.campaign.data and not form.campaign.errors else None
    )
    dates_ok = not form.since.errors and not form.until.errors
    since = form.since.data if dates_ok else None
    until = form.until.data if dates_ok else None
    return AnswersScope(
        filter=ResponseFilter(campaign_id=campaign_id, since=since, until=until),
        campaign_name=next((c.name for c in campaigns if c.id == campaign_id), None),
        since=since,
        until=until,
    )


@bp.get("/results")
def results() -> str | tuple[str, int]:
    locale = page_locale()
    form = ResultsFilterForm(request.args)
    every_campaign = offer_campaigns(form)
    form.by.choices = [(d.value, DRILL_LABELS[d]) for d in DRILL_DIMENSIONS]
    form.coverage_by.choices = [(d.value, COVERAGE_LABELS[d]) for d in ACCOUNT_DIMENSIONS]
    valid = form.validate() if request.args else True
    # Use what is valid, drop what is not (and say so next to the field).
    scope = answers_scope(form, every_campaign)
    since, until = scope.since, scope.until
    by = Dimension(form.by.data) if form.by.data and not form.by.errors else Dimension.TIER
    coverage_by = (
        Dimension(form.coverage_by.data)
        if form.coverage_by.data and not form.coverage_by.errors
        else Dimension.TIER
    )

    answers_filter = scope.filter
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
    # What the texts say about each aspect: one statement for every aspect.
    themes = comment_themes_by_aspect(answers_filter, first=THEMES_SHOWN)
    # Ranked by expected lost revenue (risk score × annual revenue), not revenue alone.
    at_risk = at_risk_by_expected_loss(AT_RISK_SHOWN)
    # Coverage is about the account registry, not answers: the filter does not apply.
    coverage_groups = coverage(coverage_by, within_days=DEFAULT_WINDOW_DAYS, locale=locale)
    unheard = unheard_accounts(within_days=DEFAULT_WINDOW_DAYS, first=UNHEARD_SHOWN)
    # One query for the names of both lists and of who wrote the drill-down's comments.
    commenters = {i for n in drilldown for c in (n, *n.children) for i in c.comment_accounts}
    briefs = account_briefs([a.account_id for a in at_risk] + unheard + sorted(commenters))
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
        # A response gives one answer per aspect it scores: say which is counted.
        responses=answered_responses(answers_filter),
        answered=sum(a.answers for a in aspects),
        chart=diverging_chart([a for a in aspects if a.answers]),
        drilldown=drilldown,
        by_label=DRILL_LABELS[by],
        themes=themes,
        theme_examples=THEME_EXAMPLES_SHOWN,
        reasons_by_aspect={n.key: n.top_reasons for n in drilldown},
        at_risk=[(a, briefs.get(a.account_id)) for a in at_risk],
        coverage=coverage_groups,
        coverage_label=COVERAGE_LABELS[coverage_by],
        coverage_days=DEFAULT_WINDOW_DAYS,
        unheard=[briefs[i] for i in unheard if i in briefs],
        briefs=briefs,
        aspect_labels=aspect_labels,
        by_month=defection_reasons_by_source(Dimension.MONTH, defection_filter, locale=locale),
        month_chart=stacked_month_chart(defections_by_month_and_main_reason(defection_filter)),
        reason_patterns=REASON_PATTERNS,
        by_tier=defection_reasons(Dimension.TIER, defection_filter, locale=locale),
        by_value_type=defection_reasons(Dimension.VALUE_TYPE, defection_filter, locale=locale),
        campaign_name=scope.campaign_name,
        since=since,
        until=until,
    )
    return (page, 422) if not valid else page
