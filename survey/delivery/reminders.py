"""Reminders: one more e-mail to the invited who have not answered yet."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update

from survey.audit import CAMPAIGN_REMIND, record_audit
from survey.clock import utcnow
from survey.db import db
from survey.delivery.mail import KIND_REMINDER, MailSettings
from survey.delivery.outbox import has_email, queue_mail
from survey.errors import InvalidInputError, NotFoundError, SurveyClosedError
from survey.models import (
    CAMPAIGN_OPEN,
    INVITATION_OPENED,
    INVITATION_SENT,
    OUTBOX_QUEUED,
    OUTBOX_SENDING,
    Campaign,
    Contact,
    Invitation,
    OutboxMessage,
)

#: At most this many reminders per invitation.
MAX_REMINDERS = 2
MAX_REMINDER_AFTER_DAYS = 365


def queue_reminders(
    campaign_id: int,
    settings: MailSettings,
    *,
    after_days: int = 5,
    now: datetime | None = None,
    actor: str | None = None,
) -> int:
    """Queue one reminder per invitation of an open campaign that was e-mailed (sent
    or opened), has no answer, did not bounce, got fewer than MAX_REMINDERS
    reminders, and was last e-mailed (invitation or reminder) at least `after_days`
    days ago. Commits; returns how many reminders were queued.

    NotFoundError for an unknown campaign, SurveyClosedError for a closed one,
    InvalidInputError for `after_days` outside 0..365.
    """
    if not 0 <= after_days <= MAX_REMINDER_AFTER_DAYS:
        raise InvalidInputError(
            f"after_days must be between 0 and {MAX_REMINDER_AFTER_DAYS}, got {after_days}.",
            field="after_days",
        )
    now = now or utcnow()
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    if campaign.status != CAMPAIGN_OPEN or campaign.closes_at <= now:
        raise SurveyClosedError(
            f"Campaign {campaign_id} is closed: reminders go to open campaigns only.",
            field="campaign_id",
        )
    cutoff = now - timedelta(days=after_days)
    last_contact = func.coalesce(Invitation.last_reminded_at, Invitation.sent_at)
    in_flight = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.invitation_id == Invitation.id,
            OutboxMessage.status.in_((OUTBOX_QUEUED, OUTBOX_SENDING)),
        )
        .exists()
    )
    eligible = and_(
        Invitation.campaign_id == campaign_id,
        Invitation.status.in_((INVITATION_SENT, INVITATION_OPENED)),
        Invitation.reminders_sent < MAX_REMINDERS,
        last_contact <= cutoff,
        ~in_flight,
        select(Contact.id)
        .where(
            Contact.id == Invitation.contact_id,
            has_email(),
            Contact.opted_out_at.is_(None),
        )
        .exists(),
    )
    try:
        # The conditions are checked again by the UPDATE itself, so two managers
        # pressing "remind" at once cannot queue two reminders for one invitation.
        reminded = list(
            db.session.scalars(
                update(Invitation)
                .where(eligible)
                .values(reminders_sent=Invitation.reminders_sent + 1, last_reminded_at=now)
                .returning(Invitation.id)
                .execution_options(synchronize_session=False)
            )
        )
        queued = queue_mail(KIND_REMINDER, settings, invitation_ids=reminded, now=now)
        record_audit(
            actor,
            CAMPAIGN_REMIND,
            "campaign",
            campaign_id,
            {"queued": queued, "after_days": after_days},
            at=now,
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return queued


__all__ = [
    "MAX_REMINDERS",
    "MAX_REMINDER_AFTER_DAYS",
    "queue_reminders",
]
