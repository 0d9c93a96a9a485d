"""The data version: one random token that changes with every committed write to
the rows the figures are computed from, so a cached figure can be keyed by the
data it was computed from (survey.analysis.cache).

The table `data_version` holds one row. A session transaction that inserts,
updates or deletes rows of a WATCHED table gives that row a new random token as
the last statement before it commits (the `before_commit` event), so the new rows
and the new token become visible together, to every process on every machine
that shares the database; a rolled-back transaction changes neither. Nothing has
to remember to call anything: the session events below notice the changes (unit of
work flushes and `session.execute` of INSERT/UPDATE/DELETE statements alike).
Writes that bypass the session (a bulk loader on a raw connection, psql) call
`bump` themselves, or are seen when cached figures expire.

The token is random rather than a counter, so a database restored from a backup,
or two databases behind one cache, can never reuse a token for other data.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    TextClause,
    bindparam,
    event,
    select,
    update,
)
from sqlalchemy import inspect as inspect_state
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from survey.clock import utcnow
from survey.db import RawStatement, UTCDateTime, db

#: The one row's primary key.
ROW_ID = 1

#: The tables the cached figures read, each with the columns whose change alters no
#: figure. Every other column counts, so a new figure that reads one stays correct.
#: Opting out only keeps a contact out of future samples: no figure reads it.
WATCHED: dict[str, frozenset[str]] = {
    "answers": frozenset(),
    "answer_reasons": frozenset(),
    "responses": frozenset(),
    "exit_feedback": frozenset(),
    "defections": frozenset(),
    "defection_reasons": frozenset(),
    "key_accounts": frozenset(),
    "campaigns": frozenset(),
    "aspects": frozenset(),
    # The respondent's role groups answers (Dimension.CONTACT_ROLE).
    "contacts": frozenset({"opted_out_at"}),
    # Weight.DESIGN reads each invitation's inclusion probability; its life cycle
    # (sent, opened, reminded, bounced) changes no figure.
    "invitations": frozenset(
        {
            "contact_id",
            "token_hash",
            "token_nonce",
            "locale",
            "stratum",
            "selection",
            "status",
            "created_at",
            "sent_at",
            "opened_at",
            "responded_at",
            "reminders_sent",
            "last_reminded_at",
            "bounce_reason",
        }
    ),
    # Health counts open and overdue cases (survey.scoring.health): when a case was
    # opened, is due and was resolved count; who works it and how it went do not.
    "follow_ups": frozenset(
        {
            "owner",
            "status",
            "contacted_at",
            "escalated_at",
            "escalated_to",
            "root_cause",
            "root_cause_note",
        }
    ),
}
#: Tables no figure reads whose deleted rows take responses with them (ON DELETE
#: CASCADE): deleting counts, inserting and updating (a link opened) does not.
CASCADING: frozenset[str] = frozenset({"invitations"})

_CHANGED = "keypulse.data_changed"
_SEEN = "keypulse.data_version_seen"
_WRITE_SQL = re.compile(r"\s*(insert|update|delete|merge|truncate|copy)\b", re.IGNORECASE)


class DataVersion(db.Model):
    """The one row whose token changes with every write the figures read."""

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


def new_token() -> str:
    return secrets.token_hex(16)


_present: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()


def _table_present(connection: Connection) -> bool:
    """Whether the table exists (once seen, taken as given for the engine). Before
    `flask db upgrade` has made it nothing is cached, and writes work as before."""
    engine = connection.engine
    if _present.get(engine):
        return True
    present = inspect_state(connection).has_table(DataVersion.__tablename__)
    if present:
        _present[engine] = True
    return present


@lru_cache(maxsize=2)
def _upsert(dialect: str) -> RawStatement:
    """INSERT ... ON CONFLICT DO UPDATE of the row, built and compiled once per dialect
    and run past SQLAlchemy's execution (it runs in every transaction that writes what
    the figures read)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    table = DataVersion.__table__
    stmt = upsert(table).values(
        id=bindparam("row_id"), token=bindparam("new_token"), changed_at=bindparam("at")
    )
    return RawStatement(
        stmt.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={"token": stmt.excluded.token, "changed_at": stmt.excluded.changed_at},
        )
    )


