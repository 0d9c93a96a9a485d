"""The console's accounts list and account page: filters, search, sort and pages on
fixed data; who sees contacts' e-mail and phone; 404; statement counts; zh and en;
and links to the account page from the other console pages."""

from __future__ import annotations

import re

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries

from survey.db import db
from survey.registry.staff import add_staff

from .account_data import AccountData, build_accounts
from .conftest import csrf_token_from
from .factories import make_account, make_campaign, make_response

PASSWORD = "correct horse battery"


def sign_in(app, client, role: str) -> None:
    with app.app_context():
        add_staff(f"{role} Li", role, f"{role}@example.com", password=PASSWORD)
    page = client.get("/manage/login")
    response = client.post(
        "/manage/login",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "email": f"{role}@example.com",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303


@pytest.fixture
def data(app) -> AccountData:
    with app.app_context():
        return build_accounts()


@pytest.fixture
def viewer(app, client, data) -> AccountData:
    sign_in(app, client, "viewer")
    return data


@pytest.fixture
def manager(app, client, data) -> AccountData:
    sign_in(app, client, "manager")
    return data


def rows(html: str) -> list[str]:
    """The external ids of the list's rows, in order."""
    table = re.search(r'<table id="accounts".*?</table>', html, re.S)
    if table is None:
        return []
    return re.findall(
        r'<th role="rowheader" scope="row"><a href="/manage/accounts/[^"]+">[^<]*</a> '
        r'<span class="muted nowrap">([^<]+)</span>',
        table.group(0),
    )


def get(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_list_filters_search_and_sorts(client, viewer):
    assert rows(get(client, "/manage/accounts?lang=en")) == ["KA01", "KA03", "KA02", "KA04", "X-05"]
    assert rows(get(client, "/manage/accounts?tier=B")) == ["KA03", "KA02"]
    assert rows(get(client, "/manage/accounts?region=华东&manager=王伟")) == ["KA01", "X-05"]
    assert rows(get(client, "/manage/accounts?stage=vendor")) == ["KA02", "KA04"]
    assert rows(get(client, "/manage/accounts?defected=yes")) == ["KA04"]
    assert rows(get(client, "/manage/accounts?defected=no&search=SOUTH")) == ["KA03", "X-05"]
    assert rows(get(client, "/manage/accounts?search=贸易")) == ["KA01"]
    assert rows(get(client, "/manage/accounts?search=south_")) == ["KA03"]
    assert rows(get(client, "/manage/accounts?sort=score")) == [
        "KA04",
        "KA01",
        "KA02",
        "KA03",
        "X-05",
    ]


def test_list_shows_each_column_in_english(client, viewer):
    html = get(client, "/manage/accounts?sort=score&lang=en")
    first = re.search(r'<tbody role="rowgroup">\s*<tr role="row">(.*?)</tr>', html, re.S).group(1)
    assert 'href="/manage/accounts/KA04">Lost Ltd</a>' in first
    assert ">Tier C<" in first
    assert ">华东<" in first and ">李强<" in first and ">Vendor<" in first
    assert ">CN¥3,000,000<" in first
    assert '<span class="score score-1">1</span> Very dissatisfied' in first
    assert 'status-lost">Lost<' in first
    assert "Not heard yet" in html
    assert "Accounts 1–5 of 5" in html
    assert 'aria-current="page">Key accounts</a>' in html


def test_list_in_chinese(client, viewer):
    html = get(client, "/manage/accounts?sort=score&lang=zh")
    assert "<h1>大客户</h1>" in html
    assert "极不满意" in html and "尚未收到回答" in html
    assert "合作伙伴关系" in html and "A 级" in html


def test_list_empty_states_and_bad_input(app, client, viewer):
    html = get(client, "/manage/accounts?search=nobody&lang=en")
    assert rows(html) == []
    assert "No account matches this filter." in html
    bad = get(client, "/manage/accounts?tier=Z&search=" + "x" * 101 + "&lang=en", status=422)
    assert "At most 100 characters, please." in bad
    assert "Not a valid choice." in bad
    # What is wrong is left out; the rest of the list still shows.
    assert rows(bad) == ["KA01", "KA03", "KA02", "KA04", "X-05"]


def test_list_with_no_accounts_at_all(app, client):
    sign_in(app, client, "viewer")
    html = get(client, "/manage/accounts?lang=en")
    assert "No key accounts yet." in html


def test_list_pages_of_fifty_keep_the_filter(app, client, viewer):
    with app.app_context():
        for i in range(60):
            make_account(f"KB{i:03d}", name=f"批量客户 {i}", annual_revenue=10_000 + i)
        db.session.commit()
    html = get(client, "/manage/accounts?search=批量&lang=en")
    assert len(rows(html)) == 50
    assert rows(html)[:2] == ["KB059", "KB058"]
    assert "Page 1 of 2" in html
    assert 'href="/manage/accounts?page=2&amp;search=%E6%89%B9%E9%87%8F"' in html
    second = get(client, "/manage/accounts?page=2&search=批量&lang=en")
    assert rows(second) == [f"KB{i:03d}" for i in range(9, -1, -1)]
    assert "Accounts 51–60 of 60" in second


def test_account_page_for_a_manager_shows_everything(client, manager):
    html = get(client, "/manage/accounts/KA01?lang=en")
    assert "<h1>华东贸易有限公司" in html
    profile = re.search(
        r'<dl class="facts compact-facts" id="profile">(.*?)</dl>', html, re.S
    ).group(1)
    for text in ("Tier A", "Strategic value", "Partner", "华东", "9,000,000", "王伟"):
        assert text in profile
    contacts = re.search(r'<table id="contacts"[^>]*>(.*?)</table>', html, re.S).group(1)
    assert "李娜" in contacts and "Primary" in contacts and "Decision maker" in contacts
    assert "li.na@huadong.example" in contacts and "+86 21 5555 0101" in contacts
    assert "Tom Chen" in contacts and "Purchaser" in contacts and "English" in contacts
    assert "Opted out on" in contacts
    # On a phone each person is a card: every cell carries its column's name.
    assert 'data-label="E-mail"' in contacts and 'role="rowheader"' in contacts
    team = re.search(r'<ul class="team" id="team">(.*?)</ul>', html, re.S).group(1)
    assert re.findall(r"<li>(?:<strong>)?([^<·]+?)(?:</strong>)? ·", team) == [
        "王伟",
        "赵敏",
        "Sam Lee",
    ]
    assert "Executive sponsor" in team and "Service lead" in team
    history = re.search(r'<table id="aspect-history">(.*?)</table>', html, re.S).group(1)
    cells = re.findall(
        r'<tr data-aspect="(\w+)">\s*<th scope="row">([^<]+)</th>(.*?)</tr>', history, re.S
    )
    assert [
        (code, label, re.findall(r'<td class="num">([\d.]+) ', rest)) for code, label, rest in cells
    ] == [
        ("delivery", "Delivery and logistics", ["2.0", "1.0"]),
        ("overall", "Overall satisfaction", ["4.0", "2.0"]),
    ]
    assert "2026 Q3" in history and "2026 Q4" in history
    chart = re.search(r'<svg class="chart history-chart".*?</svg>', html, re.S).group(0)
    assert re.findall(
        r'<rect class="bar band-(\w+)" x="156.0" y="[\d.]+" width="([\d.]+)"', chart
    ) == [("low", "84.0"), ("low", "42.0"), ("high", "168.0"), ("low", "84.0")]
    cases = re.search(r'<ul class="cases" id="open-follow-ups">(.*?)</ul>', html, re.S).group(1)
    assert cases.count("<li>") == 1
    assert f"Case {manager.follow_ups['overdue']}" in cases and "Overdue" in cases
    overdue_case = manager.follow_ups["overdue"]
    assert f'href="/manage/follow-ups/{overdue_case}"' in cases
    assert "Still a customer: no defection is recorded." in html


def test_viewer_sees_no_email_or_phone(client, viewer):
    html = get(client, "/manage/accounts/KA01?lang=en")
    assert "李娜" in html and "Tom Chen" in html
    assert "@huadong.example" not in html and "5555" not in html
    assert "zm@example.com" not in html
    assert "mailto:" not in html
    assert "E-mail addresses and phone numbers are shown to managers only." in html


def test_lost_account_and_empty_sections(client, viewer):
    html = get(client, "/manage/accounts/KA04?lang=en")
    defection = re.search(
        r'<dl class="facts compact-facts" id="defection">(.*?)</dl>', html, re.S
    ).group(1)
    assert "Price (main), Service and responsiveness" in defection
    assert "对手公司" in defection and "2,500,000" in defection
    assert "No contact is recorded for this account yet" in html
    assert "No one else on our side is recorded for this account." in html
    assert "No open follow-up for this account." in html
    never = get(client, "/manage/accounts/KA03?lang=en")
    assert "This account has not answered a survey yet." in never
    assert "<svg" not in never


def test_account_page_in_chinese(client, viewer):
    html = get(client, "/manage/accounts/KA04?lang=zh")
    assert "价格（主要）" in html or "价格 (主要)" in html
    assert "流失日期" in html
    assert "联系人" in html and "我方团队" in html


def test_unknown_account_is_a_404_page_in_the_console(client, viewer):
    html = get(client, "/manage/accounts/KA99?lang=en", status=404)
    assert "There is no key account with the ID KA99." in html
    assert 'href="/manage/accounts?search=KA99"' in html
    assert "Account not found" in get(client, "/manage/accounts/a/b%2Fc", status=404)


def test_signed_out_goes_to_the_sign_in_page(client, data):
    response = client.get("/manage/accounts/KA01")
    assert response.status_code == 302
    assert "/manage/login" in response.headers["Location"]


def page_queries(app, client, url: str) -> int:
    with app.app_context():
        assert client.get(url).status_code == 200
        return len(get_recorded_queries())


def test_pages_cost_a_constant_number_of_statements(app, client, manager):
    urls = ["/manage/accounts", "/manage/accounts?sort=score&search=a", "/manage/accounts/KA01"]
    before = [page_queries(app, client, url) for url in urls]
    with app.app_context():
        from survey.models import AccountTeamMember, Contact, KeyAccount

        ka01 = db.session.query(KeyAccount).filter_by(external_id="KA01").one()
        more = [make_account(f"KC{i:02d}", name=f"Extra {i}") for i in range(8)]
        campaign, _ = make_campaign("2026 Q5", accounts=[ka01, *more])
        make_response(campaign, ka01, {"delivery": 5, "price": 3, "overall": 4})
        for i, account in enumerate(more):
            make_response(campaign, account, {"overall": 1 + i % 5})
        for i in range(5):
            db.session.add(Contact(account_id=ka01.id, name=f"C{i}", email=f"c{i}@x.example"))
            db.session.add(AccountTeamMember(account_id=ka01.id, name=f"T{i}", email=f"t{i}@x"))
        db.session.commit()
    assert [page_queries(app, client, url) for url in urls] == before
    assert before[2] <= 9


def test_other_console_pages_link_each_account_to_its_page(client, viewer):
    results = get(client, "/manage/results?lang=en")
    link = '<a href="/manage/accounts/KA01">华东贸易有限公司</a>'
    at_risk = re.search(r'<table id="at-risk">(.*?)</table>', results, re.S).group(1)
    assert link in at_risk
    unheard = re.search(r'<table id="unheard">(.*?)</table>', results, re.S).group(1)
    assert '<a href="/manage/accounts/KA03">South_Trade 100%</a>' in unheard
    drill = re.search(r'<table class="drilldown">(.*?)</table>', results, re.S).group(1)
    assert f"<li><q>交货总是晚一周</q> — {link}</li>" in drill
    # The follow-ups list names the case by its account (linked to the case) and links
    # the account's id to the account page; the case page's heading links the account.
    follow_ups = get(client, "/manage/follow-ups?lang=en")
    assert '<a href="/manage/accounts/KA01">KA01</a>' in follow_ups
    case_id = re.search(r'href="/manage/follow-ups/(\d+)"', follow_ups).group(1)
    assert link in get(client, f"/manage/follow-ups/{case_id}?lang=en")


def test_history_chart_geometry_and_cut_names():
    from datetime import UTC, datetime

    from survey.analysis import AspectScore, CampaignAspects
    from web.manage.account_charts import aspect_history_chart, band, short_name

    def campaign(i: int, delivery: float | None, overall: float) -> CampaignAspects:
        aspects = [AspectScore("overall", "Overall", overall, 2, position=8)]
        if delivery is not None:
            aspects.insert(0, AspectScore("delivery", "Delivery", delivery, 1, position=2))
        return CampaignAspects(i, f"C{i}", datetime(2026, i, 1, tzinfo=UTC), tuple(aspects))

    history = [campaign(1, 1.0, 5.0), *(campaign(i, 2.5, 4.0) for i in range(2, 6))]
    chart = aspect_history_chart(history)
    # The newest four campaigns; delivery first, as the questionnaire orders it.
    assert [g.aspect for g in chart.groups] == ["delivery", "overall"]
    delivery = chart.groups[0]
    assert [(b.campaign_name, b.width, b.band) for b in delivery.bars] == [
        ("C2", 105.0, "mid"),
        ("C3", 105.0, "mid"),
        ("C4", 105.0, "mid"),
        ("C5", 105.0, "mid"),
    ]
    assert [b.y for b in delivery.bars] == [42.0, 60.0, 78.0, 96.0]
    assert chart.groups[1].y == 124.0
    assert chart.ticks[0] == (198.0, "1") and chart.ticks[-1] == (366.0, "5")
    assert (band(2.0), band(2.01), band(3.99), band(4.0)) == ("low", "mid", "mid", "high")
    missing = aspect_history_chart([campaign(1, None, 3.0), campaign(2, 2.0, 3.0)])
    assert [(g.aspect, len(g.bars)) for g in missing.groups] == [("delivery", 1), ("overall", 2)]
    assert short_name("2026 上半年大客户满意度调查") == "2026 上半年大客户满意…"
    assert short_name("2026 Q4 browser test") == "2026 Q4 browser test"
    assert short_name("2026 Q4 browser test campaign") == "2026 Q4 browser test…"


def timeline_items(html: str) -> list[str]:
    ol = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', html, re.S)
    if ol is None:
        return []
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.sub(r"<time.*?</time>", "", item))).strip()
        for item in re.findall(r"<li class=\"event[^\"]*\">(.*?)</li>", ol.group(1), re.S)
    ]


