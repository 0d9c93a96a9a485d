"""Closing the loop: a very dissatisfied answer opens a case for the account manager.

A submission with overall satisfaction 1-2, or any aspect at 1 (极不满意), opens a
follow-up in the same transaction as the response (so there is never one without
the other), due `FOLLOW_UP_DAYS` later, and writes an e-mail to the manager into
the outbox when the manager is a staff member with an e-mail address. Managers then
move the case OPEN -> CONTACTED -> RESOLVED, with notes; every change is a note, so
the case keeps its own history. survey.analysis.recovery says whether it works.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select

from survey.clock import utcnow
from survey.db import db
from survey.delivery import MailSettings
from survey.errors import InvalidInputError, NotFoundError
from survey.models import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    OUTBOX_QUEUED,
    Answer,
    AnswerReason,
    Aspect,
    FollowUp,
    FollowUpNote,
    KeyAccount,
    OutboxMessage,
    Response,
    StaffMember,
)
from survey.scale import DEFAULT_LOCALE, DISSATISFIED_MAX, OVERALL, Satisfaction, normalise_locale
from survey.text import clean_text

FOLLOW_UP_STATUSES: tuple[str, ...] = (FOLLOW_UP_OPEN, FOLLOW_UP_CONTACTED, FOLLOW_UP_RESOLVED)
DEFAULT_FOLLOW_UP_DAYS = 7
KIND_FOLLOW_UP = "follow_up"
MAX_NOTE_LENGTH = 2000
AUTHOR_MAX_LENGTH = 120  # follow_up_notes.author


def needs_follow_up(scores: Mapping[str, int]) -> bool:
    """Overall satisfaction 1-2, or any aspect at 1 (极不满意)."""
    overall = scores.get(OVERALL)
    if overall is not None and overall <= DISSATISFIED_MAX:
        return True
    return any(score == Satisfaction.VERY_DISSATISFIED for score in scores.values())


@dataclass(frozen=True, slots=True)
class _Complaint:
    label: str
    score: int
    reasons: list[str]
    text: str | None


def open_follow_up(
    response_id: int,
    *,
    now: datetime | None = None,
    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS,
    mail: MailSettings | None = None,
    manager_locale: str = DEFAULT_LOCALE,
) -> int:
    """Open a follow-up for the response's account manager, due `follow_up_days`
    later, and (with `mail`) queue an e-mail to the manager in `manager_locale` with
    the dissatisfied aspects and comments. Adds to the caller's transaction (never
    commits); returns the follow-up id. Three to four statements."""
    now = now or utcnow()
    head = db.session.execute(
        select(
            Response.account_id,
            Response.comment,
            KeyAccount.name,
            KeyAccount.external_id,
            KeyAccount.account_manager,
            StaffMember.email,
        )
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .outerjoin(
            StaffMember,
            and_(StaffMember.name == KeyAccount.account_manager, StaffMember.active.is_(True)),
        )
        .where(Response.id == response_id)
    ).first()
    if head is None:
        raise NotFoundError(f"There is no response with ID {response_id}.", field="response_id")
    account_id, comment, account_name, external_id, manager, manager_email = head
    follow_up_id = db.session.scalar(
        insert(FollowUp)
        .values(
            account_id=account_id,
            response_id=response_id,
            owner=manager,
            status=FOLLOW_UP_OPEN,
            opened_at=now,
            due_at=now + timedelta(days=follow_up_days),
        )
        .returning(FollowUp.id)
    )
    assert follow_up_id is not None
    if mail is not None and (manager_email or "").strip():
        locale = normalise_locale(manager_locale) or DEFAULT_LOCALE
        complaints = _complaints(response_id, locale)
        subject, body = _compose(
            locale,
            account=f"{account_name} ({external_id})",
            manager=manager,
            complaints=complaints,
            comment=comment,
            due=now + timedelta(days=follow_up_days),
            url=f"{mail.base_url}/manage/follow-ups",
        )
        db.session.execute(
            insert(OutboxMessage.__table__),
            [
                {
                    "kind": KIND_FOLLOW_UP,
                    "invitation_id": None,
                    "to_address": manager_email.strip(),
                    "subject": subject,
                    "body_text": body,
                    "body_html": None,
                    "locale": locale,
                    "message_id": f"<kp-{KIND_FOLLOW_UP}-{uuid.uuid4().hex}@{mail.sender_domain}>",
                    "status": OUTBOX_QUEUED,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            ],
        )
    return follow_up_id


def _complaints(response_id: int, locale: str) -> list[_Complaint]:
    """The response's answers scored 1-2, with reasons, in questionnaire order."""
    found: list[_Complaint] = []
    codes: list[str] = []
    for code, zh, en, score, text, reason in db.session.execute(
        select(
            Aspect.code,
            Aspect.label_zh,
            Aspect.label_en,
            Answer.score,
            Answer.reason_text,
            AnswerReason.reason,
        )
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .outerjoin(AnswerReason, AnswerReason.answer_id == Answer.id)
        .where(Answer.response_id == response_id, Answer.score <= DISSATISFIED_MAX)
        .order_by(Aspect.position, Aspect.code, AnswerReason.reason)
    ):
        if not codes or codes[-1] != code:
            codes.append(code)
            found.append(_Complaint(en if locale == "en" else zh, int(score), [], text))
        if reason is not None:
            found[-1].reasons.append(reason)
    return found


