"""The site around the survey and the console: the favicon and the home page."""

from __future__ import annotations

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
