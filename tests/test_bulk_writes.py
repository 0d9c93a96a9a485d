"""The launch's bulk writes: e-mails composed many at once read exactly as composed one
by one, and survey.db.insert_many stores exactly the rows it is given (one statement on
PostgreSQL, an executemany elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from sqlalchemy import select

import survey.delivery.mail as mail
from survey.db import db, insert_many
from survey.delivery.mail import KIND_INVITATION, KIND_REMINDER, MailContext, MailSettings
from survey.models import AuditEntry

SETTINGS = MailSettings(secret_key="s" * 40, base_url="https://survey.example.test/")
CLOSES = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _contexts() -> list[MailContext]:
    """Recipients of every shape: languages (one unknown), survey kinds, a manager with,
    without and with an empty e-mail, names to escape, an empty contact name."""
    return [
        MailContext(
            invitation_id=i + 1,
            nonce=f"{i:032x}",
            locale=("zh", "en", "fr", "")[i % 4],
            account_name=f"Acme <b>&'\"{i}",
            contact_name=("Li & Lei", "", "Jane <Doe>")[i % 3],
            account_manager="王伟 & co",
            manager_email=(None, "a&b@example.com", "")[i % 3],
            closes_at=CLOSES + timedelta(days=i % 2),
            campaign_kind=("satisfaction", "exit")[i % 2],
        )
        for i in range(48)
    ]


@pytest.mark.parametrize("kind", [KIND_INVITATION, KIND_REMINDER])
def test_many_at_once_read_exactly_as_one_by_one(kind: str, monkeypatch: Any) -> None:
    contexts = _contexts()
    expected = [mail.compose(kind, ctx, SETTINGS) for ctx in contexts]
    full = []
    compose = mail.compose
    monkeypatch.setattr(mail, "compose", lambda *a: full.append(a) or compose(*a))
    assert mail.compose_many(kind, contexts, SETTINGS) == expected
    # One message rendered in full per shape (language x survey kind x closing x empty
    # values), each other one from the pieces.
    assert 0 < len(full) <= 24 < len(contexts)


def test_a_template_that_does_more_than_print_a_value_is_rendered_per_message(
    monkeypatch: Any,
) -> None:
    templates = {
        f"message.{lang}.{ext}": "{{ account_name|upper }} {{ survey_url }} {{ closes }}"
        for lang in ("zh", "en")
        for ext in ("txt", "html")
    }
    env = Environment(
        loader=DictLoader(templates),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
    )
    monkeypatch.setattr(mail, "_env", env)
    contexts = _contexts()
    many = mail.compose_many(KIND_INVITATION, contexts, SETTINGS)
    assert many == [mail.compose(KIND_INVITATION, ctx, SETTINGS) for ctx in contexts]
    assert many[0].text.startswith("ACME <B>&'\"0 https://survey.example.test/s/")


def test_insert_many_stores_the_rows_it_is_given(app: Flask) -> None:
    at = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)
    rows = [
        {
            "at": at + timedelta(seconds=i),
            "actor": None if i % 3 == 0 else f'王伟 "{i}" \\ \'\n\t{i}',
            "action": "bulk.test",
            "target_type": "campaign",
            "target_id": str(i),
            "details": '{"a": [1, 2], "b": "\\u00e9"}' if i % 2 else None,
        }
        for i in range(7)
    ]
    with app.app_context():
        insert_many(AuditEntry.__table__, [])  # nothing to write: no statement
        insert_many(AuditEntry.__table__, rows)
        insert_many(AuditEntry.__table__, rows[:1])  # a single row
        db.session.commit()
        stored = db.session.execute(
            select(
                AuditEntry.at,
                AuditEntry.actor,
                AuditEntry.action,
                AuditEntry.target_type,
                AuditEntry.target_id,
                AuditEntry.details,
            ).order_by(AuditEntry.id)
        ).all()
    assert [r._asdict() for r in stored] == [*rows, rows[0]]
