"""The analysis cache's storage, chosen from the settings (survey.analysis.cache
keys and checks the entries; this module only says where they live).

- `ANALYSIS_CACHE=0`: no cache, every figure computed per request.
- A Redis URL (`CACHE_REDIS_URL`, else `RATELIMIT_STORAGE_URI` when it is one): one
  store every worker process and machine shares, entries pickled with a TTL.
- Otherwise each process keeps an LRU of `ANALYSIS_CACHE_SIZE` entries.

Either way correctness rests on the data token in each key, not on the store: a
process-local LRU never serves a figure another process's write made stale.
"""

from __future__ import annotations

import logging
import pickle
import time
from typing import Any

from flask import Flask, current_app, has_app_context

from survey.analysis import AnalysisCache, LRUStorage, Storage, install_cache

from .config import ConfigError

EXTENSION = "keypulse.analysis_cache"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: After a Redis error the cache is skipped this long (figures computed meanwhile).
REDIS_RETRY_SECONDS = 30.0

log = logging.getLogger(__name__)


class RedisStorage:
    """Entries in Redis, pickled, each with a TTL. A Redis that fails or is slow
    makes the figures uncached for a while, never the request fail.

    Pickles are only read from the Redis the operator configured: whoever can write
    to it can run code in the app, as with any pickling cache (Flask-Caching's too).
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._down_until = 0.0

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
        log.warning("analysis cache: Redis failed (%s); uncached for %ss", exc, REDIS_RETRY_SECONDS)

    def get(self, key: str) -> Any:
        if not self._available():
            return None
        try:
            raw = self.client.get(key)
        except Exception as exc:  # redis.RedisError, OSError: the cache is optional
            self._failed(exc)
            return None
        if raw is None:
            return None
        try:
            return pickle.loads(raw)  # noqa: S301 (our own entries, see the class docstring)
        except Exception:  # an entry this code cannot read: a miss
            return None

    def set(self, key: str, value: Any, ttl: int) -> None:
        if not self._available():
            return
        try:
            self.client.set(key, pickle.dumps(value, pickle.HIGHEST_PROTOCOL), ex=max(1, ttl))
        except Exception as exc:
            self._failed(exc)


def redis_url(config: Any) -> str | None:
    """The Redis the cache uses, if any."""
    url = str(config.get("CACHE_REDIS_URL") or "")
    if not url:
        limiter = str(config.get("RATELIMIT_STORAGE_URI") or "")
        url = limiter if limiter.startswith(REDIS_SCHEMES) else ""
    return url if url.startswith(REDIS_SCHEMES) else None


def make_storage(config: Any) -> Storage:
    url = redis_url(config)
    if url is None:
        return LRUStorage(int(config["ANALYSIS_CACHE_SIZE"]))
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - redis is a dependency
        raise ConfigError(f"the analysis cache at {url} needs the redis package") from exc
    return RedisStorage(redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5))


def _current() -> AnalysisCache | None:
    if not has_app_context():
        return None
    return current_app.extensions.get(EXTENSION)  # type: ignore[no-any-return]


def init_analysis_cache(app: Flask) -> None:
    """Give `app` its cache (or none) and point survey.analysis at the current app's."""
    cache = None
    if app.config["ANALYSIS_CACHE"]:
        cache = AnalysisCache(make_storage(app.config), ttl=int(app.config["ANALYSIS_CACHE_TTL"]))
    app.extensions[EXTENSION] = cache
    install_cache(_current)


def analysis_cache(app: Flask) -> AnalysisCache | None:
    """`app`'s cache (its counters tell hits from misses)."""
    return app.extensions.get(EXTENSION)  # type: ignore[no-any-return]
