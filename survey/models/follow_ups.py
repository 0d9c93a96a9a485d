"""Follow-up cases opened by very dissatisfied answers, and their notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.db import UTCDateTime, db

FOLLOW_UP_OPEN = "open"
FOLLOW_UP_CONTACTED = "contacted"
FOLLOW_UP_RESOLVED = "resolved"
#: Still open `ESCALATE_AFTER_DAYS` after its due date: sent up to the executive sponsor.
FOLLOW_UP_ESCALATED = "escalated"


class FollowUp(db.Model):
    """A case for the account manager after a very dissatisfied response."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("key_accounts.id"), index=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), unique=True
    )
    owner: Mapped[str] = mapped_column(String(120), index=True)
    status: Mapped[str] = mapped_column(String(16), default=FOLLOW_UP_OPEN, index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who the case was escalated to (the executive sponsor's or an admin's name).
    escalated_to: Mapped[str | None] = mapped_column(String(120))
    #: Why it happened, one of the shared reason codes; required to resolve a case.
    root_cause: Mapped[str | None] = mapped_column(String(40), index=True)
    root_cause_note: Mapped[str | None] = mapped_column(Text)

    notes: Mapped[list[FollowUpNote]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="FollowUpNote.id"
    )


class FollowUpNote(db.Model):
    __tablename__ = "follow_up_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(
        ForeignKey("follow_ups.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
