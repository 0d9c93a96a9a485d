"""Does following up work? How the overall score of accounts with a resolved
follow-up moved from the response that opened the case to their next response."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from survey.db import db
from survey.models import FOLLOW_UP_RESOLVED, Answer, Aspect, FollowUp, Response
from survey.scale import OVERALL


@dataclass(frozen=True, slots=True)
class Recovery:
    """Accounts with a resolved follow-up and a later response: how their overall
    score moved from the response that opened the case to the next one."""

    accounts: int
    improved: int
    unchanged: int
    worse: int
    mean_change: float | None


def _overall_scores() -> Select[Any]:
    return (
        select(Response.account_id, Response.id, Response.submitted_at, Answer.score)
        .join(Answer, Answer.response_id == Response.id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Aspect.code == OVERALL)
    )


def recovery() -> Recovery:
    """For each account with a resolved follow-up: its overall score at the response
    that opened its latest resolved case against its next response's. Accounts not
    asked again yet are left out. Two queries."""
    cases = db.session.execute(
        select(FollowUp.account_id, func.max(Response.submitted_at))
        .join(Response, Response.id == FollowUp.response_id)
        .where(FollowUp.status == FOLLOW_UP_RESOLVED)
        .group_by(FollowUp.account_id)
    ).all()
    if not cases:
        return Recovery(0, 0, 0, 0, None)
    opened_at = {account_id: at for account_id, at in cases}
    scores: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    for account_id, response_id, at, score in db.session.execute(
        _overall_scores()
        .where(Response.account_id.in_(list(opened_at)))
        .order_by(Response.account_id, Response.submitted_at, Response.id)
    ):
        scores[account_id].append((at, response_id, int(score)))
    changes = []
    for account_id, at in opened_at.items():
        history = scores.get(account_id, [])
        before = next((s for t, _, s in reversed(history) if t <= at), None)
        after = next((s for t, _, s in history if t > at), None)
        if before is not None and after is not None:
            changes.append(after - before)
    return Recovery(
        accounts=len(changes),
        improved=sum(1 for c in changes if c > 0),
        unchanged=sum(1 for c in changes if c == 0),
        worse=sum(1 for c in changes if c < 0),
        mean_change=sum(changes) / len(changes) if changes else None,
    )
