"""The one clock: every "now" and "today" in KeyPulse is read here.

Code never calls `datetime.now()` or `date.today()` itself. Tests move this
clock with `travel_to` (a fixture does it for every test), so data built from a
fixed date and the code that judges it ("overdue", "closed", "in the future")
agree on what today is, whatever day the suite runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo

# How far the clock is moved from the real one; zero outside tests.
_offset = timedelta(0)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC) + _offset


def today(tz: tzinfo | None = None) -> date:
    """Today's date in `tz` (UTC when omitted)."""
    return utcnow().astimezone(tz or UTC).date()


def seconds_until(epoch: float) -> float:
    """Seconds from now until `epoch`, a moment in real (unmoved) Unix time.

    Libraries keep their own real time (Flask-Limiter's windows end at such moments):
    this turns one into a duration, which then adds to `utcnow()`, so the moments
    KeyPulse shows follow this clock whatever the tests have moved it to.
    """
    return epoch - time.time()


@contextmanager
def travel_to(moment: datetime) -> Iterator[None]:
    """Move the clock so that it reads `moment` now and keeps ticking from there.

    Ticking (rather than freezing) keeps timestamps of rows written one after
    another in order, as they are in production.
    """
    global _offset
    if moment.tzinfo is None:
        raise ValueError("travel_to needs an aware datetime")
    previous = _offset
    _offset = moment - datetime.now(UTC)
    try:
        yield
    finally:
        _offset = previous
