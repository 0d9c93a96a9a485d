"""What the rate limiter counts, in Flask-Limiter's storage (`RATELIMIT_STORAGE_URI`:
memory:// in one process, Redis when several workers must share the counts).

- Failed look-ups of secrets, per client address: unknown survey links, wrong staff
  tokens on a phone interview form and unknown or revoked API tokens all draw on one
  allowance (`RATELIMIT_FAILED_LOOKUPS`), so guessing one kind of secret does not
  leave a fresh allowance for the next. Only failures count: a valid link or token
  is never refused.
- The GraphQL API's hourly budget per API token (`GRAPHQL_HOURLY_BUDGET`, by role),
  charged with each accepted operation's cost (schema.cost). As on GitHub, a token's
  hour starts with its first charged operation and the whole budget comes back when
  it ends.

Flask-Limiter keeps real time; the moments shown to clients (resetAt) are computed
from `survey.clock`, so they follow it when tests move it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import RateLimitItemPerHour
from limits import parse as parse_limit
from limits.strategies import FixedWindowRateLimiter

from schema.budget import BudgetState
from survey.clock import seconds_until, utcnow

from .config import DEFAULT_HOURLY_BUDGET
from .extensions import limiter

log = logging.getLogger(__name__)

#: Failed look-ups one client (IP address) may make before getting 429, unless
#: RATELIMIT_FAILED_LOOKUPS says otherwise. Many contacts of one key account share an
#: office address and must never be locked out of their own links: only failures count.
FAILED_LOOKUP_LIMIT = "30 per 10 minutes"
FAILED_LOOKUP_SCOPE = "failed-lookup"
BUDGET_SCOPE = "graphql-budget"
BUDGET_WINDOW = timedelta(hours=1)


def limits_enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True)) and limiter.enabled


def _key(*parts: str) -> list[str]:
    # The prefix keeps apps that share one Redis apart, as Flask-Limiter's own keys.
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return [p for p in (prefix, *parts) if p]


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def count_failed_lookup() -> int | None:
    """Count one failed look-up for this client. None while it is within its
    allowance; once over it, the whole seconds until it may try again."""
    if not limits_enabled():
        return None
    rule = parse_limit(current_app.config.get("RATELIMIT_FAILED_LOOKUPS") or FAILED_LOOKUP_LIMIT)
    key = _key(FAILED_LOOKUP_SCOPE, get_remote_address())
    try:
        if limiter.limiter.hit(rule, *key):
            return None
        reset, _remaining = limiter.limiter.get_window_stats(rule, *key)
    except Exception:  # the limiter's storage (Redis) is down: answer as usual
        log.exception("rate limit storage unavailable; not counting this failed look-up")
        return None
    return _whole_seconds(seconds_until(reset))


def hourly_budget(role: str) -> int:
    """A token's budget per hour: GRAPHQL_HOURLY_BUDGET, one number for every role or
    one per role."""
    setting = current_app.config.get("GRAPHQL_HOURLY_BUDGET")
    if isinstance(setting, Mapping):
        return int(setting.get(role, DEFAULT_HOURLY_BUDGET.get(role, 0)))
    if setting:
        return int(setting)
    return DEFAULT_HOURLY_BUDGET.get(role, 0)


def _state(allowed: bool, limit: int, remaining: int, seconds: float) -> BudgetState:
    # The window's end on this app's clock, rounded up to the second: the same moment
    # for every operation in the window.
    end = utcnow() + timedelta(seconds=seconds)
    reset_at: datetime = end.replace(microsecond=0)
    if end.microsecond:
        reset_at += timedelta(seconds=1)
    return BudgetState(allowed, limit, remaining, reset_at, _whole_seconds(seconds))


class TokenBudget:
    """schema.budget.Budget on Flask-Limiter's storage: a fixed hour per token."""

    def charge(self, token_id: int, role: str, cost: int) -> BudgetState:
        limit = hourly_budget(role)
        window = BUDGET_WINDOW.total_seconds()
        if not limits_enabled():
            return _state(True, limit, limit, window)
        item = RateLimitItemPerHour(limit)
        key = _key(BUDGET_SCOPE, str(token_id))
        strategy = FixedWindowRateLimiter(limiter.storage)
        try:
            # Charged only when it fits (test first): a refused operation costs nothing.
            # Two workers racing over the last of a budget may overdraw it by one
            # operation; the storage has no atomic "add unless over".
            allowed = strategy.test(item, *key, cost=cost) and strategy.hit(item, *key, cost=cost)
            reset, remaining = strategy.get_window_stats(item, *key)
        except Exception:  # the limiter's storage (Redis) is down: serve, uncharged
            log.exception("rate limit storage unavailable; not charging this operation")
            return _state(True, limit, limit, window)
        # Nothing charged yet in this hour: a new one would start now.
        seconds = seconds_until(reset) if remaining < limit else window
        return _state(allowed, limit, remaining, seconds)
