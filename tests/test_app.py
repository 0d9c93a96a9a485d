"""The app factory, configuration, migrations and security headers."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from survey.db import db
from survey.models import CampaignFrameMember
from web import create_app
from web.config import ConfigError

from . import old_schema
from .conftest import make_test_app


def test_production_refuses_to_start_without_a_real_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("KEYPULSE_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "changeme")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "k" * 48)
    assert create_app().config["KEYPULSE_ENV"] == "production"


def test_bad_boolean_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("SMTP_STARTTLS", "maybe")
    with pytest.raises(ConfigError, match="SMTP_STARTTLS"):
        create_app({"SECRET_KEY": "k" * 48})


def test_postgres_urls_use_psycopg3(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/kp")
    app = create_app({"SECRET_KEY": "k" * 48})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example:5432/kp"


def test_session_cookie_is_secure_when_base_url_is_https(monkeypatch):
    monkeypatch.setenv("BASE_URL", "https://kp.example.com/")
    app = create_app({"SECRET_KEY": "k" * 48})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["BASE_URL"] == "https://kp.example.com"


def test_security_headers_on_every_page(client):
    for path in ("/", "/s/not-a-token", "/no-such-page"):
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_home_page_in_both_languages(client):
    zh = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "如需填写问卷" in zh.get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh.get_data(as_text=True)
    en = client.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "please open the personal link" in en.get_data(as_text=True)
    assert '<html lang="en">' in en.get_data(as_text=True)


def test_unknown_page_is_a_404_page(client):
    resp = client.get("/nothing-here", headers={"Accept-Language": "en"})
    assert resp.status_code == 404
    assert "Page not found" in resp.get_data(as_text=True)


def test_migrations_build_the_schema_the_models_describe(database_url):
    """`flask db upgrade` from nothing gives exactly the tables of the models."""
    app = make_test_app(database_url)
    with app.app_context():
        db.drop_all()
        try:
            upgrade()
            upgrade()  # running it twice is harmless
            with db.engine.connect() as conn:
                diff = compare_metadata(
                    MigrationContext.configure(conn, opts={"compare_type": False}),
                    db.metadata,
                )
            assert diff == []
            assert "invitations" in inspect(db.engine).get_table_names()
            # The data and questionnaire versions start with random tokens
            # (survey/data_version.py).
            with db.engine.connect() as conn:
                tokens = conn.exec_driver_sql(
                    "SELECT id, token FROM data_version ORDER BY id"
                ).all()
            assert [(i, len(t)) for i, t in tokens] == [(1, 32), (2, 32)]
            assert tokens[0][1] != tokens[1][1]
        finally:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            db.engine.dispose()


def _insert_accounts_and_a_campaign(conn, accounts: list[dict]) -> None:
    old_schema.insert(conn, "key_accounts", accounts)
    questionnaire = {"id": 1, "name": "q", "kind": "satisfaction", "created_at": old_schema.AT}
    old_schema.insert(conn, "questionnaires", [questionnaire])
    old_schema.insert(conn, "campaigns", [old_schema.campaign(1)])


def _drop_everything() -> None:
    db.session.close()
    db.drop_all()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    db.engine.dispose()


def test_migration_0003_back_fills_the_frame_members_external_ids(database_url):
    """Frames stored before 0003 get their accounts' external ids, then NOT NULL."""
    app = make_test_app(database_url)
    with app.app_context():
        db.drop_all()
        try:
            upgrade(revision="0002")
            with db.engine.begin() as conn:
                _insert_accounts_and_a_campaign(conn, [old_schema.account(n) for n in (1, 2, 3)])
                old_schema.insert(
                    conn,
                    "campaign_frame_members",
                    [{"campaign_id": 1, "account_id": n, "stratum": None} for n in (2, 3)],
                )
            upgrade()
            stored = db.session.execute(
                select(
                    CampaignFrameMember.campaign_id,
                    CampaignFrameMember.account_id,
                    CampaignFrameMember.external_id,
                )
            ).all()
            assert set(stored) == {(1, 2, "KA002"), (1, 3, "KA003")}
            columns = inspect(db.engine).get_columns("campaign_frame_members")
            assert [c["nullable"] for c in columns if c["name"] == "external_id"] == [False]
        finally:
            _drop_everything()


