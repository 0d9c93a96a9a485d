"""Scale-out: two app processes on different ports and two workers against one
PostgreSQL and one Redis (docs/deploy.md). The per-token budget is shared between the
app processes, every e-mail and webhook event goes out once, and a scheduled cycle is
launched once when two hosts run `schedules run` at the same moment.

Skipped, with the reason, when PostgreSQL (TEST_DATABASE_URL) or Redis
(127.0.0.1:6379, or SCALE_OUT_REDIS_URL) does not answer."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from .conftest import TEST_SECRET
from .smtp_server import SmtpServer, free_port, smtp_server_fixture  # noqa: F401
from .webhook_receiver import serving

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("SCALE_OUT_REDIS_URL", "redis://127.0.0.1:6379/0")
BUDGET = 300


@pytest.fixture
def scale_db() -> Iterator[str]:
    """A database of its own on the TEST_DATABASE_URL server, dropped afterwards."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("scale-out needs PostgreSQL: set TEST_DATABASE_URL")
    import psycopg

    server = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"keypulse_scale_{secrets.token_hex(5)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL does not answer: {exc}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_up() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.skip(f"Redis at {REDIS_URL} does not answer: {exc}")
    return REDIS_URL


def _env(database_url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "KEYPULSE_"))}
    env.update(
        KEYPULSE_ENV="testing",
        SECRET_KEY=TEST_SECRET,
        DATABASE_URL=database_url,
        BASE_URL="https://survey.example.test",
        FLASK_APP="wsgi",
        **more,
    )
    return env


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "flask"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def _together(env: dict[str, str], *args: str) -> list[subprocess.CompletedProcess[str]]:
    """Two hosts run the same command at the same moment."""
    procs = [
        subprocess.Popen(
            [str(BIN / "flask"), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        assert proc.returncode == 0, (out, err)
    return results


def _count(database_url: str, table: str) -> int:
    import psycopg

    dsn = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(dsn.render_as_string(hide_password=False)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def _graphql(port: int, token: str, query: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _wait_until_up(port: int, proc: subprocess.Popen) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read() if proc.stderr else "app exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the app on port {port} never answered")


def test_two_apps_and_two_workers_share_budget_send_once_launch_once(
    scale_db, redis_up, smtp_server: SmtpServer, tmp_path
):
    prefix = f"kp-scale-{secrets.token_hex(4)}"
    env = _env(
        scale_db,
        RATELIMIT_STORAGE_URI=redis_up,
        GRAPHQL_HOURLY_BUDGET=str(BUDGET),
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=str(smtp_server.port),
        SMTP_STARTTLS="0",
    )
    _flask(env, "db", "upgrade")
    accounts = tmp_path / "accounts.csv"
    rows = [
        "external_id,name,tier,value_type,relationship_stage,region,annual_revenue,"
        "account_manager,contact_name,contact_email,contact_phone,locale"
    ] + [
        f"KA{n:03d},Account {n},A,strategic,partner,华东,1000000,王伟,李娜,ka{n}@example.com,,zh"
        for n in range(1, 7)
    ]
    accounts.write_text("\n".join(rows) + "\n", encoding="utf-8")
    _flask(env, "accounts", "import", str(accounts))
    added = _flask(env, "staff", "add", "Ops", "--role", "admin").stdout
    token = next(w for w in added.split() if len(w) == 43)

    with serving() as receiver:
        _flask(env, "webhooks", "add", receiver.url, "--event", "campaign.launched")
        _flask(env, "schedules", "add", "Monthly", "--every", "month", "--starts", "2026-01-01",
               "--size", "4")  # fmt: skip
        # Two hosts' cron at the same moment: one campaign.
        runs = _together(env, "schedules", "run")
        assert _count(scale_db, "campaigns") == 1, [(r.stdout, r.stderr) for r in runs]
        assert _count(scale_db, "invitations") == 4

        # Two workers at once: each e-mail and each webhook event goes out once.
        _together(env, "outbox", "send")
        ids = [m["Message-ID"] for m in smtp_server.messages]
        assert len(ids) == 4 and len(set(ids)) == 4
        events = receiver.events()
        assert [e["type"] for e in events] == ["campaign.launched"]
        assert events[0]["data"]["campaign"]["invitations"] == 4

    # Two app processes, one Redis: the token's hourly budget is one budget.
    wsgi = tmp_path / "scale_wsgi.py"
    wsgi.write_text(
        f"from web import create_app\napp = create_app({{'RATELIMIT_KEY_PREFIX': {prefix!r}}})\n",
        encoding="utf-8",
    )
    ports = [free_port(), free_port()]
    apps = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "--pythonpath",
                f"{tmp_path},{ROOT}",
                "scale_wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    try:
        for port, proc in zip(ports, apps, strict=True):
            _wait_until_up(port, proc)
        remaining: list[int] = []
        refused = 0
        for n in range(60):
            status, body = _graphql(ports[n % 2], token, "{ rateLimit { cost remaining } }")
            if status == 200 and "errors" not in body:
                remaining.append(body["data"]["rateLimit"]["remaining"])
            else:
                refused += 1
        cost = BUDGET - remaining[0]
        # One budget across both processes: every call, on either host, draws from it.
        assert remaining == [BUDGET - cost * (k + 1) for k in range(len(remaining))]
        assert len(remaining) == BUDGET // cost and refused == 60 - len(remaining)
    finally:
        for proc in apps:
            proc.terminate()
            proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()
