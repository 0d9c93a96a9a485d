"""Fixtures: `app`, `client`, `runner`, and a fresh database per test.

Database tests run on SQLite (a new file per test, copied from a template built
once per session) and, when TEST_DATABASE_URL points at a PostgreSQL server, also
on PostgreSQL: the session makes its own database with a random name there, each
test starts from emptied tables, and the database is dropped at the end.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import inspect, make_url, text

os.environ["KEYPULSE_ENV"] = "testing"
for _name in ("DATABASE_URL", "SMTP_HOST", "BASE_URL", "SECRET_KEY"):
    os.environ.pop(_name, None)

from survey import clock  # noqa: E402
from survey.db import db  # noqa: E402
from web import create_app  # noqa: E402

from .browser import browser, live_server  # noqa: E402, F401 (fixtures of the browser tests)

TEST_SECRET = "test-secret-key-" + "x" * 32
BASE_URL = "https://survey.example.test"

#: What the app's clock reads at the start of every test (see the `now` fixture):
#: dated test data is written relative to it, never to the real day.
TEST_NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

BACKENDS = ["sqlite"]
if os.environ.get("TEST_DATABASE_URL"):
    BACKENDS.append("postgresql")


@pytest.fixture(autouse=True)
def now() -> Iterator[datetime]:
    """Every test runs with the app's clock at TEST_NOW (ticking from there), so a
    test passes on any day it runs. Request it to read the moment in a test."""
    with clock.travel_to(TEST_NOW):
        yield TEST_NOW


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session."""
    import psycopg

    server = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    name = f"keypulse_test_{secrets.token_hex(6)}"
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL does not answer: {exc}")
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database for this test. On SQLite the file does not exist yet (an empty
    database); on PostgreSQL it is the session's database, with empty tables (the
    `app` fixture empties them after each test) or none (after a test that dropped
    them). A test that takes it alone cleans up what it wrote."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SQLite file with every table, built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = make_test_app(f"sqlite:///{path}")
    with app.app_context():
        db.create_all()
        db.engine.dispose()  # closes the connections, so the WAL is folded back in
    return str(path)


def _empty_tables(app: Flask) -> None:
    """Leave exactly the models' tables, empty, with identities restarted."""
    with app.app_context():
        tables = set(db.metadata.tables)
        present = set(inspect(db.engine).get_table_names())
        if present == tables:
            # DELETE beats TRUNCATE on tables this small (TRUNCATE makes new files).
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
                conn.execute(
                    text("SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'")
                )
        else:  # a test dropped or migrated the schema: build it again
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            db.create_all()


def make_test_app(database_url: str, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "BASE_URL": BASE_URL,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_RECORD_QUERIES": True,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a test module to change the app's settings."""
    return {}


@pytest.fixture
def app(
    request: pytest.FixtureRequest, database_url: str, app_config: dict[str, Any]
) -> Iterator[Flask]:
    """The app with empty tables. No app context is held open: requests get their own,
    exactly as in production; test code uses `with app.app_context():`."""
    if database_url.startswith("sqlite:///"):
        template = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, database_url.removeprefix("sqlite:///"))
        app = make_test_app(database_url, **app_config)
    else:
        app = make_test_app(database_url, **app_config)
        _empty_tables(app)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
        if not database_url.startswith("sqlite:///"):
            # Tests that take `database_url` alone expect an empty database.
            _empty_tables(app)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    """The CSRF token a rendered form carries."""
    match = _CSRF_RE.search(html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)
