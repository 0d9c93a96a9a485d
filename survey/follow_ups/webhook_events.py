"""The follow-up cases' webhook events: `follow_up.opened`, `follow_up.escalated` and
`follow_up.resolved`, each emitted in the transaction that changes the case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from survey.db import db
from survey.events import (
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_OPENED,
    FOLLOW_UP_RESOLVED,
    emit,
    subscribers,
)
from survey.models import FollowUp
from survey.registry import account_block

_KINDS = {
    "opened": FOLLOW_UP_OPENED,
    "escalated": FOLLOW_UP_ESCALATED,
    "resolved": FOLLOW_UP_RESOLVED,
}


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def follow_up_payload(follow_up_id: int) -> dict[str, Any]:
    """The case as it is now in this transaction, with its account."""
    case = db.session.execute(
        select(
            FollowUp.id,
            FollowUp.account_id,
            FollowUp.response_id,
            FollowUp.owner,
            FollowUp.status,
            FollowUp.opened_at,
            FollowUp.due_at,
            FollowUp.contacted_at,
            FollowUp.resolved_at,
            FollowUp.escalated_at,
            FollowUp.escalated_to,
            FollowUp.root_cause,
            FollowUp.root_cause_note,
        ).where(FollowUp.id == follow_up_id)
    ).one()
    return {
        "account": account_block(case.account_id),
        "follow_up": {
            "id": case.id,
            "response_id": case.response_id,
            "owner": case.owner,
            "status": case.status,
            "opened_at": _iso(case.opened_at),
            "due_at": _iso(case.due_at),
            "contacted_at": _iso(case.contacted_at),
            "resolved_at": _iso(case.resolved_at),
            "escalated_at": _iso(case.escalated_at),
            "escalated_to": case.escalated_to,
            "root_cause": case.root_cause,
            "root_cause_note": case.root_cause_note,
        },
    }


def emit_follow_up(what: str, follow_up_id: int, account_id: int | None = None) -> str | None:
    """`follow_up.<what>` ("opened", "escalated", "resolved") in the caller's transaction."""
    kind = _KINDS[what]
    if account_id is None:
        if not subscribers(kind):
            return None
        account_id = db.session.scalar(
            select(FollowUp.account_id).where(FollowUp.id == follow_up_id)
        )
    return emit(kind, lambda: follow_up_payload(follow_up_id), account_id=account_id)


__all__ = ["emit_follow_up", "follow_up_payload"]
