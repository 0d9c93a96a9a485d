"""Reading the results page (issue 22): what its counts count, tiers in their order,
defections per month stacked by main reason, a table of contents whose anchors all
resolve, and tables that scroll inside labelled regions. Exact figures on small data."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from survey.analysis import (
    DefectionFilter,
    Dimension,
    ResponseFilter,
    answered_responses,
    coverage,
    defection_reasons,
    defections_by_month_and_main_reason,
    dimension_labels,
)
from survey.analysis.defections import MonthReasons
from survey.db import db
from web.manage.charts import stacked_month_chart

from .factories import make_account, make_campaign, make_defection, make_response
from .test_manage_results import sign_in


@pytest.fixture
def data(app):
    """Q3: three responses (delivery and price each: 6 answers), Q4: one response
    (delivery only: 1 answer). Defections: 2026-08 two with price as main reason and
    one with competitor_offer; 2026-09 one with no reason recorded."""
    with app.app_context():
        answering = [
            make_account("KA-0195", tier="C", annual_revenue=3_000_000),
            make_account("KA-0196", tier="A", annual_revenue=2_000_000),
            make_account("KA-0197", tier="B", annual_revenue=1_000_000),
        ]
        q3, _ = make_campaign("Q3", accounts=answering)
        q4, _ = make_campaign("Q4", accounts=answering[:1])
        when = datetime(2026, 9, 10, tzinfo=UTC)
        for account, score in zip(answering, (1, 4, 5), strict=True):
            make_response(q3, account, {"delivery": score, "price": 3}, submitted_at=when)
        make_response(q4, answering[0], {"delivery": 2}, submitted_at=when)
        lost = [make_account(f"KA-09{i}", tier=t) for i, t in enumerate("CACB")]
        make_defection(lost[0], date(2026, 8, 3), ["price", "service"], lost_annual_revenue=5)
        make_defection(lost[1], date(2026, 8, 20), ["competitor_offer", "price"])
        make_defection(lost[2], date(2026, 8, 31), ["price"])
        make_defection(lost[3], date(2026, 9, 1), [])
        db.session.commit()
        ids = {"q3": q3.id, "q4": q4.id}
    return ids


# --- the analysis ------------------------------------------------------------------------


def test_responses_are_counted_once_however_many_aspects_they_answer(app, data):
    with app.app_context():
        assert answered_responses() == 4
        assert answered_responses(ResponseFilter(campaign_id=data["q3"])) == 3
        assert answered_responses(ResponseFilter(aspect="price")) == 3
        assert answered_responses(ResponseFilter(since=date(2027, 1, 1))) == 0


def test_defections_by_month_stack_by_main_reason_in_one_statement(app, data):
    with app.app_context():
        months = defections_by_month_and_main_reason()
        august = defections_by_month_and_main_reason(
            DefectionFilter(since=date(2026, 8, 1), until=date(2026, 8, 31))
        )
    # Every defection once, under its main reason; reasons in vocabulary order, "" last.
    assert months == [
        MonthReasons("2026-08", 3, (("price", 2), ("competitor_offer", 1))),
        MonthReasons("2026-09", 1, (("", 1),)),
    ]
    assert august == months[:1]


def test_tiers_come_in_their_order_wherever_they_are_listed(app, data):
    with app.app_context():
        make_account("KA-0999", tier="Z")
        db.session.commit()
        by_tier = [g.key for g in coverage(Dimension.TIER, locale="en")]
        leaving = [g.key for g in defection_reasons(Dimension.TIER)]
        labels = list(dimension_labels(Dimension.TIER, ["Z", "C", "A", "B"], "en").values())
    # Coverage by tier: A, B, C, then any other tier (not the lowest revenue share first).
    assert by_tier == ["A", "B", "C", "Z"]
    # Which tiers are leaving: A (1), B (1), C (2): the tiers' order, not the most first.
    assert leaving == ["A", "B", "C"]
    assert labels == ["Z", "Tier C", "Tier A", "Tier B"]


# --- the chart's geometry ------------------------------------------------------------------


def test_the_busiest_month_fills_its_bar():
    chart = stacked_month_chart(
        [
            MonthReasons("2026-08", 3, (("price", 2), ("competitor_offer", 1))),
            MonthReasons("2026-09", 1, (("", 1),)),
        ]
    )
    assert [
        (r.month, r.defections, [(s.reason, s.count, s.x, s.width, s.pattern) for s in r.segments])
        for r in chart.rows
    ] == [
        (
            "2026-08",
            3,
            [
                ("price", 2, 0.0, 66.67, "kp-reason-price"),
                ("competitor_offer", 1, 66.67, 33.33, "kp-reason-competitor_offer"),
            ],
        ),
        ("2026-09", 1, [("", 1, 0.0, 33.33, "kp-reason-none")]),
    ]
    assert chart.reasons == ["price", "competitor_offer", ""]
    assert stacked_month_chart([]).rows == []


# --- the page ------------------------------------------------------------------------------


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def page(app, client, data):
    sign_in(app, client)

    def get(query: str = "lang=en") -> str:
        response = client.get(f"/manage/results?{query}")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    return get


def test_the_header_counts_responses_and_answers_and_each_bar_its_answers(page, data):
    html = page()
    scope = re.search(r'<p class="scope">(.*?)</p>', html, re.S).group(1)
    assert text_of(scope) == "All campaigns · 4 responses · 7 answers"
    shares = re.findall(r'<span class="likert-shares">(.*?)</span>\s*</li>', html, re.S)
    bars = re.findall(r'<li class="likert-row bar" data-aspect="(\w+)">', html)
    # Delivery 1, 4, 5 and 2; price 3, 3, 3: n says answers, and they add up to 7.
    assert dict(zip(bars, (text_of(s) for s in shares), strict=True)) == {
        "delivery": "50% dissatisfied · 50% satisfied · 4 answers",
        "price": "0% dissatisfied · 0% satisfied · 3 answers",
    }
    q3 = page(f"campaign={data['q3']}&lang=en")
    assert text_of(re.search(r'<p class="scope">(.*?)</p>', q3, re.S).group(1)) == (
        "Campaign: Q3 · 3 responses · 6 answers"
    )
    zh = page(f"campaign={data['q3']}&lang=zh")
    assert "3 份答卷" in zh and "6 条回答" in zh


def test_every_table_of_contents_anchor_resolves_and_regions_are_labelled(page):
    html = page()
    toc = re.search(
        r'<nav class="toc card" id="toc" aria-labelledby="toc-heading">(.*?)</nav>', html, re.S
    )
    targets = re.findall(r'href="#([^"]+)"', toc.group(1))
    assert targets == [
        "satisfaction",
        "dissatisfied",
        "comments",
        "accounts-at-risk",
        "heard-from",
        "why-they-left",
    ]
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert all(t in ids for t in targets)
    # Every "back to the contents" link leads to the table of contents.
    assert set(re.findall(r'<p class="back-to-top"><a href="#([^"]+)"', html)) == {"toc"}
    # Every scrolling table is a focusable region named by something on the page.
    regions = re.findall(
        r'<div class="table-wrap[^"]*" role="region" tabindex="0" aria-labelledby="([^"]+)">', html
    )
    assert len(regions) == html.count('<div class="table-wrap')
    assert all(r in ids for r in regions)
    # Each bar is named by its label and described by its figures, both on the page.
    for names in re.findall(r'class="(?:likert|stack)-bar"[^>]*aria-labelledby="([^"]+)"', html):
        assert all(n in ids for n in names.split())


def test_defections_by_month_as_a_chart_with_its_table_behind_details(page):
    html = page()
    chart = re.search(r'<figure class="stacked"(.*?)</figure>', html, re.S).group(1)
    legend = re.search(r'<ul class="chart-legend">(.*?)</ul>', chart, re.S).group(1)
    assert re.findall(r'data-reason="([^"]*)"', legend) == ["price", "competitor_offer", ""]
    assert text_of(legend) == "Price Competitor&#39;s offer Main reason not recorded"
    august = re.search(r'<li class="stack-row" data-month="2026-08">(.*?)</li>', chart, re.S)
    assert re.findall(
        r'<rect class="segment" data-reason="([^"]*)" x="([\d.]+)%" y="2" width="([\d.]+)%" '
        r'height="24" fill="url\(#([\w-]+)\)"',
        august.group(1),
    ) == [
        ("price", "0.0", "66.67", "kp-reason-price"),
        ("competitor_offer", "66.67", "33.33", "kp-reason-competitor_offer"),
    ]
    assert (
        '<desc id="month-desc-2026-08">Accounts lost: 3 — Price 2; Competitor&#39;s offer 1</desc>'
        in august.group(1)
    )
    assert '<span class="stack-total nowrap">Accounts lost: 3</span>' in august.group(1)
    # The month is a label that never breaks; the table stays, behind <details>.
    assert '<span class="stack-label nowrap" id="month-label-2026-08">2026-08</span>' in chart
    assert re.search(
        r'<details class="data-table">\s*'
        r"<summary>The figures as a table, with the exit survey answers</summary>",
        html,
    )
    assert '<table id="defections-by-month">' in html


def test_identifiers_tiers_and_months_never_break(page):
    html = page()
    assert '<span class="muted nowrap">(KA-0195)</span>' in html
    assert '<th scope="row" class="nowrap">Tier A</th>' in html  # coverage
    assert '<th scope="row" class="nowrap">2026-08</th>' in html  # the month table


def test_each_month_says_how_many_accounts_it_lost(page):
    html = page()
    september = re.search(r'data-month="2026-09">(.*?)</li>', html, re.S).group(1)
    assert '<span class="stack-total nowrap">Accounts lost: 1</span>' in september
    assert '<span class="stack-total nowrap">流失客户：1</span>' in page("lang=zh")
