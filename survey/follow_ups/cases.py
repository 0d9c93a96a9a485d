"""Closing the loop: a very dissatisfied answer opens a case for the account manager.

A submission with overall satisfaction 1-2, or any aspect at 1 (极不满意), opens a
follow-up in the same transaction as the response (so there is never one without
the other), due `FOLLOW_UP_DAYS` later, and writes an e-mail to the manager into
the outbox when the manager is a staff member with an e-mail address. Managers then
move the case OPEN -> CONTACTED -> RESOLVED, with notes; resolving needs a root
cause (one of the shared reason codes). Every change is a note, so the case keeps
its own history, and an audit entry. A case still not resolved some days after its
due date is ESCALATED (survey.follow_ups.escalation). survey.analysis.recovery says
whether following up works.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, select

from survey.audit import FOLLOW_UP_RESOLVE, FOLLOW_UP_UPDATE, record_audit
from survey.clock import utcnow
from survey.data_version import mark_changed
from survey.db import RawStatement, db
from survey.delivery import MailSettings
from survey.errors import InvalidInputError, NotFoundError
from survey.follow_ups.notices import (
    KIND_FOLLOW_UP,
    Recipient,
    case_url,
    compose_opened,
    queue_notice,
)
from survey.follow_ups.webhook_events import emit_follow_up
from survey.follow_ups.why import why_for_cases
from survey.models import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    FollowUp,
    FollowUpNote,
    KeyAccount,
    Response,
    StaffMember,
)
from survey.scale import (
    DEFAULT_LOCALE,
    DISSATISFIED_MAX,
    OVERALL,
    ReasonCode,
    Satisfaction,
    normalise_locale,
)
from survey.text import clean_text

#: Every status a case can be in (filters); staff set open, contacted and resolved,
#: escalation sets escalated.
FOLLOW_UP_STATUSES: tuple[str, ...] = (
    FOLLOW_UP_OPEN,
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_RESOLVED,
)
SETTABLE_STATUSES: tuple[str, ...] = (FOLLOW_UP_OPEN, FOLLOW_UP_CONTACTED, FOLLOW_UP_RESOLVED)
DEFAULT_FOLLOW_UP_DAYS = 7
MAX_NOTE_LENGTH = 2000
AUTHOR_MAX_LENGTH = 120  # follow_up_notes.author
OWNER_MAX_LENGTH = 120  # follow_ups.owner


def needs_follow_up(scores: Mapping[str, int]) -> bool:
    """Overall satisfaction 1-2, or any aspect at 1 (极不满意)."""
    overall = scores.get(OVERALL)
    if overall is not None and overall <= DISSATISFIED_MAX:
        return True
    return any(score == Satisfaction.VERY_DISSATISFIED for score in scores.values())


# Opening a case runs inside the transaction that stores an unhappy response: its two
# statements are compiled once and run past the ORM (survey.db.RawStatement).
_FOLLOW_UP_HEAD = RawStatement(
    select(
        Response.account_id,
        KeyAccount.name,
        KeyAccount.external_id,
        KeyAccount.account_manager,
        StaffMember.email,
        StaffMember.locale,
    )
    .join(KeyAccount, KeyAccount.id == Response.account_id)
    .outerjoin(
        StaffMember,
        and_(StaffMember.name == KeyAccount.account_manager, StaffMember.active.is_(True)),
    )
    .where(Response.id == bindparam("response_id"))
    .limit(1)
)
_FOLLOW_UPS = FollowUp.__table__
_INSERT_FOLLOW_UP = RawStatement(
    insert(_FOLLOW_UPS)
    .values(
        {
            name: bindparam(name, type_=_FOLLOW_UPS.c[name].type)
            for name in ("account_id", "response_id", "owner", "status", "opened_at", "due_at")
        }
    )
    .returning(_FOLLOW_UPS.c.id)
)


def open_follow_up(
    response_id: int,
    *,
    now: datetime | None = None,
    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS,
    mail: MailSettings | None = None,
) -> int:
    """Open a follow-up for the response's account manager, due `follow_up_days`
    later, and (with `mail`) queue an e-mail to the manager, in the manager's own
    language (`StaffMember.locale`), with why the case was opened. Adds to the
    caller's transaction (never commits); returns the follow-up id. Three to five
    statements."""
    now = now or utcnow()
    session = db.session()
    connection = session.connection()
    heads = _FOLLOW_UP_HEAD.rows({"response_id": response_id}, connection)
    if not heads:
        raise NotFoundError(f"There is no response with ID {response_id}.", field="response_id")
    account_id, account_name, external_id, manager, manager_email, manager_locale = heads[0]
    due = now + timedelta(days=follow_up_days)
    mark_changed(session)  # a new case changes the figures (survey.data_version)
    ((follow_up_id,),) = _INSERT_FOLLOW_UP.rows(
        {
            "account_id": account_id,
            "response_id": response_id,
            "owner": manager,
            "status": FOLLOW_UP_OPEN,
            "opened_at": now,
            "due_at": due,
        },
        connection,
    )
    if mail is not None and (manager_email or "").strip():
        locale = normalise_locale(manager_locale) or DEFAULT_LOCALE
        why = why_for_cases([follow_up_id], locale).get(follow_up_id)
        subject, body = compose_opened(
            locale,
            manager=manager,
            account=f"{account_name} ({external_id})",
            why=why,
            due=due,
            url=case_url(mail, follow_up_id),
        )
        to = Recipient(manager, (manager_email or "").strip(), locale)
        queue_notice(KIND_FOLLOW_UP, mail, [(to, subject, body)], now=now)
    emit_follow_up("opened", follow_up_id, account_id)
    return follow_up_id


# ---------------------------------------------------------------------------
# Working a case


def is_overdue(status: str, due_at: datetime, now: datetime | None = None) -> bool:
    """Not resolved and past its due date."""
    return status != FOLLOW_UP_RESOLVED and due_at < (now or utcnow())


class RootCauseRequiredError(InvalidInputError):
    """Resolving a case without saying its root cause (nothing was changed)."""

    def __init__(self) -> None:
        super().__init__(
            "Resolving a case needs its root cause: one of "
            f"{', '.join(ReasonCode.codes())}. Nothing was changed.",
            field="root_cause",
        )


def _clean_owner(owner: str | None) -> str | None:
    if owner is None:
        return None
    cleaned = " ".join(owner.split())
    if not cleaned or len(cleaned) > OWNER_MAX_LENGTH:
        raise InvalidInputError(
            f"An owner is a name of 1 to {OWNER_MAX_LENGTH} characters.", field="owner"
        )
    return cleaned


def update_follow_up(
    follow_up_id: int,
    *,
    status: str | None = None,
    note: str | None = None,
    author: str | None = None,
    now: datetime | None = None,
    root_cause: str | None = None,
    root_cause_note: str | None = None,
    owner: str | None = None,
    due_at: datetime | None = None,
) -> FollowUp:
    """Change a case in one transaction: its status, a note, its owner or due date,
    and (when resolving) its root cause. Every call is kept as a note (who, when,
    which status, what) and an audit entry with what changed.

    Moving to CONTACTED or RESOLVED stamps the time the first time; moving a resolved
    case back re-opens it (its resolution and root cause are cleared). Resolving
    needs `root_cause`, one of the shared reason codes (survey.scale.ReasonCode).
    NotFoundError for an unknown case; InvalidInputError (and nothing changed) for an
    unknown status or root cause, resolving without a root cause, a root cause on a
    case that is not being resolved, an empty change or a note too long."""
    if status is not None and status not in SETTABLE_STATUSES:
        raise InvalidInputError(
            f"Unknown status {status!r}: use one of {', '.join(SETTABLE_STATUSES)}.",
            field="status",
        )
    text = clean_text(note, limit=MAX_NOTE_LENGTH, field="note")
    cause_note = clean_text(root_cause_note, limit=MAX_NOTE_LENGTH, field="root_cause_note")
    if root_cause is not None and root_cause not in ReasonCode.codes():
        raise InvalidInputError(
            f"Unknown root cause {root_cause!r}: use one of {', '.join(ReasonCode.codes())}.",
            field="root_cause",
        )
    new_owner = _clean_owner(owner)
    if all(v is None for v in (status, text, root_cause, cause_note, new_owner, due_at)):
        raise InvalidInputError("Give a new status, a note, or both.", field="status")
    who = (author or "").strip()[:AUTHOR_MAX_LENGTH] or None
    case = db.session.get(FollowUp, follow_up_id)
    if case is None:
        raise NotFoundError(f"There is no follow-up with ID {follow_up_id}.", field="id")
    target = status or case.status
    resolving = target == FOLLOW_UP_RESOLVED and case.status != FOLLOW_UP_RESOLVED
    if resolving and root_cause is None:
        raise RootCauseRequiredError()
    if (root_cause is not None or cause_note is not None) and target != FOLLOW_UP_RESOLVED:
        raise InvalidInputError(
            "A root cause is recorded when the case is resolved.", field="root_cause"
        )
    now = now or utcnow()
    changes: dict[str, Any] = {}

    def change(name: str, old: Any, new: Any) -> None:
        if old != new:
            changes[name] = [old, new]

    try:
        if status is not None:
            change("status", case.status, status)
            case.status = status
            if status in (FOLLOW_UP_CONTACTED, FOLLOW_UP_RESOLVED) and case.contacted_at is None:
                case.contacted_at = now
            if status == FOLLOW_UP_RESOLVED:
                case.resolved_at = case.resolved_at or now
            else:  # re-opened: the resolution no longer holds
                case.resolved_at = None
                change("root_cause", case.root_cause, None)
                case.root_cause = None
                case.root_cause_note = None
        if root_cause is not None:
            change("root_cause", case.root_cause, root_cause)
            case.root_cause = root_cause
        if cause_note is not None:
            change("root_cause_note", case.root_cause_note, cause_note)
            case.root_cause_note = cause_note
        if new_owner is not None:
            change("owner", case.owner, new_owner)
            case.owner = new_owner
        if due_at is not None:
            change("due_at", case.due_at.isoformat(), due_at.isoformat())
            case.due_at = due_at
        if text is not None:
            changes["note"] = text
        db.session.add(
            FollowUpNote(follow_up_id=case.id, at=now, author=who, status=status, text=text)
        )
        record_audit(
            who,
            FOLLOW_UP_RESOLVE if resolving else FOLLOW_UP_UPDATE,
            "follow_up",
            case.id,
            changes,
            at=now,
        )
        if resolving:
            emit_follow_up("resolved", case.id, case.account_id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return case


def follow_up_conditions(
    status: str | None = None,
    owner: str | None = None,
    overdue: bool | None = None,
    now: datetime | None = None,
    tier: str | None = None,
) -> list[Any]:
    """SQL conditions selecting follow-ups; InvalidInputError for an unknown status."""
    if status is not None and status not in FOLLOW_UP_STATUSES:
        raise InvalidInputError(
            f"Unknown status {status!r}: use one of {', '.join(FOLLOW_UP_STATUSES)}.",
            field="status",
        )
    conditions: list[Any] = []
    if status is not None:
        conditions.append(FollowUp.status == status)
    if owner is not None:
        conditions.append(FollowUp.owner == owner)
    if overdue is not None:
        late = and_(FollowUp.status != FOLLOW_UP_RESOLVED, FollowUp.due_at < (now or utcnow()))
        conditions.append(late if overdue else ~late)
    if tier is not None:
        conditions.append(
            FollowUp.account_id.in_(select(KeyAccount.id).where(KeyAccount.tier == tier))
        )
    return conditions


__all__ = [
    "DEFAULT_FOLLOW_UP_DAYS",
    "FOLLOW_UP_STATUSES",
    "KIND_FOLLOW_UP",
    "SETTABLE_STATUSES",
    "RootCauseRequiredError",
    "follow_up_conditions",
    "is_overdue",
    "needs_follow_up",
    "open_follow_up",
    "update_follow_up",
]
