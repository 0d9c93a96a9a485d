"""Settings from the environment (12-factor), with safe production defaults.

`KEYPULSE_ENV` chooses the profile: `production` (the default), `development`
(what `make run` uses) or `testing`. In production the app refuses to start
without a real `SECRET_KEY`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from schema.cost import DEFAULT_MAX_COST
from survey.delivery import Organisation, OrganisationError
from survey.formats import DEFAULT_CURRENCY, check_currency

from .branding import LogoError, read_logo

PRODUCTION = "production"
DEVELOPMENT = "development"
TESTING = "testing"

_WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", "development"}
MIN_SECRET_LENGTH = 32
#: ESCALATE_AFTER_DAYS: from 0 (escalate as soon as a case is overdue) to a year.
MAX_ESCALATE_AFTER_DAYS = 365


class ConfigError(RuntimeError):
    """The environment does not describe a safe, working configuration."""


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean: 1/true/yes/on are true, 0/false/no/off/empty are false."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value (use 1/true/yes or 0/false/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from exc


#: A token's GraphQL budget per hour, in cost units (schema.cost: about 0.1 ms of
#: work each, so 500,000 is about 50 s of server time an hour), by role. Viewer
#: tokens go to read-only integrations (dashboards, BI tools), the likeliest to poll
#: in a loop; managers also launch and write. GRAPHQL_HOURLY_BUDGET overrides it.
DEFAULT_HOURLY_BUDGET = {"viewer": 500_000, "manager": 1_000_000, "admin": 1_000_000}


def env_hourly_budget(name: str) -> dict[str, int]:
    """Budgets per role: one number for every role (`100000`) or some roles' own
    (`viewer=50000,manager=200000`); roles not named keep their defaults."""
    budgets = dict(DEFAULT_HOURLY_BUDGET)
    raw = os.environ.get(name, "").strip()
    if not raw:
        return budgets
    if "=" not in raw:
        return dict.fromkeys(budgets, _positive(name, raw))
    for part in raw.split(","):
        role, _, value = part.partition("=")
        role = role.strip().lower()
        if role not in budgets:
            raise ConfigError(f"{name}: {role!r} is not a role (viewer, manager, admin)")
        budgets[role] = _positive(name, value)
    return budgets


def _positive(name: str, raw: str) -> int:
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError as exc:
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from exc
    if value < 1:
        raise ConfigError(f"{name}: {raw!r} must be at least 1")
    return value


def _development_secret(instance_path: Path) -> str:
    """A random key kept in instance/, so survey links stay valid across restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def env_milliseconds(name: str, default: int) -> int:
    value = env_int(name, default)
    if value < 0:
        raise ConfigError(f"{name}={value} is negative (0 turns the limit off)")
    return value


