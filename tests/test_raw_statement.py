"""survey.db.RawStatement: a statement compiled once and run on the DBAPI cursor gives
what SQLAlchemy's own execution gives, on every backend: the bind types applied
(times as SQLAlchemy stores them), the statement's own values (a LIMIT), RETURNING
rows with their result types, nothing for a plain write, SQLAlchemy's exceptions, and
SQLAlchemy's execution under a statement time limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from survey.data_version import DataVersion
from survey.db import RawStatement, db, statement_time_limit

_TABLE = DataVersion.__table__
_INSERT = RawStatement(
    insert(_TABLE)
    .values(
        id=bindparam("row_id"),
        token=bindparam("new_token"),
        changed_at=bindparam("at", type_=_TABLE.c.changed_at.type),
    )
    .returning(_TABLE.c.id, _TABLE.c.changed_at)
)
_TOUCH = RawStatement(
    update(_TABLE).where(_TABLE.c.id == bindparam("row_id")).values(token=bindparam("new_token"))
)
_NEWEST = RawStatement(
    select(_TABLE.c.id, _TABLE.c.changed_at).order_by(_TABLE.c.id.desc()).limit(2)
)
AT = datetime(2026, 11, 23, 9, 30, 0, 250000, tzinfo=UTC)


def _stored(row_id: int) -> tuple[str, datetime]:
    token, changed_at = db.session.execute(
        select(_TABLE.c.token, _TABLE.c.changed_at).where(_TABLE.c.id == row_id)
    ).one()
    return token, changed_at


def test_writes_and_reads_as_sqlalchemy_does(app: Flask) -> None:
    with app.app_context():
        connection = db.session.connection()
        rows = [
            _INSERT.rows({"row_id": n, "new_token": f"t{n}", "at": AT}, connection)
            for n in (7, 8, 9)
        ]
        # RETURNING comes back with the result types applied (aware UTC).
        assert rows == [[(7, AT)], [(8, AT)], [(9, AT)]]
        assert _TOUCH.rows({"row_id": 8, "new_token": "changed"}, connection) == []
        # The statement's own LIMIT holds.
        assert _NEWEST.rows({}, connection) == [(9, AT), (8, AT)]
        db.session.commit()
        assert _stored(8) == ("changed", AT)
        assert _stored(9) == ("t9", AT)
        if db.engine.dialect.name == "sqlite":
            # The same text SQLAlchemy's DateTime writes: comparisons in SQL rely on it.
            raw = (
                db.session.connection()
                .exec_driver_sql("SELECT changed_at FROM data_version WHERE id = 9")
                .scalar()
            )
            assert raw == "2026-11-23 09:30:00.250000"


def test_a_constraint_violation_is_sqlalchemys_integrity_error(app: Flask) -> None:
    with app.app_context():
        connection = db.session.connection()
        _INSERT.rows({"row_id": 5, "new_token": "a", "at": AT}, connection)
        with pytest.raises(IntegrityError):
            _INSERT.rows({"row_id": 5, "new_token": "b", "at": AT}, connection)
        db.session.rollback()


def test_under_a_time_limit_it_runs_through_sqlalchemy(app: Flask) -> None:
    with app.app_context():
        with statement_time_limit(30):
            connection = db.session.connection()
            assert _INSERT.rows({"row_id": 3, "new_token": "x", "at": AT}, connection) == [(3, AT)]
            assert _TOUCH.rows({"row_id": 3, "new_token": "y"}, connection) == []
            assert _NEWEST.rows({}, connection)[0] == (3, AT)
            db.session.commit()
        assert _stored(3) == ("y", AT)


def test_a_read_without_a_connection_uses_a_pooled_one(app: Flask) -> None:
    with app.app_context():
        _INSERT.rows({"row_id": 4, "new_token": "x", "at": AT}, db.session.connection())
        db.session.commit()
        assert _NEWEST.rows({})[0] == (4, AT)


def test_whether_a_statement_gives_rows_is_known_before_it_runs(app: Flask) -> None:
    """Known from the statement (psycopg's `cursor.description` builds a Column per
    column each time it is looked at); a text is looked at after it ran."""
    insert_sql = "INSERT INTO data_version (id, token, changed_at) VALUES (:i, 'x', '2026-11-23')"
    text_insert = RawStatement(text(insert_sql))
    text_returning = RawStatement(text(insert_sql + " RETURNING id"))
    with app.app_context():
        dialect = db.engine.dialect
        assert [s._for(dialect).returns_rows for s in (_INSERT, _TOUCH, _NEWEST)] == [
            True,
            False,
            True,
        ]
        assert text_insert._for(dialect).returns_rows is None
        connection = db.session.connection()
        assert text_insert.rows({"i": 11}, connection) == []
        assert text_returning.rows({"i": 12}, connection) == [(12,)]
        db.session.rollback()
