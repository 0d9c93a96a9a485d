"""Opting out: whom an opt-out link speaks for, and taking that account out of
every future survey (the link itself is made in survey.delivery.mail).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from survey.clock import utcnow
from survey.db import db
from survey.delivery.mail import check_optout_mac, parse_optout_token
from survey.models import OUTBOX_FAILED, OUTBOX_QUEUED, Invitation, KeyAccount, OutboxMessage


@dataclass(frozen=True, slots=True)
class OptOutTarget:
    """Whom an opt-out link speaks for."""

    invitation_id: int
    account_id: int
    account_name: str
    locale: str
    opted_out_at: datetime | None


def load_optout(token: str, secret_key: str) -> OptOutTarget | None:
    """The account an opt-out link belongs to, or None for any bad link (one query)."""
    parsed = parse_optout_token(token)
    if parsed is None:
        return None
    invitation_id, mac = parsed
    row = db.session.execute(
        select(
            Invitation.token_nonce,
            Invitation.locale,
            KeyAccount.id,
            KeyAccount.name,
            KeyAccount.opted_out_at,
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .where(Invitation.id == invitation_id)
    ).one_or_none()
    if row is None or not check_optout_mac(secret_key, row.token_nonce, mac):
        return None
    return OptOutTarget(invitation_id, row.id, row.name, row.locale, row.opted_out_at)


def opt_out(token: str, secret_key: str, *, now: datetime | None = None) -> OptOutTarget | None:
    """Opt the link's account out of every future survey: it leaves the sampling
    frame, and e-mails still queued for it are not sent. Idempotent (the first
    time is kept). Commits; None for a bad link."""
    target = load_optout(token, secret_key)
    if target is None:
        return None
    now = now or utcnow()
    try:
        db.session.execute(
            update(KeyAccount)
            .where(KeyAccount.id == target.account_id, KeyAccount.opted_out_at.is_(None))
            .values(opted_out_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == OUTBOX_QUEUED,
                OutboxMessage.invitation_id.in_(
                    select(Invitation.id).where(Invitation.account_id == target.account_id)
                ),
            )
            .values(status=OUTBOX_FAILED, last_error="not sent: the contact opted out")
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return load_optout(token, secret_key)


__all__ = [
    "OptOutTarget",
    "load_optout",
    "opt_out",
]