def database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance_path / 'keypulse.sqlite3'}"
    # Accept the URLs hosting providers hand out and use the psycopg 3 driver.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def load_config(instance_path: Path) -> dict[str, Any]:
    """Build the Flask config mapping from the environment."""
    profile = os.environ.get("KEYPULSE_ENV", PRODUCTION).strip().lower() or PRODUCTION
    if profile not in (PRODUCTION, DEVELOPMENT, TESTING):
        raise ConfigError(f"KEYPULSE_ENV={profile!r}: use production, development or testing")

    secret = os.environ.get("SECRET_KEY", "")
    if not secret and profile != PRODUCTION:
        secret = _development_secret(instance_path)
    base_url = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")

    return {
        "KEYPULSE_ENV": profile,
        "DEBUG": profile == DEVELOPMENT,
        "SECRET_KEY": secret,
        "BASE_URL": base_url,
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SQLALCHEMY_RECORD_QUERIES": env_flag("SQLALCHEMY_RECORD_QUERIES"),
        # Survey pages are scoped by the token in the URL; a customer who leaves the
        # page open over lunch must not lose the submission to an expired CSRF token.
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", 256 * 1024),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("TIMEZONE", "Asia/Shanghai"),
        # Every amount of money is in this currency (ISO 4217) and shown with it.
        "CURRENCY": os.environ.get("CURRENCY", DEFAULT_CURRENCY).strip().upper(),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Reverse proxies in front of the app whose X-Forwarded-* headers to trust (so
        # rate limits see the client's address, not the proxy's). 0 = none.
        "TRUSTED_PROXIES": env_int("TRUSTED_PROXIES", 0),
        "RATELIMIT_ENABLED": env_flag("RATELIMIT_ENABLED", True),
        "GRAPHQL_INTROSPECTION": env_flag("GRAPHQL_INTROSPECTION", profile == DEVELOPMENT),
        "GRAPHQL_MAX_PAGE_SIZE": 200,
        # The database work of one API request stops after this long (0: no limit).
        # Keep gunicorn's --timeout above twice it, or gunicorn kills the worker first.
        "GRAPHQL_STATEMENT_TIMEOUT_MS": env_milliseconds("GRAPHQL_STATEMENT_TIMEOUT_MS", 10_000),
        "GRAPHQL_MAX_COST": _positive(
            "GRAPHQL_MAX_COST", os.environ.get("GRAPHQL_MAX_COST") or str(DEFAULT_MAX_COST)
        ),
        "GRAPHQL_HOURLY_BUDGET": env_hourly_budget("GRAPHQL_HOURLY_BUDGET"),
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": env_int("SMTP_PORT", 25),
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": env_flag("SMTP_STARTTLS"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "KeyPulse <surveys@localhost>"),
        "SMTP_TIMEOUT": env_int("SMTP_TIMEOUT", 30),
        # Temporary failures are retried with exponential back-off this many times.
        "OUTBOX_MAX_ATTEMPTS": env_int("OUTBOX_MAX_ATTEMPTS", 6),
        "MIN_GROUP_SIZE": env_int("MIN_GROUP_SIZE", 5),
        # Summaries, drill-downs and defection reasons cached until a write changes
        # their data (web/analysis_cache.py): per process, or in Redis when one is set.
        "ANALYSIS_CACHE": env_flag("ANALYSIS_CACHE", True),
        "ANALYSIS_CACHE_SIZE": env_int("ANALYSIS_CACHE_SIZE", 512),
        "ANALYSIS_CACHE_TTL": env_int("ANALYSIS_CACHE_TTL", 600),
        "CACHE_REDIS_URL": os.environ.get("CACHE_REDIS_URL", "").strip(),
        "FOLLOW_UP_DAYS": env_int("FOLLOW_UP_DAYS", 7),
        # A case still not resolved this many days after its due date is escalated.
        "ESCALATE_AFTER_DAYS": env_int("ESCALATE_AFTER_DAYS", 3),
        # Who is asking: the supplier's name on every survey page and e-mail (either
        # language alone serves both), its logo (a file path, served at /brand/logo)
        # and whom customers contact (an e-mail address or a phone number).
        "ORG_NAME_ZH": os.environ.get("ORG_NAME_ZH", "").strip(),
        "ORG_NAME_EN": os.environ.get("ORG_NAME_EN", "").strip(),
        "ORG_LOGO": os.environ.get("ORG_LOGO", "").strip(),
        "ORG_CONTACT": os.environ.get("ORG_CONTACT", "").strip(),
    }


def check_config(config: dict[str, Any]) -> None:
    """Refuse settings that cannot work, and in production those that would be unsafe."""
    for name in ("ANALYSIS_CACHE_SIZE", "ANALYSIS_CACHE_TTL"):
        if int(config.get(name) or 0) < 1:
            raise ConfigError(
                f"{name} must be at least 1 (turn the cache off with ANALYSIS_CACHE=0)"
            )
    try:
        config["CURRENCY"] = check_currency(str(config.get("CURRENCY") or DEFAULT_CURRENCY))
    except ValueError as exc:
        raise ConfigError(f"CURRENCY: {exc}") from exc
    escalate = config.get("ESCALATE_AFTER_DAYS", 3)
    if not isinstance(escalate, int) or not 0 <= escalate <= MAX_ESCALATE_AFTER_DAYS:
        raise ConfigError(
            f"ESCALATE_AFTER_DAYS={escalate!r} must be a whole number of days from 0 to "
            f"{MAX_ESCALATE_AFTER_DAYS}"
        )
    try:
        Organisation.from_config(config)
    except OrganisationError as exc:
        raise ConfigError(str(exc)) from exc
    if config.get("ORG_LOGO"):
        try:
            read_logo(str(config["ORG_LOGO"]))
        except LogoError as exc:
            raise ConfigError(str(exc)) from exc
    if config.get("KEYPULSE_ENV") != PRODUCTION:
        return
    secret = str(config.get("SECRET_KEY") or "")
    if secret.lower() in _WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            "SECRET_KEY must be set to a random value of at least "
            f"{MIN_SECRET_LENGTH} characters in production "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))"), '
            "or set KEYPULSE_ENV=development for a local trial."
        )
