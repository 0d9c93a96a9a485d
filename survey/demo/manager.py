"""The demo's manager: one staff member to sign in to the console and call the API
as, with the same token and password on every run of one installation."""

from __future__ import annotations

from dataclasses import dataclass

from survey.db import db
from survey.models import ROLE_MANAGER
from survey.registry import ensure_staff_token, set_password
from survey.tokens import derive_token

DEMO_MANAGER = "demo-manager"
DEMO_MANAGER_EMAIL = "demo-manager@example.com"
DEMO_PASSWORD_LENGTH = 16


@dataclass(frozen=True, slots=True)
class DemoManager:
    name: str
    email: str
    token: str
    password: str


def _demo_secret(secret_key: str, purpose: str) -> str:
    return derive_token(secret_key, f"demo:{purpose}")


def ensure_demo_manager(*, secret_key: str) -> DemoManager:
    """Create (or reactivate) the demo manager with its API token and password; commits.

    Both are derived from `secret_key` (kept in the instance folder in development),
    so scripts and a browser's saved password keep working; unguessable without it.
    """
    token = ensure_staff_token(
        DEMO_MANAGER,
        role=ROLE_MANAGER,
        email=DEMO_MANAGER_EMAIL,
        token=_demo_secret(secret_key, "manager-api-token"),
    )
    db.session.commit()
    password = _demo_secret(secret_key, "manager-password")[:DEMO_PASSWORD_LENGTH]
    set_password(DEMO_MANAGER, password)
    return DemoManager(DEMO_MANAGER, DEMO_MANAGER_EMAIL, token, password)
