"""The Flask-SQLAlchemy `db` object, the declarative base, engine settings, and the
time limit a caller (the API) can put on its statements."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from weakref import WeakKeyDictionary

from flask import current_app, g, has_app_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    JSON,
    DateTime,
    Executable,
    MetaData,
    Row,
    Table,
    Text,
    TextClause,
    bindparam,
    cast,
    column,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from survey.reader_connections import fetch_on_reader, fetched_rows, readers_for

# Stable constraint names, so Alembic can alter and drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: How long SQLite waits for a lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 5000
#: How much of a SQLite database file its connections read through a memory map.
SQLITE_MMAP_BYTES = 256 * 1024 * 1024


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend and always returns aware UTC datetimes.

    SQLite has no time zones; keeping one representation avoids comparing naive
    and aware datetimes anywhere in the code.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite returns text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


def read_rows(stmt: Executable) -> Sequence[Row[Any]]:
    """All rows of a column-only SELECT, run on the session's connection (its
    transaction) past the ORM's result handling, which costs more than the statement
    when there are thousands of rows. Pending changes are flushed first, as
    `db.session.execute` would."""
    session = db.session()
    if session.autoflush:
        session.flush()
    return session.connection().execute(stmt).all()


class RawStatement:
    """A statement compiled once per dialect and run straight on a DBAPI cursor: no
    ORM session, no SQLAlchemy execution context; the parameters' bind types and the
    columns' result types applied by hand (the processors SQLAlchemy would apply).

    For the hottest statements of a request (the survey link's read, the writes that
    store a response), where the session and the execution machinery cost several
    times the statement itself. The rows are what `Connection.execute(stmt).all()`
    gives, as plain tuples (none for a write without RETURNING). Under a statement time
    limit (`statement_time_limit`) it runs through SQLAlchemy as usual, so the limit
    holds; with SQLALCHEMY_RECORD_QUERIES on (tests, debugging) the statement is
    recorded like any other. A DBAPI error is raised as SQLAlchemy raises it
    (IntegrityError, OperationalError, ...), so the callers' handlers see the same.

    A write must run on `connection` (its transaction): it is not seen by the ORM's
    events, so a caller writing a table survey.data_version watches marks the session
    changed itself (`survey.data_version.mark_changed`)."""

    def __init__(self, stmt: Executable) -> None:
        self.stmt = stmt
        self._compiled: dict[Dialect, _CompiledStatement] = {}

    def _for(self, dialect: Dialect) -> _CompiledStatement:
        found = self._compiled.get(dialect)
        if found is None:
            compiled = self.stmt.compile(dialect=dialect)
            columns = getattr(self.stmt, "selected_columns", None)
            if columns is None:  # an INSERT or UPDATE: its RETURNING columns
                columns = getattr(self.stmt, "_returning", ())
            processors = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            )
            binds = tuple(
                (name, processor)
                for name, bind in compiled.binds.items()
                if (processor := bind.type._cached_bind_processor(dialect)) is not None
            )
            found = _CompiledStatement(
                compiled.string,
                tuple(compiled.positiontup or ()) if dialect.positional else None,
                {  # the statement's own values (a LIMIT, a literal in a WHERE)
                    name: bind.effective_value
                    for name, bind in compiled.binds.items()
                    if not bind.required
                },
                binds,
                tuple((i, p) for i, p in enumerate(processors) if p is not None),
                # A text's rows are known only once it has run.
                None if isinstance(self.stmt, TextClause) else bool(compiled._result_columns),
            )
            self._compiled[dialect] = found
        return found

    def rows(
        self, params: dict[str, Any], connection: Connection | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows, on `connection` (its transaction) or else on a pooled DBAPI
        connection of its own, returned to the pool at once (a read only)."""
        if current_time_limit() is not None:
            conn = connection if connection is not None else db.session.connection()
            result = conn.execute(self.stmt, params)
            return [tuple(row) for row in result] if result.returns_rows else []
        engine = connection.engine if connection is not None else db.engine
        dialect = engine.dialect
        compiled = self._for(dialect)
        if compiled.values or compiled.binds:
            params = {**compiled.values, **params}  # a copy: the caller's stays as given
            for name, process in compiled.binds:
                params[name] = process(params[name])
        args: Any = params
        if compiled.positions is not None:
            args = tuple(params[name] for name in compiled.positions)
        recording = _recording(engine)
        started = time.perf_counter()
        try:
            if connection is not None:
                rows = _fetch(connection.connection, compiled.sql, args, compiled.returns_rows)
            elif (readers := readers_for(engine)) is not None:
                rows = fetch_on_reader(readers, compiled.sql, args, compiled.returns_rows)
            else:
                rows = _fetch_pooled(engine, compiled.sql, args, compiled.returns_rows)
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                compiled.sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        if recording:
            _record(compiled.sql, args, started)
        if not compiled.processors:
            return [tuple(row) for row in rows]
        return _processed(rows, compiled.processors)


