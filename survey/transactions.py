"""Transactions as the API handles them: a request a service refused half-way is
undone before the error goes back (the services commit only what succeeded); and
work that must not run twice at once, serialised."""

from __future__ import annotations

from sqlalchemy import func, select

from survey.db import db


def rollback() -> None:
    """Undo the current transaction."""
    db.session.rollback()


def serialise(key: int) -> None:
    """On PostgreSQL, hold the transaction-level advisory lock `key` until this
    transaction ends: another transaction asking for the same key waits until this
    one commits or rolls back, and (READ COMMITTED) then reads what it wrote. The
    same transaction may ask again. On SQLite nothing is taken: it runs one writer at
    a time, so of two transactions replacing the same rows the second waits for the
    first's commit (busy timeout) and replaces them after it. A caller whose reads
    must wait too takes SQLite's write lock first (survey.campaigns.launch)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(key)))
