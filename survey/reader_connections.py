"""The connections survey.db.RawStatement's reads run on with PostgreSQL: autocommit,
without pre-ping, kept between reads with their cursors. Each read is one round trip
(a pooled connection with pre-ping and a transaction costs four: BEGIN and SELECT 1
for the ping, the statement, ROLLBACK when it goes back), and taking and giving back
a kept connection costs a list's pop and append instead of a pool's checkout and
check-in and a new cursor (about a quarter of the statement's round trip)."""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Any
from weakref import WeakKeyDictionary, WeakSet

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

#: Reader connections kept idle per engine and process, at most (more are opened for
#: a burst of concurrent reads and closed when they come back).
READER_IDLE = 4
_READERS: WeakKeyDictionary[Engine, Readers] = WeakKeyDictionary()
#: Every set of reader connections alive in this process (forked children forget them).
_ALL_READERS: WeakSet[Readers] = WeakSet()


class Readers:
    """The reader connections of one engine on PostgreSQL: DBAPI connections, each
    with its cursor, taken from and given back to a stack (`list.pop` and
    `list.append` are atomic, so threads share it without a lock), several
    microseconds cheaper per read than a pool's checkout and check-in and a new
    cursor, which cost as much as a quarter of the statement's round trip. A
    connection is only ever used by one thread at a time: it is off the stack while
    a read runs on it.

    Connections are made through an engine on the same URL (autocommit, no pool of
    its own): SQLAlchemy's connect events and errors, then detached and kept here.
    A connection found dead (a restarted server) drops the idle ones with it: they
    were connected to the same server, and the read retries once on a new one. A
    forked child never uses nor closes its parent's connections (`_forget_all`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        #: (DBAPI connection, its cursor), the last given back last.
        self.idle: list[tuple[Any, Any]] = []
        self.made: WeakSet[Any] = WeakSet()
        self.closed = False

    def take(self) -> tuple[Any, Any]:
        try:
            return self.idle.pop()
        except IndexError:
            pooled = self.engine.raw_connection()  # errors as SQLAlchemy raises them
            pooled.detach()  # ours to close from now on
            connection = pooled.dbapi_connection
            self.made.add(connection)
            return connection, connection.cursor()

    def give_back(self, reader: tuple[Any, Any]) -> None:
        """Back on the stack when it is idle (no transaction left open) and there is
        room, else closed."""
        connection = reader[0]
        if (
            not self.closed
            and len(self.idle) < READER_IDLE
            and not connection.closed
            and connection.pgconn.transaction_status == _PG_IDLE
        ):
            self.idle.append(reader)
        else:
            connection.close()

    def drop_idle(self) -> None:
        while self.idle:
            try:
                connection, _ = self.idle.pop()
            except IndexError:  # another thread took the last one
                break
            connection.close()

    def close(self) -> None:
        self.closed = True
        self.drop_idle()
        self.engine.dispose()

    def forget(self) -> None:
        """In a forked child: close every connection inherited from the parent without
        a word to the server (the parent's sessions go on), and open new ones."""
        self.idle.clear()
        for connection in list(self.made):
            _forget(connection)
        self.made = WeakSet()


#: psycopg's TransactionStatus.IDLE: no transaction open on the connection.
_PG_IDLE = 0


def _forget(connection: Any) -> None:
    """Close a psycopg connection inherited through fork() without ending the parent's
    session: the child's copy of its socket is first pointed at /dev/null, so the
    goodbye that closing sends goes nowhere."""
    if connection.closed:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        with suppress(Exception):  # no socket (a broken connection): closing sends nothing
            os.dup2(null, connection.pgconn.socket)
    finally:
        os.close(null)
    connection.close()


def _forget_all() -> None:
    for readers in list(_ALL_READERS):
        readers.forget()


os.register_at_fork(after_in_child=_forget_all)


def readers_for(engine: Engine) -> Readers | None:
    """Where a pooled read runs: on PostgreSQL the engine's reader connections (made
    once per engine); elsewhere None, the engine's own pool (SQLite's ping and
    ROLLBACK stay in-process and cost microseconds; an in-memory database must not be
    opened twice)."""
    if engine.dialect.name != "postgresql":
        return None
    found = _READERS.get(engine)
    if found is None:
        found = Readers(engine)
        _READERS[engine] = found
        _ALL_READERS.add(found)
        # Closed with the engine it serves (tests, a worker forked after dispose()).
        event.listen(engine, "engine_disposed", _drop_reader)
    return found


def _drop_reader(engine: Engine) -> None:
    readers = _READERS.pop(engine, None)
    if readers is not None:
        readers.close()


def fetched_rows(cursor: Any, returns_rows: bool | None) -> list[Any]:
    """The rows of the statement `cursor` ran: none for a write without RETURNING.
    Known from the statement where it can be: psycopg builds a Column object per
    column on every look at `cursor.description` (about 14 µs for the survey link's
    20 columns, 4% of the page)."""
    if returns_rows is None:
        returns_rows = cursor.description is not None
    return cursor.fetchall() if returns_rows else []  # type: ignore[no-any-return]


def fetch_on_reader(
    readers: Readers, sql: str, args: Any, returns_rows: bool | None = None
) -> list[Any]:
    """All rows of a read on one of `readers`' connections. Without pre-ping a
    connection the server dropped is found by using it: it is closed with the idle
    ones, and the read (a single SELECT, safe to repeat) tries once more on a new
    connection."""
    dialect = readers.engine.dialect
    for attempt in (1, 2):
        reader = readers.take()
        connection, cursor = reader
        try:
            cursor.execute(sql, args)
            rows = fetched_rows(cursor, returns_rows)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, connection, None):
                readers.give_back(reader)
                raise
            connection.close()
            readers.drop_idle()
            if attempt == 2:
                raise
        else:
            readers.give_back(reader)
            return rows  # type: ignore[no-any-return]
    raise AssertionError("unreachable")
