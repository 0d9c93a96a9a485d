"""The site around the survey and the console: the favicon and the home page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
ICON_LINK = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def test_favicon_ico_answers_with_the_svg_icon(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200
    assert resp.mimetype == "image/svg+xml"
    assert resp.get_data() == (STATIC / "favicon.svg").read_bytes()
    resp.close()


@pytest.mark.parametrize("path", ["/", "/manage/login", "/no-such-page"])
def test_pages_link_the_icon(client, path):
    html = client.get(path).get_data(as_text=True)
    assert html.count(ICON_LINK) == 1
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200
    icon.close()  # static files are streamed from an open file


def links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', html)


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        (
            "en",
            [
                "<h1>KeyPulse key-account survey</h1>",
                "To answer a survey, please open the personal link from your invitation.",
                "Lost the link? Please ask your account manager to send it again.",
                '<h2 id="staff">For KeyPulse staff</h2>',
                '<h3><a href="/manage/">Manager console</a></h3>',
                "through <code>POST /graphql</code> with an API token.",
            ],
        ),
        (
            "zh",
            [
                "<h1>KeyPulse 大客户满意度调查</h1>",
                "如需填写问卷，请打开邀请中的个人专属链接。",
                "找不到链接？请联系您的客户经理重新发送。",
                '<h2 id="staff">KeyPulse 员工入口</h2>',
                '<h3><a href="/manage/">管理控制台</a></h3>',
                "通过 <code>POST /graphql</code> 读取结果",
            ],
        ),
    ],
)
def test_home_page_guides_customers_and_staff_in_both_languages(client, lang, texts):
    resp = client.get(f"/?lang={lang}")
    html = resp.get_data(as_text=True)

    assert resp.status_code == 200
    for text in texts:
        assert text in html
    assert html.count("<h1>") == 1 and html.count("<h2 ") == 2
    assert "<script" not in html  # works without JavaScript
    assert client.get("/manage/").status_code == 302  # to the campaigns, then sign-in


def test_home_page_outside_debug_names_where_the_api_docs_are(client):
    html = client.get("/?lang=en").get_data(as_text=True)

    assert "/graphql" not in links(html)
    assert "the “GraphQL API” section of the README" in html
    assert "<code>schema/schema.graphql</code>" in html


@pytest.mark.parametrize("app_config", [{"DEBUG": True}])
def test_home_page_in_debug_mode_links_graphiql_and_the_sdl(client, app_config):
    html = client.get("/?lang=en").get_data(as_text=True)

    assert '<a href="/graphql">Try the API in GraphiQL</a>' in html
    assert '<a href="/graphql/schema.graphql">The API schema (SDL)</a>' in html
    assert "section of the README" not in html
    for url in ("/graphql", "/graphql/schema.graphql"):
        resp = client.get(url, headers={"Accept": "text/html"})
        assert resp.status_code == 200, url
        resp.close()
