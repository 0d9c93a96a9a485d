"""GraphiQL and the SDL for developers: served in debug mode only, from /static (no CDN,
no inline script) under a Content-Security-Policy of their own. The browser test in
test_e2e_browser.py runs a query in it with the network cut off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from web import create_app
from web.graphiql import GRAPHIQL_CONTENT_SECURITY_POLICY

from .test_security_headers import assert_no_inline_code, assert_secure_headers

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "web" / "static" / "graphiql"
DEBUG = {"DEBUG": True}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
REFERENCE = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("app_config", [DEBUG])
def test_graphiql_page_loads_only_static_files_under_its_own_policy(client, app_config):
    resp = client.get("/graphql?lang=en", headers=BROWSER)

    assert resp.status_code == 200
    assert resp.headers["Content-Security-Policy"] == GRAPHIQL_CONTENT_SECURITY_POLICY
    assert_secure_headers(resp, "GraphiQL")
    assert_no_inline_code(resp, "GraphiQL")
    html = resp.get_data(as_text=True)
    references = REFERENCE.findall(html)
    assert references == [
        "/static/favicon.svg",
        "/static/graphiql/graphiql.min.css",
        "/static/graphiql-page.css",
        "/static/graphiql/react.production.min.js",
        "/static/graphiql/react-dom.production.min.js",
        "/static/graphiql/graphiql.min.js",
        "/static/graphiql-setup.js",
    ]
    expected_types = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
    for url in references:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.mimetype == expected_types[Path(url).suffix], url
        assert asset.content_length and asset.content_length > 0, url
        asset.close()
    assert "unpkg" not in html and "://" not in html
    assert 'data-endpoint="/graphql"' in html
    headers = """data-default-headers='{"Accept-Language": "en", "Authorization": "Bearer "}'"""
    assert headers in html


def test_the_graphiql_policy_adds_only_data_fonts_to_the_apps():
    from web.security import CONTENT_SECURITY_POLICY

    extra = set(GRAPHIQL_CONTENT_SECURITY_POLICY.split("; ")) - set(
        CONTENT_SECURITY_POLICY.split("; ")
    )
    assert extra == {"font-src 'self' data:"}


@pytest.mark.parametrize("app_config", [DEBUG])
def test_in_debug_mode_the_api_still_needs_a_token(client, app_config):
    assert client.get("/graphql", headers={"Accept": "application/json"}).status_code == 401
    assert client.post("/graphql", json={"query": "{ me { name } }"}).status_code == 401


@pytest.mark.parametrize("app_config", [DEBUG])
def test_sdl_is_served_read_only_in_debug_mode(client, app_config):
    resp = client.get("/graphql/schema.graphql")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    assert resp.get_data() == (ROOT / "schema" / "schema.graphql").read_bytes()
    resp.close()
    assert client.post("/graphql/schema.graphql").status_code == 405


def test_no_graphiql_and_no_sdl_outside_debug_mode(client):
    assert client.get("/graphql", headers=BROWSER).status_code == 404
    assert client.get("/graphql/schema.graphql").status_code == 404


def test_production_serves_neither(monkeypatch, tmp_path):
    monkeypatch.setenv("KEYPULSE_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    app = create_app({"SECRET_KEY": "k" * 48})
    client = app.test_client()

    resp = client.get("/graphql", headers=BROWSER)
    assert resp.status_code == 404
    assert "graphiql" not in resp.get_data(as_text=True).lower()
    assert client.get("/graphql/schema.graphql").status_code == 404


def test_vendored_assets_match_the_versions_in_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    graphiql = re.search(r"^GRAPHIQL_VERSION\s*:=\s*(\S+)", makefile, re.M)
    react = re.search(r"^REACT_VERSION\s*:=\s*(\S+)", makefile, re.M)
    assert graphiql and react
    assert (ASSETS / "VERSIONS").read_text().splitlines() == [
        f"graphiql {graphiql[1]}",
        f"react {react[1]}",
        f"react-dom {react[1]}",
    ], "run `make graphiql-assets`"
    for licence in ("LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"):
        assert "MIT License" in (ASSETS / licence).read_text(), licence
