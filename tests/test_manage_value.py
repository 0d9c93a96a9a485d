"""The console's value page (pyramid, suggestions, applying them) and the account page's
value section, in zh and en, for viewers and managers."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from survey.db import db
from survey.models import AuditEntry, KeyAccount
from survey.scoring import change_model
from survey.scoring.value import recompute_value_scores

from .conftest import csrf_token_from
from .test_manage_accounts import sign_in
from .test_value_scores import _load


def _scored(app) -> dict[str, int]:
    with app.app_context():
        ids = _load()
        change_model("pyramid", actor="admin", tiering=True)
        db.session.commit()
        recompute_value_scores()
        return ids


def test_value_page_shows_the_pyramid_and_suggestions(app, client):
    _scored(app)
    sign_in(app, client, "viewer")
    html = client.get("/manage/value?lang=en").get_data(as_text=True)
    assert (
        "<svg" in html and '<title id="pyramid-title">Value pyramid: Value pyramid</title>' in html
    )
    assert "Tier A: accounts: 2" in html  # the text alternative
    assert "2026-Q3" in html
    assert re.search(r'<th scope="row">Tier C</th>\s*<td class="num">1</td>', html)
    assert 'href="/manage/accounts/A5"' in html and "One-off big-ticket customer" in html
    assert 'name="account_id"' not in html  # viewers cannot apply
    assert "Only managers can apply tier suggestions." in html
    zh = client.get("/manage/value?lang=zh").get_data(as_text=True)
    assert "价值金字塔" in zh and "一次性大单客户" in zh
    # a viewer's POST changes nothing
    token = csrf_token_from(html)
    assert client.post("/manage/value/apply", data={"csrf_token": token}).status_code == 403


def test_manager_applies_chosen_suggestions(app, client):
    ids = _scored(app)
    sign_in(app, client, "manager")
    html = client.get("/manage/value?lang=en").get_data(as_text=True)
    assert f'value="{ids["A5"]}"' in html
    token = csrf_token_from(html)
    response = client.post(
        "/manage/value/apply?lang=en",
        data={"csrf_token": token, "account_id": [str(ids["A5"])]},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Tiers changed (1): A5 C → A." in page
    with app.app_context():
        assert db.session.get(KeyAccount, ids["A5"]).tier == "A"
        details = json.loads(db.session.scalars(select(AuditEntry.details)).all()[-1])
        assert details["new"] == "A" and details["model"] == "pyramid"
    # A4 has no suggestion (its tier matches): nothing changes
    response = client.post(
        "/manage/value/apply?lang=en",
        data={"csrf_token": token, "account_id": [str(ids["A1"]), str(ids["A4"])]},
        follow_redirects=True,
    )
    assert "Nothing was changed" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(KeyAccount, ids["A1"]).tier == "A"
    # without a CSRF token nothing happens either
    assert client.post("/manage/value/apply", data={"account_id": "1"}).status_code == 400


def test_account_page_value_section(app, client):
    _scored(app)
    sign_in(app, client, "viewer")
    html = client.get("/manage/accounts/A1?lang=en").get_data(as_text=True)
    assert '<h2 id="value-heading">Value</h2>' in html
    assert "25.9 / 100" in html
    assert "differs from its tier" in html
    assert re.search(
        r'<th scope="row">Money collected</th>\s*<td class="nowrap">Composite value</td>', html
    )
    assert "missing" in html
    html = client.get("/manage/accounts/A6?lang=en").get_data(as_text=True)
    assert "Insufficient data" in html
    html = client.get("/manage/accounts/A7?lang=zh").get_data(as_text=True)
    assert "尚无价值分" in html
