"""Security headers on every page the app serves (every GET route, error pages and
/graphql), no inline script anywhere, and the session cookie's flags."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from survey.db import db
from survey.registry.staff import add_staff
from web import create_app
from web.config import ConfigError

from .conftest import csrf_token_from, make_test_app
from .factories import make_account, make_campaign, make_response

PASSWORD = "long enough password"


@pytest.fixture
def world(app) -> dict[str, Any]:
    with app.app_context():
        answered = make_account("KA1", locale="en")
        open_ = make_account("KA2", locale="zh")
        campaign, tokens = make_campaign(accounts=[answered, open_])
        make_response(campaign, answered, {"overall": 2}, comment="<b>hi</b>")
        add_staff("Boss", "admin", "boss@example.com", password=PASSWORD)
        db.session.commit()
        return {
            "token": tokens[open_.id],
            "answered": tokens[answered.id],
            "campaign_id": campaign.id,
            "api": add_staff("Reader", "viewer").token,
        }


def sample_url(app: Flask, rule: Rule, world: dict[str, Any]) -> str:
    """A URL for `rule` with real values where the app has them."""
    values: dict[str, Any] = {}
    for arg in rule.arguments:
        if arg == "token":
            values[arg] = world["answered"] if "thanks" in rule.rule else world["token"]
        elif arg == "filename":
            values[arg] = "survey.css"
        elif arg.endswith("_id") or arg == "id":
            values[arg] = world["campaign_id"]
        else:
            values[arg] = "x"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def assert_secure_headers(resp: Any, where: str) -> None:
    csp = resp.headers.get("Content-Security-Policy", "")
    directives = dict(
        [*part.split(" ", 1), ""][:2] for part in (p.strip() for p in csp.split(";")) if part
    )
    assert directives.get("frame-ancestors") == "'none'", (where, csp)
    script = directives.get("script-src", directives.get("default-src", ""))
    assert script == "'self'", (where, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (where, csp)
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("Referrer-Policy") == "no-referrer", where


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle\s*=", re.IGNORECASE)


def assert_no_inline_code(resp: Any, where: str) -> None:
    if "html" not in (resp.content_type or ""):
        return
    html = resp.get_data(as_text=True)
    assert not INLINE_SCRIPT.search(html), where
    assert not INLINE_HANDLER.search(html), where
    assert not INLINE_STYLE.search(html), where  # CSP style-src 'self' would block it


def sign_in(client) -> None:
    page = client.get("/manage/login")
    resp = client.post(
        "/manage/login",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "email": "boss@example.com",
            "password": PASSWORD,
        },
    )
    assert resp.status_code == 303


def test_every_get_route_sends_the_security_headers(app, client, world):
    rules = [r for r in app.url_map.iter_rules() if "GET" in (r.methods or ())]
    assert len(rules) >= 5
    for signed_in in (False, True):
        if signed_in:
            sign_in(client)
        for rule in rules:
            url = sample_url(app, rule, world)
            resp = client.get(url)
            where = f"GET {url} ({'signed in' if signed_in else 'anonymous'})"
            assert resp.status_code < 500, where
            assert_secure_headers(resp, where)
            assert_no_inline_code(resp, where)
            resp.close()  # static files are streamed from an open file


def test_error_pages_and_the_api_send_them_too(app, client, world):
    auth = {"Authorization": f"Bearer {world['api']}"}
    responses = {
        "404": client.get("/no-such-page"),
        "404 link": client.get("/s/" + "A" * 43),
        "405": client.put("/"),
        "400 csrf": client.post(f"/s/{world['token']}", data={}),
        "413": client.post(
            f"/s/{world['token']}", data={"c": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}
        ),
        "graphql 401": client.post("/graphql", json={"query": "{ me { name } }"}),
        "graphql 200": client.post("/graphql", json={"query": "{ me { name } }"}, headers=auth),
        "graphql 400": client.post("/graphql", json=[1], headers=auth),
        "graphql GET": client.get("/graphql", headers=auth),
    }
    for where, resp in responses.items():
        assert_secure_headers(resp, where)
        assert_no_inline_code(resp, where)
    assert responses["413"].status_code == 413


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"PROPAGATE_EXCEPTIONS": False}


def test_the_500_page_sends_them_too(app, client, monkeypatch):
    import web.survey_pages

    def broken(*_args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(web.survey_pages, "open_survey", broken)
    resp = client.get("/s/" + "A" * 43)
    assert resp.status_code == 500
    assert_secure_headers(resp, "500")
    assert_no_inline_code(resp, "500")


def session_cookie(resp: Any) -> str:
    cookies = [v for k, v in resp.headers.items() if k == "Set-Cookie" and "session=" in v]
    assert cookies, "no session cookie set"
    return cookies[0].lower()


@pytest.mark.parametrize(
    ("base_url", "secure"), [("https://kp.example.com", True), ("http://127.0.0.1:5000", False)]
)
def test_session_cookie_is_httponly_samesite_and_secure_on_https(
    database_url, monkeypatch, base_url, secure
):
    monkeypatch.setenv("BASE_URL", base_url)
    app = make_test_app(database_url)
    with app.app_context():
        db.create_all()
        account = make_account("KA9")
        _, tokens = make_campaign(accounts=[account])
        token = tokens[account.id]
        db.session.commit()
    try:
        # The sign-in form keeps its CSRF token in the session; a survey link sets no
        # cookie at all (tests/test_survey_link_request.py).
        assert "Set-Cookie" not in app.test_client().get(f"/s/{token}").headers
        cookie = session_cookie(app.test_client().get("/manage/login"))
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert ("secure" in cookie) is secure
    finally:
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


@pytest.mark.parametrize("secret", ["", "dev", "x" * 31])
def test_production_refuses_a_missing_weak_or_short_secret(monkeypatch, tmp_path, secret):
    monkeypatch.setenv("KEYPULSE_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
