"""Follow-up cases, their notes, and the recovery they bring."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from survey import follow_ups
from survey import models as m
from survey.answers import responses_by_ids
from survey.clock import utcnow
from survey.registry import accounts_by_ids

from ..answers.types import Response, build_responses
from ..registry.types import Account, build_accounts


@strawberry.enum(description="Where a follow-up case stands.")
class FollowUpStatus(Enum):
    OPEN = m.FOLLOW_UP_OPEN
    CONTACTED = m.FOLLOW_UP_CONTACTED
    RESOLVED = m.FOLLOW_UP_RESOLVED


@strawberry.type(description="A change of a follow-up case: who, when, which status, what.")
class FollowUpNote:
    at: datetime
    author: str | None
    status: FollowUpStatus | None
    text: str | None


@strawberry.type(description="A case for the account manager after a very dissatisfied answer.")
class FollowUp:
    id: strawberry.ID
    account: Account
    response: Response
    owner: str
    status: FollowUpStatus
    opened_at: datetime
    due_at: datetime
    contacted_at: datetime | None
    resolved_at: datetime | None
    overdue: bool = strawberry.field(description="Not resolved and past its due date.")
    notes: list[FollowUpNote]


@strawberry.type(
    description="Accounts with a resolved follow-up and a later response: how their overall "
    "score moved from the response that opened the case to the next one."
)
class Recovery:
    accounts: int
    improved: int
    unchanged: int
    worse: int
    mean_change: float | None


def build_follow_ups(rows: list[m.FollowUp], locale: str) -> list[FollowUp]:
    """Follow-up types for rows whose notes are loaded: two queries for their accounts
    and responses (with the responses' accounts and campaigns joined)."""
    if not rows:
        return []
    account_rows = accounts_by_ids({r.account_id for r in rows})
    accounts = {a.pk: a for a in build_accounts(list(account_rows.values()))}
    response_rows = responses_by_ids({r.response_id for r in rows})
    responses = {r.pk: r for r in build_responses(response_rows, locale)}
    now = utcnow()
    return [
        FollowUp(
            id=strawberry.ID(str(r.id)),
            account=accounts[r.account_id],
            response=responses[r.response_id],
            owner=r.owner,
            status=FollowUpStatus(r.status),
            opened_at=r.opened_at,
            due_at=r.due_at,
            contacted_at=r.contacted_at,
            resolved_at=r.resolved_at,
            overdue=follow_ups.is_overdue(r.status, r.due_at, now),
            notes=[
                FollowUpNote(
                    at=n.at,
                    author=n.author,
                    status=FollowUpStatus(n.status) if n.status else None,
                    text=n.text,
                )
                for n in r.notes
            ],
        )
        for r in rows
    ]
