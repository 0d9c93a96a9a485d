"""The survey form: one score, reasons and a short "why" per aspect, and a comment.

The fields depend on the campaign's questionnaire, so `survey_form_for` builds a
form class from its questions. Field names are `score_<code>`, `reasons_<code>`
and `why_<code>`; the form checks what the service checks, in the visitor's
language, and the service stays the last word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Field, RadioField, SelectChoice, SelectMultipleField, TextAreaField
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from survey.answers import (
    MAX_COMMENT_LENGTH,
    MAX_KEPT_LENGTH,
    MAX_REASON_TEXT_LENGTH,
    WOULD_RETURN,
    WOULD_RETURN_LABELS,
    AnswerInput,
    AspectQuestion,
    ExitAnswers,
)
from survey.errors import InvalidInputError
from survey.scale import DISSATISFIED_MAX, SCALE, ReasonCode
from survey.text import has_control_characters

from .survey_csrf import LinkCSRF

# Only the exact codes "1".."5" count: int() would also accept " 3", "+3" or "٣".
_SCORE_BY_TEXT = {str(int(s)): int(s) for s in SCALE}
_REASON_CODES = frozenset(ReasonCode.codes())

MSG_CHOOSE_SCORE = _l("Please choose one of the five answers.")
MSG_CHOOSE_REASONS = _l("Please choose reasons from the list.")
MSG_TOO_LONG = _l("Please shorten this text to %(max)d characters or fewer (it has %(length)d).")
MSG_CONTROL_CHARACTERS = _l("Please remove the invisible control characters from this text.")
MSG_CHECK_ANSWER = _l("Please check this answer.")


def normalise_newlines(value: Any) -> Any:
    """Browsers send CRLF but count a line break as one character towards maxlength."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n")
    return value


class FreeText:
    """Validator: at most `limit` characters once stripped, and nothing unprintable."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, form: FlaskForm, field: Field) -> None:
        text = (field.data or "").strip()
        if len(text) > self.limit:
            raise ValidationError(MSG_TOO_LONG % {"max": self.limit, "length": len(text)})
        if has_control_characters(text):
            raise ValidationError(str(MSG_CONTROL_CHARACTERS))


class ScoreField(RadioField):
    """Five radios, best first; the data is the score (int) or None."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = _SCORE_BY_TEXT.get(valuelist[0]) if valuelist else None

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data is None:
            raise StopValidation(str(MSG_CHOOSE_SCORE))


