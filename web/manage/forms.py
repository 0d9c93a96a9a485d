"""Forms of the manager console. They check what a person can fix on the page, in
their language; the services in `survey/` stay the last word."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from survey import clock
from survey.campaigns import (
    DEFAULT_DEFECTED_WITHIN_DAYS,
    MAX_EXCLUDE_DAYS,
    MAX_SEED,
    NAME_MAX_LENGTH,
    STRATIFY_DIMENSIONS,
)
from survey.delivery import MAX_REMINDER_AFTER_DAYS
from survey.models import KIND_SATISFACTION
from survey.registry import MAX_PASSWORD_LENGTH

#: Seeds the form suggests: small enough to read out and type again.
SUGGESTED_SEED_BELOW = 1_000_000

STRATIFY_LABELS: dict[str, Any] = {
    "tier": _l("Tier"),
    "value_type": _l("Value type"),
    "relationship_stage": _l("Relationship stage"),
    "region": _l("Region"),
}
KIND_LABELS: dict[str, Any] = {
    "satisfaction": _l("Satisfaction survey"),
    "exit": _l("Exit survey (accounts that left)"),
}


def suggested_seed() -> int:
    return secrets.randbelow(SUGGESTED_SEED_BELOW)


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


class ResultsFilterForm(FlaskForm):
    """The results page's filter (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    campaign = SelectField(_l("Campaign"), default="")
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    by = SelectField(_l("Drill down by"), default="tier")
    coverage_by = SelectField(_l("Coverage by"), default="tier")
    submit = SubmitField(_l("Show"))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.since.data and self.until.data and self.since.data > self.until.data:
            self.until.errors = [_l("The end date must not be before the start date.")]
            valid = False
        return valid
