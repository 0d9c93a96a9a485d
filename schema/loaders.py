"""Batched loading for lists, without DataLoader (the sync view cannot run one).

Objects resolved together (one page of accounts, campaigns or responses) share a
`Batch` holding all their ids. The first time any of them needs a relation, the
batch loads it for all of them with one IN query and keeps the result, so a page
costs a fixed number of statements whatever its size. Many-to-one relations
(a response's account and campaign) are joined into the page query itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from survey.db import db
from survey.models import Answer, AnswerReason, Defection, Invitation, KeyAccount, Response

T = TypeVar("T")


class Batch:
    """The ids of rows resolved together, and what has been loaded for all of them."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.ids: list[int] = list(dict.fromkeys(ids))
        self._loaded: dict[Hashable, Any] = {}

    def get(self, key: Hashable, load: Callable[[list[int]], T]) -> T:
        if key not in self._loaded:
            self._loaded[key] = load(self.ids)
        return self._loaded[key]  # type: ignore[no-any-return]


def responses_of_accounts(account_ids: Sequence[int]) -> dict[int, list[Response]]:
    """Each account's responses, newest first, with their campaign (one query)."""
    result: dict[int, list[Response]] = defaultdict(list)
    rows = db.session.scalars(
        select(Response)
        .where(Response.account_id.in_(account_ids))
        .options(joinedload(Response.account), joinedload(Response.campaign))
        .order_by(Response.submitted_at.desc(), Response.id.desc())
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


def defections_of_accounts(account_ids: Sequence[int]) -> dict[int, Defection]:
    """Each lost account's defection with its reasons (two queries)."""
    rows = db.session.scalars(
        select(Defection)
        .where(Defection.account_id.in_(account_ids))
        .options(selectinload(Defection.reasons))
    )
    return {row.account_id: row for row in rows}


def invitations_of_campaigns(
    campaign_ids: Sequence[int], limit: int, after_id: int | None
) -> dict[int, list[Invitation]]:
    """Up to `limit` invitations per campaign after `after_id`, in id order, with
    their account: one query for all campaigns (a window numbers each campaign's)."""
    conditions = [Invitation.campaign_id.in_(campaign_ids)]
    if after_id is not None:
        conditions.append(Invitation.id > after_id)
    ranked = (
        select(
            Invitation.id.label("id"),
            func.row_number()
            .over(partition_by=Invitation.campaign_id, order_by=Invitation.id)
            .label("rn"),
        )
        .where(*conditions)
        .subquery()
    )
    rows = db.session.scalars(
        select(Invitation)
        .join(ranked, ranked.c.id == Invitation.id)
        .where(ranked.c.rn <= limit)
        .options(joinedload(Invitation.account))
        .order_by(Invitation.campaign_id, Invitation.id)
    )
    result: dict[int, list[Invitation]] = defaultdict(list)
    for row in rows:
        result[row.campaign_id].append(row)
    return result


def invitation_counts(campaign_ids: Sequence[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(Invitation.campaign_id, func.count(Invitation.id))
        .where(Invitation.campaign_id.in_(campaign_ids))
        .group_by(Invitation.campaign_id)
    )
    return {campaign_id: int(n) for campaign_id, n in rows}


def accounts_by_id(account_ids: Sequence[int]) -> dict[int, KeyAccount]:
    rows = db.session.scalars(select(KeyAccount).where(KeyAccount.id.in_(account_ids)))
    return {row.id: row for row in rows}


def unique_rows(rows: Iterable[T]) -> list[T]:
    """Rows once each by id, in first-seen order (many responses share an account)."""
    return list({r.id: r for r in rows}.values())  # type: ignore[attr-defined]
