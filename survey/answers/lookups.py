"""Reading responses and answers for the API: rows by id, and the responses or
answers of many accounts or responses at once (a fixed number of queries).

Responses come with their account and campaign joined in, so building them costs
no further statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from survey.db import db
from survey.models import Answer, AnswerReason, Response


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


def answers_of_responses(
    response_ids: Sequence[int],
) -> dict[int, list[tuple[Answer, list[str]]]]:
    """Each response's answers in questionnaire order, with their aspect and reason
    codes. Two queries whatever the number of answers: answers joined with their
    aspect, then the reasons of all those responses' answers (selectinload would
    split a large IN list into several queries)."""
    answers = db.session.scalars(
        select(Answer)
        .where(Answer.response_id.in_(response_ids))
        .options(joinedload(Answer.aspect))
    ).all()
    reasons: dict[int, list[str]] = defaultdict(list)
    for answer_id, reason in db.session.execute(
        select(AnswerReason.answer_id, AnswerReason.reason)
        .join(Answer, Answer.id == AnswerReason.answer_id)
        .where(Answer.response_id.in_(response_ids))
        .order_by(AnswerReason.answer_id, AnswerReason.reason)
    ):
        reasons[answer_id].append(reason)
    result: dict[int, list[tuple[Answer, list[str]]]] = defaultdict(list)
    for row in sorted(answers, key=lambda a: (a.aspect.position, a.aspect.code)):
        result[row.response_id].append((row, reasons.get(row.id, [])))
    return result
