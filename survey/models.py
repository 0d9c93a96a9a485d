"""Typed SQLAlchemy 2.0 models.

Relationships are `lazy="raise"`: code must say what it loads (selectinload,
joinedload), so an accidental query per row fails in tests instead of in
production.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.data_version import DataVersion  # noqa: F401  (see below)
from survey.db import UTCDateTime, db

# survey.data_version comes with the models: its table, and the session events that
# give the data a new token with every write the figures read, so no process that
# writes runs without them.

# Invitation life-cycle.
INVITATION_PENDING = "pending"
INVITATION_SENT = "sent"
INVITATION_OPENED = "opened"
INVITATION_RESPONDED = "responded"
INVITATION_BOUNCED = "bounced"
INVITATION_EXPIRED = "expired"
INVITATION_STATUSES = (
    INVITATION_PENDING,
    INVITATION_SENT,
    INVITATION_OPENED,
    INVITATION_RESPONDED,
    INVITATION_BOUNCED,
    INVITATION_EXPIRED,
)

CAMPAIGN_OPEN = "open"
CAMPAIGN_CLOSED = "closed"
KIND_SATISFACTION = "satisfaction"
KIND_EXIT = "exit"

ROLE_VIEWER = "viewer"
ROLE_MANAGER = "manager"
ROLE_ADMIN = "admin"
ROLES = (ROLE_VIEWER, ROLE_MANAGER, ROLE_ADMIN)

SOURCE_STAFF = "staff"
SOURCE_EXIT_SURVEY = "exit_survey"


class KeyAccount(db.Model):
    """A key account (大客户) in the registry, keyed by the company's own id."""

    __tablename__ = "key_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(8), index=True)
    value_type: Mapped[str] = mapped_column(String(32), index=True)
    relationship_stage: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str] = mapped_column(String(100), index=True)
    annual_revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    account_manager: Mapped[str] = mapped_column(String(120), index=True)
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    defection: Mapped[Defection | None] = relationship(
        back_populates="account", lazy="raise", uselist=False
    )

    def __repr__(self) -> str:
        return f"<KeyAccount {self.external_id} {self.name!r}>"


class Aspect(db.Model):
    """An aspect of the company the questionnaire asks about (e.g. delivery)."""

    __tablename__ = "aspects"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    question_zh: Mapped[str] = mapped_column(String(300))
    question_en: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh

    def question(self, locale: str | None) -> str:
        return self.question_en if locale == "en" else self.question_zh


class Questionnaire(db.Model):
    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=KIND_SATISFACTION)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[QuestionnaireItem]] = relationship(
        back_populates="questionnaire",
        lazy="raise",
        order_by="QuestionnaireItem.position",
        cascade="all, delete-orphan",
    )