class ReasonsField(SelectMultipleField):
    """Reason checkboxes; the data is the list of ticked reason codes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = list(dict.fromkeys(str(v) for v in valuelist))

    def pre_validate(self, form: FlaskForm) -> None:
        if any(code not in _REASON_CODES for code in self.data or ()):
            raise ValidationError(str(MSG_CHOOSE_REASONS))


@dataclass(frozen=True, slots=True)
class AspectFields:
    """The three fields that answer one question, for the template."""

    question: AspectQuestion
    score: ScoreField
    reasons: ReasonsField
    why: TextAreaField

    @property
    def code(self) -> str:
        return self.question.code

    @property
    def dissatisfied(self) -> bool:
        return self.score.data is not None and self.score.data <= DISSATISFIED_MAX


@dataclass(frozen=True, slots=True)
class ErrorLink:
    """One line of the error summary: the message and the id of the field it is about."""

    target: str
    text: str


class SurveyForm(FlaskForm):
    """Base of the per-questionnaire forms made by `survey_form_for`."""

    class Meta:
        csrf_class = LinkCSRF  # the link's CSRF token, no session (web.survey_csrf)

    comment = TextAreaField(
        _l("Anything else you would like to tell us? (optional)"),
        filters=[normalise_newlines],
        validators=[FreeText(MAX_COMMENT_LENGTH)],
    )

    questions: tuple[AspectQuestion, ...] = ()
    locale: str = "zh"

    @property
    def items(self) -> list[AspectFields]:
        return [
            AspectFields(
                question=q,
                score=self[f"score_{q.code}"],
                reasons=self[f"reasons_{q.code}"],
                why=self[f"why_{q.code}"],
            )
            for q in self.questions
        ]

    def validate(self, extra_validators: Any = None) -> bool:
        super().validate(extra_validators)
        for item in self.items:
            if item.score.data is not None and not item.dissatisfied:
                # The service drops "why" for satisfied answers: nothing to complain about.
                item.reasons.errors = []
                item.why.errors = []
        return not self.errors

    def answers(self) -> dict[str, AnswerInput]:
        """The answers as the service takes them (only after a successful validate)."""
        return {
            item.code: AnswerInput(
                score=item.score.data,
                reasons=tuple(item.reasons.data or ()),
                reason_text=item.why.data,
            )
            for item in self.items
            if item.score.data is not None
        }

    def add_service_error(self, error: InvalidInputError) -> None:
        """Show an error the service found (and this form did not) next to its field."""
        code, _, part = (error.field or "").partition(".")
        name = {"score": "score_", "reasons": "reasons_", "reason_text": "why_"}.get(part)
        field = self._fields.get(f"{name}{code}") if name else self._fields.get(code)
        if field is not None:
            field.errors = [*field.errors, str(MSG_CHECK_ANSWER)]
        else:
            self.form_errors.append(str(MSG_CHECK_ANSWER))

    def error_summary(self) -> list[ErrorLink]:
        """Every error in page order, each linking to the first input it is about."""
        links: list[ErrorLink] = []
        for item in self.items:
            label = item.question.label(self.locale)
            for field, target in (
                (item.score, f"{item.score.id}-0"),
                (item.reasons, f"{item.reasons.id}-0"),
                (item.why, item.why.id),
            ):
                links.extend(ErrorLink(target, f"{label}: {e}") for e in field.errors)
        links.extend(ErrorLink(self.comment.id, str(e)) for e in self.comment.errors)
        links.extend(ErrorLink("survey-form", str(e)) for e in self.form_errors)
        if self.meta.csrf and self.csrf_token.errors:
            links.extend(ErrorLink("survey-form", str(e)) for e in self.csrf_token.errors)
        return links


def survey_form_class(questions: Sequence[AspectQuestion], locale: str) -> type[SurveyForm]:
    """The form class for these questions, its choices labelled in `locale`.

    Building it costs far more than binding it: the survey page keeps one per
    questionnaire and language (web.survey_page_cache)."""
    scale = [SelectChoice(str(int(s)), s.label(locale)) for s in SCALE]
    reasons = [SelectChoice(r.value, r.customer_label(locale)) for r in ReasonCode]
    attrs: dict[str, Any] = {"questions": tuple(questions), "locale": locale}
    for q in questions:
        attrs[f"score_{q.code}"] = ScoreField(q.question(locale), choices=scale, coerce=int)
        attrs[f"reasons_{q.code}"] = ReasonsField(
            _l("What are you dissatisfied with? (tick all that apply)"), choices=reasons
        )
        attrs[f"why_{q.code}"] = TextAreaField(
            _l("In your own words (up to %(max)d characters)", max=MAX_REASON_TEXT_LENGTH),
            filters=[normalise_newlines],
            validators=[FreeText(MAX_REASON_TEXT_LENGTH)],
        )
    return type("QuestionnaireForm", (SurveyForm,), attrs)


def survey_form_for(questions: Sequence[AspectQuestion], locale: str, **kwargs: Any) -> SurveyForm:
    """A bound survey form for these questions, its choices labelled in `locale`.

    `kwargs` go to the form (e.g. `formdata=None` to render it empty).
    """
    return survey_form_class(questions, locale)(**kwargs)


@dataclass(frozen=True, slots=True)
class SurveySubmission:
    """What a valid survey POST says: the answers as the service takes them, and the comment."""

    answers: dict[str, AnswerInput]
    comment: str | None


def _free_text_ok(value: str | None, limit: int) -> bool:
    """FreeText's rule, as a yes or no."""
    text = (value or "").strip()
    return len(text) <= limit and not has_control_characters(text)


def _first(formdata: MultiDict[str, str], name: str) -> str | None:
    values = formdata.getlist(name)
    return values[0] if values else None


