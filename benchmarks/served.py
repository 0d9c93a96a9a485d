"""The survey page and POST served for real: gunicorn with 4 sync workers on a
loopback port, 50 concurrent clients, requests/s and latency percentiles.

The in-process items (benchmarks.items) time one request at a time through the
WSGI test client; this is what a customer's browser meets: sockets, HTTP parsing,
worker processes sharing the database. The bare route is served and loaded the
same way, so the ratio reads like the in-process one. The load is bounded in
requests and in seconds, whichever ends first, and the server is stopped when it
ends (or fails). Every answer is checked (a 200 page with its CSRF field, a 303
after a POST) and the stored responses are counted against the 303s.

The clients are threads of this process (http.client, a new connection per
request: gunicorn's sync workers close each one). On 2 cores they compete with
the workers for CPU, so the figures are a floor of what the server can do, and
the machine's load average is reported with them.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask

from survey.db import db

from .items import FLOOR_PATH, ItemResult, raw_query, survey_form_data

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90
_CSRF_RE = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass(frozen=True, slots=True)
class ServedSettings:
    workers: int = 4
    clients: int = 50
    requests: int = 2000  # at most, per run
    seconds: float = 20.0  # at most, per run
    port: int = 0  # 0: a free port


@dataclass
class LoadRun:
    """One bounded run: completed requests, their latencies, the failures."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def served_app() -> Flask:
    """The app gunicorn serves: the benchmark's app (production settings, the bare
    route) over the database named in the environment."""
    from .harness import make_bench_app

    app = make_bench_app(os.environ["BENCH_SERVED_DATABASE_URL"], os.environ["BENCH_SERVED_SECRET"])
    # gunicorn --preload forks the workers from this process: none may inherit the
    # connection create_all() opened (two processes on one socket corrupt it).
    with app.app_context():
        db.engine.dispose()
    return app


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _answers(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextmanager
def gunicorn(database_url: str, secret_key: str, settings: ServedSettings) -> Iterator[int]:
    """gunicorn serving `served_app()` on a loopback port until the block ends; yields
    the port. Stopped with SIGTERM (then SIGKILL) whatever happens in the block."""
    port = settings.port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "KEYPULSE_"))}
    env.update(
        BENCH_SERVED_DATABASE_URL=database_url,
        BENCH_SERVED_SECRET=secret_key,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"{HOST}:{port}",
                "--workers",
                str(settings.workers),
                "--worker-class",
                "sync",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--preload",
                "benchmarks.served:served_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _answers(port, FLOOR_PATH):
                if proc.poll() is not None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"gunicorn exited with {proc.returncode}: {tail}")
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not answer in time")
                time.sleep(0.2)
            yield port
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


Request = Callable[[http.client.HTTPConnection, int], str | None]


def load(
    port: int, request: Request, settings: ServedSettings, limit: int | None = None
) -> LoadRun:
    """`settings.clients` threads sending `request(conn, n)` (n counts from 0 across
    all threads) until `limit` (or settings.requests) were sent or settings.seconds
    passed. `request` returns None when the answer was right, else what was wrong."""
    run = LoadRun()
    total = min(settings.requests, limit if limit is not None else settings.requests)
    numbers = itertools.count()
    lock = threading.Lock()
    stop_at = time.monotonic() + settings.seconds

    def client() -> None:
        while time.monotonic() < stop_at:
            with lock:
                n = next(numbers)
            if n >= total:
                return
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            start = time.perf_counter()
            try:
                problem = request(conn, n)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            finally:
                conn.close()
            elapsed = time.perf_counter() - start
            with lock:
                if problem is None:
                    run.latencies.append(elapsed)
                else:
                    run.failures.append(problem)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(settings.clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=settings.seconds + 120)
    run.seconds = time.perf_counter() - began
    return run


def _get(path: str) -> Request:
    def request(conn: http.client.HTTPConnection, _n: int) -> str | None:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return None if resp.status == 200 else f"GET {path}: {resp.status}"

    return request


def _page(tokens: Sequence[str]) -> Request:
    def request(conn: http.client.HTTPConnection, n: int) -> str | None:
        conn.request("GET", f"/s/{tokens[n % len(tokens)]}")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200 or not _CSRF_RE.search(body):
            return f"survey page: {resp.status}"
        return None

    return request


