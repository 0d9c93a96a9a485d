"""Reading responses and answers for the API: rows by id, and the responses or
answers of many accounts or responses at once (a fixed number of queries).

Responses come with their account and campaign joined in, so building them costs
no further statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from survey.db import db, read_rows
from survey.models import Answer, AnswerReason, Aspect, Response


def _with_account_and_campaign(stmt: Select[Any]) -> Select[Any]:
    return stmt.options(joinedload(Response.account), joinedload(Response.campaign))


def response_by_id(response_id: int) -> Response:
    """One response with its account and campaign (NoResultFound if none)."""
    return db.session.scalars(
        _with_account_and_campaign(select(Response).where(Response.id == response_id))
    ).one()


def responses_by_ids(response_ids: Collection[int]) -> list[Response]:
    """The responses with these ids, with their accounts and campaigns (one query)."""
    stmt = select(Response).where(Response.id.in_(response_ids))
    return list(db.session.scalars(_with_account_and_campaign(stmt)).all())


def responses_of_accounts(account_ids: Sequence[int]) -> dict[int, list[Response]]:
    """Each account's responses, newest first, with their campaign (one query)."""
    result: dict[int, list[Response]] = defaultdict(list)
    rows = db.session.scalars(
        _with_account_and_campaign(
            select(Response).where(Response.account_id.in_(account_ids))
        ).order_by(Response.submitted_at.desc(), Response.id.desc())
    )
    for row in rows:
        result[row.account_id].append(row)
    return result


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One answer as the API lists it: plain values, no ORM object."""

    aspect: str
    label_zh: str
    label_en: str
    score: int
    reason_text: str | None
    #: Reason codes, alphabetical.
    reasons: list[str]

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh


def answers_of_responses(response_ids: Sequence[int]) -> dict[int, list[AnswerRow]]:
    """Each response's answers in questionnaire order, with their aspect and reason
    codes. One statement whatever the number of answers: answers joined with their
    aspect and (LEFT JOIN) their reasons, a row per answer and reason, read as plain
    rows (an ORM object per answer cost more than the rest of the read)."""
    rows = read_rows(
        select(
            Answer.response_id,
            Answer.id,
            Aspect.code,
            Aspect.label_zh,
            Aspect.label_en,
            Answer.score,
            Answer.reason_text,
            AnswerReason.reason,
        )
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .outerjoin(AnswerReason, AnswerReason.answer_id == Answer.id)
        .where(Answer.response_id.in_(response_ids))
        .order_by(Answer.response_id, Aspect.position, Aspect.code, AnswerReason.reason)
    )
    result: dict[int, list[AnswerRow]] = defaultdict(list)
    last_id = None
    reasons: list[str] = []
    for response_id, answer_id, code, zh, en, score, text, reason in rows:
        if answer_id != last_id:
            last_id = answer_id
            reasons = []
            result[response_id].append(AnswerRow(code, zh, en, score, text, reasons))
        if reason is not None:
            reasons.append(reason)
    return result
