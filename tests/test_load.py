"""Load and concurrency: nothing lost, nothing doubled.

The real app runs under gunicorn on a loopback port against a database prepared by
`flask db upgrade` and the services; several client processes submit surveys at once,
a quarter of the POSTs as bursts of the same link released at the same instant.
`make test` runs a short version (300 POSTs over 80 invitations); `make load`
(KEYPULSE_LOAD=full) the full one: 2,000 POSTs over 500 invitations. Both print
the throughput and latency figures.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import secrets
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, make_url, select

from survey.campaigns import CampaignRequest, launch_campaign
from survey.db import db
from survey.errors import ConflictError
from survey.models import (
    INVITATION_RESPONDED,
    Answer,
    Campaign,
    Invitation,
    Response,
)
from survey.scale import DEFAULT_ASPECTS
from survey.tokens import hash_token

from .conftest import BACKENDS, TEST_SECRET, make_test_app
from .factories import make_account
from .loadtest.client import Outcome, Plan, run_plan
from .loadtest.server import free_port, gunicorn, migrate, seed_campaign

FULL = os.environ.get("KEYPULSE_LOAD", "").lower() == "full"
POSTS, INVITATIONS, CLIENTS = (2000, 500, 8) if FULL else (300, 80, 4)
#: Bounds the whole client phase; requests have their own 30 s timeout.
CLIENT_PHASE_LIMIT = 900 if FULL else 300


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody else uses: an SQLite file, or a PostgreSQL database made for
    this test and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'load.sqlite3'}"
        return
    import psycopg

    server = make_url(os.environ["TEST_DATABASE_URL"])
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"keypulse_load_{secrets.token_hex(5)}"
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_plans(tokens: list[str], port: int) -> tuple[list[Plan], list[str]]:
    """Split the links: bursts (every client POSTs each at once) make a quarter of the
    POSTs; every other link gets invalid -> valid -> replay, plus extra replays to
    reach POSTS in total."""
    aspects = tuple(a.code for a in DEFAULT_ASPECTS)
    burst_count = round(POSTS / 4 / CLIENTS)
    bursts, normal = tokens[:burst_count], tokens[burst_count:]
    extra = POSTS - burst_count * CLIENTS - 3 * len(normal)
    assert extra >= 0, "too few POSTs for this many invitations"
    replays: Counter[str] = Counter()
    for i in range(extra):
        replays[normal[i % len(normal)]] += 1
    plans = [
        Plan(
            port=port,
            aspects=aspects,
            normal=normal[i::CLIENTS],
            replays={t: replays[t] for t in normal[i::CLIENTS] if replays[t]},
            bursts=bursts,
        )
        for i in range(CLIENTS)
    ]
    return plans, bursts


def run_clients(plans: list[Plan]) -> tuple[list[Outcome], list[str], float]:
    """Start one process per plan, wait for all (bounded), return what they saw."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
    barrier = ctx.Barrier(len(plans))
    results = ctx.Queue()
    processes = [
        ctx.Process(target=run_plan, args=(plan, barrier, results, i), daemon=True)
        for i, plan in enumerate(plans)
    ]
    start = time.perf_counter()
    for process in processes:
        process.start()
    outcomes: list[Outcome] = []
    errors: list[str] = []
    deadline = time.monotonic() + CLIENT_PHASE_LIMIT
    try:
        for _ in processes:
            _index, found, failed = results.get(timeout=max(1.0, deadline - time.monotonic()))
            outcomes.extend(Outcome(*o) for o in found)
            errors.extend(failed)
    except queue.Empty:
        errors.append("client processes did not finish in time")
    elapsed = time.perf_counter() - start
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
            process.join(timeout=10)
    return outcomes, errors, elapsed


def report(backend: str, outcomes: list[Outcome], elapsed: float) -> str:
    latencies = sorted(o.seconds for o in outcomes)
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    statuses = dict(sorted(Counter(o.status for o in outcomes).items()))
    return (
        f"\nload [{backend}]: {len(outcomes)} POSTs over {INVITATIONS} invitations from "
        f"{CLIENTS} processes in {elapsed:.1f} s = {len(outcomes) / elapsed:.0f} POST/s "
        f"(each after a GET of the page); latency p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms; statuses {statuses}"
    )