def bump(connection: Connection) -> str | None:
    """Give the data a new token on `connection`, in its transaction (the row is
    created when missing). Returns the token (None without the table)."""
    if not _table_present(connection):
        return None
    token, now = new_token(), utcnow()
    table = DataVersion.__table__
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        _upsert(dialect).rows({"row_id": ROW_ID, "new_token": token, "at": now}, connection)
    else:  # pragma: no cover - KeyPulse runs on SQLite and PostgreSQL
        changed = connection.execute(
            update(table).where(table.c.id == ROW_ID).values(token=token, changed_at=now)
        )
        if changed.rowcount == 0:
            connection.execute(table.insert().values(id=ROW_ID, token=token, changed_at=now))
    return token


def current_token(session: Session) -> str | None:
    """The token of the data `session` reads, or None when it cannot name them: the
    session holds changes it has not committed (figures computed now would count
    them, yet other sessions do not see them), or the row is missing.

    Read once per transaction: within one, a figure is cached under the token its
    transaction began with (on SQLite and under REPEATABLE READ the exact snapshot;
    under READ COMMITTED possibly newer data, never older).
    """
    if session.info.get(_CHANGED) or session.new or session.dirty or session.deleted:
        return None
    token = session.info.get(_SEEN)
    if token is None:
        if _table_present(session.connection()):
            token = session.execute(
                select(DataVersion.token).where(DataVersion.id == ROW_ID)
            ).scalar_one_or_none()
        session.info[_SEEN] = token or ""
    return token or None


# ---------------------------------------------------------------------------
# Noticing the writes


def mark_changed(session: Session) -> None:
    """Note that `session`'s transaction changes the figures: its commit bumps the
    version. For writes the ORM's events do not see (survey.db.RawStatement)."""
    session.info[_CHANGED] = True


def _changed_columns(obj: Any) -> set[str]:
    state = inspect_state(obj)
    return {
        prop.columns[0].name
        for prop in state.mapper.column_attrs
        if state.attrs[prop.key].history.has_changes()
    }


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    """The unit of work's inserts, updates and deletes (still listed after the flush)."""
    if session.info.get(_CHANGED):
        return
    for obj in (*session.new, *session.deleted):
        tables = {t.name for t in inspect_state(obj).mapper.tables}
        if tables & WATCHED.keys() or (obj in session.deleted and tables & CASCADING):
            mark_changed(session)
            return
    for obj in session.dirty:
        for table in inspect_state(obj).mapper.tables:
            if table.name in WATCHED and _changed_columns(obj) - WATCHED[table.name]:
                mark_changed(session)
                return


def _updated_columns(state: ORMExecuteState) -> set[str] | None:
    """The columns an UPDATE sets, or None when they cannot be told."""
    stmt = state.statement
    names: set[str] = set()
    for column in getattr(stmt, "_values", None) or {}:
        names.add(str(getattr(column, "key", column)))
    for column, _value in getattr(stmt, "_ordered_values", None) or ():
        names.add(str(getattr(column, "key", column)))
    parameters = state.parameters
    for row in parameters if isinstance(parameters, list | tuple) else [parameters or {}]:
        names.update(str(k) for k in row)
    return names or None


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    """INSERT, UPDATE and DELETE statements run through `session.execute`."""
    if state.is_select or state.session.info.get(_CHANGED):
        return
    stmt = state.statement
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(stmt, "table", None), "name", None)
        if name is None:
            mark_changed(state.session)
        elif name in WATCHED:
            columns = _updated_columns(state) if state.is_update else None
            if columns is None or columns - WATCHED[name]:
                mark_changed(state.session)
        elif name in CASCADING and state.is_delete:
            mark_changed(state.session)
    elif isinstance(stmt, TextClause) and _WRITE_SQL.match(stmt.text):
        mark_changed(state.session)  # a hand-written write: assume it matters


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """The new token goes in last, just before COMMIT: on PostgreSQL the row lock it
    takes is held for the commit only, so concurrent writers queue for microseconds."""
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction commits (and bumps) later
    session.flush()  # what commit would flush after this hook: it may count
    if session.info.pop(_CHANGED, False):
        bump(session.connection())


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost: committed, rolled back or closed
        session.info.pop(_CHANGED, None)
        session.info.pop(_SEEN, None)


@event.listens_for(DataVersion.__table__, "after_create")
def _seed(target: Any, connection: Connection, **_kw: Any) -> None:
    """`create_all` (tests, benchmarks) starts with the row, as the migration does."""
    bump(connection)
