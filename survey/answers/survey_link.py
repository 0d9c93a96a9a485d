"""The survey page's two requests in the fewest statements: opening a personal link
(the invitation, its account and campaign and the questionnaire's version: one
statement) and submitting it (the response, answers, reasons, the invitation marked
responded, the data version: five more, then COMMIT).

The questions are the same for every link of a questionnaire: each process keeps
them under the questionnaire version's token the link's read returns
(survey.data_version.QUESTIONNAIRE_ROW_ID, changed by every write to the aspects or
a questionnaire's items), so a link is opened in one round trip of one row, and
the questions are read again, by a second statement, only after such a change or
QUESTIONS_KEPT_SECONDS (for writes past the session, which change no token).
`note_first_view` then writes the opened-at time only for a link not opened before,
and `submit_response` stores the answers without reading the invitation again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Select, bindparam, select

from survey.answers.links import note_opened
from survey.answers.responses import (
    QUESTIONS_OF,
    AnswerInput,
    AnswerTarget,
    AspectQuestion,
    InvitationContext,
    invitation_context_columns,
    is_open,
    store_response,
)
from survey.clock import utcnow
from survey.data_version import QUESTIONNAIRE_ROW_ID, DataVersion
from survey.db import RawStatement, db
from survey.delivery import MailSettings
from survey.errors import AlreadyRespondedError, SurveyClosedError
from survey.follow_ups import DEFAULT_FOLLOW_UP_DAYS
from survey.models import (
    Campaign,
    Invitation,
    KeyAccount,
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


_VERSION = DataVersion.__table__.alias("questionnaire_version")


def _open_statement() -> Select[tuple[object, ...]]:
    """Built once: the token's hash is a bound parameter."""
    return (
        select(
            *_context_columns(),
            Invitation.account_id,
            Invitation.contact_id,
            Invitation.opened_at.is_not(None),
            _VERSION.c.token,
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .outerjoin(_VERSION, _VERSION.c.id == QUESTIONNAIRE_ROW_ID)
        .where(Invitation.token_hash == bindparam("token_hash"))
    )


_OPEN = _open_statement()
#: The same statement compiled once and run past the ORM (survey.db.RawStatement).
_OPEN_RAW = RawStatement(_OPEN)
#: A questionnaire's questions in order, the same way.
_QUESTIONS_RAW = RawStatement(QUESTIONS_OF)


def open_survey(token: str, *, in_transaction: bool = False) -> OpenedSurvey | None:
    """The invitation a link token opens with its questions in order, or None (one
    statement, two when the questions are not kept). Malformed and unknown tokens
    alike give None, as `load_invitation`.

    The statements run on a pooled connection of their own, past the ORM session
    (a page view that writes nothing never starts a session); `in_transaction`
    runs them in the session's transaction instead, for a request that goes on to
    write (the submission)."""
    if not looks_like_token(token):
        return None
    connection = db.session.connection() if in_transaction else None
    rows: list[tuple[object, ...]] = _OPEN_RAW.rows({"token_hash": hash_token(token)}, connection)
    if not rows:
        return None
    (row,) = rows
    n = _CONTEXT_COLUMNS
    context = InvitationContext(*row[:n])  # type: ignore[arg-type]
    return OpenedSurvey(
        context=context,
        questions=_asked(context.questionnaire_id, row[n + 3], connection),  # type: ignore[arg-type]
        account_id=row[n],  # type: ignore[arg-type]
        contact_id=row[n + 1],  # type: ignore[arg-type]
        opened=bool(row[n + 2]),
    )


#: How long a process keeps a questionnaire's questions under one version token: a
#: write past the ORM session (psql, a bulk load) changes no token, and is seen
#: after this long.
QUESTIONS_KEPT_SECONDS = 60.0
#: Questions made from the values read, by those values (at most _KEPT_QUESTIONS).
_QUESTIONS: dict[tuple[tuple[object, ...], ...], tuple[AspectQuestion, ...]] = {}
#: Per database (its engine): (questionnaire id, version token) -> (its questions,
#: when read: time.monotonic()). Per engine, since a copied database (a test's copy
#: of a template, a staging copy) starts with the same token.
_Kept = dict[tuple[int, str], tuple[tuple[AspectQuestion, ...], float]]
_ASKED: WeakKeyDictionary[Engine, _Kept] = WeakKeyDictionary()
_KEPT_QUESTIONS = 256


def _asked(
    questionnaire_id: int, version: str | None, connection: Connection | None
) -> tuple[AspectQuestion, ...]:
    """The questionnaire's questions: kept under its version token, else read (on
    `connection` when given). Without a token (no version row) they are read on
    every call."""
    now = time.monotonic()
    kept = None
    if version is not None:
        engine = connection.engine if connection is not None else db.engine
        kept = _ASKED.get(engine)
        if kept is None:
            kept = _ASKED.setdefault(engine, {})
        found = kept.get((questionnaire_id, version))
        if found is not None and now - found[1] < QUESTIONS_KEPT_SECONDS:
            return found[0]
    values = _QUESTIONS_RAW.rows({"questionnaire_id": questionnaire_id}, connection)
    questions = _questions(tuple(values))
    if kept is not None and version is not None:
        if len(kept) >= _KEPT_QUESTIONS:
            kept.clear()
        kept[(questionnaire_id, version)] = (questions, now)
    return questions


def _questions(values: tuple[tuple[object, ...], ...]) -> tuple[AspectQuestion, ...]:
    """The questions with exactly these values (id, code, labels and questions in both
    languages, in order), made once. Equal values give the same tuple of the same
    objects, so the page cache compares its keys by identity."""
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
