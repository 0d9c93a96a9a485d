"""Transactions as the API handles them: a request a service refused half-way is
undone before the error goes back (the services commit only what succeeded)."""

from __future__ import annotations

from survey.db import db


def rollback() -> None:
    """Undo the current transaction."""
    db.session.rollback()
