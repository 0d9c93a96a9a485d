"""Escalation: a case still not resolved `ESCALATE_AFTER_DAYS` after its due date goes
up to the account's executive sponsor (an account team member with role
executive_sponsor and an e-mail) or, without one, to every active administrator with
an e-mail. Cases of accounts that have defected or are no longer active are not
escalated.

Each case is escalated exactly once: a conditional UPDATE ... WHERE escalated_at IS
NULL claims it, and only the run whose UPDATE changed the row writes the e-mails,
the note and the audit entry, in the same transaction. Two runs at once (cron and the
outbox worker) therefore send one e-mail: on PostgreSQL the second UPDATE waits for
the first to commit and then matches nothing. An escalated case can still be
contacted and resolved, and is never escalated again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from survey.audit import FOLLOW_UP_ESCALATE, record_audit
from survey.clock import utcnow
from survey.db import db
from survey.delivery import MailSettings
from survey.follow_ups.notices import (
    KIND_ESCALATION,
    Recipient,
    case_url,
    compose_escalation,
    queue_notice,
)
from survey.follow_ups.webhook_events import emit_follow_up
from survey.follow_ups.why import why_for_cases
from survey.models import (
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_RESOLVED,
    ROLE_ADMIN,
    AccountTeamMember,
    Defection,
    FollowUp,
    FollowUpNote,
    KeyAccount,
    StaffMember,
)
from survey.scale import DEFAULT_LOCALE, TeamRole, normalise_locale

DEFAULT_ESCALATE_AFTER_DAYS = 3
ESCALATED_TO_LENGTH = 120  # follow_ups.escalated_to
SYSTEM_ACTOR = "system:escalation"


@dataclass(frozen=True, slots=True)
class Escalated:
    """A case escalated (or, in a dry run, that would be) and to whom."""

    follow_up_id: int
    account_name: str
    external_id: str
    owner: str
    due_at: datetime
    to_sponsor: bool
    recipients: tuple[Recipient, ...]


@dataclass(frozen=True, slots=True)
class EscalationReport:
    dry_run: bool
    escalated: tuple[Escalated, ...]
    #: Cases due for escalation with nobody to send them to (no sponsor, no admin
    #: with an e-mail): left as they are, escalated by a later run once someone is.
    nobody_to_tell: tuple[int, ...]
    mails: int


def _staff_locales(emails: list[str]) -> dict[str, str]:
    """The language of the staff members with these e-mails (any case), by lower e-mail."""
    if not emails:
        return {}
    return {
        (email or "").strip().lower(): locale
        for email, locale in db.session.execute(
            select(StaffMember.email, StaffMember.locale).where(
                func.lower(StaffMember.email).in_([e.lower() for e in emails])
            )
        )
    }


def _sponsors(account_ids: list[int]) -> dict[int, list[Recipient]]:
    """Each account's executive sponsors with an e-mail, in their staff language or zh."""
    rows = db.session.execute(
        select(AccountTeamMember.account_id, AccountTeamMember.name, AccountTeamMember.email)
        .where(
            AccountTeamMember.account_id.in_(account_ids),
            AccountTeamMember.role == TeamRole.EXECUTIVE_SPONSOR.value,
            func.coalesce(func.trim(AccountTeamMember.email), "") != "",
        )
        .order_by(AccountTeamMember.account_id, AccountTeamMember.id)
    ).all()
    locales = _staff_locales([r.email.strip() for r in rows])
    found: dict[int, list[Recipient]] = defaultdict(list)
    for account_id, name, email in rows:
        address = email.strip()
        locale = normalise_locale(locales.get(address.lower())) or DEFAULT_LOCALE
        found[account_id].append(Recipient(name, address, locale))
    return found


def _admins() -> list[Recipient]:
    return [
        Recipient(name, email.strip(), normalise_locale(locale) or DEFAULT_LOCALE)
        for name, email, locale in db.session.execute(
            select(StaffMember.name, StaffMember.email, StaffMember.locale)
            .where(
                StaffMember.active.is_(True),
                StaffMember.role == ROLE_ADMIN,
                func.coalesce(func.trim(StaffMember.email), "") != "",
            )
            .order_by(StaffMember.name)
        )
    ]


