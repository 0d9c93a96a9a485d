"""Health history for the demo: a snapshot every week for half a year (as of each
past day) and today's scores, so account pages show a history and why the score
moved. The demo's accounts entered the registry today, after their first
campaigns: they count in the past snapshots from their first invitation on."""

from __future__ import annotations

from survey.scoring import HealthRecompute, backfill_health, recompute_health

#: How far back the demo's health history goes, and how often.
HISTORY_DAYS = 180
HISTORY_EVERY = 7


def add_health_history() -> HealthRecompute:
    """Backfill weekly snapshots, then compute today's scores and snapshot."""
    backfill_health(HISTORY_DAYS, HISTORY_EVERY)
    return recompute_health()
