"""The console's key-driver page (/manage/drivers) and its chart's geometry."""

from __future__ import annotations

import re

import pytest

from survey.analysis import DriverUnit, DriverWeight, KeyDriver, KeyDriverAnalysis, Quadrant
from web.manage.driver_charts import (
    PLOT_BOTTOM,
    PLOT_LEFT,
    PLOT_RIGHT,
    PLOT_TOP,
    driver_chart,
    marker_path,
    shorten,
)

from .test_key_drivers import data  # noqa: F401  (a fixture)
from .test_manage_results import sign_in


def driver(code, importance, performance, quadrant, low=False, interval=None):
    low_end, high_end = interval or (importance - 0.1, importance + 0.1)
    return KeyDriver(
        aspect=code,
        label_zh=f"方面{code}",
        label_en=f"Aspect {code}",
        n=20,
        importance=importance,
        importance_low=low_end,
        importance_high=high_end,
        p_value=0.01,
        relative_weight=0.5,
        performance=performance,
        satisfied_share=0.5,
        satisfied_share_interval=(0.3, 0.7),
        quadrant=quadrant,
        low_sample=low,
    )


def analysis(*drivers, median_importance, median_performance):
    return KeyDriverAnalysis(
        DriverUnit.RESPONSE,
        DriverWeight.ANSWERS,
        20,
        0.5,
        False,
        tuple(drivers),
        median_importance,
        median_performance,
    )


def test_chart_geometry_puts_points_medians_and_shapes_in_place():
    result = analysis(
        driver("a", 0.8, 3.0, Quadrant.FIX_FIRST),
        driver("b", 0.4, 4.0, Quadrant.POSSIBLE_OVERKILL, low=True, interval=(-0.1, 0.7)),
        driver("c", 0.6, 3.5, Quadrant.SECONDARY),
        median_importance=0.6,
        median_performance=3.5,
    )
    chart = driver_chart(result, "en")
    assert chart is not None
    # Performance 2.8 .. 4.2 (0.2 either side) across; up, the importances and their
    # intervals, -0.1 .. 0.9, with 0.04 either side: -0.14 .. 0.94.
    a, b, c = chart.points
    assert (a.x, a.y) == (106.6, 51.5)  # 330 - (0.8 + 0.14) / 1.08 * 320
    assert b.x == pytest.approx(PLOT_LEFT + 1.2 / 1.4 * (PLOT_RIGHT - PLOT_LEFT), abs=0.1)
    assert chart.median_x == c.x and chart.median_y == c.y
    assert PLOT_TOP <= a.y < chart.median_y < b.y <= PLOT_BOTTOM
    # The shape tells the quadrant; a low sample is hollow; whiskers span the intervals.
    assert a.path == marker_path("triangle", a.x, a.y) and a.path.count("L") == 2
    assert b.path == marker_path("diamond", b.x, b.y) and b.hollow
    assert (b.whisker_bottom, b.whisker_top) == (318.1, 81.1)
    assert a.whisker_top > PLOT_TOP and b.whisker_bottom < PLOT_BOTTOM
    assert [p.short_label for p in chart.points] == ["1 Aspect a", "2 Aspect b", "3 Aspect c"]
    # Names right beside their markers need no leader line.
    assert (a.anchor, a.label_x, a.leader) == ("start", a.x + 10, None)


def test_chart_without_estimable_drivers_is_none():
    empty = driver("a", 0.5, 3.0, None)
    result = analysis(empty, median_importance=None, median_performance=None)
    assert driver_chart(result, "zh") is None


def test_long_names_are_cut_counting_chinese_twice():
    assert shorten("Communication with your account manager") == "Communication with…"
    assert shorten("与客户经理的沟通与客户经理的沟通") == "与客户经理的沟通与…"
    assert shorten("Product quality") == "Product quality"


def test_drivers_page_shows_chart_and_table_in_english(app, client, data):  # noqa: F811
    sign_in(app, client)
    html = client.get("/manage/drivers?lang=en").get_data(as_text=True)
    assert "<h1>Key drivers: what to fix first</h1>" in html
    assert 'aria-current="page">Key drivers</a>' in html
    assert '<title id="drivers-title">Importance and performance of each aspect</title>' in html
    for name in ("Fix first", "Keep up", "Secondary", "Possible overkill"):
        assert name in html
    points = re.findall(r'<g class="point quadrant-([a-z_]+)[^"]*" data-aspect="(\w+)">', html)
    assert ("fix_first", "communication") in points and len(points) == 7
    row = re.search(r'<tr data-aspect="delivery">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r'<td class="num[^"]*" data-label="[^"]*"><span>(.*?)</span></td>', row)
    assert cells[0] == "0.76" and cells[1] == "0.39 – 0.92"


def test_drivers_page_by_account_and_revenue_in_chinese(app, client, data):  # noqa: F811
    sign_in(app, client)
    resp = client.get("/manage/drivers?unit=account&weight=revenue&lang=zh")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "关键驱动因素" in html
    assert 'value="account" selected' in html or 'selected value="account"' in html


def test_drivers_page_filters_and_refuses_bad_dates(app, client, data):  # noqa: F811
    sign_in(app, client)
    resp = client.get(f"/manage/drivers?campaign={data['q4']}&lang=en")
    html = resp.get_data(as_text=True)
    assert "Campaign: Q4" in html and "Too few answers" in html
    bad = client.get("/manage/drivers?since=2026-11-20&until=2026-11-01&lang=en")
    assert bad.status_code == 422


def test_drivers_page_needs_a_sign_in(client):
    resp = client.get("/manage/drivers")
    assert resp.status_code in (302, 303)
