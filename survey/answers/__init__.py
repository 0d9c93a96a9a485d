"""What customers answer: personal links opened, satisfaction and exit responses stored.

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.answers.details import AnswerDetail, ResponseDetails, get_response_details
from survey.answers.exit_surveys import (
    MAX_KEPT_LENGTH,
    SOURCES,
    WOULD_RETURN,
    WOULD_RETURN_LABELS,
    ExitAnswers,
    record_exit_response,
)
from survey.answers.links import note_opened, stored_after_failure
from survey.answers.lookups import (
    answers_of_responses,
    response_by_id,
    responses_by_ids,
    responses_of_accounts,
)
from survey.answers.responses import (
    MAX_COMMENT_LENGTH,
    MAX_REASON_TEXT_LENGTH,
    AnswerInput,
    AspectQuestion,
    InvitationContext,
    is_open,
    load_invitation,
    mark_opened,
    questionnaire_questions,
    record_response,
)
from survey.answers.survey_link import (
    OpenedSurvey,
    note_first_view,
    open_survey,
    submit_response,
)

__all__ = [
    "MAX_COMMENT_LENGTH",
    "MAX_KEPT_LENGTH",
    "MAX_REASON_TEXT_LENGTH",
    "SOURCES",
    "WOULD_RETURN",
    "WOULD_RETURN_LABELS",
    "AnswerDetail",
    "AnswerInput",
    "AspectQuestion",
    "ExitAnswers",
    "InvitationContext",
    "OpenedSurvey",
    "ResponseDetails",
    "answers_of_responses",
    "get_response_details",
    "is_open",
    "load_invitation",
    "mark_opened",
    "note_first_view",
    "note_opened",
    "open_survey",
    "questionnaire_questions",
    "record_exit_response",
    "record_response",
    "response_by_id",
    "responses_by_ids",
    "responses_of_accounts",
    "stored_after_failure",
    "submit_response",
]