def escalate_overdue(
    *,
    mail: MailSettings,
    after_days: int = DEFAULT_ESCALATE_AFTER_DAYS,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str = SYSTEM_ACTOR,
) -> EscalationReport:
    """Escalate every case not resolved `after_days` after its due date and not
    escalated before: status escalated, escalated_at, escalated_to, one e-mail per
    recipient in their language with the case's why and a link to it, a note and an
    audit entry; one commit per case. With `dry_run`, say what would happen and write
    nothing. Idempotent: a second run finds nothing to do."""
    if after_days < 0:
        raise ValueError("after_days must not be negative")
    now = now or utcnow()
    candidates = db.session.execute(
        select(
            FollowUp.id,
            FollowUp.account_id,
            FollowUp.owner,
            FollowUp.due_at,
            KeyAccount.name,
            KeyAccount.external_id,
        )
        .join(KeyAccount, KeyAccount.id == FollowUp.account_id)
        .where(
            FollowUp.status != FOLLOW_UP_RESOLVED,
            FollowUp.escalated_at.is_(None),
            FollowUp.due_at < now - timedelta(days=after_days),
            # A lost or retired account has nobody left to win back: its case stays
            # open for the record (its root cause), but nobody is woken for it.
            KeyAccount.active.is_(True),
            ~select(Defection.id).where(Defection.account_id == FollowUp.account_id).exists(),
        )
        .order_by(FollowUp.due_at, FollowUp.id)
    ).all()
    if not candidates:
        db.session.rollback()  # ends the read transaction
        return EscalationReport(dry_run, (), (), 0)
    sponsors = _sponsors(sorted({c.account_id for c in candidates}))
    admins = _admins()
    done: list[Escalated] = []
    nobody: list[int] = []
    mails = 0
    for c in candidates:
        to_sponsor = bool(sponsors.get(c.account_id))
        recipients = tuple(sponsors.get(c.account_id) or admins)
        if not recipients:
            nobody.append(c.id)
            continue
        escalated = Escalated(
            c.id, c.name, c.external_id, c.owner, c.due_at, to_sponsor, recipients
        )
        if dry_run:
            done.append(escalated)
            continue
        sent = _escalate_one(escalated, mail, now, actor)
        if sent is not None:
            done.append(escalated)
            mails += sent
    if dry_run:
        db.session.rollback()
    return EscalationReport(dry_run, tuple(done), tuple(nobody), mails)


def _escalate_one(case: Escalated, mail: MailSettings, now: datetime, actor: str) -> int | None:
    """Claim one case and, if this run got it, queue its e-mails, note and audit entry;
    commits. Returns how many e-mails were queued, or None when another run (or a
    resolution in between) took the case first."""
    names = ", ".join(dict.fromkeys(r.name for r in case.recipients))
    try:
        claimed = db.session.execute(
            update(FollowUp)
            .where(
                FollowUp.id == case.follow_up_id,
                FollowUp.escalated_at.is_(None),
                FollowUp.status != FOLLOW_UP_RESOLVED,
            )
            .values(
                status=FOLLOW_UP_ESCALATED,
                escalated_at=now,
                escalated_to=names[:ESCALATED_TO_LENGTH],
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()
            return None
        whys = {
            locale: why_for_cases([case.follow_up_id], locale).get(case.follow_up_id)
            for locale in sorted({r.locale for r in case.recipients})
        }
        messages = []
        for to in case.recipients:
            subject, body = compose_escalation(
                to.locale,
                name=to.name,
                account=f"{case.account_name} ({case.external_id})",
                owner=case.owner,
                why=whys[to.locale],
                due=case.due_at,
                url=case_url(mail, case.follow_up_id),
            )
            messages.append((to, subject, body))
        sent = queue_notice(KIND_ESCALATION, mail, messages, now=now)
        db.session.add(
            FollowUpNote(
                follow_up_id=case.follow_up_id,
                at=now,
                author=actor,
                status=FOLLOW_UP_ESCALATED,
                text=None,
            )
        )
        record_audit(
            actor,
            FOLLOW_UP_ESCALATE,
            "follow_up",
            case.follow_up_id,
            {
                "to": [r.name for r in case.recipients],
                "executive_sponsor": case.to_sponsor,
                "emails": sent,
            },
            at=now,
        )
        emit_follow_up("escalated", case.follow_up_id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return sent


__all__ = [
    "DEFAULT_ESCALATE_AFTER_DAYS",
    "Escalated",
    "EscalationReport",
    "escalate_overdue",
]
