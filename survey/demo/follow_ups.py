"""The demo's follow-up work: an administrator (and the sponsors of survey/demo/team.py)
to escalate to, overdue cases escalated through the real service, some of them then contacted or
resolved with a root cause and notes. Deterministic (case id order, no randomness)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from survey.db import db
from survey.delivery import MailSettings
from survey.follow_ups import DEFAULT_ESCALATE_AFTER_DAYS, escalate_overdue, update_follow_up
from survey.models import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    ROLE_ADMIN,
    AccountTeamMember,
    Answer,
    Aspect,
    Defection,
    FollowUp,
    KeyAccount,
    StaffMember,
)
from survey.scale import ASPECT_REASON, DISSATISFIED_MAX, ReasonCode, TeamRole

DEMO_ADMIN = "demo-admin"
DEMO_ADMIN_EMAIL = "demo-admin@example.com"
#: The executive sponsor who is also staff and reads English (survey/demo/team.py
#: makes him sponsor of some strategic accounts); the other sponsors are not staff.
SPONSOR_STAFF = ("Michael Sun", "michael.sun@example.com", "en")
_NOTES = (
    ("已与客户高层通话，确认了问题所在。", "查明原因后已调整流程，客户确认满意。"),
    ("客户要求书面改进方案，已发送。", "改进方案已落实，回访客户表示认可。"),
)


def root_cause_for(follow_up_id: int) -> str:
    """The shared reason code of the first aspect the case's response scored 1-2."""
    code = db.session.scalar(
        select(Aspect.code)
        .join(Answer, Answer.aspect_id == Aspect.id)
        .join(FollowUp, FollowUp.response_id == Answer.response_id)
        .where(FollowUp.id == follow_up_id, Answer.score <= DISSATISFIED_MAX)
        .where(Aspect.code.in_(list(ASPECT_REASON)))
        .order_by(Answer.score, Aspect.position)
        .limit(1)
    )
    return ASPECT_REASON[code].value if code else ReasonCode.OTHER.value


def work_follow_ups(*, secret_key: str, base_url: str, now: datetime) -> int:
    """Give escalation someone to tell, escalate the overdue cases, then work a few of
    them (contacted; resolved with a root cause). Returns how many were escalated."""
    # Escalation ran two days ago; the owners picked some cases up since.
    escalated_at = now - timedelta(days=2)
    db.session.add(
        StaffMember(name=DEMO_ADMIN, email=DEMO_ADMIN_EMAIL, role=ROLE_ADMIN, locale="en")
    )
    name, email, locale = SPONSOR_STAFF
    db.session.add(StaffMember(name=name, email=email, role="viewer", locale=locale))
    # He also sponsors the account of the oldest overdue case, so one escalation goes
    # to a sponsor in English and the rest to a sponsor in Chinese or the admins.
    oldest_overdue = db.session.scalar(
        select(FollowUp.account_id)
        .join(KeyAccount, KeyAccount.id == FollowUp.account_id)
        .where(
            FollowUp.status == FOLLOW_UP_OPEN,
            FollowUp.due_at < escalated_at - timedelta(days=DEFAULT_ESCALATE_AFTER_DAYS),
            KeyAccount.active.is_(True),
            ~select(Defection.id).where(Defection.account_id == FollowUp.account_id).exists(),
        )
        .order_by(FollowUp.id)
        .limit(1)
    )
    if oldest_overdue is not None:
        db.session.execute(
            delete(AccountTeamMember).where(
                AccountTeamMember.account_id == oldest_overdue,
                AccountTeamMember.role == TeamRole.EXECUTIVE_SPONSOR.value,
            )
        )
        db.session.add(
            AccountTeamMember(
                account_id=oldest_overdue,
                name=name,
                email=email,
                role=TeamRole.EXECUTIVE_SPONSOR.value,
            )
        )
    db.session.commit()
    report = escalate_overdue(
        mail=MailSettings(secret_key=secret_key, base_url=base_url),
        now=escalated_at,
        actor="demo",
    )
    escalated = [e.follow_up_id for e in report.escalated]
    owners = {
        case_id: owner
        for case_id, owner in db.session.execute(
            select(FollowUp.id, FollowUp.owner).where(FollowUp.id.in_(escalated))
        )
    }
    for index, case_id in enumerate(escalated[:4]):
        contacted, resolved = _NOTES[index % 2]
        owner = owners[case_id]
        update_follow_up(
            case_id,
            status=FOLLOW_UP_CONTACTED,
            note=contacted,
            author=owner,
            now=escalated_at + timedelta(hours=20 + index),
        )
        if index < 2:
            update_follow_up(
                case_id,
                status=FOLLOW_UP_RESOLVED,
                note=resolved,
                author=owner,
                root_cause=root_cause_for(case_id),
                root_cause_note="示例数据 / demo data",
                now=escalated_at + timedelta(hours=40 + index),
            )
    return len(escalated)


__all__ = ["DEMO_ADMIN", "root_cause_for", "work_follow_ups"]
