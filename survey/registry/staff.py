"""Staff members and their API tokens for the GraphQL API.

A token is 256 random bits shown once when issued; the database keeps only its
SHA-256 (like invitation links), so a copy of the database opens no API.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from survey.audit import STAFF_ADD, STAFF_LOCALE, STAFF_REVOKE, STAFF_TOKEN_ISSUE, record_audit
from survey.clock import utcnow
from survey.db import db
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.models import ROLES, ApiToken, StaffMember
from survey.scale import DEFAULT_LOCALE, LOCALES
from survey.tokens import hash_token

#: Bytes of randomness in an API token (base64url gives 43 characters).
API_TOKEN_BYTES = 32
#: `last_used_at` is refreshed at most this often, so reads don't each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Roles in increasing order of what they may do.
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
#: Web sign-in passwords: long enough to resist guessing, short enough to hash quickly.
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
#: werkzeug's scrypt: memory-hard, salted, and the parameters travel in the hash.
PASSWORD_METHOD = "scrypt"  # noqa: S105  (a hash method name, not a password)
# Checked against when the e-mail is unknown, so both failures take the same time.
_DUMMY_PASSWORD_HASH = generate_password_hash("not-a-real-password", method=PASSWORD_METHOD)


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


def _new_token(member: StaffMember, token: str | None = None) -> IssuedToken:
    token = token or secrets.token_urlsafe(API_TOKEN_BYTES)
    known = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if known is None:
        db.session.add(ApiToken(staff_id=member.id, token_hash=hash_token(token)))
    elif known.staff_id != member.id:
        raise ConflictError("That token belongs to someone else.")
    else:  # the same token issued again (a script's stable token): valid again
        known.revoked_at = None
    return IssuedToken(staff_id=member.id, name=member.name, role=member.role, token=token)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"A password has at most {MAX_PASSWORD_LENGTH} characters.", field="password"
        )


def add_staff(
    name: str,
    role: str,
    email: str | None = None,
    *,
    actor: str | None = None,
    password: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> IssuedToken:
    """Create an active staff member with a first API token; commits.

    Raises InvalidInputError for an empty name or unknown role, ConflictError when
    the name or e-mail is taken. `actor` (who does it) goes into the audit log.
    With `password` (which needs an e-mail: web sign-in is by e-mail) they can also
    sign in to the manager console; only a scrypt hash of it is stored. `locale`
    (zh or en) is the language of every e-mail they receive.
    """
    name = _clean_name(name)
    locale = _check_locale(locale)
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
    password_hash = None
    if password is not None:
        if email is None:
            raise InvalidInputError(
                "A password needs an e-mail address: staff sign in with their e-mail.",
                field="email",
            )
        _check_password(password)
        password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    member = StaffMember(
        name=name,
        role=role,
        email=email,
        active=True,
        password_hash=password_hash,
        locale=locale,
    )
    db.session.add(member)
    db.session.flush()
    issued = _new_token(member)
    record_audit(actor, STAFF_ADD, "staff", member.name, {"role": role})
    db.session.commit()
    return issued


def _check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise InvalidInputError(
            f"Unknown language {locale!r}: use one of {', '.join(LOCALES)}.", field="locale"
        )
    return locale


def set_staff_locale(who: str | int, locale: str, *, actor: str | None = None) -> str:
    """Set the language (zh or en) of every e-mail a staff member receives, by name or
    id; commits and audits. Returns the member's name. NotFoundError for nobody,
    InvalidInputError for another language."""
    locale = _check_locale(locale)
    member = db.session.get(StaffMember, who) if isinstance(who, int) else _get_by_name(who)
    if member is None:
        raise NotFoundError(f"No staff member with ID {who}.", field="id")
    before = member.locale
    if before != locale:
        member.locale = locale
        record_audit(actor, STAFF_LOCALE, "staff", member.name, {"locale": [before, locale]})
    db.session.commit()
    return member.name


def set_password(name: str, password: str) -> None:
    """Set or replace the web sign-in password of an active staff member who has an
    e-mail; commits. Raises NotFoundError, InvalidInputError or ConflictError."""
    member = _get_by_name(name)
    if not member.active:
        raise ConflictError(f"{member.name!r} is deactivated; add them again under a new name.")
    if not member.email:
        raise InvalidInputError(
            f"{member.name!r} has no e-mail address to sign in with.", field="email"
        )
    _check_password(password)
    member.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
    db.session.commit()


def authenticate_password(email: str, password: str) -> StaffMember | None:
    """The active staff member with this e-mail (any case) and password, else None.

    Unknown e-mail, no password set, wrong password and deactivated staff all give
    None after the same hashing work, so the answer reveals nothing about who exists.
    """
    email = email.strip().lower()
    member = None
    if email and len(email) <= 254 and len(password) <= MAX_PASSWORD_LENGTH:
        member = db.session.scalar(
            select(StaffMember).where(func.lower(StaffMember.email) == email)
        )
    stored = member.password_hash if member is not None else None
    matches = check_password_hash(stored or _DUMMY_PASSWORD_HASH, password)
    if member is None or stored is None or not matches or not member.active:
        return None
    return member


def get_active_staff(staff_id: int) -> StaffMember | None:
    """The staff member behind a signed-in session, if still active."""
    member = db.session.get(StaffMember, staff_id)
    return member if member is not None and member.active else None


def issue_token(name: str, *, actor: str | None = None) -> IssuedToken:
    """Issue an additional token for an active staff member; commits (and audits)."""
    member = _get_by_name(name)
    if not member.active:
        raise ConflictError(f"{member.name!r} is deactivated; add them again under a new name.")
    issued = _new_token(member)
    record_audit(actor, STAFF_TOKEN_ISSUE, "staff", member.name, {"role": member.role})
    db.session.commit()
    return issued


def ensure_staff_token(
    name: str,
    *,
    role: str,
    actor: str | None = None,
    email: str | None = None,
    token: str | None = None,
) -> str:
    """A token for `name`, creating the staff member with `role` if missing: a fresh
    one, or `token` itself when given (valid again if it had been revoked).

    For scripts such as `flask demo`: an existing member keeps their role and is
    reactivated; `email` is set when the member has none. Flushes, never commits:
    the caller's transaction owns the change.
    """
    if role not in ROLES:
        raise InvalidInputError(
            f"Unknown role {role!r}: use one of {', '.join(ROLES)}.", field="role"
        )
    name = _clean_name(name)
    member = db.session.scalar(select(StaffMember).where(StaffMember.name == name))
    action = STAFF_TOKEN_ISSUE
    if member is None:
        member = StaffMember(name=name, role=role, active=True)
        db.session.add(member)
        db.session.flush()
        action = STAFF_ADD
    if email and not member.email:
        member.email = email
    member.active = True
    issued = _new_token(member, token)
    record_audit(actor, action, "staff", member.name, {"role": member.role})
    return issued.token


def revoke_staff(name: str, *, now: datetime | None = None, actor: str | None = None) -> int:
    """Deactivate a staff member and revoke all their tokens; commits (and audits).

    Returns how many tokens were revoked by this call.
    """
    member = _get_by_name(name)
    member.active = False
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.staff_id == member.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    revoked = int(result.rowcount or 0)  # type: ignore[attr-defined]
    record_audit(actor, STAFF_REVOKE, "staff", member.name, {"tokens_revoked": revoked}, at=now)
    db.session.commit()
    return revoked


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


def authenticate(token: str, *, now: datetime | None = None) -> TokenHolder | None:
    """The active staff member a live token belongs to, else None.

    Refreshes the token's `last_used_at` at most once a minute (and then commits),
    so a busy client does not turn every read into a write. The API reads first and
    writes after its answer (`authenticate_token`, then `record_token_use`).
    """
    found = authenticate_token(token, now=now)
    if found is None:
        return None
    record_token_use(found)
    return found.member


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """The active staff member a live token belongs to, as plain values."""

    id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class AuthenticatedToken:
    """A live token's id (what per-token budgets are kept under) and its staff member."""

    token_id: int
    member: TokenHolder
    #: When the token was presented (survey.clock's now).
    used_at: datetime
    #: Its stored `last_used_at`, as read.
    last_used_at: datetime | None
    #: Whether that is unset or at least LAST_USED_RESOLUTION older than `used_at`:
    #: then `record_token_use` writes it.
    stale: bool

    @property
    def last_use(self) -> datetime:
        """Its `last_used_at` once this use is recorded: this request's time when the
        stored one is stale, else the stored one."""
        return self.used_at if self.stale or self.last_used_at is None else self.last_used_at


