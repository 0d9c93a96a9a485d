"""The mail server goes down during a send and comes back, tried from the command
line as an operator (or a cron job) would: nothing is charged for a message that was
never tried, the exit status says nothing went out, `status` says when the next
attempt is due, and `send --now` delivers at once when the server is back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from survey.db import db
from survey.models import OutboxMessage

from .smtp_server import RecordingHandler, free_port
from .test_delivery import _launch

PORT = free_port()


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": PORT, "SMTP_STARTTLS": False}


@pytest.fixture
def server_back() -> Iterator[RecordingHandler]:
    """The mail server, started on the port the app was pointed at while it was down."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=PORT)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def _attempts(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMessage.attempts).order_by(OutboxMessage.id)))


def test_an_outage_holds_the_queue_back_and_says_so_until_send_now(
    app: Flask, runner: Any, request: pytest.FixtureRequest
) -> None:
    _launch(app, accounts=4)

    down = runner.invoke(args=["outbox", "send"])
    assert down.exit_code == 75, down.output
    assert "sent 0, retry later 1" in down.output
    assert "Nothing delivered: could not reach the mail server" in down.output
    assert "4 message(s) held back until" in down.output
    assert "flask outbox send --now" in down.output
    # Only the message that was tried counts an attempt; the other three never were.
    assert _attempts(app) == [1, 0, 0, 0]

    status = runner.invoke(args=["outbox", "status"])
    assert status.exit_code == 0, status.output
    assert "queued         4" in status.output
    assert "due now        0" in status.output
    assert "4 message(s) held back until" in status.output
    assert "last error:" in status.output

    handler = request.getfixturevalue("server_back")
    # Back, but nothing is due yet: still nothing delivered, still not a success.
    waiting = runner.invoke(args=["outbox", "send"])
    assert waiting.exit_code == 75, waiting.output
    assert "every queued message is waiting after a failed attempt" in waiting.output
    assert handler.messages == []

    now = runner.invoke(args=["outbox", "send", "--now"])
    assert now.exit_code == 0, now.output
    assert "4 held-back message(s) made due now." in now.output
    assert "sent 4" in now.output
    assert len(handler.messages) == 4
    assert _attempts(app) == [1, 0, 0, 0]  # a delivery is not a failed attempt

    empty = runner.invoke(args=["outbox", "send"])
    assert empty.exit_code == 0, empty.output
    assert "sent 0" in empty.output
    status = runner.invoke(args=["outbox", "status"])
    assert "held back" not in status.output


def test_messages_queued_for_later_are_not_held_back(app: Flask, runner: Any, now: Any) -> None:
    """Mail queued for a later moment (no failure behind it) is not an outage: `send`
    exits 0, `status` does not call it held back, and `--now` leaves its time alone."""
    from datetime import timedelta

    _launch(app, accounts=2)
    later = now + timedelta(days=1)
    with app.app_context():
        for message in db.session.scalars(select(OutboxMessage)):
            message.next_attempt_at = later
        db.session.commit()
    result = runner.invoke(args=["outbox", "send", "--now"])
    assert result.exit_code == 0, result.output
    assert "0 held-back message(s) made due now." in result.output
    assert "sent 0" in result.output and "Nothing delivered" not in result.output
    status = runner.invoke(args=["outbox", "status"])
    assert "due now        0" in status.output and "held back" not in status.output
    with app.app_context():
        times = set(db.session.scalars(select(OutboxMessage.next_attempt_at)))
    assert times == {later}
