"""The console's priorities page: the matrix, a cell's accounts, the health check."""

from __future__ import annotations

from flask import Flask

from survey.db import db

from .health_data import build_health_data
from .test_manage import add_member, manager, sign_in, viewer  # noqa: F401 (fixtures)
from .test_scoring_priority import _load


def test_the_matrix_leads_with_high_value_poor_health(app: Flask, viewer) -> None:  # noqa: F811
    with app.app_context():
        _load()
        db.session.commit()
    html = viewer.get("/manage/priorities?lang=en").get_data(as_text=True)
    assert '<caption id="priorities-table1-caption">' in html and 'scope="row"' in html
    first = html.index('class="cell first-priority"')
    assert "High value, poor health: act first" in html[first:]
    assert html.count("first-priority") == 1
    assert 'href="/manage/priorities?value=A&amp;health=poor#cell-accounts"' in html
    assert "2 accounts, revenue CN¥16M: value A (highest value), health Poor" in html
    assert "8 active accounts, revenue CN¥27.2M" in html
    # Nothing to judge a year back: the accounts are new.
    assert "Nothing to judge yet" in html
    assert 'href="/manage/priorities"' in html  # the console's nav
    zh = viewer.get("/manage/priorities?lang=zh").get_data(as_text=True)
    assert "1600万" in zh


def test_a_cell_lists_its_accounts(app: Flask, viewer) -> None:  # noqa: F811
    with app.app_context():
        _load()
        db.session.commit()
    html = viewer.get("/manage/priorities?value=A&health=poor&lang=en").get_data(as_text=True)
    assert "Accounts: value A (highest value), health Poor" in html
    assert "Account KA01" in html and "Account KA02" in html and "Account KA03" not in html
    assert "2 accounts in this cell" in html
    assert viewer.get("/manage/priorities?value=Z&health=poor").status_code == 404
    assert viewer.get("/manage/priorities?horizon=0").status_code == 404
    empty = viewer.get("/manage/priorities?value=C&health=good&lang=en").get_data(as_text=True)
    assert "No active account in this cell." in empty


def test_the_health_check_in_plain_words(app: Flask, client) -> None:
    with app.app_context():
        build_health_data()
    sign_in(client, add_member(app, "Ada", "admin"))
    # 240 days back (2026-03-28): H1, H2, H4, H5 scored; H4 left on 2026-10-01.
    html = client.get("/manage/priorities?horizon=240&lang=en").get_data(as_text=True)
    assert "AUC 0.67 (95% interval 0.00 – 1.00)" in html
    assert "in 67% of such pairs the one that left had the lower health score" in html
    assert "Fewer than 10 accounts left in that time" in html
    assert '<title id="quintile-title">' in html and "Quintile 2: 100% (1 of 1)" in html
    assert "Too few accounts to estimate a coefficient for each measure." in html
    assert "flask scorecard set health" not in html  # nothing to adopt
