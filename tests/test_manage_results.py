"""The console's results page and its charts: exact geometry and markup on fixed data."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from hypothesis import given
from hypothesis import strategies as st

from survey.analysis import SatisfactionGroup
from survey.analysis.satisfaction import Distribution
from survey.clock import utcnow
from survey.db import db
from survey.registry.staff import add_staff
from web.manage.charts import CENTRE, HALF_WIDTH, bar_segments, diverging_chart
from web.manage.exports import csv_text, formula_safe

from .conftest import csrf_token_from
from .factories import make_account, make_campaign, make_defection, make_response

PASSWORD = "correct horse battery"


# --- geometry ---------------------------------------------------------------------------


def geometry(segments: list[Any]) -> list[tuple[int, float, float]]:
    return [(s.score, s.x, s.width) for s in segments]


def test_dissatisfied_left_satisfied_right_each_answer_a_quarter():
    segments = bar_segments({1: 1, 2: 1, 4: 1, 5: 1}, CENTRE)
    # Percent of the bar: 50% is 100% of one side.
    assert geometry(segments) == [
        (1, 25.0, 12.5),
        (2, 37.5, 12.5),
        (4, 50.0, 12.5),
        (5, 62.5, 12.5),
    ]
    assert [s.percent for s in segments] == ["25%"] * 4


def test_no_opinion_is_split_across_the_centre():
    segments = bar_segments({3: 2, 4: 1, 5: 1}, CENTRE)
    assert geometry(segments) == [
        (3, 37.5, 12.5),
        (3, 50.0, 12.5),
        (4, 62.5, 12.5),
        (5, 75.0, 12.5),
    ]
    # Both halves speak for the whole "no opinion" share.
    assert [(s.count, s.share) for s in segments[:2]] == [(2, 0.5), (2, 0.5)]


def test_thirds_are_rounded_to_hundredths_and_thin_segments_unlabelled():
    segments = bar_segments({1: 1, 5: 2}, CENTRE)
    assert geometry(segments) == [(1, 33.33, 16.67), (5, 50.0, 33.33)]
    thin = bar_segments({2: 1, 4: 29}, CENTRE)
    assert [(s.score, s.width, s.show_label) for s in thin] == [(2, 1.67, False), (4, 48.33, True)]
    assert bar_segments({}, CENTRE) == []


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=5, max_size=5))
def test_bars_fill_one_half_width_and_meet_the_centre(counts: list[int]):
    by_score = {score: n for score, n in zip(range(1, 6), counts, strict=True)}
    segments = bar_segments(by_score, CENTRE)
    if sum(counts) == 0:
        assert segments == []
        return
    assert sum(s.width for s in segments) == pytest.approx(HALF_WIDTH, abs=0.03)
    left = [s for s in segments if s.x < CENTRE]
    right = [s for s in segments if s.x >= CENTRE]
    # Contiguous: each segment starts where the previous one ends.
    for a, b in itertools.pairwise(segments):
        assert b.x == pytest.approx(a.x + a.width, abs=0.02)
    if left:
        assert left[-1].x + left[-1].width == pytest.approx(CENTRE, abs=0.02)
        assert all(s.score <= 3 for s in left)
    assert all(s.score >= 3 for s in right)
    assert [s.score for s in segments] == sorted(s.score for s in segments)
    assert all(s.width > 0 for s in segments)


def test_chart_rows_are_stacked_in_order():
    groups = [
        SatisfactionGroup("delivery", "Delivery", 4, Distribution(1, 1, 0, 1, 1), 3.0, 0.5, 0.5),
        SatisfactionGroup("price", "Price", 4, Distribution(0, 0, 2, 1, 1), 4.0, 0.5, 0.0),
    ]
    chart = diverging_chart(groups)
    assert [r.key for r in chart.rows] == ["delivery", "price"]
    assert chart.ticks == [
        (0.0, "100%"),
        (25.0, "50%"),
        (50.0, "0%"),
        (75.0, "50%"),
        (100.0, "100%"),
    ]


# --- CSV safety -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+86 21 5555", "'+86 21 5555"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("华东 = 好", "华东 = 好"),
        (None, ""),
        (3, "3"),
    ],
)
def test_formula_cells_get_a_quote(value: Any, cell: str):
    assert formula_safe(value) == cell


def test_csv_text_starts_with_a_bom_and_uses_crlf():
    assert csv_text(["a", "b"], [["=x", "中文"]]) == "\ufeffa,b\r\n'=x,中文\r\n"


# --- the results page -------------------------------------------------------------------


def sign_in(app, client, role: str = "viewer") -> None:
    with app.app_context():
        add_staff("Li", role, "li@example.com", password=PASSWORD)
    page = client.get("/manage/login")
    response = client.post(
        "/manage/login",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "email": "li@example.com",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303


@pytest.fixture
def results(app, client):
    """Two campaigns; in Q3 four accounts answered delivery 1, 2, 4, 5 and price 3, 3, 4, 5;
    in Q4 one account answered delivery 1. One defection in 2026-10 (price, service)."""
    with app.app_context():
        accounts = [
            make_account("KA01", name="华东贸易", tier="A", annual_revenue=9_000_000),
            make_account("KA02", name="北方机电", tier="B", annual_revenue=5_000_000),
            make_account("KA03", tier="B"),
            make_account("KA04", tier="C"),
        ]
        lost = make_account("KA09", tier="C", value_type="intrinsic")
        q3, _ = make_campaign("Q3", accounts=accounts)
        q4, _ = make_campaign("Q4", accounts=accounts[:1])
        when = datetime(2026, 9, 10, tzinfo=UTC)
        for account, delivery, price in zip(accounts, (1, 2, 4, 5), (3, 3, 4, 5), strict=True):
            make_response(
                q3,
                account,
                {"delivery": delivery, "price": price},
                reasons={"delivery": ["delivery"]} if delivery <= 2 else None,
                reason_texts={"delivery": "交货总是晚一周"} if delivery == 1 else None,
                submitted_at=when,
            )
        make_response(
            q4,
            accounts[0],
            {"delivery": 1},
            reasons={"delivery": ["delivery", "communication"]},
            submitted_at=datetime(2026, 11, 5, tzinfo=UTC),
        )
        make_defection(lost, date(2026, 10, 3), ["price", "service"], lost_annual_revenue=800_000)
        db.session.commit()
        ids = {"q3": q3.id, "q4": q4.id}
    sign_in(app, client)
    return ids


def rects(html: str, aspect: str) -> list[tuple[str, str, str]]:
    """(score, x, width) of the bar segments of one aspect, in percent of its bar."""
    group = re.search(rf'<li class="likert-row bar" data-aspect="{aspect}">(.*?)</li>', html, re.S)
    assert group, f"no bar for {aspect}"
    return re.findall(
        r'<rect class="segment score-\d" data-score="(\d)" x="([\d.]+)%" y="[\d.]+" '
        r'width="([\d.]+)%"',
        group.group(1),
    )


def test_results_of_one_campaign_draw_exact_bars(client, results):
    html = client.get(f"/manage/results?campaign={results['q3']}&lang=en").get_data(as_text=True)
    assert rects(html, "delivery") == [
        ("1", "25.0", "12.5"),
        ("2", "37.5", "12.5"),
        ("4", "50.0", "12.5"),
        ("5", "62.5", "12.5"),
    ]
    assert rects(html, "price") == [
        ("3", "37.5", "12.5"),
        ("3", "50.0", "12.5"),
        ("4", "62.5", "12.5"),
        ("5", "75.0", "12.5"),
    ]
    chart = html.split('<ul class="likert-rows">', 1)[1].split("</figure>")[0]
    assert 'data-aspect="service"' not in chart
    # Accessible: a caption and description, each bar an image named by its label and
    # described by its figures, patterns as well as colour, a data table.
    assert re.search(
        r'<figure class="likert" aria-labelledby="likert-title" aria-describedby="likert-desc">\s*'
        r'<figcaption id="likert-title" class="chart-title">'
        r"Five-point answers per aspect</figcaption>",
        html,
    )
    assert (
        '<svg class="likert-bar" width="100%" height="28" role="img" focusable="false" '
        'aria-labelledby="bar-label-delivery bar-desc-delivery">' in html
    )
    assert (
        '<desc id="bar-desc-delivery">Very dissatisfied: 1 (25%); Somewhat dissatisfied: 1 (25%); '
        "Satisfied: 1 (25%); Very satisfied: 1 (25%)</desc>" in html
    )
    # "No opinion" is drawn in two halves but described once.
    assert (
        '<desc id="bar-desc-price">No opinion: 2 (50%); Satisfied: 1 (25%); '
        "Very satisfied: 1 (25%)</desc>" in html
    )
    assert 'fill="url(#kp-very-dissatisfied)"' in html
    assert html.count('<pattern id="kp-very-dissatisfied"') == 1
    assert "<title>Delivery and logistics · Very dissatisfied: 1 (25%)</title>" in html
    # Figures beside each bar: the shares and how many answers it holds.
    shares = re.search(
        r'data-aspect="delivery">.*?<span class="likert-shares">(.*?)</span>\s*</li>', html, re.S
    )
    assert " ".join(re.sub(r"<[^>]+>", " ", shares.group(1)).split()) == (
        "50% dissatisfied · 50% satisfied · 4 answers"
    )
    # No inline style (the Content-Security-Policy forbids it), no fixed-width drawing.
    assert "style=" not in chart and "viewBox" not in chart
    table = re.search(r'<tr data-aspect="delivery">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", table)]
    # 4 answers are fewer than MIN_GROUP_SIZE (5): the share is flagged with a *.
    assert cells == ["Delivery and logistics", "1", "1", "0", "1", "1", "4", "50%*", "50%", "3.00"]
    assert "* Fewer than 5 answers: read with care." in html


def test_all_campaigns_and_date_range(client, results):
    everything = client.get("/manage/results").get_data(as_text=True)
    assert rects(everything, "delivery") == [
        ("1", "20.0", "20.0"),
        ("2", "40.0", "10.0"),
        ("4", "50.0", "10.0"),
        ("5", "60.0", "10.0"),
    ]
    november = client.get("/manage/results?since=2026-11-01&until=2026-11-30").get_data(
        as_text=True
    )
    assert rects(november, "delivery") == [("1", "0.0", "50.0")]
    chart = november.split('<ul class="likert-rows">')[1].split("</figure>")[0]
    assert 'data-aspect="delivery">' in chart and 'data-aspect="price">' not in chart


def test_drilldown_at_risk_and_defections(client, results):
    page = client.get("/manage/results?by=tier&lang=en").get_data(as_text=True)
    drill = re.search(r'<table class="drilldown">(.*?)</table>', page, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", " ", drill).split())
    assert (
        "Delivery and logistics All 3 / 5 60% Delivery and logistics (3), "
        "Communication (feels neglected) (1)" in text
    )
    assert "Tier A 2 / 2 100%" in text and "Tier B 1 / 2 50%" in text
    assert "交货总是晚一周" in text
    risk = re.search(r'<table id="at-risk">(.*?)</table>', page, re.S).group(1)
    risk_text = " ".join(re.sub(r"<[^>]+>", " ", risk).split())
    assert "华东贸易 (KA01) Tier A 王伟 9,000,000" in risk_text
    assert "北方机电 (KA02) Tier B 王伟 5,000,000" in risk_text
    assert "Delivery and logistics" in risk_text
    months = re.search(r'<table id="defections-by-month">(.*?)</table>', page, re.S).group(1)
    month_text = " ".join(re.sub(r"<[^>]+>", " ", months).split())
    assert "2026-10 1 800,000 Price (1), Service and responsiveness (1)" in month_text
    assert "Intrinsic value 1 Price (100%)" in " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_bad_filter_is_explained_and_the_rest_still_shows(client, results):
    response = client.get("/manage/results?since=2026-12-01&until=2026-11-01&campaign=999")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "结束日期不能早于开始日期。" in html
    assert rects(html, "delivery")  # the unfiltered chart is still there
    assert 'value="2026-12-01"' in html  # what was typed is kept


def test_results_in_chinese_with_the_switch_keeping_filters(client, results):
    html = client.get(f"/manage/results?campaign={results['q3']}&lang=zh").get_data(as_text=True)
    assert "交货与物流" in html and "极不满意" in html and "高度满意" in html
    assert "各方面的满意度" in html
    assert f"/manage/results?campaign={results['q3']}&amp;lang=en" in html


def test_no_answers_yet(app, client):
    sign_in(app, client)
    page = client.get("/manage/results?lang=en").get_data(as_text=True)
    assert "No answers yet for this selection." in page
    assert '<svg class="likert-bar"' not in page
    assert "No account is at risk right now." in page


def page_queries(app, client, url: str) -> int:
    with app.app_context():
        assert client.get(url).status_code == 200
        return len(get_recorded_queries())


def test_pages_cost_a_fixed_number_of_queries(app, client, results):
    urls = [
        "/manage/results",
        f"/manage/results?campaign={results['q3']}&by=account_manager",
        f"/manage/campaigns/{results['q3']}",
        "/manage/campaigns",
    ]
    before = [page_queries(app, client, url) for url in urls]
    with app.app_context():
        more = [
            make_account(f"KB{i:02d}", tier="ABC"[i % 3], account_manager=f"经理{i}")
            for i in range(12)
        ]
        campaign, _ = make_campaign("Q5", accounts=more)
        for i, account in enumerate(more):
            make_response(
                campaign,
                account,
                {"delivery": 1 + i % 5, "service": 2, "overall": 4},
                reasons={"service": ["service", "price"]},
                reason_texts={"service": f"慢 {i}"},
                comment=f"意见 {i}",
            )
        for account in more[:4]:
            make_defection(account, date(2026, 8, 1 + account.id % 20), ["competitor_offer"])
        db.session.commit()
    assert [page_queries(app, client, url) for url in urls] == before


# --- coverage and the expected-loss ranking -----------------------------------------------


@pytest.fixture
def coverage_data(app, client):
    """Active: KA01 (A, 9M, answered 10 days ago: delivery 1, price 5), KA02 (A, 1M, never
    asked), KA03 (B, 4M, answered 400 days ago: delivery 4), KA04 (B, 2M, answered 20 days
    ago: delivery 2). Not active: KA05 (C, switched off) and KA06 (C, 3M, answered
    delivery 1 100 days ago and left 70 days later)."""
    now = utcnow()
    with app.app_context():
        ka01 = make_account("KA01", name="华东贸易", tier="A", annual_revenue=9_000_000)
        make_account(
            "KA02", name="北方机电", tier="A", value_type="intrinsic", annual_revenue=1_000_000
        )
        ka03 = make_account(
            "KA03", name="西南化工", tier="B", value_type="intrinsic", annual_revenue=4_000_000
        )
        ka04 = make_account("KA04", tier="B", annual_revenue=2_000_000)
        make_account("KA05", tier="C", active=False, annual_revenue=700_000)
        ka06 = make_account("KA06", tier="C", annual_revenue=3_000_000)
        campaign, _ = make_campaign("Q", accounts=[ka01, ka03, ka04, ka06])
        for account, scores, days in (
            (ka01, {"delivery": 1, "price": 5}, 10),
            (ka03, {"delivery": 4}, 400),
            (ka04, {"delivery": 2}, 20),
            (ka06, {"delivery": 1}, 100),
        ):
            make_response(campaign, account, scores, submitted_at=now - timedelta(days=days))
        make_defection(ka06, (now - timedelta(days=30)).date(), ["delivery"])
        db.session.commit()
    sign_in(app, client)


def table_rows(html: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert table, f"no table {table_id}"
    body = table.group(1).split("<tbody>", 1)[1]
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_coverage_by_tier_and_the_largest_unheard_accounts(client, coverage_data):
    html = client.get("/manage/results?lang=en").get_data(as_text=True)
    # Tier B: 1 of 2 heard (KA04), 2M of 6M revenue; tier A: 1 of 2, 9M of 10M.
    # Tiers in their order (not by share); tier C has no active account.
    assert table_rows(html, "coverage") == ["Tier A 2 1 50% 90%", "Tier B 2 1 50% 33%"]
    # KA03 answered, but 400 days ago: outside the year.
    assert table_rows(html, "unheard") == [
        "西南化工 (KA03) Tier B 王伟 4,000,000",
        "北方机电 (KA02) Tier A 王伟 1,000,000",
    ]
    assert "in the last 365 days, per Tier" in html


def test_coverage_grouped_by_value_type_in_chinese(client, coverage_data):
    html = client.get("/manage/results?coverage_by=value_type&lang=zh").get_data(as_text=True)
    rows = table_rows(html, "coverage")
    assert [r.split()[1:] for r in rows] == [["2", "0", "0%", "0%"], ["2", "2", "100%", "100%"]]
    assert "覆盖率：哪些大客户给过我们反馈" in html and "年收入占比" in html
    bad = client.get("/manage/results?coverage_by=colour&lang=en")
    assert bad.status_code == 422
    assert table_rows(bad.get_data(as_text=True), "coverage")[0].startswith("Tier A")


def test_at_risk_is_ranked_by_expected_lost_revenue(client, coverage_data):
    html = client.get("/manage/results?lang=en").get_data(as_text=True)
    # Surveyed: KA01, KA03, KA04, KA06; KA06 left within the year: baseline 1/4.
    # Delivery 1-2: KA01, KA04, KA06, one of them left: (1 + 5 × 0.25) / (3 + 5) = 0.28125.
    rows = table_rows(html, "at-risk")
    assert len(rows) == 2
    assert rows[0].startswith("华东贸易 (KA01) Tier A 王伟 9,000,000 0.28 2,531,250 ")
    assert rows[1].startswith("Account KA04 (KA04) Tier B 王伟 2,000,000 0.28 562,500 ")
    assert all(r.endswith(" Delivery and logistics") for r in rows)