def test_timeline_newest_first_with_an_older_link(client, manager, monkeypatch):
    import web.manage.accounts as pages

    everything = timeline_items(get(client, "/manage/accounts/KA01?lang=en"))
    assert [item.split(" · ")[0] for item in everything] == [
        "Contact opted out",
        "Follow-up opened",
        "Responded",
        "Invited",
        "Follow-up resolved",
        "Follow-up opened",
        "Responded",
        "Invited",
    ]
    assert everything[0] == "Contact opted out · Tom Chen (Purchaser)"
    assert "2026 Q4 · Overall satisfaction: 2 (Somewhat dissatisfied)" in everything[2]
    monkeypatch.setattr(pages, "TIMELINE_SHOWN", 4)
    html = get(client, "/manage/accounts/KA01?lang=en")
    first = timeline_items(html)
    assert first == everything[:4]
    older = re.search(r'<a rel="next" href="(/manage/accounts/KA01\?after=[^"#]+)#timeline', html)
    assert older, "no link to older events"
    second_html = get(client, older.group(1).replace("&amp;", "&"))
    assert timeline_items(second_html) == everything[4:8]
    assert "Newest events" in second_html
    assert 'rel="next"' not in second_html
    # A cursor cut short or made up starts again from the newest.
    assert timeline_items(get(client, "/manage/accounts/KA01?after=tl:nonsense")) == first


def test_timeline_in_chinese_and_empty(client, viewer):
    items = timeline_items(get(client, "/manage/accounts/KA01?lang=zh"))
    assert items[0] == "联系人退订 · Tom Chen（采购）"
    assert "总体满意度 2 分（有些不满意）" in items[2]
    assert "该客户还没有任何记录。" in get(client, "/manage/accounts/KA03?lang=zh")