def read_survey_post(
    questions: Sequence[AspectQuestion], formdata: MultiDict[str, str]
) -> SurveySubmission | None:
    """The submission when the posted fields are valid, else None, without binding
    a form: the rules of `SurveyForm.validate` (each field read as its WTForms field
    reads it), so that a None here and only a None means the form would show an
    error. Everything else about the request (its CSRF token, files or JSON
    instead of form fields) is for the caller to check first.
    """
    answers: dict[str, AnswerInput] = {}
    for q in questions:
        code = q.code
        score = _SCORE_BY_TEXT.get(_first(formdata, f"score_{code}") or "")
        if score is None:
            return None
        reasons = list(dict.fromkeys(str(v) for v in formdata.getlist(f"reasons_{code}")))
        why = normalise_newlines(_first(formdata, f"why_{code}"))
        if score <= DISSATISFIED_MAX and (
            any(r not in _REASON_CODES for r in reasons)
            or not _free_text_ok(why, MAX_REASON_TEXT_LENGTH)
        ):
            return None
        answers[code] = AnswerInput(score=score, reasons=tuple(reasons), reason_text=why)
    comment = normalise_newlines(_first(formdata, "comment"))
    if not _free_text_ok(comment, MAX_COMMENT_LENGTH):
        return None
    return SurveySubmission(answers, comment)


# --- the exit survey (issue 5): why did a lost account leave? ---------------------------

MSG_CHOOSE_MAIN_REASON = _l("Please choose the main reason.")
MSG_CHOOSE_ONE = _l("Please choose one of the answers.")


class ExitSurveyForm(FlaskForm):
    """The exit questionnaire; built with labelled choices by `exit_form_for`."""

    class Meta:
        csrf_class = LinkCSRF  # the link's CSRF token, no session (web.survey_csrf)

    main_reason = RadioField(_l("What was the main reason you stopped working with us?"))
    other_reasons = ReasonsField(_l("Were there other reasons? (tick all that apply)"))
    what_would_have_kept = TextAreaField(
        _l("What would have kept you with us? (optional)"),
        filters=[normalise_newlines],
        validators=[FreeText(MAX_KEPT_LENGTH)],
    )
    would_return = RadioField(_l("Would you consider working with us again?"))
    comment = TextAreaField(
        _l("Anything else you would like to tell us? (optional)"),
        filters=[normalise_newlines],
        validators=[FreeText(MAX_COMMENT_LENGTH)],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        super().validate(extra_validators)
        # RadioField's own "Not a valid choice" is not a sentence for a customer, and
        # "would you come back" may be left unanswered (WTForms reads that as "None").
        if not self.main_reason.data or self.main_reason.data not in _REASON_CODES:
            self.main_reason.errors = [str(MSG_CHOOSE_MAIN_REASON)]
        if self.would_return.data in (None, "", "None"):
            self.would_return.data = None
            self.would_return.errors = []
        elif self.would_return.data not in WOULD_RETURN:
            self.would_return.errors = [str(MSG_CHOOSE_ONE)]
        return not any(f.errors for f in self) and not self.form_errors

    def answers(self) -> ExitAnswers:
        return ExitAnswers(
            main_reason=self.main_reason.data,
            other_reasons=tuple(self.other_reasons.data or ()),
            what_would_have_kept=self.what_would_have_kept.data,
            would_return=self.would_return.data or None,
            comment=self.comment.data,
        )

    def add_service_error(self, error: InvalidInputError) -> None:
        field = self._fields.get(error.field or "")
        if field is not None:
            field.errors = [*field.errors, str(MSG_CHECK_ANSWER)]
        else:
            self.form_errors.append(str(MSG_CHECK_ANSWER))

    def error_summary(self) -> list[ErrorLink]:
        links: list[ErrorLink] = []
        for field, target in (
            (self.main_reason, f"{self.main_reason.id}-0"),
            (self.other_reasons, f"{self.other_reasons.id}-0"),
            (self.what_would_have_kept, self.what_would_have_kept.id),
            (self.would_return, f"{self.would_return.id}-0"),
            (self.comment, self.comment.id),
        ):
            links.extend(ErrorLink(target, f"{field.label.text}: {e}") for e in field.errors)
        links.extend(ErrorLink("survey-form", str(e)) for e in self.form_errors)
        if self.meta.csrf and self.csrf_token.errors:
            links.extend(ErrorLink("survey-form", str(e)) for e in self.csrf_token.errors)
        return links


def exit_form_for(locale: str, **kwargs: Any) -> ExitSurveyForm:
    """A bound exit-survey form with its choices labelled in `locale`."""
    form = ExitSurveyForm(**kwargs)
    reasons = [(r.value, r.customer_label(locale)) for r in ReasonCode]
    form.main_reason.choices = reasons
    form.other_reasons.choices = reasons
    form.would_return.choices = [
        (code, zh if locale == "zh" else en) for code, (zh, en) in WOULD_RETURN_LABELS.items()
    ]
    return form
