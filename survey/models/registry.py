"""Key accounts, the people we talk to there, our team around them, defections, and staff."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.db import UTCDateTime, db
from survey.scale import ContactRole, TeamRole

ROLE_VIEWER = "viewer"
ROLE_MANAGER = "manager"
ROLE_ADMIN = "admin"
ROLES = (ROLE_VIEWER, ROLE_MANAGER, ROLE_ADMIN)

SOURCE_STAFF = "staff"
SOURCE_EXIT_SURVEY = "exit_survey"


class KeyAccount(db.Model):
    """A key account (大客户) in the registry, keyed by the company's own id.

    The people we ask there are its `contacts` (the buying centre), one of them
    primary; each has its own e-mail, phone, language and opt-out.
    """

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
    #: The account's language: what its new contacts speak unless told otherwise.
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    defection: Mapped[Defection | None] = relationship(
        back_populates="account", lazy="raise", uselist=False
    )
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="account",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="(Contact.is_primary.desc(), Contact.id)",
    )
    team: Mapped[list[AccountTeamMember]] = relationship(
        back_populates="account",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="AccountTeamMember.id",
    )

    @property
    def primary_contact(self) -> Contact | None:
        """The primary contact (load `contacts` first), None when it has none."""
        return next((c for c in self.contacts if c.is_primary), None)

    def __repr__(self) -> str:
        return f"<KeyAccount {self.external_id} {self.name!r}>"


class Contact(db.Model):
    """A person at a key account we ask: one member of its buying centre.

    An account with contacts has exactly one primary contact (a partial unique
    index holds at most one; the registry keeps one). Each contact has its own
    language and its own opt-out.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("account_id", "email", name="uq_contacts_account_email"),
        Index(
            "uq_contacts_one_primary",
            "account_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("key_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(32), default=ContactRole.OTHER.value)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[KeyAccount] = relationship(back_populates="contacts", lazy="raise")

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.role} of account {self.account_id}>"


class AccountTeamMember(db.Model):
    """Someone on our side around an account besides its account manager."""

    __tablename__ = "account_team_members"
    __table_args__ = (
        UniqueConstraint("account_id", "email", name="uq_account_team_account_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("key_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32), default=TeamRole.OTHER.value)
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[KeyAccount] = relationship(back_populates="team", lazy="raise")


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
    #: The language of every e-mail this person receives (follow-ups, escalations).
    locale: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")
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