#: Values nobody can change, equal only when they are the same value (no 0.0 == -0.0,
#: no True == 1; timestamps below): a column's run of equal ones is processed once.
_IMMUTABLE = frozenset({int, str, bytes, date, datetime})


def _same_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b) or kind not in _IMMUTABLE:
        return False
    if kind is datetime:  # equal instants in other zones are other values
        return a == b and a.tzinfo is b.tzinfo  # type: ignore[no-any-return]
    return a == b  # type: ignore[no-any-return]


def _processed(rows: Sequence[Any], processors: tuple[tuple[int, Any], ...]) -> list[Any]:
    """The rows with each processor applied to its column. A value equal to the one
    above it in its column (an immutable one: a timestamp, a string) reuses that one's
    result when the result is immutable too (a JSON text's dict is made for each row):
    a joined statement repeats its parent's columns on every child row."""
    out = []
    above: list[Any] = [_NOTHING] * len(processors)
    done: list[Any] = [None] * len(processors)
    for row in rows:
        values = list(row)
        for k, (i, process) in enumerate(processors):
            value = values[i]
            if _same_value(value, above[k]):
                values[i] = done[k]
            else:
                result = values[i] = done[k] = process(value)
                keep = result is None or type(result) in _IMMUTABLE
                above[k] = value if keep else _NOTHING
        out.append(tuple(values))
    return out


_NOTHING = object()


@dataclass(frozen=True, slots=True)
class _CompiledStatement:
    sql: str
    #: Parameter names in placeholder order (positional paramstyles), else None.
    positions: tuple[str, ...] | None
    #: The parameters the statement gives a value itself, by name.
    values: dict[str, Any]
    #: (parameter name, bind processor) for the parameters that have one.
    binds: tuple[tuple[str, Any], ...]
    #: (column index, result processor) for the columns that have one.
    processors: tuple[tuple[int, Any], ...]
    #: Whether it gives rows (a SELECT, RETURNING); None: look after running it.
    returns_rows: bool | None


def _fetch_pooled(engine: Engine, sql: str, args: Any, returns_rows: bool | None) -> list[Any]:
    """`_fetch` on a connection of the engine's pool, returned to it at once."""
    pooled = engine.raw_connection()
    try:
        return _fetch(pooled, sql, args, returns_rows)
    finally:
        pooled.close()  # back to the pool (rolled back, its reset)


def _fetch(dbapi_connection: Any, sql: str, args: Any, returns_rows: bool | None) -> list[Any]:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, args)
        return fetched_rows(cursor, returns_rows)
    finally:
        cursor.close()


_RECORDING: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()


def _recording(engine: Engine) -> bool:
    """Whether the app of `engine` records its statements (SQLALCHEMY_RECORD_QUERIES,
    read once per engine: Flask-SQLAlchemy reads it once, when the app starts)."""
    found = _RECORDING.get(engine)
    if found is None:
        if not has_app_context():
            return False
        found = _RECORDING[engine] = bool(current_app.config.get("SQLALCHEMY_RECORD_QUERIES"))
    return found and has_app_context()


def _record(sql: str, args: Any, started: float) -> None:
    """What Flask-SQLAlchemy's query recording would have noted for the statement."""
    from flask_sqlalchemy.record_queries import _QueryInfo

    queries = g.setdefault("_sqlalchemy_queries", [])
    queries.append(_QueryInfo(sql, args, started, time.perf_counter(), "RawStatement.rows"))


