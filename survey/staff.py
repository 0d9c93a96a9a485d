"""Staff members and their API tokens for the GraphQL API.

A token is 256 random bits shown once when issued; the database keeps only its
SHA-256 (like invitation links), so a copy of the database opens no API.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from .db import db, utcnow
from .errors import ConflictError, InvalidInputError, NotFoundError
from .models import ROLES, ApiToken, StaffMember
from .tokens import hash_token

#: Bytes of randomness in an API token (base64url gives 43 characters).
API_TOKEN_BYTES = 32
#: `last_used_at` is refreshed at most this often, so reads don't each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Roles in increasing order of what they may do.
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: `token` is shown once and never stored."""

    staff_id: int
    name: str
    role: str
    token: str


@dataclass(frozen=True, slots=True)
class StaffSummary:
    name: str
    role: str
    email: str | None
    active: bool
    tokens: int
    last_used_at: datetime | None


def role_at_least(role: str, minimum: str) -> bool:
    """Whether `role` may do what `minimum` may (viewer < manager < admin)."""
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[minimum]


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInputError("A staff name is required.", field="name")
    if len(cleaned) > 120:
        raise InvalidInputError("A staff name has at most 120 characters.", field="name")
    return cleaned


def _get_by_name(name: str) -> StaffMember:
    member = db.session.scalar(select(StaffMember).where(StaffMember.name == _clean_name(name)))
    if member is None:
        raise NotFoundError(f"No staff member named {name!r}.", field="name")
    return member


def _new_token(member: StaffMember) -> IssuedToken:
    token = secrets.token_urlsafe(API_TOKEN_BYTES)
    db.session.add(ApiToken(staff_id=member.id, token_hash=hash_token(token)))
    return IssuedToken(staff_id=member.id, name=member.name, role=member.role, token=token)


def add_staff(name: str, role: str, email: str | None = None) -> IssuedToken:
    """Create an active staff member with a first API token; commits.

    Raises InvalidInputError for an empty name or unknown role, ConflictError when
    the name or e-mail is taken.
    """
    name = _clean_name(name)
    if role not in ROLES:
        raise InvalidInputError(
            f"Unknown role {role!r}: use one of {', '.join(ROLES)}.", field="role"
        )
    email = (email or "").strip() or None
    if email is not None and ("@" not in email or len(email) > 254):
        raise InvalidInputError(f"{email!r} is not an e-mail address.", field="email")
    if db.session.scalar(select(StaffMember.id).where(StaffMember.name == name)) is not None:
        raise ConflictError(f"A staff member named {name!r} already exists.", field="name")
    if (
        email is not None
        and db.session.scalar(select(StaffMember.id).where(StaffMember.email == email)) is not None
    ):
        raise ConflictError(f"The e-mail {email!r} belongs to another staff member.", field="email")
    member = StaffMember(name=name, role=role, email=email, active=True)
    db.session.add(member)
    db.session.flush()
    issued = _new_token(member)
    db.session.commit()
    return issued


def issue_token(name: str) -> IssuedToken:
    """Issue an additional token for an active staff member; commits."""
    member = _get_by_name(name)
    if not member.active:
        raise ConflictError(f"{member.name!r} is deactivated; add them again under a new name.")
    issued = _new_token(member)
    db.session.commit()
    return issued


def ensure_staff_token(name: str, *, role: str) -> str:
    """A fresh token for `name`, creating the staff member with `role` if missing.

    For scripts such as `flask demo`: an existing member keeps their role and is
    reactivated. Flushes, never commits: the caller's transaction owns the change.
    """
    if role not in ROLES:
        raise InvalidInputError(
            f"Unknown role {role!r}: use one of {', '.join(ROLES)}.", field="role"
        )
    name = _clean_name(name)
    member = db.session.scalar(select(StaffMember).where(StaffMember.name == name))
    if member is None:
        member = StaffMember(name=name, role=role, active=True)
        db.session.add(member)
        db.session.flush()
    member.active = True
    issued = _new_token(member)
    db.session.flush()
    return issued.token


def revoke_staff(name: str, *, now: datetime | None = None) -> int:
    """Deactivate a staff member and revoke all their tokens; commits.

    Returns how many tokens were revoked by this call.
    """
    member = _get_by_name(name)
    member.active = False
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.staff_id == member.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    db.session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_staff() -> list[StaffSummary]:
    """Every staff member with their number of live tokens and last API use."""
    live = func.count(ApiToken.id).filter(ApiToken.revoked_at.is_(None))
    rows = db.session.execute(
        select(
            StaffMember.name,
            StaffMember.role,
            StaffMember.email,
            StaffMember.active,
            live,
            func.max(ApiToken.last_used_at),
        )
        .outerjoin(ApiToken, ApiToken.staff_id == StaffMember.id)
        .group_by(StaffMember.id, StaffMember.name, StaffMember.role)
        .group_by(StaffMember.email, StaffMember.active)
        .order_by(StaffMember.name)
    ).all()
    return [
        StaffSummary(
            name=name,
            role=role,
            email=email,
            active=active,
            tokens=int(tokens),
            last_used_at=last_used,
        )
        for name, role, email, active, tokens, last_used in rows
    ]


def authenticate(token: str, *, now: datetime | None = None) -> StaffMember | None:
    """The active staff member a live token belongs to, else None.

    Refreshes the token's `last_used_at` at most once a minute (and then commits),
    so a busy client does not turn every read into a write.
    """
    token = token.strip()
    if not token or len(token) > 200:
        return None
    row = db.session.execute(
        select(ApiToken, StaffMember)
        .join(StaffMember, StaffMember.id == ApiToken.staff_id)
        .where(
            ApiToken.token_hash == hash_token(token),
            ApiToken.revoked_at.is_(None),
            StaffMember.active.is_(True),
        )
    ).one_or_none()
    if row is None:
        return None
    api_token, member = row
    now = now or utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
        api_token.last_used_at = now
        db.session.commit()
    return member


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What an admin may see about a token: never the token or its hash."""

    id: int
    staff_name: str
    staff_role: str
    staff_active: bool
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def list_tokens() -> list[TokenInfo]:
    """Metadata of every API token, newest first."""
    rows = db.session.execute(
        select(ApiToken, StaffMember)
        .join(StaffMember, StaffMember.id == ApiToken.staff_id)
        .order_by(ApiToken.id.desc())
    ).all()
    return [
        TokenInfo(
            id=t.id,
            staff_name=s.name,
            staff_role=s.role,
            staff_active=s.active,
            created_at=t.created_at,
            revoked_at=t.revoked_at,
            last_used_at=t.last_used_at,
        )
        for t, s in rows
    ]
