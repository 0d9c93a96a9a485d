"""Scores at scale: value and health for every account, and one account's scores read.

`scores_recompute_item` adds eight indicators per active account for one period
(written in bulk, like the rest of the data set), then times recomputing every value
model's scores (`recompute_value_scores`) and health (`recompute_health`, with its
daily snapshot) together, against the floor: the raw SQL that reads the same inputs
(the period's indicators; the accounts; responses, overall and aspect answers,
invitations and follow-up cases), fetched on a DBAPI cursor. Target: under 10 s for
both on SQLite.

`scores_read_item` times one account's value and health through GraphQL
(`account(id) { value {...} health {...} }`) against the raw SELECT of its score
rows. Target: under 20 ms.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from survey.clock import utcnow
from survey.db import db
from survey.models import AccountMetric, AccountScore, Defection, KeyAccount
from survey.scoring import ensure_score_models, recompute_health
from survey.scoring.value import recompute_value_scores

from .data import bulk_insert
from .items import ItemResult, Settings
from .timer import interleaved

PERIOD = "2026"
PERIOD_END = date(2026, 12, 31)
RECOMPUTE_TARGET_S = 10.0
READ_TARGET_S = 0.020

#: What the two recomputes read, as plain SQL (the floor).
INPUT_READS = (
    "SELECT account_id, indicator, value FROM account_metrics WHERE period = '2026'",
    "SELECT id, relationship_stage, active, created_at FROM key_accounts",
    "SELECT account_id, defected_on FROM defections",
    "SELECT id, account_id, submitted_at FROM responses",
    "SELECT response_id, aspect_id, score FROM answers",
    "SELECT account_id, campaign_id, sent_at, responded_at FROM invitations",
    "SELECT id, status, closes_at, closed_at FROM campaigns",
    "SELECT account_id, status, opened_at, due_at, resolved_at FROM follow_ups",
)

ACCOUNT_SCORES = """query($id: ID!) { account(id: $id) {
  value { score band parts { indicator value percentile weight contribution } }
  health { score band parts { measure value percentile weight contribution } } } }"""


def add_indicators(seed: int) -> int:
    """Eight indicators per active account for PERIOD, loosely tied to its revenue."""
    rng = random.Random(seed)
    now = utcnow()
    with db.engine.begin() as conn:
        # Customers for a year already (the generator dates them by the wall clock,
        # which a test's moved clock may be behind): health counts them from then.
        conn.execute(
            update(KeyAccount)
            .where(KeyAccount.created_at > now - timedelta(days=365))
            .values(created_at=now - timedelta(days=365))
        )
        accounts = conn.execute(
            select(KeyAccount.id, KeyAccount.annual_revenue).where(KeyAccount.active.is_(True))
        ).all()

        def rows() -> Any:
            for account_id, revenue in accounts:
                sales = float(revenue) * rng.uniform(0.6, 1.4)
                for indicator, value in (
                    ("revenue", sales),
                    ("gross_profit", sales * rng.uniform(0.05, 0.35)),
                    ("collected", sales * rng.uniform(0.6, 1.0)),
                    ("days_sales_outstanding", float(rng.randint(15, 150))),
                    ("orders", float(rng.randint(1, 400))),
                    ("credit_rating", float(rng.randint(1, 5))),
                    ("growth_potential", float(rng.randint(1, 5))),
                    ("service_cost", sales * rng.uniform(0.01, 0.1)),
                ):
                    yield (account_id, PERIOD, PERIOD_END, indicator, round(value, 2), now)

        return bulk_insert(
            conn,
            AccountMetric.__table__,  # type: ignore[arg-type]
            ("account_id", "period", "period_end", "indicator", "value", "imported_at"),
            rows(),
        )


def _raw_reads() -> int:
    """Every input row the recomputes read, fetched on a DBAPI cursor."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        fetched = 0
        for sql in INPUT_READS:
            cursor.execute(sql)
            fetched += len(cursor.fetchall())
        cursor.close()
        return fetched
    finally:
        raw.close()


