"""The rows of a response, written with statements compiled once per dialect and run
on the session's connection (its transaction) past SQLAlchemy's execution machinery
(survey.db.RawStatement), which costs several times these statements.

The ORM's events do not see these writes: the caller marks the figures changed
(survey.data_version.mark_changed) in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, text, update

from survey.db import RawStatement
from survey.models import INVITATION_RESPONDED, Answer, AnswerReason, Invitation, Response

_INVITATIONS = Invitation.__table__
_MARK_RESPONDED = RawStatement(
    update(_INVITATIONS)
    .where(_INVITATIONS.c.id == bindparam("invitation_id"))
    .values(status=bindparam("new_status"), responded_at=bindparam("at"))
)
_RESPONSES = Response.__table__
_RESPONSE_COLUMNS = (
    "invitation_id",
    "campaign_id",
    "account_id",
    "contact_id",
    "submitted_at",
    "channel",
    "locale",
    "comment",
    "entered_by",
)
_INSERT_RESPONSE = RawStatement(
    insert(_RESPONSES)
    .values({name: bindparam(name, type_=_RESPONSES.c[name].type) for name in _RESPONSE_COLUMNS})
    .returning(_RESPONSES.c.id)
)
_ANSWER_COLUMNS = ("response_id", "aspect_id", "score", "reason_text")
_REASON_COLUMNS = ("answer_id", "reason")


def insert_response(connection: Connection, **values: Any) -> int:
    """The response's row (every column of `_RESPONSE_COLUMNS` given); its id."""
    ((response_id,),) = _INSERT_RESPONSE.rows(values, connection)
    return int(response_id)


def insert_answers(
    connection: Connection, rows: Sequence[tuple[int, int, int, str | None]]
) -> dict[int, int]:
    """The answers, (response id, aspect id, score, reason text) each, in one INSERT;
    the new answers' ids by aspect id (RETURNING may give the rows in any order)."""
    return dict(
        _insert_many(connection, Answer.__table__, _ANSWER_COLUMNS, rows, ("aspect_id", "id"))
    )


def insert_reasons(connection: Connection, rows: Sequence[tuple[int, str]]) -> None:
    """The reasons, (answer id, reason code) each, in one INSERT (none: no statement)."""
    if rows:
        _insert_many(connection, AnswerReason.__table__, _REASON_COLUMNS, rows)


def mark_responded(connection: Connection, invitation_id: int, at: datetime) -> None:
    """The invitation answered at `at`."""
    _MARK_RESPONDED.rows(
        {"invitation_id": invitation_id, "new_status": INVITATION_RESPONDED, "at": at}, connection
    )


@lru_cache(maxsize=64)
def _insert_rows(
    table: Table, columns: tuple[str, ...], rows: int, returning: tuple[str, ...]
) -> RawStatement:
    """One INSERT of `rows` VALUES rows, its parameters named `<column>_<row>`.

    Written out rather than `insert(table).values([...])`, whose statements
    SQLAlchemy compiles anew on every call: this text is built and compiled once
    per table and row count (the values are integers and text: no bind types)."""
    names = ", ".join(table.c[c].name for c in columns)
    values = ", ".join("(" + ", ".join(f":{c}_{n}" for c in columns) + ")" for n in range(rows))
    sql = f"INSERT INTO {table.name} ({names}) VALUES {values}"  # noqa: S608 (our names, bound values)
    if returning:
        sql += " RETURNING " + ", ".join(table.c[c].name for c in returning)
    return RawStatement(text(sql))


def _insert_many(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[object, ...]],
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    params = {
        f"{c}_{n}": v for n, row in enumerate(rows) for c, v in zip(columns, row, strict=True)
    }
    return _insert_rows(table, columns, len(rows), returning).rows(params, connection)
