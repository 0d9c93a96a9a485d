"""Faults: the database locked, gone or refusing connections during a submission, and
migrations run again or over data. The person always gets a 503 that keeps what they
typed, nothing partial is stored, and the site recovers by itself."""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, make_url, select

import survey.db
from survey.db import db
from survey.models import Answer, Invitation, Response
from survey.scale import DEFAULT_ASPECTS

from . import old_schema
from .conftest import csrf_token_from, make_test_app
from .factories import make_account, make_campaign

CODES = [a.code for a in DEFAULT_ASPECTS]
COMMENT = "交货太慢 <b>请改进</b> & thanks"


def answers(score: str = "2") -> dict[str, Any]:
    data: dict[str, Any] = {f"score_{code}": score for code in CODES}
    data[f"reasons_{CODES[0]}"] = ["delivery", "service"]
    data[f"why_{CODES[0]}"] = "三周才到货"
    data["comment"] = COMMENT
    return data


def one_invitation(app: Flask) -> str:
    with app.app_context():
        account = make_account("KA1", locale="en")
        _, tokens = make_campaign(accounts=[account])
        db.session.commit()
        return tokens[account.id]


def stored(app: Flask) -> tuple[int, int, str]:
    with app.app_context():
        responses = db.session.scalar(select(func.count()).select_from(Response))
        answers_ = db.session.scalar(select(func.count()).select_from(Answer))
        status = db.session.scalar(select(Invitation.status))
        return responses, answers_, status


def assert_form_kept(html: str) -> None:
    """The 503 page is the form again, with every typed value in place."""
    text = unescape(html)
    assert "Temporarily unavailable" in text
    assert "We could not save your answers just now" in text
    assert COMMENT in text  # the comment, escaped in the page
    assert "<b>请改进</b>" not in html
    assert "三周才到货" in text
    ticked = checked(html)
    assert [ticked[f"score_{code}"] for code in CODES] == [["2"]] * len(CODES)
    assert ticked[f"reasons_{CODES[0]}"] == ["delivery", "service"]


