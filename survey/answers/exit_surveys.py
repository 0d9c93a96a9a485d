"""Exit surveys: ask the accounts that left why ("where is our black box?").

An exit campaign samples accounts that defected in a window (see
`campaigns.build_exit_frame`) and sends them a short questionnaire: the main
reason (the shared reason vocabulary), other reasons, what would have kept them,
whether they would consider working with us again, and a comment. The answers are
stored as a Response (no scores) plus one ExitFeedback row, and counted next to
the reasons staff recorded, marked by source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

from survey.answers.responses import (
    MAX_COMMENT_LENGTH,
    MAX_ENTERED_BY_LENGTH,
    answerable_invitation,
    checked_locale,
    storing_response,
    write_response_row,
)
from survey.answers.webhook_events import emit_response_submitted
from survey.clock import utcnow
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    KIND_EXIT,
    SOURCE_EXIT_SURVEY,
    SOURCE_STAFF,
    ExitFeedback,
)
from survey.scale import ReasonCode
from survey.text import clean_text

#: "Would you consider working with us again?"
WOULD_RETURN: tuple[str, ...] = ("yes", "maybe", "no")
WOULD_RETURN_LABELS: dict[str, tuple[str, str]] = {
    "yes": ("会考虑", "Yes"),
    "maybe": ("也许", "Maybe"),
    "no": ("不会", "No"),
}
MAX_KEPT_LENGTH = 1000
SOURCES: tuple[str, ...] = (SOURCE_STAFF, SOURCE_EXIT_SURVEY)
_REASON_CODES = frozenset(ReasonCode.codes())


@dataclass(frozen=True, slots=True)
class ExitAnswers:
    """A lost account's answers to the exit survey."""

    main_reason: str | None
    other_reasons: Sequence[str] = ()
    what_would_have_kept: str | None = None
    would_return: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class _Clean:
    main_reason: str
    other_reasons: tuple[str, ...]
    kept: str | None
    would_return: str | None
    comment: str | None


def _clean(answers: ExitAnswers) -> _Clean:
    main = (answers.main_reason or "").strip()
    if not main:
        raise InvalidInputError("main_reason: please choose the main reason", field="main_reason")
    if main not in _REASON_CODES:
        raise InvalidInputError(f"main_reason: unknown reason {main!r}", field="main_reason")
    others = tuple(r for r in dict.fromkeys(answers.other_reasons) if r != main)
    bad = [r for r in others if r not in _REASON_CODES]
    if bad:
        raise InvalidInputError(
            f"other_reasons: unknown reason {', '.join(map(repr, bad))}", field="other_reasons"
        )
    would_return = (answers.would_return or "").strip() or None
    if would_return is not None and would_return not in WOULD_RETURN:
        raise InvalidInputError(
            f"would_return: use one of {', '.join(WOULD_RETURN)}", field="would_return"
        )
    return _Clean(
        main_reason=main,
        other_reasons=others,
        kept=clean_text(
            answers.what_would_have_kept, limit=MAX_KEPT_LENGTH, field="what_would_have_kept"
        ),
        would_return=would_return,
        comment=clean_text(answers.comment, limit=MAX_COMMENT_LENGTH, field="comment"),
    )


def record_exit_response(
    invitation_id: int,
    answers: ExitAnswers,
    *,
    locale: str,
    channel: str = "web",
    entered_by: str | None = None,
    now: datetime | None = None,
) -> int:
    """Store an exit-survey response (Response + ExitFeedback) in one transaction;
    return the response id.

    NotFoundError for an unknown invitation, InvalidInputError for an invitation
    that is not to an exit survey or for bad answers, SurveyClosedError when the
    campaign is closed, AlreadyRespondedError for a second response.
    """
    now = now or utcnow()
    target = answerable_invitation(invitation_id, now)
    if target.campaign_kind != KIND_EXIT:
        raise InvalidInputError(
            "this invitation is to a satisfaction survey, not an exit survey",
            field="invitation_id",
        )
    chosen_locale = checked_locale(locale, channel)
    clean = _clean(answers)
    staff_name = clean_text(entered_by, limit=MAX_ENTERED_BY_LENGTH, field="entered_by")
    with storing_response(invitation_id, now):
        response_id = write_response_row(
            db.session.connection(),
            invitation_id,
            target,
            now=now,
            channel=channel,
            locale=chosen_locale,
            comment=clean.comment,
            entered_by=staff_name,
        )
        db.session.execute(
            insert(ExitFeedback).values(
                response_id=response_id,
                main_reason=clean.main_reason,
                other_reasons=",".join(clean.other_reasons) or None,
                what_would_have_kept=clean.kept,
                would_return=clean.would_return,
            )
        )
        emit_response_submitted(response_id, target.account_id)  # webhooks, same transaction
    return response_id


# --- reasons by source -------------------------------------------------------------------


__all__ = [
    "SOURCES",
    "WOULD_RETURN",
    "WOULD_RETURN_LABELS",
    "ExitAnswers",
    "record_exit_response",
]