class QuestionnaireItem(db.Model):
    __tablename__ = "questionnaire_items"

    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaires.id", ondelete="CASCADE"), primary_key=True
    )
    aspect_id: Mapped[int] = mapped_column(ForeignKey("aspects.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="items", lazy="raise")
    aspect: Mapped[Aspect] = relationship(lazy="raise")


class Campaign(db.Model):
    """A sample survey campaign: who was drawn, how, and until when it is open."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=KIND_SATISFACTION)
    status: Mapped[str] = mapped_column(String(16), default=CAMPAIGN_OPEN, index=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(120))
    # How the sample was drawn, so it can be audited and re-drawn.
    method: Mapped[str] = mapped_column(String(16))  # simple | stratified
    stratify_by: Mapped[str | None] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(BigInteger)
    frame_size: Mapped[int] = mapped_column(Integer)
    sample_size: Mapped[int] = mapped_column(Integer)
    exclude_days: Mapped[int] = mapped_column(Integer, default=90)

    questionnaire: Mapped[Questionnaire] = relationship(lazy="raise")
    strata: Mapped[list[CampaignStratum]] = relationship(
        back_populates="campaign",
        lazy="raise",
        order_by="CampaignStratum.key",
        cascade="all, delete-orphan",
    )

    @property
    def is_open(self) -> bool:
        return self.status == CAMPAIGN_OPEN and utcnow() < self.closes_at


class CampaignStratum(db.Model):
    """The allocation recorded at launch: frame size and sample size per stratum."""

    __tablename__ = "campaign_strata"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    frame: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)

    campaign: Mapped[Campaign] = relationship(back_populates="strata", lazy="raise")


class CampaignFrameMember(db.Model):
    """The sampling frame as it was at launch, so a sample can be re-drawn later."""

    __tablename__ = "campaign_frame_members"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("key_accounts.id"), primary_key=True)
    #: The account's external id at launch: the sort key of the draw, kept so that
    #: renaming an account later does not change how its campaigns re-draw.
    external_id: Mapped[str] = mapped_column(String(64))
    stratum: Mapped[str | None] = mapped_column(String(100))


class Invitation(db.Model):
    """One sampled account's personal invitation to a campaign.

    Only a SHA-256 hash of the link token is stored. The token itself is an HMAC of
    the app's secret key and `token_nonce`, so links can be printed again by whoever
    holds the secret key, while a copy of the database alone opens no survey.
    """

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("campaign_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("key_accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_nonce: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    stratum: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=INVITATION_PENDING, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounce_reason: Mapped[str | None] = mapped_column(String(500))

    campaign: Mapped[Campaign] = relationship(lazy="raise")
    account: Mapped[KeyAccount] = relationship(lazy="raise")


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
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")
    locale: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text)
    entered_by: Mapped[str | None] = mapped_column(String(120))

    invitation: Mapped[Invitation] = relationship(lazy="raise")
    campaign: Mapped[Campaign] = relationship(lazy="raise")
    account: Mapped[KeyAccount] = relationship(lazy="raise")
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


class Defection(db.Model):
    """A lost key account: when it left and why ("where is our black box?")."""

    __tablename__ = "defections"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("key_accounts.id"), unique=True)
    defected_on: Mapped[date] = mapped_column(Date, index=True)
    competitor: Mapped[str | None] = mapped_column(String(200))
    lost_annual_revenue: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_STAFF)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str | None] = mapped_column(String(120))

    account: Mapped[KeyAccount] = relationship(back_populates="defection", lazy="raise")
    reasons: Mapped[list[DefectionReason]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="(DefectionReason.is_primary.desc(), DefectionReason.reason)",
    )

    @property
    def primary_reason(self) -> str | None:
        return next((r.reason for r in self.reasons if r.is_primary), None)


class DefectionReason(db.Model):
    __tablename__ = "defection_reasons"

    defection_id: Mapped[int] = mapped_column(
        ForeignKey("defections.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class StaffMember(db.Model):
    """Someone inside the company who reads results or runs campaigns."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=ROLE_VIEWER)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="staff", lazy="raise", cascade="all, delete-orphan"
    )


class ApiToken(db.Model):
    """A bearer token for the GraphQL API; only its SHA-256 hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff: Mapped[StaffMember] = relationship(back_populates="tokens", lazy="raise")


# Outbox: e-mail written in the same transaction as what it announces, delivered later.
OUTBOX_QUEUED = "queued"
OUTBOX_SENDING = "sending"
OUTBOX_SENT = "sent"
OUTBOX_FAILED = "failed"  # gave up after the retry limit
OUTBOX_BOUNCED = "bounced"  # permanent rejection (5xx)


class OutboxMessage(db.Model):
    """One e-mail to deliver. Workers claim rows, send, then mark them."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # invitation | reminder | follow_up
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    # A stable Message-ID lets a receiving server (and us) recognise a resend.
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OUTBOX_QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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


FOLLOW_UP_OPEN = "open"
FOLLOW_UP_CONTACTED = "contacted"
FOLLOW_UP_RESOLVED = "resolved"


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


class AuditEntry(db.Model):
    """Who did what, when: campaign launches and closes, reminders, defections, tokens."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str | None] = mapped_column(Text)  # JSON
