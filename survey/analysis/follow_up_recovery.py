"""Does following up work? How the overall score of accounts with a resolved
follow-up moved from the response that opened the case to their next response, and,
by the root cause each case was resolved with, whether those accounts recovered or
later left."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from survey.db import db
from survey.models import FOLLOW_UP_RESOLVED, Answer, Aspect, Defection, FollowUp, Response
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


@dataclass(frozen=True, slots=True)
class RootCauseOutcome:
    """Resolved cases with one root cause, and what became of their accounts."""

    root_cause: str
    cases: int
    accounts: int
    #: Accounts that left on or after the day their case was resolved.
    defected: int
    #: Accounts that answered again after the response that opened their case.
    answered_again: int
    #: Of those, how many gave a better overall score the next time.
    recovered: int


def root_cause_breakdown() -> tuple[RootCauseOutcome, ...]:
    """Resolved cases by root cause, most cases first: how many, for how many
    accounts, how many of those accounts later left, answered again, and recovered
    (a better overall score at their next response than at the one that opened the
    case; an account's latest case with that root cause counts). Three queries."""
    cases = db.session.execute(
        select(
            FollowUp.root_cause, FollowUp.account_id, FollowUp.resolved_at, Response.submitted_at
        )
        .join(Response, Response.id == FollowUp.response_id)
        .where(FollowUp.status == FOLLOW_UP_RESOLVED, FollowUp.root_cause.is_not(None))
        .order_by(FollowUp.root_cause, FollowUp.account_id, Response.submitted_at)
    ).all()
    if not cases:
        return ()
    account_ids = sorted({c.account_id for c in cases})
    left = dict(
        db.session.execute(
            select(Defection.account_id, Defection.defected_on).where(
                Defection.account_id.in_(account_ids)
            )
        ).all()
    )
    scores: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for account_id, _response_id, at, score in db.session.execute(
        _overall_scores()
        .where(Response.account_id.in_(account_ids))
        .order_by(Response.account_id, Response.submitted_at, Response.id)
    ):
        scores[account_id].append((at, int(score)))
    count: dict[str, int] = defaultdict(int)
    latest: dict[str, dict[int, tuple[datetime, datetime | None]]] = defaultdict(dict)
    for root_cause, account_id, resolved_at, opened_by in cases:
        count[root_cause] += 1
        latest[root_cause][account_id] = (opened_by, resolved_at)  # ordered: latest wins
    result = []
    for root_cause, accounts in latest.items():
        defected = answered = recovered = 0
        for account_id, (opened_by, resolved_at) in accounts.items():
            gone = left.get(account_id)
            if gone is not None and resolved_at is not None and gone >= resolved_at.date():
                defected += 1
            history = scores.get(account_id, [])
            before = next((s for t, s in reversed(history) if t <= opened_by), None)
            after = next((s for t, s in history if t > opened_by), None)
            if after is not None:
                answered += 1
                if before is not None and after > before:
                    recovered += 1
        result.append(
            RootCauseOutcome(
                root_cause, count[root_cause], len(accounts), defected, answered, recovered
            )
        )
    return tuple(sorted(result, key=lambda r: (-r.cases, r.root_cause)))