#: A live token and its active staff member, by the token's hash: every API request
#: runs it, so the statement is made once. Plain columns, no ORM objects to build.
_LIVE_TOKEN = (
    select(ApiToken.id, ApiToken.last_used_at, StaffMember.id, StaffMember.name, StaffMember.role)
    .join(StaffMember, StaffMember.id == ApiToken.staff_id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        StaffMember.active.is_(True),
    )
)


def authenticate_token(token: str, *, now: datetime | None = None) -> AuthenticatedToken | None:
    """As `authenticate`, with the id of the token that matched, and nothing written:
    one SELECT. Pass the result to `record_token_use` once the request is answered."""
    token = token.strip()
    if not token or len(token) > 200:
        return None
    row = db.session.execute(_LIVE_TOKEN, {"token_hash": hash_token(token)}).one_or_none()
    if row is None:
        return None
    token_id, last_used_at, staff_id, name, role = row
    now = now or utcnow()
    return AuthenticatedToken(
        token_id=token_id,
        member=TokenHolder(id=staff_id, name=name, role=role),
        used_at=now,
        last_used_at=last_used_at,
        stale=last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION,
    )


def record_token_use(found: AuthenticatedToken) -> bool:
    """Write a stale token's `last_used_at` (one conditional UPDATE, then COMMIT);
    whether it was written. Nothing when it is recent: at most once a minute, also when
    several requests with the same token saw it stale at once."""
    if not found.stale:
        return False
    written = db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == found.token_id,
            (ApiToken.last_used_at.is_(None))
            | (ApiToken.last_used_at <= found.used_at - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=found.used_at)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(written.rowcount)  # type: ignore[attr-defined]


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
