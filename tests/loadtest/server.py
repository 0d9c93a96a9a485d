"""Prepare a database through the real migrations and services, and run the app
under gunicorn on a free loopback port (never anything but 127.0.0.1)."""

from __future__ import annotations

import http.client
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from survey.campaigns import CampaignRequest, campaign_links, launch_campaign
from survey.db import db
from survey.registry import import_accounts_csv

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
#: Long enough for a cold start on a busy 2-core machine; the loop stops by itself.
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


#: Far beyond any day the suite runs on.
SERVER_CLOSES_AT = datetime(2099, 6, 30, tzinfo=UTC)


def server_env(database_url: str, secret_key: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "KEYPULSE_"))}
    env.update(
        KEYPULSE_ENV="production",
        SECRET_KEY=secret_key,
        DATABASE_URL=database_url,
        BASE_URL=f"http://{HOST}:{port}",
        FLASK_APP="wsgi",
        # Keep what the caller put on the path (`make test-next-year` adds a shim).
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    env.pop("SMTP_HOST", None)
    return env


def migrate(database_url: str, secret_key: str) -> None:
    """`flask db upgrade` as an operator runs it, in its own process."""
    subprocess.run(
        [str(BIN / "flask"), "db", "upgrade"],
        cwd=ROOT,
        env=server_env(database_url, secret_key, 0),
        check=True,
        capture_output=True,
        timeout=120,
    )


def accounts_csv(count: int) -> bytes:
    lines = [
        "external_id,name,tier,value_type,relationship_stage,region,annual_revenue,"
        "account_manager,contact_name,contact_email,contact_phone,locale"
    ]
    for n in range(1, count + 1):
        tier = "ABC"[n % 3]
        locale = "en" if n % 4 == 0 else "zh"
        lines.append(
            f"LT{n:05d},负载测试客户 {n},{tier},extrinsic,partner,华东,{n * 1000},"
            f"王伟,李娜,lt{n}@example.com,,{locale}"
        )
    return ("\n".join(lines) + "\n").encode()


def seed_campaign(invitations: int, secret_key: str, base_url: str) -> list[str]:
    """Accounts and one open campaign inviting all of them, through the services (inside
    an app context); returns the link tokens."""
    report = import_accounts_csv(io.BytesIO(accounts_csv(invitations)))
    assert report.imported, report.problems
    result = launch_campaign(
        # The server reads the real clock, not the tests' (tests/conftest.py `now`):
        # the campaign stays open whatever day the suite runs.
        CampaignRequest(
            name="Load test",
            size=invitations,
            seed=1,
            created_by="loadtest",
            closes_at=SERVER_CLOSES_AT,
        ),
        secret_key=secret_key,
    )
    assert result.campaign_id is not None
    links = campaign_links(result.campaign_id, secret_key=secret_key, base_url=base_url)
    db.session.remove()
    return [link.url.rsplit("/", 1)[1] for link in links]


def _ready(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextmanager
def gunicorn(
    database_url: str,
    secret_key: str,
    *,
    port: int,
    log_path: Path,
    workers: int = 4,
) -> Iterator[subprocess.Popen[bytes]]:
    """`gunicorn wsgi:app` on 127.0.0.1:port until the block ends (then SIGQUIT: by
    then no request is in flight, so the quick shutdown loses nothing).
    Its output goes to `log_path` (a pipe nobody reads could fill and stall it)."""
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--timeout",
            "60",
            "--graceful-timeout",
            "1",
            # Import the app once in the master, then fork: a third of the start-up time.
            "--preload",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=server_env(database_url, secret_key, port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _ready(port):
            if proc.poll() is not None:
                err = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"gunicorn exited with {proc.returncode}: {err}")
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer in time")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()
