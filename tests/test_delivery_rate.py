"""How fast `flask outbox send` delivers to a local SMTP server (aiosmtpd on loopback,
in its own process so it does not share the worker's interpreter lock).

Slow (deselected by default; `make load` or `pytest -m slow tests/test_delivery_rate.py -s`).
It prints messages per second and asserts only that every message was delivered.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from survey.campaigns import CampaignRequest, launch_campaign
from survey.db import db
from survey.delivery.mail import MailSettings
from survey.models import KeyAccount, OutboxMessage

from .conftest import BASE_URL, TEST_SECRET
from .smtp_server import free_port

SINK = "aiosmtpd.handlers.Sink"
MESSAGES = int(os.environ.get("DELIVERY_RATE_MESSAGES", "1000"))


def _sink_server(port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd accepting and discarding everything, in a process of its own."""
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", SINK],
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("aiosmtpd did not start")


@pytest.mark.slow
def test_delivery_rate_to_local_aiosmtpd(app: Flask) -> None:
    with app.app_context():
        db.session.execute(
            insert(KeyAccount),
            [
                {
                    "external_id": f"KA{i:05d}",
                    "name": f"Account {i}",
                    "tier": "ABC"[i % 3],
                    "value_type": "extrinsic",
                    "relationship_stage": "partner",
                    "region": "华东",
                    "annual_revenue": 1_000_000,
                    "account_manager": "王伟",
                    "contact_name": "李娜",
                    "contact_email": f"ka{i:05d}@example.com",
                    "locale": "en" if i % 2 else "zh",
                    "active": True,
                }
                for i in range(MESSAGES)
            ],
        )
        db.session.commit()
        started = time.perf_counter()
        launch_campaign(
            CampaignRequest(name="Rate", size=MESSAGES, seed=1),
            secret_key=TEST_SECRET,
            mail=MailSettings(secret_key=TEST_SECRET, base_url=BASE_URL),
        )
        queued_in = time.perf_counter() - started
    port = free_port()
    server = _sink_server(port)
    try:
        app.config.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port})
        started = time.perf_counter()
        result = app.test_cli_runner().invoke(args=["outbox", "send", "--batch", "100"])
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.exit_code == 0, result.output
    with app.app_context():
        sent = db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
        backend = db.engine.dialect.name
    assert sent == MESSAGES
    print(
        f"\ndelivery [{backend}]: launch composed and queued {MESSAGES} e-mails in "
        f"{queued_in:.2f} s; flask outbox send delivered them to aiosmtpd in {elapsed:.2f} s "
        f"= {MESSAGES / elapsed:.0f} messages/second"
    )
