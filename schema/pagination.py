"""Keyset pagination: ORDER BY id, LIMIT first + 1, cursor = opaque base64 of the id.

New rows get higher ids, so a cursor keeps its place when rows are inserted (unlike
offsets), and the database does the slicing (unlike relay.ListConnection).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from survey.paging import Page

from .errors import bad_input

NodeType = TypeVar("NodeType")
_PREFIX = "kp:"


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, field: str = "after") -> int | None:
    """The id after which the page starts; a cursor we did not hand out is BAD_USER_INPUT."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        digits = text.removeprefix(_PREFIX)
        # Only what encode_cursor makes: the prefix and plain ASCII digits of an id.
        if not text.startswith(_PREFIX) or not (digits.isascii() and digits.isdigit()):
            raise ValueError(text)
        row_id = int(digits)
        if row_id < 1:
            raise ValueError(text)
        return row_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_input(f"{cursor!r} is not a cursor this API handed out.", field) from None


def check_first(first: int | None, maximum: int, *, default: int, field: str = "first") -> int:
    """The page size to use: `default` for null, BAD_USER_INPUT below 0 or above `maximum`."""
    if first is None:
        return default
    if first < 0:
        raise bad_input(f"`{field}` must not be negative.", field)
    if first > maximum:
        raise bad_input(f"`{field}` is at most {maximum}; page through with `after`.", field)
    return first


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str
    node: NodeType


@strawberry.type
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="How many items match, across all pages.")
    def total_count(self) -> int:
        # Counted only when asked for: the COUNT is a query of its own.
        return self.count()


def make_connection(
    nodes: list[NodeType],
    ids: list[int],
    has_next: bool,
    count: Callable[[], int],
) -> Connection[NodeType]:
    """A connection over one page's nodes and their rows' ids (the cursors)."""
    edges = [Edge(cursor=encode_cursor(i), node=n) for i, n in zip(ids, nodes, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        count=count,
    )


def page_connection(page: Page[Any], nodes: list[NodeType]) -> Connection[NodeType]:
    """A connection over a survey/ keyset page and the nodes built from its rows."""
    return make_connection(nodes, [r.id for r in page.rows], page.has_next, page.count)
