"""Submitted responses, their answers and reasons, and exit-survey feedback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.db import UTCDateTime, db
from survey.models.campaigns import Aspect, Campaign, Invitation
from survey.models.registry import Contact, KeyAccount


class Response(db.Model):
    """A submitted questionnaire. At most one per invitation (unique constraint)."""

    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_account_submitted", "account_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), unique=True
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("key_accounts.id"), index=True)
    #: The person who answered (their role feeds `Dimension.CONTACT_ROLE`).
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")
    locale: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text)
    entered_by: Mapped[str | None] = mapped_column(String(120))

    invitation: Mapped[Invitation] = relationship(lazy="raise")
    campaign: Mapped[Campaign] = relationship(lazy="raise")
    account: Mapped[KeyAccount] = relationship(lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")
    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", lazy="raise", cascade="all, delete-orphan"
    )


class Answer(db.Model):
    """One (response, aspect) score on the five-point scale, with why when unhappy."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("response_id", "aspect_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        Index("ix_answers_aspect_score", "aspect_id", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    aspect_id: Mapped[int] = mapped_column(ForeignKey("aspects.id"))
    score: Mapped[int] = mapped_column(SmallInteger)
    reason_text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers", lazy="raise")
    aspect: Mapped[Aspect] = relationship(lazy="raise")
    reasons: Mapped[list[AnswerReason]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="AnswerReason.reason"
    )


class AnswerReason(db.Model):
    __tablename__ = "answer_reasons"

    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class ExitFeedback(db.Model):
    """A lost account's answers to the exit survey ("why did you leave?")."""

    __tablename__ = "exit_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), unique=True
    )
    main_reason: Mapped[str] = mapped_column(String(40), index=True)
    other_reasons: Mapped[str | None] = mapped_column(String(400))  # comma-separated codes
    what_would_have_kept: Mapped[str | None] = mapped_column(Text)
    would_return: Mapped[str | None] = mapped_column(String(8))  # yes | maybe | no
