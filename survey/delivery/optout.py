"""Opting out: whom an opt-out link speaks for, and taking that contact out of
every future survey (the link itself is made in survey.delivery.mail). Each contact
opts out for themselves: the other people of the account are still asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import aliased

from survey.clock import utcnow
from survey.db import db
from survey.delivery.mail import check_optout_mac, parse_optout_token
from survey.models import (
    OUTBOX_FAILED,
    OUTBOX_QUEUED,
    Contact,
    Invitation,
    KeyAccount,
    OutboxMessage,
)


@dataclass(frozen=True, slots=True)
class OptOutTarget:
    """Whom an opt-out link speaks for."""

    invitation_id: int
    account_id: int
    account_name: str
    locale: str
    opted_out_at: datetime | None
    #: The contact the invitation was for (None only for invitations older than contacts).
    contact_id: int | None = None
    contact_name: str = ""


def load_optout(token: str, secret_key: str) -> OptOutTarget | None:
    """The contact an opt-out link belongs to, or None for any bad link (one query).
    An invitation older than contacts speaks for its account's primary contact."""
    parsed = parse_optout_token(token)
    if parsed is None:
        return None
    invitation_id, mac = parsed
    other = aliased(Contact)
    primary = (
        select(other.id)
        .where(other.account_id == Invitation.account_id, other.is_primary.is_(True))
        .correlate(Invitation)
        .scalar_subquery()
    )
    row = db.session.execute(
        select(
            Invitation.token_nonce,
            Invitation.locale,
            KeyAccount.id,
            KeyAccount.name,
            Contact.opted_out_at,
            Contact.id.label("contact_id"),
            Contact.name.label("contact_name"),
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .outerjoin(Contact, Contact.id == func.coalesce(Invitation.contact_id, primary))
        .where(Invitation.id == invitation_id)
    ).one_or_none()
    if row is None or not check_optout_mac(secret_key, row.token_nonce, mac):
        return None
    return OptOutTarget(
        invitation_id,
        row.id,
        row.name,
        row.locale,
        row.opted_out_at,
        row.contact_id,
        row.contact_name or "",
    )


def opt_out(token: str, secret_key: str, *, now: datetime | None = None) -> OptOutTarget | None:
    """Opt the link's contact out of every future survey: they are never invited
    again, and e-mails still queued for them are not sent. The account's other
    contacts are not touched. Idempotent (the first time is kept). Commits; None for
    a bad link."""
    target = load_optout(token, secret_key)
    if target is None or target.contact_id is None:
        return target
    now = now or utcnow()
    try:
        db.session.execute(
            update(Contact)
            .where(Contact.id == target.contact_id, Contact.opted_out_at.is_(None))
            .values(opted_out_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == OUTBOX_QUEUED,
                OutboxMessage.invitation_id.in_(
                    select(Invitation.id).where(
                        or_(
                            Invitation.contact_id == target.contact_id,
                            Invitation.id == target.invitation_id,
                        )
                    )
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