def checked(html: str) -> dict[str, list[str]]:
    """Values of the ticked radios and checkboxes, by input name."""
    found: dict[str, list[str]] = {}
    for tag in re.findall(r"<input [^>]*>", html):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
        if re.search(r"\schecked[\s>]", tag):
            found.setdefault(attrs["name"], []).append(attrs["value"])
    return found


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[tuple[Flask, Path]]:
    path = tmp_path / "db" / "keypulse.sqlite3"
    path.parent.mkdir()
    app = make_test_app(f"sqlite:///{path}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        db.create_all()
    yield app, path
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_sqlite_locked_past_the_busy_timeout_gives_a_503_form_and_recovers(sqlite_app, monkeypatch):
    app, path = sqlite_app
    token = one_invitation(app)
    # A short busy timeout, for new connections: the lock below outlasts it.
    monkeypatch.setattr(survey.db, "SQLITE_BUSY_TIMEOUT_MS", 150)
    with app.app_context():
        db.engine.dispose()
    client = app.test_client()
    form = client.get(f"/s/{token}")
    data = {"csrf_token": csrf_token_from(form.get_data(as_text=True)), **answers()}

    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        # Reading still works: the form opens (its opened-at time waits for later).
        assert client.get(f"/s/{token}").status_code == 200
        locked = client.post(f"/s/{token}", data=data)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert locked.status_code == 503
    assert_form_kept(locked.get_data(as_text=True))
    assert stored(app) == (0, 0, "opened")  # nothing partial

    # The lock is gone: the same submission goes through, once.
    again = client.post(f"/s/{token}", data=data)
    assert again.status_code == 303
    assert stored(app) == (1, len(CODES), "responded")


def test_database_gone_during_a_submission_sends_the_answers_back_and_recovers(sqlite_app):
    """The database cannot even be read (its volume vanished): a 503 page that can
    send what was typed again, unchanged, in one click."""
    app, path = sqlite_app
    token = one_invitation(app)
    client = app.test_client()
    html = client.get(f"/s/{token}?lang=en").get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(html), **answers()}

    with app.app_context():
        db.engine.dispose()
    away = path.parent.with_name("db-away")
    path.parent.rename(away)
    try:
        gone = client.post(f"/s/{token}?lang=en", data=data)
        home = client.get(f"/s/{token}?lang=en")
    finally:
        away.rename(path.parent)
    assert gone.status_code == 503
    page = gone.get_data(as_text=True)
    assert "Temporarily unavailable" in page
    assert f'action="/s/{token}?lang=en"' in page
    hidden = dict(
        (unescape(name), unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    )
    assert hidden["comment"] == COMMENT and "<b>" not in page
    assert hidden[f"why_{CODES[0]}"] == "三周才到货"
    assert page.count(f'name="reasons_{CODES[0]}"') == 2
    assert home.status_code == 503 and "Temporarily unavailable" in home.get_data(as_text=True)

    # Sending the kept answers again, as the page's button does, stores them.
    resend = client.post(f"/s/{token}?lang=en", data=data)
    assert resend.status_code == 303
    assert stored(app) == (1, len(CODES), "responded")


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")
def test_postgres_refusing_connections_gives_a_503_and_recovers():
    import psycopg

    server = make_url(os.environ["TEST_DATABASE_URL"])
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"keypulse_fault_{secrets.token_hex(5)}"
    try:
        admin = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL does not answer: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(drivername="postgresql+psycopg", database=name)
    app = make_test_app(url.render_as_string(hide_password=False), WTF_CSRF_ENABLED=True)
    try:
        with app.app_context():
            db.create_all()
        token = one_invitation(app)
        client = app.test_client()
        html = client.get(f"/s/{token}").get_data(as_text=True)
        data = {"csrf_token": csrf_token_from(html), **answers()}

        # The database stops taking connections and drops the ones it had.
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            down = client.post(f"/s/{token}?lang=en", data=data)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert down.status_code == 503
        assert "Temporarily unavailable" in down.get_data(as_text=True)
        assert COMMENT in unescape(down.get_data(as_text=True))

        again = client.post(f"/s/{token}", data=data)
        assert again.status_code == 303
        assert stored(app) == (1, len(CODES), "responded")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# --- migrations -----------------------------------------------------------------------

FIRST_REVISION = "0001"


def _snapshot(conn: sa.Connection, tables: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """Every row of `tables` (only the columns they had then), in a stable order."""
    meta = sa.MetaData()
    snap: dict[str, list[tuple]] = {}
    for name, columns in tables.items():
        table = sa.Table(name, meta, autoload_with=conn)
        cols = [table.c[c] for c in columns]
        rows = conn.execute(sa.select(*cols).order_by(*cols)).all()
        snap[name] = [tuple(r) for r in rows]
    return snap


@pytest.fixture
def keep_loggers() -> Iterator[None]:
    """migrations/env.py calls logging's fileConfig, which disables every logger that
    exists (and so silences later tests' caplog): put them back afterwards."""

    def loggers() -> dict[str, logging.Logger]:
        return {
            name: lg
            for name, lg in logging.Logger.manager.loggerDict.items()
            if isinstance(lg, logging.Logger)
        }

    disabled_before = {name for name, lg in loggers().items() if lg.disabled}
    yield
    for name, lg in loggers().items():
        if name not in disabled_before:
            lg.disabled = False


def test_migrations_over_data_and_twice_lose_nothing(database_url, keep_loggers):
    """Data written under the first schema survives every later migration, and running
    `upgrade` again (or down and up over the new tables) changes none of it."""
    app = make_test_app(database_url)
    with app.app_context():
        db.drop_all()
        try:
            upgrade(revision=FIRST_REVISION)
            with db.engine.connect() as conn:
                tables = {
                    t: [c["name"] for c in sa.inspect(conn).get_columns(t)]
                    for t in sa.inspect(conn).get_table_names()
                    if t != "alembic_version"
                }
            with db.engine.begin() as conn:
                old_schema.seed_first_schema(conn)
            with db.engine.connect() as conn:
                before = _snapshot(conn, tables)
            assert all(before[t] for t in ("key_accounts", "invitations", "answers"))

            upgrade()  # to the newest schema, over the data
            upgrade()  # again: nothing to do
            downgrade(revision=FIRST_REVISION)  # the later tables go, the data stays
            upgrade()
            # The newest schema keeps the accounts' contacts in `contacts` (0006 drops
            # the account's contact columns): down to the first schema once more, where
            # they come back from each account's primary contact, and compare there.
            downgrade(revision=FIRST_REVISION)
            with db.engine.connect() as conn:
                after = _snapshot(conn, tables)
            assert after == before
        finally:
            db.session.remove()
            db.drop_all()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            db.engine.dispose()


def test_a_commit_whose_answer_is_lost_still_thanks_the_customer(sqlite_app, monkeypatch):
    """The COMMIT reached the database but the connection dropped before its answer:
    the person is told "thank you" (the response is stored), not "could not save",
    and is not asked to send again into "already answered"."""
    app, _path = sqlite_app
    token = one_invitation(app)
    client = app.test_client()
    html = client.get(f"/s/{token}?lang=en").get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(html), **answers()}

    real_commit = sa.orm.Session.commit
    dropped: list[bool] = []

    def commit_then_drop(self: sa.orm.Session) -> None:
        real_commit(self)
        if not dropped:
            dropped.append(True)
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(sa.orm.Session, "commit", commit_then_drop)
    posted = client.post(f"/s/{token}?lang=en", data=data)
    monkeypatch.setattr(sa.orm.Session, "commit", real_commit)
    assert dropped == [True]
    assert posted.status_code == 303
    assert posted.headers["Location"].startswith(f"/s/{token}/thanks")
    assert stored(app) == (1, len(CODES), "responded")
    assert "Thank you" in client.get(posted.headers["Location"]).get_data(as_text=True)
