"""Keyset pages: ORDER BY id, LIMIT first + 1, and the total counted only on demand.

New rows get higher ids, so a page boundary keeps its place when rows are inserted
(unlike offsets), and the database does the slicing. The API turns the last id of a
page into its cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from survey.db import db

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Up to `first` rows in id order and whether more follow. `count()` is the number
    of rows on all pages: a COUNT statement of its own, run only when called."""

    rows: list[T]
    has_next: bool
    count: Callable[[], int]


def keyset_page(
    stmt: Select[Any],
    id_column: Any,
    *,
    first: int,
    after_id: int | None,
    count_stmt: Select[Any] | None = None,
) -> Page[Any]:
    """The rows of `stmt` with ids above `after_id`, at most `first` of them.

    The total counts `stmt` without the page bounds (or runs `count_stmt`, if given).
    """
    if count_stmt is None:
        count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    total = count_stmt

    def count() -> int:
        return int(db.session.scalar(total) or 0)

    if after_id is not None:
        stmt = stmt.where(id_column > after_id)
    rows = list(db.session.scalars(stmt.order_by(id_column).limit(first + 1)).unique())
    return Page(rows=rows[:first], has_next=len(rows) > first, count=count)
