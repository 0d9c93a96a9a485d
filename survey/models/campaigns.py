"""Questionnaires, campaigns, their sampling frames and strata, and personal invitations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.db import UTCDateTime, db
from survey.models.registry import Contact, KeyAccount

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
#: Whom of a sampled account a campaign invites.
CONTACTS_PRIMARY = "primary"
CONTACTS_ALL = "all"
CONTACT_CHOICES = (CONTACTS_PRIMARY, CONTACTS_ALL)
#: How an account came into a sample: surveyed in full (a census tier), because it
#: would otherwise go unheard too long (the coverage goal), or drawn at random.
SELECTION_CENSUS = "census"
SELECTION_COVERAGE = "coverage"
SELECTION_RANDOM = "random"
SELECTIONS = (SELECTION_CENSUS, SELECTION_COVERAGE, SELECTION_RANDOM)
#: How often a schedule launches a campaign.
CADENCES = ("month", "quarter", "half-year", "year")


def codes_to_column(codes: Iterable[str]) -> str | None:
    """Codes as a list column stores them (census tiers, contact roles): comma-separated,
    None for none."""
    return ",".join(codes) or None


def column_to_codes(text: str | None) -> tuple[str, ...]:
    """A list column (census tiers, contact roles) back as codes."""
    return tuple(part for part in (text or "").split(",") if part)


class Schedule(db.Model):
    """A named sampling plan with a cadence: one campaign per cycle (定期调查)."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    every: Mapped[str] = mapped_column(String(16))  # one of CADENCES
    starts_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16), default=KIND_SATISFACTION)
    #: The randomly drawn part of each cycle: a size or a fraction of the frame.
    size: Mapped[int | None] = mapped_column(Integer)
    fraction: Mapped[float | None] = mapped_column(Float)
    stratify_by: Mapped[str | None] = mapped_column(String(32))
    #: Tiers surveyed in full every cycle (comma-separated tier codes).
    census_tiers: Mapped[str | None] = mapped_column(String(40))
    cover_within_days: Mapped[int] = mapped_column(Integer, default=365)
    include_open_cases: Mapped[bool] = mapped_column(Boolean, default=False)
    contacts: Mapped[str] = mapped_column(String(16), default=CONTACTS_PRIMARY)
    contact_roles: Mapped[str | None] = mapped_column(String(200))
    closes_after_days: Mapped[int] = mapped_column(Integer, default=21)
    exclude_days: Mapped[int] = mapped_column(Integer, default=90)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(120))


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
    __table_args__ = (UniqueConstraint("schedule_id", "cycle", name="uq_campaigns_schedule_cycle"),)

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
    #: Whom of each sampled account it invites: its primary contact or all its
    #: contacts (CONTACTS_PRIMARY / CONTACTS_ALL), narrowed to `contact_roles` when
    #: set (role codes, comma-separated).
    contacts: Mapped[str] = mapped_column(
        String(16), default=CONTACTS_PRIMARY, server_default=CONTACTS_PRIMARY
    )
    contact_roles: Mapped[str | None] = mapped_column(String(200))
    #: The panel design: tiers surveyed in full (comma-separated), the coverage goal
    #: in days (None: none), and whether accounts with an open case stay in the frame
    #: (campaigns launched before this choice existed kept them).
    census_tiers: Mapped[str | None] = mapped_column(String(40))
    cover_within_days: Mapped[int | None] = mapped_column(Integer)
    include_open_cases: Mapped[bool] = mapped_column(Boolean, default=False, server_default=true())
    #: The schedule and cycle (e.g. "2026-Q4") that launched it; at most one campaign
    #: per cycle of a schedule.
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"), index=True)
    cycle: Mapped[str | None] = mapped_column(String(16))

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
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", name="uq_invitations_campaign_contact"),
        Index("ix_invitations_campaign_account", "campaign_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("key_accounts.id"), index=True)
    #: Who at the account this link is for (None only for invitations older than contacts).
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_nonce: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    stratum: Mapped[str | None] = mapped_column(String(100))
    #: The account's inclusion probability π (1 for census and coverage accounts,
    #: n_h/N_h in a randomly sampled stratum) and how it came in (SELECTIONS); the
    #: DESIGN weight is 1/π.
    inclusion_probability: Mapped[float | None] = mapped_column(Float)
    selection: Mapped[str | None] = mapped_column(String(16))
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
    contact: Mapped[Contact | None] = relationship(lazy="raise")
