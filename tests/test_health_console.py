"""The account page's health section: score, band in words, parts, why, history chart."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import select

from survey.db import db
from survey.models import FollowUp
from survey.scoring import backfill_health, recompute_health

from .health_data import build_health_data
from .test_manage_accounts import sign_in


@pytest.fixture
def health(app, client, now):
    with app.app_context():
        data = build_health_data()
        backfill_health(14, every=7)
        case = db.session.scalar(
            select(FollowUp).where(FollowUp.account_id == data.accounts["H1"].id)
        )
        case.resolved_at = now - timedelta(hours=1)
        db.session.commit()
        recompute_health()
    sign_in(app, client, "viewer")


def _section(html: str) -> str:
    return re.search(r'<section aria-labelledby="health-heading".*?</section>', html, re.S).group(0)


def test_health_section_in_english(client, health):
    html = _section(client.get("/manage/accounts/H1?lang=en").get_data(as_text=True))
    assert "<strong>63.8 of 100</strong>" in html
    assert '<strong class="tag health-watch">Watch</strong>' in html
    assert "+5.6 since the snapshot before" in html
    assert (
        "<strong>Why did it move?</strong> Health rose 5.6 points between 2026-11-16 and "
        "2026-11-23 (58.1 → 63.8), mostly: Overdue follow-ups (+3.8; 1 → 0)"
    ) in html
    row = re.search(r'<tr data-measure="days_since_answer">(.*?)</tr>', html, re.S).group(1)
    assert re.sub(r"\s+", " ", row).strip() == (
        '<th scope="row">Days since the account answered</th> <td class="num">74 days</td> '
        '<td class="num">50.0</td> <td class="num">10%</td> <td class="num">5.0</td>'
    )
    # The chart: a line of three snapshots, the band limits named, and its table.
    assert html.count("<circle ") == 3
    assert "Good ≥ 70" in html and "Watch ≥ 40" in html
    assert '<title id="health-chart-title">' in html
    assert html.count('<th scope="row">') == 8 + 3  # parts, then the history table


def test_health_section_in_chinese_and_insufficient_data(client, health):
    html = _section(client.get("/manage/accounts/H1?lang=zh").get_data(as_text=True))
    assert "自 2026-11-16 至 2026-11-23，健康度上升 5.6 分" in html
    assert '<strong class="tag health-watch">需关注</strong>' in html
    h3 = _section(client.get("/manage/accounts/H3?lang=en").get_data(as_text=True))
    assert "Insufficient data" in h3
    h4 = _section(client.get("/manage/accounts/H4?lang=en").get_data(as_text=True))
    assert "No health score yet" in h4


def test_the_section_costs_two_statements(app, client, health):
    with app.app_context():
        assert client.get("/manage/accounts/H1").status_code == 200
        statements = [q.statement for q in get_recorded_queries()]
    # One for the health section; the value section (i18-value) reads its own row.
    assert sum("account_scores" in s for s in statements) == 2
    assert sum("health_snapshots" in s for s in statements) == 1


def test_account_list_shows_the_health_band(app, client, health):
    html = client.get("/manage/accounts?lang=en").get_data(as_text=True)
    row = re.search(
        r'<th role="rowheader" scope="row"><a href="/manage/accounts/H1">.*?</tr>',
        html,
        re.S,
    ).group(0)
    assert '<strong class="tag health-watch">Watch</strong> 64' in row
    h3 = re.search(r'<a href="/manage/accounts/H3">.*?</tr>', html, re.S).group(0)
    assert 'data-label="Health"><span><span class="muted">–</span>' in h3
