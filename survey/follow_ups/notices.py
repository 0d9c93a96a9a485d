"""The e-mails about follow-up cases, in the recipient's language: "a case was opened
for you" to the account manager, and "this case is escalated to you" to the executive
sponsor or the administrators. Plain text, written into the outbox in the caller's
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert

from survey.db import db
from survey.delivery import MailSettings
from survey.follow_ups.why import CaseWhy
from survey.formats import format_day
from survey.models import OUTBOX_QUEUED, OutboxMessage
from survey.scale import DEFAULT_LOCALE, normalise_locale

KIND_FOLLOW_UP = "follow_up"
KIND_ESCALATION = "follow_up_escalation"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone an e-mail goes to, in their language."""

    name: str
    email: str
    locale: str


_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "subject": "需要跟进：{account} 表示不满意",
        "greeting": "{name}，您好：",
        "intro": "{account} 刚刚提交的满意度调查中有非常不满意的回答，请在 {due} 前联系客户。",
        "escalation_subject": "跟进升级：{account} 的不满意案例已逾期",
        "escalation_intro": "{account} 的跟进案例（负责人：{owner}）应在 {due} 前处理，"
        "至今仍未解决，现升级给您。",
        "aspects": "不满意的方面：",
        "reasons": "原因：",
        "role": "答卷人角色：{role}",
        "comment": "客户留言：",
        "link": "在此更新跟进状态：{url}",
        "case_link": "查看并处理此案例：{url}",
    },
    "en": {
        "subject": "Follow-up needed: {account} is dissatisfied",
        "greeting": "Dear {name},",
        "intro": "{account} has just answered our satisfaction survey very dissatisfied. "
        "Please contact them before {due}.",
        "escalation_subject": "Escalated follow-up: {account} is still dissatisfied",
        "escalation_intro": "The follow-up case of {account} (owner: {owner}) was due on "
        "{due} and is still not resolved, so it is escalated to you.",
        "aspects": "Dissatisfied with:",
        "reasons": "reasons: ",
        "role": "Answered by: {role}",
        "comment": "Their comment:",
        "link": "Update the case here: {url}",
        "case_link": "See and work the case: {url}",
    },
}


def _locale(locale: str | None) -> str:
    return normalise_locale(locale) or DEFAULT_LOCALE


def why_lines(why: CaseWhy | None, locale: str) -> list[str]:
    """The case's why as lines of an e-mail (the aspects, who answered, the comment)."""
    text = _TEXT[_locale(locale)]
    if why is None:
        return []
    lines = [text["aspects"]]
    for a in why.aspects:
        reasons = ("、" if locale != "en" else ", ").join(r.label for r in a.reasons)
        extra = f" [{text['reasons']}{reasons}]" if reasons else ""
        lines.append(f"- {a.label}: {a.score} ({a.score_label}){extra}")
        if a.reason_text:
            lines.append(f"  {a.reason_text}")
    if why.respondent_role_label:
        lines += ["", text["role"].format(role=why.respondent_role_label)]
    if why.comment:
        lines += ["", text["comment"], why.comment]
    return lines


def compose_opened(
    locale: str, *, manager: str, account: str, why: CaseWhy | None, due: datetime, url: str
) -> tuple[str, str]:
    """Subject and body of "a case was opened for you"."""
    locale = _locale(locale)
    text = _TEXT[locale]
    lines = [
        text["greeting"].format(name=manager),
        "",
        text["intro"].format(account=account, due=format_day(due, locale)),
        "",
        *why_lines(why, locale),
        "",
        text["link"].format(url=url),
        "",
    ]
    return text["subject"].format(account=account), "\n".join(lines)


def compose_escalation(
    locale: str,
    *,
    name: str,
    account: str,
    owner: str,
    why: CaseWhy | None,
    due: datetime,
    url: str,
) -> tuple[str, str]:
    """Subject and body of "this case is escalated to you"."""
    locale = _locale(locale)
    text = _TEXT[locale]
    lines = [
        text["greeting"].format(name=name),
        "",
        text["escalation_intro"].format(account=account, owner=owner, due=format_day(due, locale)),
        "",
        *why_lines(why, locale),
        "",
        text["case_link"].format(url=url),
        "",
    ]
    return text["escalation_subject"].format(account=account), "\n".join(lines)


def queue_notice(
    kind: str,
    mail: MailSettings,
    messages: Sequence[tuple[Recipient, str, str]],
    *,
    now: datetime,
) -> int:
    """Write one outbox row per (recipient, subject, body), in the caller's transaction
    (one INSERT); returns how many."""
    if not messages:
        return 0
    db.session.execute(
        insert(OutboxMessage.__table__),
        [
            {
                "kind": kind,
                "invitation_id": None,
                "to_address": to.email,
                "subject": subject,
                "body_text": body,
                "body_html": None,
                "locale": _locale(to.locale),
                "message_id": f"<kp-{kind}-{uuid.uuid4().hex}@{mail.sender_domain}>",
                "status": OUTBOX_QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for to, subject, body in messages
        ],
    )
    return len(messages)


def case_url(mail: MailSettings, follow_up_id: int) -> str:
    return f"{mail.base_url}/manage/follow-ups/{follow_up_id}"


__all__ = [
    "KIND_ESCALATION",
    "KIND_FOLLOW_UP",
    "Recipient",
    "case_url",
    "compose_escalation",
    "compose_opened",
    "queue_notice",
    "why_lines",
]