_MAIL_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "subject": "需要跟进：{account} 表示不满意",
        "greeting": "{manager}，您好：",
        "intro": "{account} 刚刚提交的满意度调查中有非常不满意的回答，请在 {due} 前联系客户。",
        "aspects": "不满意的方面：",
        "comment": "客户留言：",
        "link": "在此更新跟进状态：{url}",
    },
    "en": {
        "subject": "Follow-up needed: {account} is dissatisfied",
        "greeting": "Dear {manager},",
        "intro": "{account} has just answered our satisfaction survey very dissatisfied. "
        "Please contact them before {due}.",
        "aspects": "Dissatisfied with:",
        "comment": "Their comment:",
        "link": "Update the case here: {url}",
    },
}


def _compose(
    locale: str,
    *,
    account: str,
    manager: str,
    complaints: list[_Complaint],
    comment: str | None,
    due: datetime,
    url: str,
) -> tuple[str, str]:
    text = _MAIL_TEXT[locale]
    due_text = due.strftime("%Y-%m-%d")
    lines = [
        text["greeting"].format(manager=manager),
        "",
        text["intro"].format(account=account, due=due_text),
        "",
        text["aspects"],
    ]
    for c in complaints:
        label = Satisfaction(c.score).label(locale)
        extra = ", ".join(c.reasons)
        lines.append(f"- {c.label}: {c.score} ({label}){f' [{extra}]' if extra else ''}")
        if c.text:
            lines.append(f"  {c.text}")
    if comment:
        lines += ["", text["comment"], comment]
    lines += ["", text["link"].format(url=url), ""]
    return text["subject"].format(account=account), "\n".join(lines)


# ---------------------------------------------------------------------------
# Working a case


def is_overdue(status: str, due_at: datetime, now: datetime | None = None) -> bool:
    """Not resolved and past its due date."""
    return status != FOLLOW_UP_RESOLVED and due_at < (now or utcnow())


def update_follow_up(
    follow_up_id: int,
    *,
    status: str | None = None,
    note: str | None = None,
    author: str | None = None,
    now: datetime | None = None,
) -> FollowUp:
    """Move a case to `status` and/or add a note, in one transaction; every change is
    kept as a note (who, when, which status). Moving to CONTACTED or RESOLVED stamps
    the time the first time. NotFoundError for an unknown case, InvalidInputError for
    an unknown status, an empty change or a note too long."""
    if status is not None and status not in FOLLOW_UP_STATUSES:
        raise InvalidInputError(
            f"Unknown status {status!r}: use one of {', '.join(FOLLOW_UP_STATUSES)}.",
            field="status",
        )
    text = clean_text(note, limit=MAX_NOTE_LENGTH, field="note")
    if status is None and text is None:
        raise InvalidInputError("Give a new status, a note, or both.", field="status")
    who = (author or "").strip()[:AUTHOR_MAX_LENGTH] or None
    case = db.session.get(FollowUp, follow_up_id)
    if case is None:
        raise NotFoundError(f"There is no follow-up with ID {follow_up_id}.", field="id")
    now = now or utcnow()
    try:
        if status is not None:
            case.status = status
            if status in (FOLLOW_UP_CONTACTED, FOLLOW_UP_RESOLVED) and case.contacted_at is None:
                case.contacted_at = now
            if status == FOLLOW_UP_RESOLVED:
                case.resolved_at = case.resolved_at or now
            else:
                case.resolved_at = None  # re-opened
        db.session.add(
            FollowUpNote(follow_up_id=case.id, at=now, author=who, status=status, text=text)
        )
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
    return conditions


@dataclass(frozen=True, slots=True)
class FollowUpRow:
    """A follow-up case as a list shows it."""

    id: int
    account_id: int
    account_name: str
    external_id: str
    owner: str
    status: str
    opened_at: datetime
    due_at: datetime
    overdue: bool
    last_note: str | None


def list_follow_ups(
    *,
    status: str | None = None,
    owner: str | None = None,
    overdue: bool | None = None,
    limit: int = 200,
    now: datetime | None = None,
) -> list[FollowUpRow]:
    """Cases matching the filters, overdue first, then by due date (two queries:
    the cases with their accounts, and their latest notes' texts)."""
    now = now or utcnow()
    rows = db.session.execute(
        select(
            FollowUp.id,
            FollowUp.account_id,
            KeyAccount.name,
            KeyAccount.external_id,
            FollowUp.owner,
            FollowUp.status,
            FollowUp.opened_at,
            FollowUp.due_at,
        )
        .join(KeyAccount, KeyAccount.id == FollowUp.account_id)
        .where(*follow_up_conditions(status, owner, overdue, now))
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
    ).all()
    notes: dict[int, str] = {}
    if rows:
        for case_id, text in db.session.execute(
            select(FollowUpNote.follow_up_id, FollowUpNote.text)
            .where(
                FollowUpNote.follow_up_id.in_([r.id for r in rows]),
                FollowUpNote.text.is_not(None),
            )
            .order_by(FollowUpNote.follow_up_id, FollowUpNote.id)
        ):
            notes[case_id] = text  # the last one wins
    result = [
        FollowUpRow(
            id=r.id,
            account_id=r.account_id,
            account_name=r.name,
            external_id=r.external_id,
            owner=r.owner,
            status=r.status,
            opened_at=r.opened_at,
            due_at=r.due_at,
            overdue=is_overdue(r.status, r.due_at, now),
            last_note=notes.get(r.id),
        )
        for r in rows
    ]
    return sorted(result, key=lambda r: not r.overdue)  # stable: due date order kept


__all__ = [
    "DEFAULT_FOLLOW_UP_DAYS",
    "FOLLOW_UP_STATUSES",
    "KIND_FOLLOW_UP",
    "FollowUpRow",
    "follow_up_conditions",
    "is_overdue",
    "list_follow_ups",
    "needs_follow_up",
    "open_follow_up",
    "update_follow_up",
]