def test_concurrent_submissions_are_stored_exactly_once(empty_database, tmp_path, capsys):
    backend = empty_database.split(":", 1)[0].split("+")[0]
    secret = secrets.token_urlsafe(48)
    migrate(empty_database, secret)
    port = free_port()
    app = make_test_app(empty_database, SECRET_KEY=secret)
    with app.app_context():
        tokens = seed_campaign(INVITATIONS, secret, f"http://127.0.0.1:{port}")
        db.engine.dispose()
    assert len(tokens) == INVITATIONS
    plans, bursts = make_plans(tokens, port)

    with gunicorn(empty_database, secret, port=port, log_path=tmp_path / "gunicorn.log"):
        outcomes, errors, elapsed = run_clients(plans)
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")
    with capsys.disabled():
        print(report(backend, outcomes, elapsed))

    assert errors == []
    assert len(outcomes) == POSTS
    assert [o for o in outcomes if o.status >= 500] == []
    assert "Traceback" not in log, log[-3000:]
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.kind].append(o)
    assert {o.status for o in by_kind["invalid"]} == {422}
    assert {o.status for o in by_kind["valid"]} == {303}
    assert {(o.status, o.already) for o in by_kind["replay"]} == {(409, True)}
    # Each burst: every client POSTed the same link at once; exactly one was accepted,
    # the others were told it was already received.
    per_burst: dict[str, Counter[tuple[int, bool]]] = defaultdict(Counter)
    for o in by_kind["burst"]:
        per_burst[o.token][(o.status, o.already)] += 1
    assert set(per_burst) == set(bursts)
    for token, seen in per_burst.items():
        assert seen == {(303, False): 1, (409, True): CLIENTS - 1}, (token, seen)

    accepted = {hash_token(o.token) for o in outcomes if o.status == 303}
    assert len(accepted) == INVITATIONS
    with app.app_context():
        rows = db.session.execute(
            select(Invitation.token_hash, func.count(Response.id))
            .join(Response, Response.invitation_id == Invitation.id)
            .group_by(Invitation.token_hash)
        ).all()
        assert {h for h, _ in rows} == accepted  # every 303 has its row, and only those
        assert {n for _, n in rows} == {1}  # exactly one response per invitation
        answers = db.session.scalar(select(func.count()).select_from(Answer))
        assert answers == INVITATIONS * len(DEFAULT_ASPECTS)
        statuses = db.session.execute(
            select(Invitation.status, func.count()).group_by(Invitation.status)
        ).all()
        assert dict(statuses) == {INVITATION_RESPONDED: INVITATIONS}
        db.session.remove()
        db.engine.dispose()


# --- concurrent launches ---------------------------------------------------------------


def _launch_together(app: Any, requests: list[CampaignRequest]) -> list[object]:
    """Launch each request in its own thread (own app context, own connection), all
    released at once; returns the result or the exception of each."""
    barrier = threading.Barrier(len(requests))
    results: list[object] = [None] * len(requests)

    def launch(i: int) -> None:
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                results[i] = launch_campaign(requests[i], secret_key=TEST_SECRET)
            except Exception as exc:
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=launch, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_launches_at_the_same_moment_respect_recently_surveyed(app, monkeypatch):
    """Two campaigns launched together: the second draws its frame only after the
    first's invitations exist, so no account is invited by both."""
    import time

    import survey.campaigns.launch as campaigns

    with app.app_context():
        for n in range(1, 11):
            make_account(f"KA{n:03d}")
        db.session.commit()
    slow_store = campaigns._store_frame

    def store_slowly(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.3)  # widen the window between drawing the frame and committing
        slow_store(*args, **kwargs)

    monkeypatch.setattr(campaigns, "_store_frame", store_slowly)
    together = [CampaignRequest(name=f"Q4-{i}", size=5, seed=i) for i in (1, 2)]
    results = _launch_together(app, together)
    assert not [r for r in results if isinstance(r, Exception)], results
    with app.app_context():
        twice = db.session.execute(
            select(Invitation.account_id).group_by(Invitation.account_id).having(func.count() > 1)
        ).all()
        assert twice == []
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 10


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_launches_never_invite_an_account_twice(app, round_):
    with app.app_context():
        for n in range(1, 41):
            make_account(f"KA{n:03d}", tier="AB"[n % 2])
        db.session.commit()

    # The same name: one launch wins, the other gets a ConflictError (not a 500).
    same = [CampaignRequest(name="Q4", size=30, seed=s) for s in (1, 2, 3)]
    results = _launch_together(app, same)
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    assert len(conflicts) == 2, results
    assert all(c.field == "name" for c in conflicts)

    # Different names over overlapping frames (nobody excluded for recent surveys).
    overlapping = [
        CampaignRequest(name=f"Q4-{i}", size=30, seed=10 + i, exclude_days=0, stratify_by=s)
        for i, s in enumerate((None, "tier", None))
    ]
    results = _launch_together(app, overlapping)
    assert not [r for r in results if isinstance(r, Exception)], results

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Campaign)) == 4
        per_pair = db.session.execute(
            select(Invitation.campaign_id, Invitation.account_id, func.count())
            .group_by(Invitation.campaign_id, Invitation.account_id)
            .having(func.count() > 1)
        ).all()
        assert per_pair == []
        sizes = db.session.execute(
            select(Campaign.name, func.count(Invitation.id))
            .join(Invitation, Invitation.campaign_id == Campaign.id)
            .group_by(Campaign.name)
        ).all()
        assert dict(sizes) == {"Q4": 30, "Q4-0": 30, "Q4-1": 30, "Q4-2": 30}