def _pages(tokens: Sequence[str], csrf: dict[int, str]) -> Request:
    """Open each link once, keeping its page's CSRF token (the token belongs to the
    link: web.survey_csrf), as each person's browser does before posting."""

    def request(conn: http.client.HTTPConnection, n: int) -> str | None:
        conn.request("GET", f"/s/{tokens[n]}")
        resp = conn.getresponse()
        body = resp.read()
        match = _CSRF_RE.search(body)
        if resp.status != 200 or match is None:
            return f"survey page before the POST: {resp.status}"
        csrf[n] = match.group(1).decode()
        return None

    return request


def _post(tokens: Sequence[str], csrf: dict[int, str]) -> Request:
    def request(conn: http.client.HTTPConnection, n: int) -> str | None:
        if n not in csrf:
            return f"survey POST: link {n} was not opened"
        body = urlencode(survey_form_data(csrf[n], n), doseq=True)
        conn.request(
            "POST",
            f"/s/{tokens[n]}",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        resp = conn.getresponse()
        resp.read()
        return None if resp.status == 303 else f"survey POST: {resp.status}"

    return request


def _item(
    name: str, unit: str, run: LoadRun, floor: LoadRun, settings: ServedSettings
) -> ItemResult:
    if run.failures:
        raise RuntimeError(f"{name}: {len(run.failures)} failed, e.g. {run.failures[:3]}")
    rate, floor_rate = run.rate, floor.rate
    return ItemResult(
        name=name,
        unit=unit,
        measured=rate,
        floor=floor_rate,
        ratio=rate / floor_rate if floor_rate else None,
        target="reported",
        met=True,
        detail={
            "workers": settings.workers,
            "clients": settings.clients,
            "requests": len(run.latencies),
            "seconds": round(run.seconds, 3),
            "p50": round(run.percentile(50), 6),
            "p99": round(run.percentile(99), 6),
            "floor_p99": round(floor.percentile(99), 6),
            "load_average": _load_average(),
        },
    )


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return None


def served_items(
    app: Flask,
    database_url: str,
    secret_key: str,
    get_tokens: Sequence[str],
    post_tokens: Sequence[str],
    settings: ServedSettings,
) -> list[ItemResult]:
    """The survey page GET and POST under gunicorn, each beside the bare route
    loaded the same way. `post_tokens` are fresh invitations, one per POST."""
    with gunicorn(database_url, secret_key, settings) as port:
        for token in get_tokens:  # first views write opened_at; measure the steady state
            if not _answers(port, f"/s/{token}"):
                raise RuntimeError("the served survey page did not answer 200")
        floor = load(port, _get(FLOOR_PATH), settings)
        page = load(port, _page(get_tokens), settings)
        csrf: dict[int, str] = {}
        opened = load(port, _pages(post_tokens, csrf), settings, limit=len(post_tokens))
        if opened.failures:
            raise RuntimeError(f"opening the links to post failed: {opened.failures[:3]}")
        before = raw_query(app, "SELECT count(*) FROM responses")[0][0]
        posts = load(port, _post(post_tokens, csrf), settings, limit=len(csrf))
        stored = raw_query(app, "SELECT count(*) FROM responses")[0][0] - before
        if stored != len(posts.latencies):
            raise RuntimeError(f"{len(posts.latencies)} POSTs answered 303, {stored} stored")
        floor_again = load(port, _get(FLOOR_PATH), settings)
    # The floor before and after the page and the POST: the median-free way to
    # spread a shared machine's slow spells over both sides.
    both = LoadRun(
        seconds=floor.seconds + floor_again.seconds,
        latencies=floor.latencies + floor_again.latencies,
        failures=floor.failures + floor_again.failures,
    )
    if both.failures:
        raise RuntimeError(f"the served bare route failed: {both.failures[:3]}")
    label = f"gunicorn {settings.workers} workers, {settings.clients} clients"
    return [
        _item(f"survey page GET, {label}", "requests/s", page, both, settings),
        _item(f"survey POST, {label}", "responses/s", posts, both, settings),
    ]


def describe(item: dict[str, Any]) -> str:
    """p50 and p99 for the results table."""
    detail = item.get("detail", {})
    return f", p50 {detail['p50'] * 1000:.0f} ms, p99 {detail['p99'] * 1000:.0f} ms"
