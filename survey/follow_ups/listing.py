"""Follow-up cases as the console shows them: a filtered list (overdue first) with why
each case was opened, and one case with its history of notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from survey.clock import utcnow
from survey.db import db
from survey.errors import NotFoundError
from survey.follow_ups.cases import follow_up_conditions, is_overdue
from survey.follow_ups.why import CaseWhy, why_for_cases
from survey.models import FollowUp, FollowUpNote, KeyAccount


@dataclass(frozen=True, slots=True)
class FollowUpRow:
    """A follow-up case as a list shows it."""

    id: int
    account_id: int
    account_name: str
    external_id: str
    tier: str
    owner: str
    status: str
    opened_at: datetime
    due_at: datetime
    overdue: bool
    escalated_at: datetime | None
    escalated_to: str | None
    root_cause: str | None
    last_note: str | None
    why: CaseWhy | None


@dataclass(frozen=True, slots=True)
class CaseNote:
    at: datetime
    author: str | None
    status: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class FollowUpCase:
    """One case with everything its page shows."""

    row: FollowUpRow
    response_id: int
    contacted_at: datetime | None
    resolved_at: datetime | None
    root_cause_note: str | None
    notes: tuple[CaseNote, ...]


def _select_cases():  # type: ignore[no-untyped-def]
    return select(
        FollowUp.id,
        FollowUp.account_id,
        KeyAccount.name,
        KeyAccount.external_id,
        KeyAccount.tier,
        FollowUp.owner,
        FollowUp.status,
        FollowUp.opened_at,
        FollowUp.due_at,
        FollowUp.escalated_at,
        FollowUp.escalated_to,
        FollowUp.root_cause,
    ).join(KeyAccount, KeyAccount.id == FollowUp.account_id)


def _row(r, now: datetime, last_note: str | None, why: CaseWhy | None) -> FollowUpRow:  # type: ignore[no-untyped-def]
    return FollowUpRow(
        id=r.id,
        account_id=r.account_id,
        account_name=r.name,
        external_id=r.external_id,
        tier=r.tier,
        owner=r.owner,
        status=r.status,
        opened_at=r.opened_at,
        due_at=r.due_at,
        overdue=is_overdue(r.status, r.due_at, now),
        escalated_at=r.escalated_at,
        escalated_to=r.escalated_to,
        root_cause=r.root_cause,
        last_note=last_note,
        why=why,
    )


def list_follow_ups(
    *,
    status: str | None = None,
    owner: str | None = None,
    overdue: bool | None = None,
    tier: str | None = None,
    locale: str = "zh",
    limit: int = 200,
    now: datetime | None = None,
) -> list[FollowUpRow]:
    """Cases matching the filters, overdue first, then by due date, each with why it
    was opened (labels in `locale`). Four queries: the cases with their accounts, their
    latest notes' texts, and the why (two)."""
    now = now or utcnow()
    rows = db.session.execute(
        _select_cases()
        .where(*follow_up_conditions(status, owner, overdue, now, tier))
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
    ).all()
    notes: dict[int, str] = {}
    whys: dict[int, CaseWhy] = {}
    if rows:
        ids = [r.id for r in rows]
        for case_id, text in db.session.execute(
            select(FollowUpNote.follow_up_id, FollowUpNote.text)
            .where(FollowUpNote.follow_up_id.in_(ids), FollowUpNote.text.is_not(None))
            .order_by(FollowUpNote.follow_up_id, FollowUpNote.id)
        ):
            notes[case_id] = text  # the last one wins
        whys = why_for_cases(ids, locale)
    result = [_row(r, now, notes.get(r.id), whys.get(r.id)) for r in rows]
    return sorted(result, key=lambda r: not r.overdue)  # stable: due date order kept


def get_follow_up_case(
    follow_up_id: int, *, locale: str = "zh", now: datetime | None = None
) -> FollowUpCase:
    """One case with its why and its notes, oldest first; NotFoundError if none."""
    now = now or utcnow()
    r = db.session.execute(_select_cases().where(FollowUp.id == follow_up_id)).first()
    if r is None:
        raise NotFoundError(f"There is no follow-up with ID {follow_up_id}.", field="id")
    extra = db.session.execute(
        select(
            FollowUp.response_id,
            FollowUp.contacted_at,
            FollowUp.resolved_at,
            FollowUp.root_cause_note,
        ).where(FollowUp.id == follow_up_id)
    ).one()
    notes = tuple(
        CaseNote(n.at, n.author, n.status, n.text)
        for n in db.session.scalars(
            select(FollowUpNote)
            .where(FollowUpNote.follow_up_id == follow_up_id)
            .order_by(FollowUpNote.id)
        )
    )
    last = next((n.text for n in reversed(notes) if n.text), None)
    why = why_for_cases([follow_up_id], locale).get(follow_up_id)
    return FollowUpCase(
        row=_row(r, now, last, why),
        response_id=extra.response_id,
        contacted_at=extra.contacted_at,
        resolved_at=extra.resolved_at,
        root_cause_note=extra.root_cause_note,
        notes=notes,
    )


def follow_up_owners() -> list[str]:
    """Everyone who owns a case, by name (the owner filter's choices)."""
    return list(db.session.scalars(select(FollowUp.owner).distinct().order_by(FollowUp.owner)))


__all__ = [
    "CaseNote",
    "FollowUpCase",
    "FollowUpRow",
    "follow_up_owners",
    "get_follow_up_case",
    "list_follow_ups",
]