def scores_recompute_item(app: Flask, seed: int, settings: Settings) -> ItemResult:
    """Seconds to recompute value (every value model) and health for every account."""
    with app.app_context():
        ensure_score_models()
        db.session.commit()
        indicators = add_indicators(seed)
        active = int(
            db.session.scalar(select(func.count()).where(KeyAccount.active.is_(True))) or 0
        )
        # Health also counts an account whose recorded defection is dated after today
        # (it has not left yet: survey.scoring.health_measures); value does not.
        leaving_later = int(
            db.session.scalar(
                select(func.count())
                .select_from(Defection)
                .where(Defection.defected_on > utcnow().date())
            )
            or 0
        )
        value_s: list[float] = []
        health_s: list[float] = []
        cpu_s: list[float] = []

        def recompute() -> None:
            cpu = time.process_time()
            t = time.perf_counter()
            value = recompute_value_scores(PERIOD)
            value_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            health = recompute_health()
            health_s.append(time.perf_counter() - t)
            cpu_s.append(time.process_time() - cpu)
            if value.accounts != active or health.accounts != active + leaving_later:
                raise RuntimeError(
                    f"recomputed {value.accounts} value and {health.accounts} health scores "
                    f"for {active} active accounts ({leaving_later} leaving later)"
                )

        fetched = _raw_reads()
        if fetched < indicators:
            raise RuntimeError(f"the floor read {fetched} rows, fewer than {indicators}")
        paired = interleaved(recompute, _raw_reads, rounds=max(1, settings.launches), warmup=0)
        rows = db.session.scalar(select(func.count()).select_from(AccountScore)) or 0
        db.session.remove()
    measured, floor = paired.a_median, paired.b_median
    return ItemResult(
        name=f"value and health recompute, {active:,} accounts, {indicators:,} indicators",
        unit="s",
        measured=measured,
        floor=floor,
        ratio=measured / floor if floor else None,
        target=f"< {RECOMPUTE_TARGET_S:.0f} s",
        met=measured < RECOMPUTE_TARGET_S,
        detail={
            "value_s": round(statistics.median(value_s), 3),
            "health_s": round(statistics.median(health_s), 3),
            # This process's CPU time: what the wall time would be on an idle core
            # (less I/O waits), for reading a run on a shared machine.
            "cpu_s": round(statistics.median(cpu_s), 3),
            "score_rows": int(rows),
            # Accounts with a defection dated after today: health scores them, value not.
            "leaving_later": leaving_later,
            "input_rows": fetched,
            "runs": [round(s, 3) for s in paired.a],
        },
    )


def _gql(client: FlaskClient, token: str, account_id: int) -> Callable[[], dict[str, Any]]:
    def call() -> dict[str, Any]:
        resp = client.post(
            "/graphql",
            json={"query": ACCOUNT_SCORES, "variables": {"id": str(account_id)}},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = resp.get_json()
        if resp.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"account scores failed: {resp.get_data(as_text=True)[:500]}")
        return body["data"]["account"]

    return call


def scores_read_item(app: Flask, client: FlaskClient, token: str, settings: Settings) -> ItemResult:
    """Latency of one account's value and health through GraphQL."""
    with app.app_context():
        account_id = db.session.scalar(
            select(AccountScore.account_id).where(AccountScore.score.is_not(None)).limit(1)
        )
        engine = db.engine
        db.session.remove()
    if account_id is None:
        raise RuntimeError("no scored account: run scores_recompute_item first")
    read = _gql(client, token, account_id)

    def floor() -> list[Any]:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(
                "SELECT model_id, score, band, parts FROM account_scores WHERE account_id = "
                + str(int(account_id))
            )
            return list(cursor.fetchall())
        finally:
            raw.close()

    with app.app_context():
        got = read()
        stored = floor()
        db.session.remove()
    if got["health"] is None or got["value"] is None or len(stored) < 2:
        raise RuntimeError(f"account {account_id}: scores missing in {got} / {len(stored)} rows")
    health_scores = {round(s, 4) for _, s, _, _ in stored if s is not None}
    if got["health"]["score"] is not None and round(got["health"]["score"], 4) not in health_scores:
        raise RuntimeError("GraphQL and the stored rows disagree on the health score")
    repeat = max(1, settings.batch // 4)
    paired = interleaved(read, floor, rounds=settings.rounds, repeat_a=repeat, repeat_b=repeat)
    measured, base = paired.a_median, paired.b_median
    return ItemResult(
        name="one account's value and health via GraphQL",
        unit="s",
        measured=measured,
        floor=base,
        ratio=measured / base if base else None,
        target=f"< {READ_TARGET_S * 1000:.0f} ms",
        met=measured < READ_TARGET_S,
        detail={"account_id": int(account_id)},
    )


__all__ = ["add_indicators", "scores_read_item", "scores_recompute_item"]
