"""Two score recomputes at once (two outbox workers, `flask health recompute` from cron
while the worker runs, a manager changing a model): the second waits for the first
(survey.scoring.versions.serialise_score_writes) and replaces what it stored.

Without the lock, on PostgreSQL the second's DELETE does not see the rows the first
inserted while it waited on their row locks, and its INSERT fails on their primary
keys. SQLite runs one writer at a time: its second recompute waits for the write lock
and deletes the first's rows like any others."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from survey.db import db
from survey.models import MODEL_HEALTH, AccountScore, ScoreModel
from survey.scoring import health, recompute_health

from .health_data import build_health_data


def _health_rows() -> int:
    model_id = db.session.scalar(select(ScoreModel.id).where(ScoreModel.code == MODEL_HEALTH))
    return int(
        db.session.scalar(
            select(func.count()).select_from(AccountScore).where(AccountScore.model_id == model_id)
        )
    )


def test_two_health_recomputes_at_once_both_succeed(app, monkeypatch) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("row and advisory locks: PostgreSQL (SQLite runs one writer at a time)")
    with app.app_context():
        build_health_data()
        recompute_health()
        stored = _health_rows()
    assert stored > 0

    first_computing = threading.Event()
    second_computed = threading.Event()
    real = health.health_scores_as_of

    def scores_as_of(now: datetime) -> Any:
        result = real(now)
        if threading.current_thread().name == "first":
            first_computing.set()
            # Unlocked, the second computes meanwhile and both go on to replace the
            # rows; locked, it waits for this commit, so this wait runs out.
            second_computed.wait(timeout=2)
        else:
            second_computed.set()
        return result

    monkeypatch.setattr(health, "health_scores_as_of", scores_as_of)
    errors: list[BaseException] = []

    def recompute(name: str) -> None:
        try:
            if name == "second":
                assert first_computing.wait(timeout=30)
            with app.app_context():
                recompute_health()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=recompute, args=(n,), name=n) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        assert _health_rows() == stored
