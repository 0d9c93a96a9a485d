"""The survey page's two requests in the fewest statements: opening a personal link
(the invitation, its account and campaign, the questions: one statement) and
submitting it (the response, answers, reasons, the invitation marked responded,
the data version: five more, then COMMIT).

The survey page and its submission need all of these on every request; one
round trip fetches them (the invitation's columns repeat on each question's row).
`note_first_view` then writes the opened-at time only for a link not opened before,
and `submit_response` stores the answers without reading the invitation again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select

from survey.answers.links import note_opened
from survey.answers.responses import (
    AnswerInput,
    AnswerTarget,
    AspectQuestion,
    InvitationContext,
    invitation_context_columns,
    is_open,
    store_response,
)
from survey.clock import utcnow
from survey.db import RawStatement, db
from survey.delivery import MailSettings
from survey.errors import AlreadyRespondedError, SurveyClosedError
from survey.follow_ups import DEFAULT_FOLLOW_UP_DAYS
from survey.models import (
    Aspect,
    Campaign,
    Invitation,
    KeyAccount,
    QuestionnaireItem,
    Response,
)
from survey.tokens import hash_token, looks_like_token


@dataclass(frozen=True, slots=True)
class OpenedSurvey:
    """What a personal link opens: the invitation and the questions to ask."""

    context: InvitationContext
    questions: tuple[AspectQuestion, ...]
    account_id: int
    contact_id: int | None
    #: Whether the link was opened before (its opened-at time is set).
    opened: bool


#: InvitationContext's fields, in order, first in each row.
_CONTEXT_COLUMNS = len(invitation_context_columns())


def _context_columns() -> tuple[Any, ...]:
    """InvitationContext's columns, whether a response is stored read from a LEFT JOIN
    of `responses` (unique per invitation) instead of a correlated EXISTS: PostgreSQL
    runs the EXISTS once per question row, the join once."""
    columns = list(invitation_context_columns())
    (at,) = [i for i, c in enumerate(columns) if getattr(c, "name", None) == "responded"]
    columns[at] = Response.invitation_id.is_not(None).label("responded")
    return tuple(columns)


def _open_statement() -> Select[tuple[object, ...]]:
    """Built once: the token's hash is a bound parameter."""
    return (
        select(
            *_context_columns(),
            Invitation.account_id,
            Invitation.contact_id,
            Invitation.opened_at.is_not(None),
            Aspect.id,
            Aspect.code,
            Aspect.label_zh,
            Aspect.label_en,
            Aspect.question_zh,
            Aspect.question_en,
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .outerjoin(
            QuestionnaireItem, QuestionnaireItem.questionnaire_id == Campaign.questionnaire_id
        )
        .outerjoin(Aspect, Aspect.id == QuestionnaireItem.aspect_id)
        .where(Invitation.token_hash == bindparam("token_hash"))
        .order_by(QuestionnaireItem.position, Aspect.id)
    )


_OPEN = _open_statement()
#: The same statement compiled once and run past the ORM (survey.db.RawStatement).
_OPEN_RAW = RawStatement(_OPEN)


def open_survey(token: str, *, in_transaction: bool = False) -> OpenedSurvey | None:
    """The invitation a link token opens with its questions in order, or None (one
    statement). Malformed and unknown tokens alike give None, as `load_invitation`.

    The statement runs on a pooled connection of its own, past the ORM session
    (a page view that writes nothing never starts a session); `in_transaction`
    runs it in the session's transaction instead, for a request that goes on to
    write (the submission)."""
    if not looks_like_token(token):
        return None
    connection = db.session.connection() if in_transaction else None
    rows: Sequence[tuple[object, ...]] = _OPEN_RAW.rows(
        {"token_hash": hash_token(token)}, connection
    )
    if not rows:
        return None
    first = rows[0]
    n = _CONTEXT_COLUMNS
    return OpenedSurvey(
        context=InvitationContext(*first[:n]),  # type: ignore[arg-type]
        questions=_questions(tuple(row[n + 3 : n + 9] for row in rows if row[n + 3] is not None)),
        account_id=first[n],  # type: ignore[arg-type]
        contact_id=first[n + 1],  # type: ignore[arg-type]
        opened=bool(first[n + 2]),
    )


#: Questions made from the values read, by those values (at most _KEPT_QUESTIONS).
_QUESTIONS: dict[tuple[tuple[object, ...], ...], tuple[AspectQuestion, ...]] = {}
_KEPT_QUESTIONS = 256


def _questions(values: tuple[tuple[object, ...], ...]) -> tuple[AspectQuestion, ...]:
    """The questions with exactly these values (id, code, labels and questions in both
    languages, in order): read on every request, but made once. Equal values give the
    same tuple of the same objects, so the page cache compares its keys by identity."""
    found = _QUESTIONS.get(values)
    if found is None:
        found = tuple(AspectQuestion(*v) for v in values)  # type: ignore[arg-type]
        if len(_QUESTIONS) >= _KEPT_QUESTIONS:
            _QUESTIONS.clear()
        _QUESTIONS[values] = found
    return found


def note_first_view(survey: OpenedSurvey) -> bool:
    """Record the first view of the link; a link opened before costs no statement.
    Returns whether this view was recorded as the first."""
    if survey.opened:
        return False
    return note_opened(survey.context.invitation_id)


def submit_response(
    survey: OpenedSurvey,
    answers: Mapping[str, AnswerInput],
    *,
    comment: str | None,
    locale: str,
    channel: str = "web",
    entered_by: str | None = None,
    now: datetime | None = None,
    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS,
    mail: MailSettings | None = None,
) -> int:
    """`record_response` for a link opened in this request by `open_survey`: the
    invitation, campaign and questions it read stand in for record_response's own
    reads (a closed survey and a stored response give the same errors), so storing
    costs only the writes. The unique constraint on `responses.invitation_id` still
    decides a race: of two simultaneous submissions exactly one is stored, the other
    gets AlreadyRespondedError."""
    now = now or utcnow()
    ctx = survey.context
    if not is_open(ctx, now):
        raise SurveyClosedError("this survey is closed")
    if ctx.responded:
        raise AlreadyRespondedError("this invitation already has a response")
    target = AnswerTarget(
        survey.account_id,
        ctx.campaign_id,
        ctx.campaign_kind,
        ctx.questionnaire_id,
        survey.contact_id,
    )
    aspect_ids = {q.code: q.id for q in survey.questions}
    return store_response(
        ctx.invitation_id,
        target,
        answers,
        lambda: aspect_ids,
        comment=comment,
        locale=locale,
        channel=channel,
        entered_by=entered_by,
        now=now,
        follow_up_days=follow_up_days,
        mail=mail,
    )
