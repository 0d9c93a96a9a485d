"""Batched loading for lists, without DataLoader (the sync view cannot run one).

Objects resolved together (one page of accounts, campaigns or responses) share a
`Batch` holding all their ids. The first time any of them needs a relation, the
batch loads it for all of them with one survey/ look-up by ids (one IN query) and
keeps the result, so a page costs a fixed number of statements whatever its size.
Many-to-one relations (a response's account and campaign) are joined into the page
query itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class Batch:
    """The ids of rows resolved together, and what has been loaded for all of them."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.ids: list[int] = list(dict.fromkeys(ids))
        self._loaded: dict[Hashable, Any] = {}

    def get(self, key: Hashable, load: Callable[[list[int]], T]) -> T:
        if key not in self._loaded:
            self._loaded[key] = load(self.ids)
        return self._loaded[key]  # type: ignore[no-any-return]


def unique_rows(rows: Iterable[T]) -> list[T]:
    """Rows once each by id, in first-seen order (many responses share an account)."""
    return list({r.id: r for r in rows}.values())  # type: ignore[attr-defined]
