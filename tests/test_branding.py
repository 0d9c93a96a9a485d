"""Who is asking (issue 22): the supplier's name, logo and contact on every page a
customer sees and in every e-mail, in zh and en; a neutral wording without them."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from survey.db import db
from survey.delivery import Organisation, OrganisationError
from survey.delivery.mail import (
    KIND_INVITATION,
    KIND_REMINDER,
    MailContext,
    MailSettings,
    compose,
    optout_token,
)
from survey.models import CAMPAIGN_CLOSED, KIND_EXIT, Invitation
from survey.scale import ReasonCode
from web.branding import LOGO_MAX_AGE
from web.config import ConfigError

from .conftest import BASE_URL, TEST_SECRET, csrf_token_from, make_test_app
from .factories import make_account, make_campaign
from .test_survey_pages import CLOSES, valid_answers

LOGO_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    b'<rect width="10" height="10" fill="#0b5cad"/></svg>'
)
BRANDED = {
    "ORG_NAME_ZH": "华信精密",
    "ORG_NAME_EN": "Huaxin Precision",
    "ORG_CONTACT": "surveys@huaxin.example",
}
MAILTO = '<a href="mailto:surveys@huaxin.example">surveys@huaxin.example</a>'


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "logo.svg"
    path.write_bytes(LOGO_SVG)
    return {**BRANDED, "ORG_LOGO": str(path)}


def _unbrand(app: Flask) -> None:
    """The settings as a fresh installation has them: none."""
    app.config.update(ORG_NAME_ZH="", ORG_NAME_EN="", ORG_CONTACT="", ORG_LOGO="")


def _links(app: Flask, *, status: str = "open", kind: str = "satisfaction") -> dict[str, str]:
    with app.app_context():
        zh = make_account("KA001", name="华东贸易有限公司", locale="zh")
        en = make_account("KA002", name="Acme Trading", locale="en")
        _, tokens = make_campaign(accounts=[zh, en], closes_at=CLOSES, status=status, kind=kind)
        links = {"zh": tokens[zh.id], "en": tokens[en.id]}
        db.session.commit()
        return links


def _optout_path(app: Flask, token: str) -> str:
    with app.app_context():
        invitation = next(
            i
            for i in db.session.scalars(select(Invitation))
            if pages_token(i.token_nonce) == token  # the link's own invitation
        )
        return f"/u/{optout_token(TEST_SECRET, invitation.id, invitation.token_nonce)}"


def pages_token(nonce: str) -> str:
    from survey.tokens import derive_token

    return derive_token(TEST_SECRET, nonce)


def _header(html: str) -> str:
    return html[html.index('<header class="site-header">') : html.index("</header>")]


# --- every customer page, branded ----------------------------------------------------------


def _customer_pages(app: Flask) -> dict[str, tuple[int, str, str]]:
    """(status, zh page, en page) of each page a customer can see."""
    client = app.test_client()
    links = _links(app)
    pages: dict[str, tuple[int, str, str]] = {}

    def both(name: str, path: str, method: str = "GET") -> None:
        got = [
            client.open(f"{path}{'&' if '?' in path else '?'}lang={lang}", method=method)
            for lang in ("zh", "en")
        ]
        assert got[0].status_code == got[1].status_code, name
        pages[name] = (got[0].status_code, *(r.get_data(as_text=True) for r in got))

    both("form", f"/s/{links['zh']}")
    both("wrong link", "/s/" + "A" * 43)
    both("opt-out", _optout_path(app, links["en"]))
    both("opted out", _optout_path(app, links["en"]), method="POST")
    html = client.get(f"/s/{links['zh']}").get_data(as_text=True)
    client.post(f"/s/{links['zh']}", data={"csrf_token": csrf_token_from(html), **valid_answers()})
    both("thank-you", f"/s/{links['zh']}/thanks")
    both("already answered", f"/s/{links['zh']}")
    with app.app_context():
        closed = make_account("KA003", name="Closed Co", locale="en")
        _, tokens = make_campaign("Old", accounts=[closed], status=CAMPAIGN_CLOSED)
        lost = make_account("KA004", name="Lost Co", locale="en")
        _, exit_tokens = make_campaign("Exit", accounts=[lost], kind=KIND_EXIT, closes_at=CLOSES)
        closed_link, exit_link = tokens[closed.id], exit_tokens[lost.id]
        db.session.commit()
    both("closed", f"/s/{closed_link}")
    both("exit form", f"/s/{exit_link}")
    return pages


def test_every_customer_page_names_the_supplier_and_its_contact(app: Flask) -> None:
    pages = _customer_pages(app)
    assert {name: status for name, (status, _, _) in pages.items()} == {
        "form": 200,
        "wrong link": 404,
        "opt-out": 200,
        "opted out": 200,
        "thank-you": 200,
        "already answered": 200,
        "closed": 410,
        "exit form": 200,
    }
    for name, (_, zh, en) in pages.items():
        for html, org in ((zh, "华信精密"), (en, "Huaxin Precision")):
            header = _header(html)
            assert f'<span class="org-name">{org}</span>' in header, name
            assert re.search(r'<img class="org-logo" src="/brand/logo\?v=[0-9a-f]{12}"', header)
            assert "KeyPulse" not in html, name
            assert "<title>" in html and f" · {org}</title>" in html, name
            footer = html[html.index('<footer class="org-footer">') :]
            label = "联系我们：" if org == "华信精密" else "Contact us: "
            assert f'<span class="org-footer-name">{org}</span> · {label}{MAILTO}' in footer, name


def test_the_first_screen_says_who_is_asking(app: Flask) -> None:
    links = _links(app)
    zh = app.test_client().get(f"/s/{links['zh']}").get_data(as_text=True)
    en = app.test_client().get(f"/s/{links['en']}").get_data(as_text=True)
    assert "请告诉我们您对华信精密各方面的满意程度" in zh
    assert "how satisfied you are with each aspect of Huaxin Precision." in en
    assert "each aspect of our company" not in en and "我公司" not in zh
    # Whom to contact, before the first question (not only in the footer).
    for html, line in (
        (zh, f'<p class="whom-to-contact">对本次调查有疑问？请联系 {MAILTO}。</p>'),
        (en, f'<p class="whom-to-contact">Questions about this survey? Contact {MAILTO}.</p>'),
    ):
        assert line in html
        assert html.index(line) < html.index("<fieldset")


def test_closed_and_wrong_link_pages_say_whom_to_contact(app: Flask) -> None:
    pages = _customer_pages(app)
    for name in ("closed", "wrong link"):
        _, zh, en = pages[name]
        assert f"如有任何疑问，请联系华信精密：{MAILTO}。" in zh, name
        assert f"If you have any questions, please contact Huaxin Precision: {MAILTO}." in en


def test_a_phone_contact_is_a_tel_link(app: Flask) -> None:
    app.config["ORG_CONTACT"] = "+86 21 5555-0100 ext. 12"
    html = app.test_client().get("/s/" + "A" * 43 + "?lang=en").get_data(as_text=True)
    assert '<a href="tel:+862155550100">+86 21 5555-0100 ext. 12</a>' in html


def test_without_settings_the_pages_read_well_and_never_claim_to_be_keypulse(
    app: Flask,
) -> None:
    _unbrand(app)
    pages = _customer_pages(app)
    for name, (_, zh, en) in pages.items():
        assert '<span class="org-name">客户调查</span>' in _header(zh), name
        assert '<span class="org-name">Customer survey</span>' in _header(en), name
        for html in (zh, en):
            assert "KeyPulse" not in html, name
            assert "org-logo" not in html and "org-footer" not in html, name
    assert "请告诉我们您对我公司各个方面的满意程度" in pages["form"][1]
    assert "each aspect of our company." in pages["form"][2]
    for name in ("closed", "wrong link"):
        _, zh, en = pages[name]
        assert "如有任何疑问，请联系您的客户经理。" in zh
        assert "If you have any questions, please contact your account manager." in en


def test_one_name_serves_both_languages(app: Flask) -> None:
    app.config.update(ORG_NAME_ZH="", ORG_NAME_EN="Huaxin Precision")
    zh = app.test_client().get("/s/" + "A" * 43 + "?lang=zh").get_data(as_text=True)
    assert '<span class="org-name">Huaxin Precision</span>' in zh
    app.config.update(ORG_NAME_ZH="华信精密", ORG_NAME_EN="")
    en = app.test_client().get("/s/" + "A" * 43 + "?lang=en").get_data(as_text=True)
    assert '<span class="org-name">华信精密</span>' in en
    assert Organisation(name_zh="华信精密").name("en") == "华信精密"
    assert Organisation(name_en="Huaxin").name("zh") == "Huaxin"
    assert Organisation().name("zh") == ""


def test_the_cached_survey_page_follows_the_branding(app: Flask) -> None:
    links = _links(app)
    client = app.test_client()
    assert "Huaxin Precision" in client.get(f"/s/{links['en']}").get_data(as_text=True)
    app.config["ORG_NAME_EN"] = "Huaxin Industrial"
    html = client.get(f"/s/{links['en']}").get_data(as_text=True)
    assert "each aspect of Huaxin Industrial." in html
    assert "Huaxin Precision" not in html


def test_the_organisation_is_made_once_per_settings(app: Flask) -> None:
    from web.branding import organisation

    with app.test_request_context("/"):
        first = organisation()
        assert organisation() is first
        app.config["ORG_CONTACT"] = "+86 21 5555 0100"
        changed = organisation()
        assert changed is not first and changed.contact == "+86 21 5555 0100"
        assert (changed.name_zh, changed.name_en) == (first.name_zh, first.name_en)
        assert organisation() is changed


# --- the logo ------------------------------------------------------------------------------


def test_the_logo_is_served_with_its_type_and_a_cache_lifetime(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/brand/logo")
    assert response.status_code == 200
    assert response.data == LOGO_SVG
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == f"public, max-age={LOGO_MAX_AGE}"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    etag = response.headers["ETag"]
    again = client.get("/brand/logo", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert client.get("/brand/logo", headers={"If-None-Match": '"old"'}).data == LOGO_SVG


def test_without_a_logo_the_logo_url_is_a_404(app: Flask) -> None:
    _unbrand(app)
    assert app.test_client().get("/brand/logo").status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.svg", None, "no such file"),
        ("empty.png", b"", "the file is empty"),
        ("logo.bmp", b"BM....", "a logo must be one of"),
        ("huge.png", b"x" * (512 * 1024 + 1), "at most 524,288"),
    ],
)
def test_a_logo_that_cannot_be_served_stops_the_app_at_start_up(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        make_test_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", ORG_LOGO=str(path))
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        ("not a contact", "neither an e-mail address nor a phone number"),
        ("surveys@", "not a valid e-mail address"),
        ("12", "neither an e-mail address nor a phone number"),
    ],
)
def test_a_contact_that_is_neither_mail_nor_phone_stops_the_app(
    tmp_path: Path, contact: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_test_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", ORG_CONTACT=contact)


def test_contact_links() -> None:
    assert Organisation(contact="a@b.example").contact_href == "mailto:a@b.example"
    assert Organisation(contact="021-5555 0100").contact_href == "tel:02155550100"
    assert Organisation(contact="+86 (21) 5555 0100").contact_href == "tel:+862155550100"
    assert Organisation().contact_href is None
    with pytest.raises(OrganisationError, match="one line"):
        Organisation(name_en="Huaxin\nBcc: x")


# --- e-mails -------------------------------------------------------------------------------


def _mail(kind: str, locale: str, campaign_kind: str, organisation: Organisation) -> Any:
    return compose(
        kind,
        MailContext(
            invitation_id=1,
            nonce="n" * 32,
            locale=locale,
            account_name="华东贸易",
            contact_name="李娜",
            account_manager="王伟",
            manager_email=None,
            closes_at=datetime(2099, 6, 30, 8, 0),
            campaign_kind=campaign_kind,
        ),
        MailSettings(secret_key=TEST_SECRET, base_url=BASE_URL, organisation=organisation),
    )


ORG = Organisation(name_zh="华信精密", name_en="Huaxin Precision", contact="+86 21 5555 0100")


@pytest.mark.parametrize("campaign_kind", ["satisfaction", "exit"])
@pytest.mark.parametrize("kind", [KIND_INVITATION, KIND_REMINDER])
@pytest.mark.parametrize(("locale", "org"), [("zh", "华信精密"), ("en", "Huaxin Precision")])
def test_every_email_names_the_supplier_and_ends_with_its_contact(
    kind: str, campaign_kind: str, locale: str, org: str
) -> None:
    mail = _mail(kind, locale, campaign_kind, ORG)
    assert org in mail.subject
    foot_label = "联系方式：" if locale == "zh" else "Contact: "
    text_foot = mail.text[mail.text.rindex("\n--\n") :]
    assert f"{org} · {foot_label}+86 21 5555 0100" in text_foot
    html_foot = mail.html[mail.html.index("<hr") :]
    assert f'{org} · {foot_label}<a href="tel:+862155550100">+86 21 5555 0100</a>' in html_foot
    body = mail.text[: mail.text.rindex("\n--\n")]
    assert f"与{org}的合作" in body if locale == "zh" else f"with {org}" in body


def test_email_subjects_exactly() -> None:
    subjects = {
        (kind, locale, campaign_kind): _mail(kind, locale, campaign_kind, ORG).subject
        for kind in (KIND_INVITATION, KIND_REMINDER)
        for locale in ("zh", "en")
        for campaign_kind in ("satisfaction", "exit")
    }
    assert subjects == {
        ("invitation", "zh", "satisfaction"): "华信精密客户满意度调查：请告诉我们您的看法",
        ("invitation", "en", "satisfaction"): (
            "Huaxin Precision customer satisfaction survey: please tell us what you think"
        ),
        ("reminder", "zh", "satisfaction"): "提醒：华信精密客户满意度调查即将截止",
        ("reminder", "en", "satisfaction"): (
            "Reminder: the Huaxin Precision customer satisfaction survey closes soon"
        ),
        ("invitation", "zh", "exit"): "华信精密想了解您离开的原因",
        ("invitation", "en", "exit"): "Huaxin Precision: please tell us why you left",
        ("reminder", "zh", "exit"): "提醒：华信精密仍想了解您离开的原因",
        ("reminder", "en", "exit"): "Reminder from Huaxin Precision: please tell us why you left",
    }


def test_without_settings_emails_keep_their_neutral_wording() -> None:
    mail = _mail(KIND_INVITATION, "en", "satisfaction", Organisation())
    assert mail.subject == "Customer satisfaction survey: please tell us what you think"
    assert "Thank you for working with us." in mail.text
    assert "Contact:" not in mail.text and "Kind regards" not in mail.text
    assert "KeyPulse" not in mail.text + mail.html


def test_queued_mail_carries_the_settings(app: Flask) -> None:
    """The settings reach the outbox through MailSettings.from_config."""
    settings = MailSettings.from_config(app.config)
    assert settings.organisation == Organisation(
        name_zh="华信精密", name_en="Huaxin Precision", contact="surveys@huaxin.example"
    )


# --- reasons in the customer's words -------------------------------------------------------


def test_customers_see_their_own_words_for_reasons_staff_keep_theirs() -> None:
    reason = ReasonCode.CUSTOMER_BUSINESS_CHANGE
    assert reason.customer_label("en") == "Our own business changed"
    assert reason.customer_label("zh") == "我们自身的业务发生了变化"
    assert reason.label("en") == "Change in the customer's business"
    assert reason.label("zh") == "客户自身业务变化"
    assert ReasonCode.PROFITABILITY.customer_label("en") == (
        "Too little margin or support for our own profit"
    )
    assert ReasonCode.PROFITABILITY.label("en") == "Margin and profit support"
    assert all(r.customer_label("zh") and r.customer_label("en") for r in ReasonCode)


def test_the_survey_offers_the_customer_wording(app: Flask) -> None:
    links = _links(app)
    en = app.test_client().get(f"/s/{links['en']}").get_data(as_text=True)
    assert "<span>Our own business changed</span>" in en
    assert "Change in the customer" not in en and "Margin and profit support" not in en


def test_error_pages_under_a_survey_link_carry_the_supplier_staff_pages_do_not(
    app: Flask,
) -> None:
    links = _links(app)
    client = app.test_client()
    # A POST without its CSRF token: the generic 400 page, in the customer's layout.
    refused = client.post(f"/s/{links['en']}", data=valid_answers())
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert '<span class="org-name">Huaxin Precision</span>' in _header(html)
    assert "<title>400 · Huaxin Precision</title>" in html and "KeyPulse" not in html
    assert f"Contact us: {MAILTO}" in html
    # The console's errors keep the staff's layout.
    staff = client.get("/manage/no-such-page?lang=en")
    assert staff.status_code == 404
    assert "org-name" not in staff.get_data(as_text=True)