def test_migration_0005_turns_each_accounts_contact_into_its_primary_contact(database_url):
    """Contact columns become a primary contact; invitations and responses point at it."""
    app = make_test_app(database_url)
    with app.app_context():
        db.drop_all()
        try:
            upgrade(revision="0004")
            at = old_schema.AT
            accounts = [
                old_schema.account(1, opted_out_at=datetime(2026, 10, 1, 8)),
                old_schema.account(2, contact_email=None, contact_phone="+86 21 5555 0101"),
                old_schema.account(3, contact_name="", contact_email=None),
            ]
            with db.engine.begin() as conn:
                _insert_accounts_and_a_campaign(conn, accounts)
                old_schema.insert(
                    conn,
                    "invitations",
                    [
                        {
                            "id": i,
                            "campaign_id": 1,
                            "account_id": i,
                            "token_hash": f"h{i}",
                            "token_nonce": "n",
                            "locale": "zh",
                            "status": "responded",
                            "created_at": at,
                            "reminders_sent": 0,
                        }
                        for i in (1, 2)
                    ],
                )
                old_schema.insert(
                    conn,
                    "responses",
                    [
                        {
                            "id": i,
                            "invitation_id": i,
                            "campaign_id": 1,
                            "account_id": i,
                            "submitted_at": at,
                            "channel": "web",
                            "locale": "zh",
                        }
                        for i in (1, 2)
                    ],
                )
            upgrade()
            with db.engine.connect() as conn:
                contacts = conn.execute(
                    text(
                        "SELECT id, account_id, name, email, phone, role, is_primary,"
                        " opted_out_at IS NOT NULL FROM contacts ORDER BY account_id"
                    )
                ).all()
                links = conn.execute(
                    text(
                        "SELECT 'i', account_id, contact_id FROM invitations UNION ALL"
                        " SELECT 'r', account_id, contact_id FROM responses ORDER BY 1, 2"
                    )
                ).all()
                staff_locale = [
                    c["default"]
                    for c in inspect(conn).get_columns("staff")
                    if c["name"] == "locale"
                ]
            assert [tuple(c[1:]) for c in contacts] == [
                (1, "李娜", "ka001@example.com", None, "other", True, True),
                (2, "李娜", None, "+86 21 5555 0101", "other", True, False),
            ]
            by_account = {c[1]: c[0] for c in contacts}
            assert links == [
                ("i", 1, by_account[1]),
                ("i", 2, by_account[2]),
                ("r", 1, by_account[1]),
                ("r", 2, by_account[2]),
            ]
            assert staff_locale and "zh" in staff_locale[0]
        finally:
            _drop_everything()


def test_migration_0006_keeps_contacts_only_and_its_downgrade_restores_the_columns(database_url):
    """0006 carries what changed in the account columns since 0005 into the primary
    contacts, drops the columns and records whom campaigns invite; its downgrade
    writes each primary contact back into its account's columns."""
    app = make_test_app(database_url)
    with app.app_context():
        db.drop_all()
        try:
            upgrade(revision="0005")
            at = old_schema.AT
            accounts = [
                old_schema.account(
                    1, contact_email="new@example.com", opted_out_at=datetime(2026, 10, 1, 8)
                ),
                old_schema.account(2, contact_email=None, contact_phone="+86 21 5555 0101"),
                old_schema.account(3, contact_name="", contact_email=None),
            ]
            contact = {"phone": None, "locale": "zh", "opted_out_at": None}
            contact |= {"created_at": at, "updated_at": at}
            with db.engine.begin() as conn:
                _insert_accounts_and_a_campaign(conn, accounts)
                # Account 1's primary contact as 0005 copied it (the account's e-mail
                # changed since), and a purchaser; account 2 got its phone after 0005.
                old_schema.insert(
                    conn,
                    "contacts",
                    [
                        contact
                        | {"account_id": 1, "name": "李娜", "role": "other"}
                        | {"email": "old@example.com", "is_primary": True},
                        contact
                        | {"account_id": 1, "name": "Tom", "role": "purchaser"}
                        | {"email": "tom@example.com", "is_primary": False, "locale": "en"},
                    ],
                )
            upgrade(revision="0006")
            with db.engine.connect() as conn:
                columns = {c["name"] for c in inspect(conn).get_columns("key_accounts")}
                contacts = conn.execute(
                    text(
                        "SELECT account_id, name, role, email, phone, locale, is_primary,"
                        " opted_out_at IS NOT NULL FROM contacts ORDER BY account_id, id"
                    )
                ).all()
                campaigns = conn.execute(
                    text("SELECT contacts, contact_roles FROM campaigns")
                ).all()
            assert not columns & {"contact_name", "contact_email", "contact_phone", "opted_out_at"}
            assert [tuple(c) for c in contacts] == [
                (1, "李娜", "other", "new@example.com", None, "zh", True, True),
                (1, "Tom", "purchaser", "tom@example.com", None, "en", False, False),
                (2, "李娜", "other", None, "+86 21 5555 0101", "zh", True, False),
            ]
            assert [tuple(c) for c in campaigns] == [("primary", None)]

            downgrade(revision="0005")
            with db.engine.connect() as conn:
                restored = conn.execute(
                    text(
                        "SELECT id, contact_name, contact_email, contact_phone,"
                        " opted_out_at IS NOT NULL FROM key_accounts ORDER BY id"
                    )
                ).all()
                kept = conn.execute(text("SELECT count(*) FROM contacts")).scalar_one()
            assert [tuple(r) for r in restored] == [
                (1, "李娜", "new@example.com", None, True),
                (2, "李娜", None, "+86 21 5555 0101", False),
                (3, "", None, None, False),
            ]
            assert kept == 3
            upgrade()
        finally:
            _drop_everything()


