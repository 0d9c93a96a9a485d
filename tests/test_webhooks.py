"""Webhook delivery against a real HTTP receiver on loopback: signatures, retries with
back-off on the moved clock, no redirects, order per account, disabling, several
workers on PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from survey import clock
from survey.db import db
from survey.delivery.mail import MailSettings
from survey.delivery.webhook_admin import (
    create_endpoint,
    delete_endpoint,
    list_deliveries,
    list_endpoints,
    redeliver,
)
from survey.delivery.webhook_secrets import check_url, decrypt_secret
from survey.delivery.webhooks import deliver_webhooks
from survey.errors import ConflictError, InvalidInputError
from survey.events import (
    ACCOUNT_TIER_CHANGED,
    CAMPAIGN_LAUNCHED,
    DEFECTION_RECORDED,
    RESPONSE_SUBMITTED,
    emit,
)
from survey.models import (
    OutboxMessage,
    StaffMember,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

from .conftest import TEST_NOW, TEST_SECRET
from .webhook_receiver import Receiver, serving

MAIL = MailSettings(secret_key=TEST_SECRET, base_url="https://survey.example.test")


def _endpoint(url: str, *events: str) -> tuple[int, str]:
    new = create_endpoint(
        url,
        list(events) or [RESPONSE_SUBMITTED],
        secret_key=TEST_SECRET,
        allow_http_loopback=True,
        description="CRM",
        actor="test",
    )
    return new.endpoint.id, new.secret


def _deliver_all(worker: str = "w1", passes: int = 100) -> int:
    """Run passes until nothing is claimed; how many were delivered."""
    delivered = 0
    for _ in range(passes):
        report = deliver_webhooks(MAIL, worker_id=worker, rng=random.Random(1))
        delivered += report.delivered
        if not report.claimed:
            return delivered
    raise AssertionError("the queue never drained")


def _statuses() -> list[tuple[int, str, int]]:
    return [
        (d.id, d.status, d.attempts)
        for d in db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
    ]


def test_urls_must_be_https_except_loopback_http_outside_production():
    assert check_url("https://crm.example.com/hook", allow_http_loopback=False)
    assert check_url("http://127.0.0.1:9000/x", allow_http_loopback=True)
    assert check_url("http://localhost/x", allow_http_loopback=True)
    assert check_url("http://[::1]:80/x", allow_http_loopback=True)
    for url, loopback in [
        ("http://127.0.0.1:9000/x", False),
        ("http://crm.example.com/hook", True),
        ("ftp://crm.example.com/hook", True),
        ("https://user:pw@crm.example.com/", False),
        ("https:///nohost", False),
        ("", False),
    ]:
        with pytest.raises(InvalidInputError):
            check_url(url, allow_http_loopback=loopback)


def test_no_endpoint_means_no_event_and_the_payload_is_never_built(app):
    def payload() -> dict:
        raise AssertionError("built for nobody")

    with app.app_context():
        assert emit(RESPONSE_SUBMITTED, payload, account_id=1) is None
        with pytest.raises(ValueError, match="unknown event kind"):
            emit("response.submited", {}, account_id=1)
        assert db.session.scalars(select(WebhookEvent)).all() == []


def test_the_secret_is_stored_encrypted_and_never_listed(app):
    with app.app_context():
        endpoint_id, secret = _endpoint("https://crm.example.com/hook")
        stored = db.session.get(WebhookEndpoint, endpoint_id)
        assert secret.startswith("whsec_") and len(secret) == 49
        assert secret not in stored.secret_encrypted
        assert decrypt_secret(stored.secret_encrypted, TEST_SECRET) == secret
        listed = list_endpoints()
        assert [(e.id, e.events) for e in listed] == [(endpoint_id, (RESPONSE_SUBMITTED,))]
        assert not hasattr(listed[0], "secret")


def test_a_delivery_is_signed_and_arrives_once(app):
    with serving() as receiver, app.app_context():
        endpoint_id, secret = _endpoint(receiver.url, RESPONSE_SUBMITTED, DEFECTION_RECORDED)
        other, _ = _endpoint(receiver.url.replace("/hooks", "/other"), CAMPAIGN_LAUNCHED)
        event_id = emit(RESPONSE_SUBMITTED, {"score": 5}, account_id=7, at=TEST_NOW)
        assert emit(CAMPAIGN_LAUNCHED, {"campaign": {"id": 1}}, order_key="campaign:1")
        db.session.commit()
        assert _deliver_all() == 2
        (got,) = [r for r in receiver.received if r.path == "/hooks"]
        assert got.json == {
            "id": event_id,
            "type": RESPONSE_SUBMITTED,
            "created_at": "2026-11-23T09:30:00Z",
            "data": {"score": 5},
        }
        assert got.headers["Content-Type"] == "application/json"
        assert got.headers["X-KeyPulse-Event"] == RESPONSE_SUBMITTED
        assert got.headers["X-KeyPulse-Event-Id"] == event_id
        parts = dict(p.split("=", 1) for p in got.headers["X-KeyPulse-Signature"].split(","))
        expected = hmac.new(
            secret.encode(), parts["t"].encode() + b"." + got.body, hashlib.sha256
        ).hexdigest()
        assert hmac.compare_digest(parts["v1"], expected)
        assert int(parts["t"]) == pytest.approx(TEST_NOW.timestamp(), abs=60)
        log = list_deliveries(endpoint_id=endpoint_id).deliveries
        assert [(d.status, d.attempts, d.response_status, d.response_body) for d in log] == [
            ("delivered", 1, 200, "ok")
        ]
        assert [d.kind for d in list_deliveries(endpoint_id=other).deliveries] == [
            CAMPAIGN_LAUNCHED
        ]


def test_a_500_is_retried_after_back_off_and_then_delivered(app):
    receiver = Receiver(0, script=[(500, {}), (503, {})])
    with serving(receiver), app.app_context():
        _endpoint(receiver.url)
        emit(RESPONSE_SUBMITTED, {"n": 1}, account_id=1)
        db.session.commit()
        report = deliver_webhooks(MAIL, worker_id="w1", rng=random.Random(1))
        assert (report.retried, report.delivered) == (1, 0)
        (delivery,) = db.session.scalars(select(WebhookDelivery)).all()
        # 30 s +-25 %: not due yet, nothing is claimed before then.
        wait = delivery.next_attempt_at - TEST_NOW
        assert timedelta(seconds=22) <= wait <= timedelta(seconds=40)
        assert delivery.last_error == "HTTP 500" and len(delivery.response_body) == 1024
        assert deliver_webhooks(MAIL, worker_id="w1").claimed == 0
        with clock.travel_to(TEST_NOW + timedelta(seconds=40)):
            assert deliver_webhooks(MAIL, worker_id="w1", rng=random.Random(1)).retried == 1
        with clock.travel_to(TEST_NOW + timedelta(minutes=3)):
            assert _deliver_all() == 1
        db.session.expire_all()
        assert _statuses() == [(1, "delivered", 3)]
        assert len(receiver.events()) == 3
        assert len({e["id"] for e in receiver.events()}) == 1  # one event id throughout


def test_a_redirect_is_not_followed_and_fails_the_delivery(app):
    receiver = Receiver(0)
    with serving(receiver), app.app_context():
        receiver.script = [(302, {"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"})]
        _endpoint(receiver.url)
        emit(RESPONSE_SUBMITTED, {"n": 1}, account_id=1)
        db.session.commit()
        report = deliver_webhooks(MAIL, worker_id="w1")
        assert (report.failed, report.delivered) == (1, 0)
        assert [r.path for r in receiver.received] == ["/hooks"]
        (delivery,) = list_deliveries(failed_only=True).deliveries
        assert delivery.response_status == 302
        assert "redirect" in delivery.last_error and "not followed" in delivery.last_error


def test_a_receiver_down_then_up_gets_every_event_once_in_order_per_account(app):
    with serving() as probe:
        port = probe.port  # a free port, closed again: the receiver is "down"
    with app.app_context():
        _endpoint(f"http://127.0.0.1:{port}/hooks", RESPONSE_SUBMITTED, ACCOUNT_TIER_CHANGED)
        created = []
        for n, account in enumerate([1, 2, 1, 1, 2, 3, 1]):
            kind = RESPONSE_SUBMITTED if n % 2 == 0 else ACCOUNT_TIER_CHANGED
            created.append((account, emit(kind, {"n": n}, account_id=account)))
            db.session.commit()
        report = deliver_webhooks(MAIL, worker_id="w1", rng=random.Random(2))
        # One delivery per account at a time: the later ones wait behind the first.
        assert (report.claimed, report.retried) == (3, 3)
        with clock.travel_to(TEST_NOW + timedelta(minutes=5)):
            assert deliver_webhooks(MAIL, worker_id="w1", rng=random.Random(2)).retried == 3
        with serving(Receiver(port)) as receiver, clock.travel_to(TEST_NOW + timedelta(hours=2)):
            assert _deliver_all() == 7
        ids = [e["id"] for e in receiver.events()]
        assert sorted(ids) == sorted(event_id for _, event_id in created)
        for account in (1, 2, 3):
            mine = [event_id for a, event_id in created if a == account]
            assert [i for i in ids if i in mine] == mine


def test_after_24_hours_of_failures_the_delivery_fails_and_can_be_sent_again(app):
    receiver = Receiver(0, script=[(500, {})] * 40)
    with serving(receiver), app.app_context():
        _endpoint(receiver.url)
        emit(RESPONSE_SUBMITTED, {"n": 1}, account_id=1)
        emit(RESPONSE_SUBMITTED, {"n": 2}, account_id=1)
        db.session.commit()
        moment = TEST_NOW
        for _ in range(60):
            with clock.travel_to(moment):
                deliver_webhooks(MAIL, worker_id="w1", rng=random.Random(3))
            moment += timedelta(hours=1)
            db.session.expire_all()
            if _statuses()[0][1] == "failed":
                break
        (first_id, status, attempts), *_ = _statuses()
        assert status == "failed" and 10 <= attempts <= 40
        assert moment - TEST_NOW <= timedelta(hours=26)
        receiver.script.clear()
        with clock.travel_to(moment):
            # The failed one no longer holds back the second event of the account.
            assert _deliver_all() == 1
            with pytest.raises(ConflictError):
                redeliver(first_id + 1, actor="test")  # delivered, not failed
            again = redeliver(first_id, actor="test")
            assert (again.status, again.attempts) == ("queued", 0)
            assert _deliver_all() == 1
        db.session.expire_all()
        assert [s for _, s, _ in _statuses()] == ["delivered", "delivered"]


def test_three_days_of_failures_disable_the_endpoint_and_tell_the_admins(app):
    receiver = Receiver(0, script=[(500, {})] * 100)
    with serving(receiver), app.app_context():
        db.session.add(StaffMember(name="Ada", email="ada@example.com", role="admin", locale="en"))
        db.session.add(StaffMember(name="Bo", email="bo@example.com", role="manager"))
        endpoint_id, _ = _endpoint(receiver.url)
        for day in range(4):
            with clock.travel_to(TEST_NOW + timedelta(days=day, hours=day // 3)):
                emit(RESPONSE_SUBMITTED, {"day": day}, account_id=day)
                db.session.commit()
                deliver_webhooks(MAIL, worker_id="w1", rng=random.Random(4))
        db.session.expire_all()
        endpoint = db.session.get(WebhookEndpoint, endpoint_id)
        assert not endpoint.active and endpoint.disabled_reason == "HTTP 500"
        assert endpoint.failing_since - TEST_NOW < timedelta(minutes=1)
        (mail,) = db.session.scalars(select(OutboxMessage)).all()
        assert (mail.to_address, mail.subject) == (
            "ada@example.com",
            f"Webhook disabled: {receiver.url}",
        )
        assert {s for _, s, _ in _statuses()} == {"failed"}
        assert emit(RESPONSE_SUBMITTED, {}, account_id=1) is None  # no longer subscribed


def test_a_success_clears_the_failing_mark(app):
    receiver = Receiver(0, script=[(500, {})])
    with serving(receiver), app.app_context():
        endpoint_id, _ = _endpoint(receiver.url)
        emit(RESPONSE_SUBMITTED, {}, account_id=1)
        db.session.commit()
        deliver_webhooks(MAIL, worker_id="w1")
        db.session.expire_all()
        failing_since = db.session.get(WebhookEndpoint, endpoint_id).failing_since
        assert failing_since - TEST_NOW < timedelta(minutes=1)
        with clock.travel_to(TEST_NOW + timedelta(minutes=5)):
            assert _deliver_all() == 1
        db.session.expire_all()
        assert db.session.get(WebhookEndpoint, endpoint_id).failing_since is None
        delete_endpoint(endpoint_id, actor="test")
        assert list_endpoints() == [] and db.session.scalars(select(WebhookDelivery)).all() == []


@pytest.mark.postgres
def test_several_workers_on_postgresql_deliver_each_event_once(app):
    with serving() as receiver:
        with app.app_context():
            if db.engine.dialect.name != "postgresql":
                pytest.skip("several workers need PostgreSQL (TEST_DATABASE_URL)")
            _endpoint(receiver.url)
            expected = set()
            for n in range(60):
                expected.add(emit(RESPONSE_SUBMITTED, {"n": n}, account_id=n % 7))
            db.session.commit()
        errors: list[BaseException] = []

        def work(name: str) -> None:
            try:
                with app.app_context():
                    _deliver_all(name, passes=200)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        ids = [e["id"] for e in receiver.events()]
        assert sorted(ids) == sorted(expected)
        with app.app_context():
            assert {s for _, s, _ in _statuses()} == {"delivered"}
        assert json.loads(receiver.received[0].body)["type"] == RESPONSE_SUBMITTED


def test_flask_outbox_send_delivers_due_webhooks_too(app, runner):
    with serving() as receiver:
        with app.app_context():
            _endpoint(receiver.url)
            emit(RESPONSE_SUBMITTED, {"n": 1}, account_id=1)
            db.session.commit()
        result = runner.invoke(args=["outbox", "send"])
        assert result.exit_code == 0, result.output
        assert "webhooks delivered 1, retry later 0, failed 0" in result.output
        assert len(receiver.events()) == 1


def test_flask_outbox_status_counts_webhook_deliveries_and_failing_endpoints(app, runner):
    receiver = Receiver(0, script=[(500, {}), (503, {})])
    with serving(receiver):
        with app.app_context():
            _endpoint(receiver.url)
            emit(RESPONSE_SUBMITTED, {"n": 1}, account_id=1)
            emit(RESPONSE_SUBMITTED, {"n": 2}, account_id=2)
            db.session.commit()
        status = runner.invoke(args=["outbox", "status"])
        assert status.exit_code == 0, status.output
        lines = status.output.splitlines()
        webhooks = lines[lines.index("webhook deliveries:") + 1 :]
        assert webhooks == [
            "queued         2",
            "sending        0",
            "delivered      0",
            "failed         0",
        ]
        with app.app_context():  # both answered 5xx: retried later, the endpoint failing
            report = deliver_webhooks(MAIL, worker_id="w1", rng=random.Random(1))
            assert (report.retried, report.delivered) == (2, 0)
        status = runner.invoke(args=["outbox", "status"]).output.splitlines()
    assert status[status.index("webhook deliveries:") + 1 :] == [
        "queued         2",
        "sending        0",
        "delivered      0",
        "failed         0",
        "1 endpoint(s) failing, their deliveries retried (`flask webhooks list` says since when)",
    ]


def _readme_verify():
    """The verification snippet of README.md's Webhooks section, executed."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    after = readme.split("<!-- webhook-verify -->", 1)[1]
    code = after.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["verify"]


def test_the_readme_snippet_verifies_a_real_delivery_and_rejects_tampering(app):
    verify = _readme_verify()
    with serving() as receiver, app.app_context():
        _, secret = _endpoint(receiver.url)
        emit(RESPONSE_SUBMITTED, {"score": 5}, account_id=1)
        db.session.commit()
        assert _deliver_all() == 1
    (got,) = receiver.received
    header = got.headers["X-KeyPulse-Signature"]
    at = TEST_NOW.timestamp()
    assert verify(secret, header, got.body, now=at)
    assert not verify(secret, header, got.body.replace(b"5", b"1"), now=at)
    assert not verify(secret + "x", header, got.body, now=at)
    assert not verify(secret, header, got.body, now=at + 3600)  # a replay an hour later
