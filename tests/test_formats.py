"""One way to write a day, a moment and an amount in each language (survey.formats),
the CURRENCY setting, and the console using them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from survey.campaigns import close_campaign
from survey.db import db
from survey.formats import check_currency, format_day, format_moment, format_money
from web import create_app
from web.config import ConfigError

from .conftest import TEST_NOW
from .factories import make_account, make_campaign
from .graphql_helpers import gql, make_tokens
from .test_manage import add_member, sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_day_reads_one_way_per_language():
    assert format_day(date(2026, 12, 6), "zh") == "2026年12月6日"
    assert format_day(date(2026, 12, 6), "en") == "6 Dec 2026"
    assert format_day(date(2026, 3, 1), "en-GB") == "1 Mar 2026"


def test_a_moment_is_written_in_the_zone_with_the_same_day_format():
    late = datetime(2026, 11, 23, 17, 45, tzinfo=ZoneInfo("UTC"))
    assert format_moment(late, "zh", SHANGHAI) == "2026年11月24日 01:45"
    assert format_moment(late, "en", SHANGHAI) == "24 Nov 2026 01:45"
    assert format_day(late, "en", SHANGHAI) == "24 Nov 2026"
    assert format_day(late, "en") == "23 Nov 2026"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (1_234_567.4, "CNY", "zh", "¥1,234,567"),
        (1_234_567.5, "CNY", "en", "CN¥1,234,568"),
        (0, "CNY", "zh", "¥0"),
        (2_500_000, "USD", "zh", "US$2,500,000"),
        (2_500_000, "USD", "en", "$2,500,000"),
        (980_000, "EUR", "en", "€980,000"),
    ],
)
def test_an_amount_carries_its_currency_in_whole_units(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


def test_compact_amounts_use_each_languages_units():
    assert format_money(1_234_567, "CNY", "zh", compact=True) == "¥123.5万"
    assert format_money(123_456_789, "CNY", "zh", compact=True) == "¥1.2亿"
    assert format_money(1_234_567, "CNY", "en", compact=True) == "CN¥1.2M"


def test_currency_codes_are_checked():
    assert check_currency(" usd ") == "USD"
    with pytest.raises(ValueError, match="not an ISO 4217 currency code"):
        check_currency("RMB")


def test_an_unknown_currency_setting_stops_the_app_with_the_reason(database_url):
    with pytest.raises(ConfigError, match=r"CURRENCY: 'yuan' is not an ISO 4217"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "CURRENCY": "yuan"})


def _console(app, client, lang: str) -> None:
    sign_in(client, add_member(app, "Zhang", "manager"), query=f"?lang={lang}")


@pytest.mark.parametrize(("lang", "amount"), [("zh", "¥2,500,000"), ("en", "CN¥2,500,000")])
def test_the_account_list_shows_revenue_with_the_currency(app, client, lang, amount):
    with app.app_context():
        make_account("KA01", name="华东贸易", annual_revenue=2_500_000)
        db.session.commit()
    _console(app, client, lang)
    page = client.get("/manage/accounts").get_data(as_text=True)
    assert amount in page
    assert f"<span>{amount}</span>" in page and ">2,500,000<" not in page


@pytest.mark.parametrize("app_config", [{"CURRENCY": "usd"}])
def test_the_currency_setting_changes_every_amount(app, client, app_config):
    with app.app_context():
        make_account("KA01", annual_revenue=2_500_000)
        db.session.commit()
    _console(app, client, "en")
    page = client.get("/manage/accounts/KA01").get_data(as_text=True)
    assert "$2,500,000" in page and "CN¥" not in page


@pytest.mark.parametrize(
    ("lang", "closed", "closes"),
    [
        ("zh", "已于 2026年11月23日 关闭", "2026年12月7日 截止"),
        ("en", "Closed 23 Nov 2026", "Closes 7 Dec 2026"),
    ],
)
def test_the_campaign_list_says_when_a_campaign_closed_not_when_it_would_have(
    app, client, lang, closed, closes
):
    with app.app_context():
        accounts = [make_account("KA01"), make_account("KA02")]
        done, _ = make_campaign(
            "2026 Q3", accounts=accounts[:1], closes_at=TEST_NOW + timedelta(days=30)
        )
        make_campaign("2026 Q4", accounts=accounts[1:], closes_at=TEST_NOW + timedelta(days=14))
        db.session.commit()
        close_campaign(done.id, now=TEST_NOW)
        db.session.commit()
    _console(app, client, lang)
    page = client.get("/manage/campaigns").get_data(as_text=True)
    assert closed in page and closes in page
    assert "2026年12月23日" not in page and "23 Dec 2026" not in page


@pytest.mark.parametrize("app_config", [{"CURRENCY": "hkd"}])
def test_the_api_names_the_currency_of_its_amounts(app, client, app_config):
    with app.app_context():
        tokens = make_tokens()
    assert gql(client, "{ currency }", token=tokens["viewer"]) == {"data": {"currency": "HKD"}}
    denied = gql(client, "{ currency }", token=None, status=401)
    assert "data" not in denied or denied["data"] is None