def test_trusted_proxy_headers_only_when_configured(database_url):
    seen: list[str | None] = []
    for proxies in (0, 1):
        app = make_test_app(database_url, TRUSTED_PROXIES=proxies)

        @app.get("/__addr")
        def _addr() -> str:
            from flask import request

            seen.append(request.remote_addr)
            return "ok"

        app.test_client().get(
            "/__addr",
            headers={"X-Forwarded-For": "203.0.113.9"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
    assert seen == ["10.0.0.2", "203.0.113.9"]


def test_migration_0007_back_fills_each_invitations_inclusion_probability(database_url):
    """Earlier samples were random: pi is the stratum's n/N, or the campaign's n/N."""
    app = make_test_app(database_url)
    with app.app_context():
        db.drop_all()
        try:
            upgrade(revision="0006")
            at = old_schema.AT
            with db.engine.begin() as conn:
                old_schema.insert(conn, "key_accounts", [old_schema.account(n) for n in (1, 2, 3)])
                questionnaires = [
                    {"id": n, "name": f"q{n}", "kind": "satisfaction", "created_at": at}
                    for n in (1, 2)
                ]
                old_schema.insert(conn, "questionnaires", questionnaires)
                old_schema.insert(
                    conn,
                    "campaigns",
                    [
                        old_schema.campaign(1, method="stratified", frame_size=30, sample_size=4),
                        old_schema.campaign(2, frame_size=8, sample_size=2),
                    ],
                )
                old_schema.insert(
                    conn,
                    "campaign_strata",
                    [
                        {"campaign_id": 1, "key": "A", "frame": 10, "size": 2},
                        {"campaign_id": 1, "key": "B", "frame": 20, "size": 2},
                    ],
                )
                invitations = [(1, 1, 1, "A"), (2, 1, 2, "B"), (3, 2, 3, None)]
                old_schema.insert(
                    conn,
                    "invitations",
                    [
                        {
                            "id": i,
                            "campaign_id": c,
                            "account_id": a,
                            "stratum": stratum,
                            "token_hash": f"h{i}",
                            "token_nonce": "n",
                            "locale": "zh",
                            "status": "sent",
                            "created_at": at,
                            "reminders_sent": 0,
                        }
                        for i, c, a, stratum in invitations
                    ],
                )
            upgrade()
            with db.engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT id, inclusion_probability, selection FROM invitations ORDER BY id")
                ).all()
                kept_open_cases = (
                    conn.execute(text("SELECT include_open_cases FROM campaigns ORDER BY id"))
                    .scalars()
                    .all()
                )
            assert [tuple(r) for r in rows] == [
                (1, 0.2, "random"),
                (2, 0.1, "random"),
                (3, 0.25, "random"),
            ]
            assert kept_open_cases == [True, True]
        finally:
            _drop_everything()
