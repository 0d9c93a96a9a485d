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

A second row, QUESTIONNAIRE_ROW_ID, does the same for what a questionnaire asks
(QUESTIONNAIRE_WATCHED: the aspects' codes, labels and questions, the questionnaires'
items): the survey link's read returns its token, so a process keeps each
questionnaire's questions under the token they were read with
(survey.answers.survey_link). Migration 0010 and `create_all` make the row; where
it is missing, the questions are read on every request.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
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
#: The row whose token changes with what a questionnaire asks.
QUESTIONNAIRE_ROW_ID = 2
#: The tables the survey's questions are read from (every column counts).
QUESTIONNAIRE_WATCHED: dict[str, frozenset[str]] = {
    "aspects": frozenset(),
    "questionnaire_items": frozenset(),
}
#: Each row and the tables (with the columns that do not count) whose writes change it.
_ROWS: tuple[tuple[int, dict[str, frozenset[str]]], ...] = (
    (ROW_ID, WATCHED),
    (QUESTIONNAIRE_ROW_ID, QUESTIONNAIRE_WATCHED),
)
#: Tables no figure reads whose deleted rows take responses with them (ON DELETE
#: CASCADE): deleting counts, inserting and updating (a link opened) does not.
CASCADING: frozenset[str] = frozenset({"invitations"})

_CHANGED = "keypulse.data_changed"
_SEEN = "keypulse.data_version_seen"
_WRITE_SQL = re.compile(r"\s*(insert|update|delete|merge|truncate|copy)\b", re.IGNORECASE)


class DataVersion(db.Model):
    """The rows whose tokens change with every write the figures read (ROW_ID) and
    with every change to what a questionnaire asks (QUESTIONNAIRE_ROW_ID)."""

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


def bump(connection: Connection, row_id: int = ROW_ID) -> str | None:
    """Give the data (or, with QUESTIONNAIRE_ROW_ID, the questionnaires) a new token
    on `connection`, in its transaction (the row is created when missing). Returns
    the token (None without the table)."""
    if not _table_present(connection):
        return None
    token, now = new_token(), utcnow()
    table = DataVersion.__table__
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        _upsert(dialect).rows({"row_id": row_id, "new_token": token, "at": now}, connection)
    else:  # pragma: no cover - KeyPulse runs on SQLite and PostgreSQL
        changed = connection.execute(
            update(table).where(table.c.id == row_id).values(token=token, changed_at=now)
        )
        if changed.rowcount == 0:
            connection.execute(table.insert().values(id=row_id, token=token, changed_at=now))
    return token


def current_token(session: Session) -> str | None:
    """The token of the data `session` reads, or None when it cannot name them: the
    session holds changes it has not committed (figures computed now would count
    them, yet other sessions do not see them), or the row is missing.

    Read once per transaction: within one, a figure is cached under the token its
    transaction began with (on SQLite and under REPEATABLE READ the exact snapshot;
    under READ COMMITTED possibly newer data, never older).
    """
    if ROW_ID in _changed(session) or session.new or session.dirty or session.deleted:
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


def mark_changed(session: Session, row_id: int = ROW_ID) -> None:
    """Note that `session`'s transaction changes the figures (or, with
    QUESTIONNAIRE_ROW_ID, a questionnaire): its commit bumps that version. For writes
    the ORM's events do not see (survey.db.RawStatement)."""
    changed = session.info.get(_CHANGED)
    if changed is None:
        session.info[_CHANGED] = {row_id}
    else:
        changed.add(row_id)


def _changed(session: Session) -> set[int]:
    """The versions `session`'s transaction changes so far."""
    return session.info.get(_CHANGED) or set()


def _changed_columns(obj: Any) -> set[str]:
    state = inspect_state(obj)
    return {
        prop.columns[0].name
        for prop in state.mapper.column_attrs
        if state.attrs[prop.key].history.has_changes()
    }


def _still_unchanged(session: Session) -> list[tuple[int, dict[str, frozenset[str]]]]:
    done = _changed(session)
    return [(row_id, watched) for row_id, watched in _ROWS if row_id not in done]


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    """The unit of work's inserts, updates and deletes (still listed after the flush).
    Tables are looked up once per class, not per object (a flush may hold thousands)."""
    pending = _still_unchanged(session)
    if not pending:
        return
    added = _tables_of(session.new)
    deleted = _tables_of(session.deleted)
    dirty_columns: dict[str, set[str]] = defaultdict(set)
    for obj in session.dirty:
        tables = _tables_of((obj,))
        if any(tables & watched.keys() for _, watched in pending):
            changed = _changed_columns(obj)
            for name in tables:
                dirty_columns[name] |= changed
    for row_id, watched in pending:
        cascading = CASCADING if row_id == ROW_ID else frozenset()
        if (
            (added | deleted) & watched.keys()
            or deleted & cascading
            or any(dirty_columns[t] - watched[t] for t in watched.keys() & dirty_columns.keys())
        ):
            mark_changed(session, row_id)


def _tables_of(objects: Iterable[Any]) -> set[str]:
    """The names of the tables the objects' classes map to."""
    return {
        table.name for cls in {type(obj) for obj in objects} for table in inspect_state(cls).tables
    }


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
    if state.is_select:
        return
    for row_id, watched in _still_unchanged(state.session):
        cascading = CASCADING if row_id == ROW_ID else frozenset()
        if _statement_changes(state, watched, cascading):
            mark_changed(state.session, row_id)


def _statement_changes(
    state: ORMExecuteState, watched: dict[str, frozenset[str]], cascading: frozenset[str]
) -> bool:
    stmt = state.statement
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(stmt, "table", None), "name", None)
        if name is None:
            return True
        if name in watched:
            columns = _updated_columns(state) if state.is_update else None
            return columns is None or bool(columns - watched[name])
        return name in cascading and state.is_delete
    # A hand-written write: assume it matters.
    return isinstance(stmt, TextClause) and _WRITE_SQL.match(stmt.text) is not None


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """The new token goes in last, just before COMMIT: on PostgreSQL the row lock it
    takes is held for the commit only, so concurrent writers queue for microseconds."""
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction commits (and bumps) later
    session.flush()  # what commit would flush after this hook: it may count
    for row_id in sorted(session.info.pop(_CHANGED, None) or ()):
        bump(session.connection(), row_id)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost: committed, rolled back or closed
        session.info.pop(_CHANGED, None)
        session.info.pop(_SEEN, None)


@event.listens_for(DataVersion.__table__, "after_create")
def _seed(target: Any, connection: Connection, **_kw: Any) -> None:
    """`create_all` (tests, benchmarks) starts with the rows, as the migrations do."""
    bump(connection)
    bump(connection, QUESTIONNAIRE_ROW_ID)
