"""Health history for the demo: the accounts were customers long before the demo's
campaigns, so past snapshots have them; then a snapshot every week for half a year
(as of each past day) and today's scores, so account pages show a history and why
the score moved."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from survey.db import db
from survey.models import KeyAccount
from survey.scoring import HealthRecompute, backfill_health, recompute_health

#: How far back the demo's health history goes, and how often.
HISTORY_DAYS = 180
HISTORY_EVERY = 7
#: When the demo's accounts became customers (before every campaign of the demo).
CUSTOMERS_SINCE = timedelta(days=2 * 365)


def add_health_history(now: datetime) -> HealthRecompute:
    """Back-date the accounts' creation, backfill weekly snapshots, recompute now."""
    db.session.execute(
        update(KeyAccount)
        .where(KeyAccount.created_at > now - CUSTOMERS_SINCE)
        .values(created_at=now - CUSTOMERS_SINCE)
    )
    db.session.commit()
    backfill_health(HISTORY_DAYS, HISTORY_EVERY)
    return recompute_health()
