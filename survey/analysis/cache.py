"""Repeated figures are cheap: the public summaries, drill-downs and defection
reasons are cached, keyed by (function, arguments, data token).

The data token (survey.data_version) changes in the same transaction as every
write the figures read, so a figure cached before a write is never looked up after
that write commits, in any process: no invalidation message to lose, no race
between a write and a cache delete. A session with uncommitted changes of its own
bypasses the cache (what it would compute, nobody else may see yet).

What keys an entry: the function, its arguments after defaults are applied (the
locale and the minimum group size are arguments), the data token and a
fingerprint of this package's source (a deploy never reads entries another
version computed). The caller's role is not part of the key: no cached figure
depends on it (the API checks permissions before a resolver runs), so viewers and
managers share entries.

Storage is injected (`install_cache`): the app factory (web/analysis_cache.py) hands a
process-local `LRUStorage` or a Redis store. Cached values are immutable: frozen
dataclasses whose fields hold tuples, never lists; the list (or dict) around them is
copied for each caller, so what one caller does with its result cannot reach another.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

from survey.data_version import current_token
from survey.db import db

P = ParamSpec("P")
R = TypeVar("R")

#: Changes when the key or value layout does (old entries are then ignored).
FORMAT = 1


class Storage(Protocol):
    """Where entries live: `get` returns None for a miss."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, ttl: int) -> None: ...


class LRUStorage:
    """A process-local store: at most `max_entries`, least recently used out first,
    each entry for at most its ttl seconds. Thread-safe."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max(1, max_entries)
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: Any, ttl: int) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclasses.dataclass
class AnalysisCache:
    """One app's cache: its storage, how long entries live, and what happened."""

    storage: Storage
    ttl: int = 600
    hits: int = 0
    misses: int = 0
    #: Calls that ran uncached: uncommitted changes in the session, or no data token.
    bypassed: int = 0


_locate: Callable[[], AnalysisCache | None] = lambda: None  # noqa: E731


def install_cache(locate: Callable[[], AnalysisCache | None]) -> None:
    """Tell the cached functions where the current cache is (None: run uncached)."""
    global _locate
    _locate = locate


@functools.cache
def fingerprint() -> str:
    """A digest of the source the figures come from: this package and the kernel
    modules it computes with."""
    here = Path(__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=8)
    for path in [
        *sorted(here.glob("*.py")),
        # The stop lists decide which terms comment themes count.
        *sorted(here.glob("stopwords/*.txt")),
        *(here.parent / f"{name}.py" for name in ("scale", "statistics", "models")),
    ]:
        digest.update(path.name.encode())
        try:
            digest.update(path.read_bytes())
        except OSError:  # pragma: no cover - installed without sources
            digest.update(b"?")
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    """A value's stable, type-tagged form for the key; TypeError for what has none."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return (type(value).__qualname__, value.value)
    if isinstance(value, datetime | date):
        return (type(value).__name__, value.isoformat())
    if isinstance(value, list | tuple):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, set | frozenset):
        return ("set", tuple(sorted(repr(_canonical(v)) for v in value)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__qualname__,
            tuple((f.name, _canonical(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    raise TypeError(f"cannot key a cached figure on {type(value).__name__}")


def _check_immutable(value: Any) -> Any:
    """`value` if nothing in it can change after it is cached, else TypeError."""
    if value is None or isinstance(value, bool | int | float | str | enum.Enum | date):
        return value
    if isinstance(value, tuple):
        for item in value:
            _check_immutable(item)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if not type(value).__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise TypeError(f"{type(value).__name__} must be a frozen dataclass to be cached")
        for f in dataclasses.fields(value):
            _check_immutable(getattr(value, f.name))
        return value
    raise TypeError(f"a cached figure holds a {type(value).__name__}: use a tuple")


def _freeze(result: Any) -> Any:
    """What is stored: the result's outer list as a tuple (a dict of them for batches)."""
    if isinstance(result, dict):
        return {k: _freeze(v) for k, v in result.items()}
    if isinstance(result, list):
        return tuple(_check_immutable(v) for v in result)
    return _check_immutable(result)


def _thaw(stored: Any) -> Any:
    """What a caller gets: new outer lists (and dict) around the shared frozen items."""
    if isinstance(stored, dict):
        return {k: _thaw(v) for k, v in stored.items()}
    if isinstance(stored, tuple):
        return list(stored)
    return stored


def cached(function: Callable[P, R]) -> Callable[P, R]:
    """`function` (returning a list or a dict of lists of frozen dataclasses) through
    the installed cache."""
    signature = inspect.signature(function)
    name = f"{function.__module__}.{function.__qualname__}"

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        cache = _locate()
        if cache is None:
            return function(*args, **kwargs)
        token = current_token(db.session)
        if token is None:
            cache.bypassed += 1
            return function(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = repr(tuple((k, _canonical(v)) for k, v in bound.arguments.items()))
        digest = hashlib.blake2b(arguments.encode(), digest_size=16).hexdigest()
        key = f"keypulse:analysis:{FORMAT}:{fingerprint()}:{name}:{token}:{digest}"
        stored = cache.storage.get(key)
        if stored is not None:
            cache.hits += 1
            return _thaw(stored)  # type: ignore[no-any-return]
        cache.misses += 1
        stored = _freeze(function(*args, **kwargs))
        cache.storage.set(key, stored, cache.ttl)
        return _thaw(stored)  # type: ignore[no-any-return]

    wrapper.uncached = function  # type: ignore[attr-defined]
    return wrapper