def insert_many(table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in the session's
    transaction, through the session so that its write events (survey.data_version)
    see them. On PostgreSQL one INSERT ... SELECT FROM json_to_recordset(...): the
    varying columns as one JSON document, a column the same in every row as one value.
    An executemany of thousands of parameter sets costs several times that, and arrays
    (unnest) as much again to escape in Python. Elsewhere an executemany (SQLite's is
    one prepared statement run in C)."""
    if not rows:
        return
    session = db.session()
    dialect = session.get_bind().dialect
    first = rows[0]
    varying = [name for name in first if any(row[name] != first[name] for row in rows)]
    if dialect.name != "postgresql" or not varying:
        session.execute(insert(table), list(rows))
        return
    processors = {
        name: table.c[name].type._cached_bind_processor(dialect) or _same for name in varying
    }
    document = json.dumps(
        [{name: processors[name](row[name]) for name in varying} for row in rows],
        ensure_ascii=False,
        default=_json_value,
    )
    records = (
        func.json_to_recordset(cast(bindparam(None, document, type_=Text()), JSON))
        .table_valued(*(column(name, table.c[name].type) for name in varying))
        .render_derived(with_types=True)
    )
    values = [
        records.c[name] if name in processors else bindparam(None, first[name], table.c[name].type)
        for name in first
    ]
    session.execute(insert(table).from_select(list(first), select(*values).select_from(records)))


def _same(value: Any) -> Any:
    return value


def copy_rows(table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bool:
    """On PostgreSQL, write `rows` (values in `columns`' order, already what the driver
    is given for them) into `table` with one COPY ... FROM STDIN in the session's
    transaction and return True: several times faster than an executemany of the same
    rows. Elsewhere write nothing and return False (the caller inserts)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return False
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    driver = connection.connection.driver_connection
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return True


def _json_value(value: Any) -> Any:
    """JSON for what a bind processor leaves a Python object: a timestamp or a date as
    PostgreSQL reads it back exactly."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} into JSON for insert_many")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, enforced foreign keys, a busy timeout and reads
    through a memory map."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Reads from the file mapped in memory instead of a read() per page: the
        # drill-down, which looks up each response's account, 77 -> 63 ms at 100,000
        # answers (`make bench`); the summary's scan is unchanged.
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    finally:
        cursor.close()


# --- a time limit on statements -----------------------------------------------------
#
# Inside `statement_time_limit(seconds)`, every transaction that starts is limited to
# what is left of the time: PostgreSQL by `SET LOCAL statement_timeout` at its start
# (SET LOCAL ends with the transaction, so each new one sets it again), SQLite by a
# progress handler that interrupts the running statement once the deadline has passed.
# After the deadline no further statement starts: each raises StatementTimeoutError.
# On PostgreSQL a statement begun late in a transaction may still run for the time
# that was left when the transaction began: the work ends within twice the limit.

#: SQLite calls the progress handler every this many virtual-machine instructions
#: (well under a millisecond of work), so a statement stops soon after the deadline.
SQLITE_PROGRESS_STEPS = 10_000
#: PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
QUERY_CANCELED = "57014"


class StatementTimeoutError(Exception):
    """A statement was refused because the time limit had already passed."""


@dataclass
class TimeLimit:
    seconds: float
    #: time.monotonic() at which the limit runs out (a duration, not a date).
    deadline: float

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0


_current_limit: ContextVar[TimeLimit | None] = ContextVar("statement_time_limit", default=None)


def current_time_limit() -> TimeLimit | None:
    """The limit the current request (thread or task) runs under, if any."""
    return _current_limit.get()


@contextmanager
def statement_time_limit(seconds: float) -> Iterator[TimeLimit]:
    """Limit the statements run inside the block to `seconds` in all.

    A statement still running at the deadline is cancelled by the database (an
    OperationalError that `is_statement_timeout` recognises); one that would start
    after it raises StatementTimeoutError. End the transaction inside the block (commit
    or roll back): on PostgreSQL a transaction begun in it keeps its statement_timeout
    to its end.
    """
    limit = TimeLimit(seconds=seconds, deadline=time.monotonic() + seconds)
    token = _current_limit.set(limit)
    try:
        session = db.session()
        if session.in_transaction():  # begun before the block: limit it too
            _limit_transaction(session.connection(), limit)
        yield limit
    finally:
        _current_limit.reset(token)


def is_statement_timeout(error: BaseException | None) -> bool:
    """Whether `error` (or the DBAPI error it wraps) is a statement cut off by the limit."""
    if error is None:
        return False
    if isinstance(error, StatementTimeoutError):
        return True
    original = getattr(error, "orig", error)
    if isinstance(original, sqlite3.OperationalError):
        return str(original) == "interrupted"
    return getattr(original, "sqlstate", None) == QUERY_CANCELED


def _limit_transaction(connection: Connection, limit: TimeLimit) -> None:
    dbapi_connection = connection.connection.dbapi_connection
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.set_progress_handler(_sqlite_past_deadline, SQLITE_PROGRESS_STEPS)
        connection.connection.info["progress_handler"] = True  # removed at check-in
    elif connection.dialect.name == "postgresql" and dbapi_connection is not None:
        milliseconds = max(1, math.ceil(limit.remaining() * 1000))
        cursor = dbapi_connection.cursor()
        try:
            # On the DBAPI cursor: SQLAlchemy is inside its own begin here.
            cursor.execute(f"SET LOCAL statement_timeout = {int(milliseconds)}")
        finally:
            cursor.close()


def _sqlite_past_deadline() -> int:
    """SQLite's progress handler: non-zero interrupts the running statement."""
    limit = _current_limit.get()
    return int(limit is not None and limit.expired)


@event.listens_for(Engine, "begin")
def _limit_new_transaction(connection: Connection) -> None:
    limit = _current_limit.get()
    if limit is not None:
        _limit_transaction(connection, limit)


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_after_deadline(
    _connection: Any, _cursor: Any, _statement: Any, _parameters: Any, _context: Any, _many: Any
) -> None:
    limit = _current_limit.get()
    if limit is not None and limit.expired:
        raise StatementTimeoutError(f"the time limit of {limit.seconds:g} s has passed")


@event.listens_for(Engine, "checkin")
def _drop_progress_handler(dbapi_connection: Any, record: Any) -> None:
    """A pooled SQLite connection goes back without the request's progress handler."""
    if record.info.pop("progress_handler", False) and dbapi_connection is not None:
        dbapi_connection.set_progress_handler(None, 0)
