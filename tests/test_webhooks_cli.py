"""`flask webhooks ...`: add prints the secret once, list never does, the delivery log,
send again, delete."""

from __future__ import annotations

import re

from survey.db import db
from survey.events import RESPONSE_SUBMITTED, emit

from .webhook_receiver import Receiver, serving


def test_add_list_deliveries_redeliver_and_delete(app, runner):
    receiver = Receiver(0, script=[(404, {})])
    with serving(receiver):
        added = runner.invoke(
            args=[
                "webhooks", "add", receiver.url, "--event", RESPONSE_SUBMITTED,
                "--event", "follow_up.escalated", "--description", "CRM",
            ]
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        secret = re.search(r"whsec_[A-Za-z0-9_-]{43}", added.output).group(0)
        assert "#1 " in added.output and "events: response.submitted, follow_up.escalated" in (
            added.output
        )
        listed = runner.invoke(args=["webhooks", "list"])
        assert "#1 " in listed.output and "CRM" in listed.output and secret not in listed.output
        bad = runner.invoke(args=["webhooks", "add", "http://crm.example.com/", "--event", "x"])
        assert bad.exit_code != 0
        bad = runner.invoke(
            args=["webhooks", "add", "http://crm.example.com/", "--event", RESPONSE_SUBMITTED]
        )
        assert bad.exit_code == 1 and "https://" in bad.output

        with app.app_context():
            emit(RESPONSE_SUBMITTED, {"n": 1}, account_id=1)
            db.session.commit()
        sent = runner.invoke(args=["outbox", "send"])
        assert "webhooks delivered 0, retry later 0, failed 1" in sent.output
        log = runner.invoke(args=["webhooks", "deliveries", "--failed"])
        assert "#1 endpoint 1 response.submitted" in log.output
        assert "failed attempts 1 HTTP 404" in log.output and "error: HTTP 404" in log.output
        again = runner.invoke(args=["webhooks", "redeliver", "1"])
        assert again.exit_code == 0 and "queued attempts 0" in again.output
        assert runner.invoke(args=["webhooks", "redeliver", "1"]).exit_code == 1
        runner.invoke(args=["outbox", "send"])
        log = runner.invoke(args=["webhooks", "deliveries", "--endpoint", "1"])
        assert "delivered attempts 1 HTTP 200" in log.output
        assert len(receiver.events()) == 2

    deleted = runner.invoke(args=["webhooks", "delete", "1"])
    assert deleted.exit_code == 0
    assert "No webhooks" in runner.invoke(args=["webhooks", "list"]).output
    assert runner.invoke(args=["webhooks", "delete", "1"]).exit_code == 1
