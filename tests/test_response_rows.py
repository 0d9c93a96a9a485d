"""A submission stores exactly the rows it always did: the response, its answers and
reasons, the invitation marked responded, the follow-up an unhappy answer opens with
its e-mail to the manager, and the webhook events, compared column by column with
tests/data/response_rows.json (written by the code before the writes went past
SQLAlchemy's execution, issue 20) on a small fixed campaign, on every backend.

To pin new rows on purpose, run this file alone with
KEYPULSE_WRITE_RESPONSE_SNAPSHOT=1 on the code that is known to be right.

The clock ticks (tests/conftest.py): every time a submission stores is checked to be
the moment it was stored, then written relative to its response's `submitted_at`.
What is random by design (the event ids) is checked, then named.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, select, text

from survey.data_version import ROW_ID, DataVersion
from survey.db import db
from survey.delivery.webhook_admin import create_endpoint
from survey.events import FOLLOW_UP_OPENED, RESPONSE_SUBMITTED
from survey.models import (
    Answer,
    AnswerReason,
    FollowUp,
    Invitation,
    OutboxMessage,
    Response,
    StaffMember,
    WebhookDelivery,
    WebhookEvent,
)
from survey.registry.staff import add_staff
from survey.scale import DEFAULT_ASPECTS

from .conftest import TEST_NOW, TEST_SECRET, csrf_token_from
from .factories import make_account, make_campaign

SNAPSHOT = Path(__file__).parent / "data" / "response_rows.json"
_EVENT_ID = re.compile(r"evt_[0-9a-f]{32}")
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
#: Submissions in order: (account, language, channel, scores, reasons, why, comment).
SUBMISSIONS: tuple[tuple[str, str, str, dict[str, int], dict[str, list[str]], str, str], ...] = (
    ("KA001", "zh", "web", {}, {}, "", ""),
    (
        "KA002",
        "zh",
        "web",
        {"delivery": 2},
        {"delivery": ["delivery", "service"]},
        "近三个月延迟交货。",
        "请尽快解决。",
    ),
    (
        "KA003",
        "en",
        "web",
        {"overall": 1, "price": 1},
        {"price": ["price"]},
        "Too expensive",
        "We may leave.",
    ),
    ("KA004", "zh", "phone", {"quality": 1}, {}, "", "电话回访"),
)


def _form(
    csrf: str, scores: dict[str, int], reasons: dict[str, list[str]], why: str, comment: str
) -> dict[str, Any]:
    data: dict[str, Any] = {"csrf_token": csrf, "comment": comment}
    for spec in DEFAULT_ASPECTS:
        data[f"score_{spec.code}"] = str(scores.get(spec.code, 4))
    for code, chosen in reasons.items():
        data[f"reasons_{code}"] = chosen
        data[f"why_{code}"] = why
    return data


def _submit(app: Flask, client: FlaskClient) -> tuple[dict[str, str], str]:
    """The fixed campaign, a subscriber to both events, then the four submissions;
    returns the link per account and the staff token used on the phone."""
    with app.app_context():
        db.session.add(StaffMember(name="王伟", email="wang.wei@keypulse.test", role="manager"))
        accounts = [
            make_account(ext, account_manager="王伟" if ext != "KA004" else "Li Lei", locale=lang)
            for ext, lang, *_ in SUBMISSIONS
        ]
        _campaign, tokens = make_campaign(accounts=accounts)
        staff = add_staff("Phone Pat", "manager").token
        create_endpoint(
            "http://127.0.0.1:9/hook",
            [RESPONSE_SUBMITTED, FOLLOW_UP_OPENED],
            secret_key=TEST_SECRET,
            allow_http_loopback=True,
        )
        db.session.commit()
        links = {a.external_id: tokens[a.id] for a in accounts}
    for ext, lang, channel, scores, reasons, why, comment in SUBMISSIONS:
        query = f"?lang={lang}" + ("&channel=phone" if channel == "phone" else "")
        page = client.get(f"/s/{links[ext]}{query}")
        assert page.status_code == 200
        data = _form(csrf_token_from(page.get_data(as_text=True)), scores, reasons, why, comment)
        if channel == "phone":
            data["staff_token"] = staff
        done = client.post(f"/s/{links[ext]}{query}", data=data)
        assert done.status_code == 303, done.get_data(as_text=True)[:500]
    return links, staff


def _value(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def _rows(table: Table, *order: Any, where: Any = True) -> list[dict[str, Any]]:
    return [
        {name: _value(v) for name, v in row._mapping.items()}
        for row in db.session.execute(select(table).where(where).order_by(*order))
    ]


def _relative(row: dict[str, Any], name: str, to: datetime) -> None:
    if row[name] is not None:
        row[name] = f"<submitted> + {datetime.fromisoformat(row[name]) - to}"


_ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _timeless(value: Any) -> Any:
    """An event body with each time in it checked (the submission's moment, or a week
    after it for a follow-up's due date) and named."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    if isinstance(value, str) and _ISO_Z.fullmatch(value):
        at = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        week = timedelta(days=7)
        for name, start in (("<time>", TEST_NOW), ("<time + 7 days>", TEST_NOW + week)):
            if start - timedelta(seconds=1) <= at < start + timedelta(minutes=5):
                return name
        raise AssertionError(f"unexpected time {value} in an event")
    return value


def _stored_rows() -> dict[str, list[dict[str, Any]]]:
    responses = _rows(Response.__table__, Response.id)
    submitted: dict[int, datetime] = {}
    for row in responses:
        at = datetime.fromisoformat(row["submitted_at"])
        assert TEST_NOW <= at < TEST_NOW + timedelta(minutes=5), at
        submitted[row["id"]] = at
        _relative(row, "submitted_at", at)
    invitations = _rows(Invitation.__table__, Invitation.id)
    by_invitation = {r["invitation_id"]: submitted[r["id"]] for r in responses}
    for row in invitations:
        row["token_nonce"] = row["token_hash"] = "<random>"
        _relative(row, "responded_at", by_invitation[row["id"]])
        # Set by the test's campaign and its page views, at ticking times: checked, named.
        for name in ("created_at", "sent_at", "opened_at"):
            if row[name] is not None:
                at = datetime.fromisoformat(row[name])
                assert TEST_NOW - timedelta(days=1) <= at < TEST_NOW + timedelta(minutes=5), at
                assert at <= by_invitation[row["id"]]
                row[name] = f"<before submitted: {name}>"
    follow_ups = _rows(FollowUp.__table__, FollowUp.id)
    for row in follow_ups:
        for name in ("opened_at", "due_at"):
            _relative(row, name, submitted[row["response_id"]])
    outbox = _rows(OutboxMessage.__table__, OutboxMessage.id)
    for row in outbox:
        assert _MESSAGE_ID.fullmatch(row["message_id"]), row["message_id"]
        row["message_id"] = "<message id>"
        row["created_at"] = row["next_attempt_at"] = "<stored>"
    events = _rows(WebhookEvent.__table__, WebhookEvent.id)
    for row in events:
        assert _EVENT_ID.fullmatch(row["event_id"])
        body = json.loads(row["body"])
        body["id"], body["created_at"] = "<event id>", "<emitted>"
        row["event_id"], row["created_at"], row["body"] = "<event id>", "<emitted>", _timeless(body)
    deliveries = _rows(WebhookDelivery.__table__, WebhookDelivery.id)
    for row in deliveries:
        for name in ("next_attempt_at", "retry_until", "created_at"):
            row[name] = "<emitted>"
    return {
        "responses": responses,
        "answers": _rows(Answer.__table__, Answer.response_id, Answer.aspect_id),
        "answer_reasons": [
            {"response_id": r, "aspect_id": a, "reason": reason}
            for r, a, reason in db.session.execute(
                select(Answer.response_id, Answer.aspect_id, AnswerReason.reason)
                .join(Answer, Answer.id == AnswerReason.answer_id)
                .order_by(Answer.response_id, Answer.aspect_id, AnswerReason.reason)
            )
        ],
        "invitations": invitations,
        "follow_ups": follow_ups,
        "outbox_messages": outbox,
        "webhook_events": events,
        "webhook_deliveries": deliveries,
    }


def test_a_submission_stores_the_same_rows_as_before(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        before = db.session.scalar(select(DataVersion.token).where(DataVersion.id == ROW_ID))
    _submit(app, client)
    with app.app_context():
        rows = _stored_rows()
        assert (
            db.session.scalar(select(DataVersion.token).where(DataVersion.id == ROW_ID)) != before
        ), "the figures changed"
    if os.environ.get("KEYPULSE_WRITE_RESPONSE_SNAPSHOT") == "1":
        body = json.dumps(rows, ensure_ascii=False, indent=1, sort_keys=True)
        SNAPSHOT.write_text(body + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert rows.keys() == expected.keys()
    for table in expected:
        assert rows[table] == expected[table], table


def test_times_are_stored_as_sqlalchemy_writes_them(app: Flask, client: FlaskClient) -> None:
    """On SQLite a time is text: the raw writes store the same text SQLAlchemy's own
    DateTime writes (six decimals), which SQL comparisons and sorting rely on."""
    _submit(app, client)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        stored = db.session.execute(
            text(
                "SELECT r.submitted_at, i.responded_at, f.opened_at, f.due_at FROM responses r "
                "JOIN invitations i ON i.id = r.invitation_id "
                "LEFT JOIN follow_ups f ON f.response_id = r.id"
            )
        ).all()
        pattern = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
        assert stored
        for row in stored:
            for value in row:
                assert value is None or pattern.fullmatch(value), value
