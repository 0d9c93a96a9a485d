"""End to end in a real headless browser: a manager signs in, previews and launches a
campaign, a customer answers one survey link with two dissatisfied aspects, and the
results page changes.

Needs Debian's chromium at /usr/bin/chromium (`make browser` installs it) and the
`playwright` Python package (the dev extra); skipped with the reason otherwise.
Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from survey.campaigns import campaign_links
from survey.db import db
from survey.models import Campaign
from survey.registry.staff import add_staff

from .browser import ARTIFACTS, CHROMIUM, TIMEOUT_MS, require_browser, shot
from .factories import make_account, make_campaign

#: In a browser: run once (`make test`), not again a year ahead (see the Makefile).
pytestmark = pytest.mark.browser

sync_api = require_browser()
EMAIL = "zhang.min@example.com"
PASSWORD = "correct horse battery"


@pytest.fixture
def registry(app) -> None:
    with app.app_context():
        for number, tier in enumerate("AABBBCCCCC", start=1):
            make_account(f"KA{number:02d}", name=f"华东客户{number:02d}", tier=tier)
        db.session.commit()
        add_staff("Zhang Min", "manager", EMAIL, password=PASSWORD)


def test_manager_launches_customer_answers_results_change(app, live_server, registry, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("e2e-*.png"):
        old.unlink()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []

    def console_error(message: object) -> None:
        if message.type == "error":  # a 404 for the browser's own /favicon.ico included
            errors.append(message.text)

    page.on("console", console_error)

    # Sign in (English via the visible switch).
    page.goto(f"{live_server}/manage/campaigns?lang=en")
    assert "/manage/login" in page.url
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, "e2e-1-sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/manage/campaigns(\?lang=en)?$"))
    assert page.get_by_text("No campaign yet.").is_visible()

    # The results page before anyone answered.
    page.goto(f"{live_server}/manage/results")
    assert page.get_by_text("No answers yet for this selection.").is_visible()
    assert page.locator("figure.likert").count() == 0
    shot(page, "e2e-2-results-before")

    # Preview a stratified sample: nothing is created.
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name").fill("2026 Q4 browser test")
    page.get_by_label("Sample size (accounts)").fill("5")
    page.get_by_label("Stratify by").select_option("tier")
    page.get_by_label("Random seed").fill("7")
    page.get_by_role("button", name="Preview sample").click()
    preview = page.locator("section.preview")
    preview.wait_for()
    assert "5 of 10 eligible accounts would be invited (seed 7)." in preview.inner_text()
    shot(page, "e2e-3-preview")
    with app.app_context():
        assert db.session.query(Campaign).count() == 0

    # Launch: the campaign page shows the funnel.
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"/manage/campaigns/\d+$"))
    assert "Campaign launched: 5 accounts invited, 5 invitation e-mails queued" in page.inner_text(
        ".flashes"
    )
    assert "Response rate: 0% (0 of 5)." in page.inner_text("main")
    shot(page, "e2e-4-campaign")
    campaign_id = int(page.url.rsplit("/", 1)[1])

    # A customer opens one link (no console session) and is dissatisfied twice.
    with app.app_context():
        link = campaign_links(
            campaign_id, secret_key=app.config["SECRET_KEY"], base_url=live_server
        )[0]
    customer = browser.new_context(viewport={"width": 420, "height": 900})
    customer.set_default_timeout(TIMEOUT_MS)
    survey = customer.new_page()
    survey.goto(f"{link.url}?lang=en")
    scores = {"delivery": "1", "price": "2"}
    for code in ("product_quality", "service", "communication", "process", "profitability"):
        scores[code] = "4"
    scores["overall"] = "5"
    for code, score in scores.items():
        survey.locator(f"input[name='score_{code}'][value='{score}']").check()
    survey.locator("input[name='reasons_delivery'][value='delivery']").check()
    survey.locator("textarea[name='why_delivery']").fill("交货总是晚一周")
    survey.locator("input[name='reasons_price'][value='price']").check()
    shot(survey, "e2e-5-survey")
    survey.locator("#survey-form [type=submit]").click()
    survey.wait_for_load_state()
    assert survey.locator("h1").inner_text() != ""
    assert "/s/" in survey.url
    customer.close()

    # The results page now has bars, with the two dissatisfied aspects on the left.
    page.goto(f"{live_server}/manage/results?campaign={campaign_id}")
    chart = page.locator("figure.likert")
    chart.wait_for()
    assert chart.locator("li.bar").count() == 8
    delivery = chart.locator("li.bar[data-aspect='delivery'] rect.segment")
    assert delivery.count() == 1
    assert delivery.get_attribute("data-score") == "1"
    # Percent of the bar: the dissatisfied side ends at the centre line (50%).
    x, width = (float(delivery.get_attribute(a).rstrip("%")) for a in ("x", "width"))
    assert x + width == 50.0
    price = chart.locator("li.bar[data-aspect='price'] rect.segment")
    assert price.get_attribute("data-score") == "2"
    drill = page.locator("table.drilldown").text_content()
    assert "交货总是晚一周" in drill
    assert "Delivery and logistics" in drill and "Price and commercial terms" in drill
    assert page.locator("#at-risk").inner_text().count("华东客户") == 1
    shot(page, "e2e-6-results-after")

    # And in Chinese, through the switch in the header, keeping the filter.
    page.get_by_role("link", name="中文").click()
    page.wait_for_url(re.compile(r"lang=zh"))
    assert "各方面的满意度" in page.inner_text("main")
    assert f"campaign={campaign_id}" in page.url
    shot(page, "e2e-7-results-zh")

    # From the at-risk list to that account's page, on a phone-sized window.
    page.goto(f"{live_server}/manage/results?lang=en")
    at_risk = page.locator("#at-risk tbody tr").first
    name = at_risk.locator("th a").inner_text()
    assert name.startswith("华东客户")
    at_risk.locator("th a").click()
    page.wait_for_url(re.compile(r"/manage/accounts/KA\d+$"))
    assert name in page.locator("h1").inner_text()
    headings = page.locator("main h2").all_inner_texts()
    for heading in (
        "Contacts",
        "Our team",
        "Satisfaction per aspect, campaign by campaign",
        "Open follow-ups",
        "Defection",
        "Timeline",
    ):
        assert heading in headings
    assert page.locator("#timeline li").first.inner_text().find("Follow-up opened") >= 0
    history = page.locator("#aspect-history")
    assert history.locator("tr[data-aspect='delivery'] td").first.inner_text().startswith("1.0")
    assert page.locator("svg.history-chart g.aspect").count() == 8
    page.set_viewport_size({"width": 375, "height": 800})
    shot(page, "e2e-8-account-phone")
    page.get_by_role("link", name="Key accounts").first.click()
    page.wait_for_url(re.compile(r"/manage/accounts$"))
    assert page.locator("#accounts tbody tr").count() == 10
    shot(page, "e2e-9-accounts-phone")
    assert errors == []
    context.close()


def test_skip_reason_names_the_install_step():
    # Guard against a silent skip: the module only gets here when both are present.
    assert shutil.which(str(CHROMIUM)) is not None


@pytest.mark.parametrize("app_config", [{"DEBUG": True, "GRAPHQL_INTROSPECTION": True}])
def test_graphiql_runs_a_query_with_no_network_but_the_app(app, live_server, browser, app_config):
    with app.app_context():
        token = add_staff("Zhang Min", "manager", EMAIL).token
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    elsewhere: list[str] = []

    def loopback_only(route: object) -> None:
        if route.request.url.startswith(f"{live_server}/"):
            route.continue_()
        else:  # a CDN, fonts, telemetry: none of it may be needed
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", loopback_only)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    def console_error(message: object) -> None:
        # The schema request GraphiQL sends before a token is typed gets 401: expected.
        if message.type == "error" and "status of 401" not in message.text:
            problems.append(message.text)  # a CSP violation would land here

    page.on("console", console_error)

    page.goto(f"{live_server}/graphql?lang=en")
    page.locator(".graphiql-container").wait_for()
    headers = page.locator(".graphiql-editor-tool .CodeMirror >> visible=true")
    headers.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(f'{{"Authorization": "Bearer {token}"}}')
    page.locator(".graphiql-query-editor .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("{ me { name role } }")
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

    result = page.locator(".result-window")
    sync_api.expect(result).to_contain_text('"name": "Zhang Min"')
    sync_api.expect(result).to_contain_text('"role": "manager"')
    shot(page, "graphiql-me")
    assert elsewhere == []
    assert problems == []
    context.close()


# --- the customer's side on a phone (issue 22) -----------------------------------------------

DEMO_LOGO = Path(__file__).resolve().parent.parent / "survey" / "demo" / "huaxin-logo.svg"


@pytest.fixture
def customer_links(app) -> dict[str, str]:
    """An English and a Chinese link to an open campaign, one to a closed campaign,
    from a branded supplier."""
    from survey.models import CAMPAIGN_CLOSED

    from .test_survey_pages import CLOSES

    app.config.update(
        ORG_NAME_ZH="华信精密",
        ORG_NAME_EN="Huaxin Precision",
        ORG_LOGO=str(DEMO_LOGO),
        ORG_CONTACT="surveys@huaxin-precision.example",
    )
    with app.app_context():
        en = make_account("KA01", name="Acme Trading", locale="en")
        zh = make_account("KA02", name="华东贸易有限公司", locale="zh")
        old = make_account("KA03", name="Old Co", locale="en")
        _, tokens = make_campaign(accounts=[en, zh], closes_at=CLOSES)
        _, closed = make_campaign("Old", accounts=[old], status=CAMPAIGN_CLOSED)
        links = {"en": tokens[en.id], "zh": tokens[zh.id], "closed": closed[old.id]}
        db.session.commit()
    return links


def _overflows(page: object) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def test_survey_on_a_phone_counts_progress_and_clears_answered_errors(
    live_server, customer_links, browser
):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, reduced_motion="reduce", locale="en-GB"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{live_server}/s/{customer_links['en']}")
    assert page.locator(".org-name").inner_text() == "Huaxin Precision"
    assert page.locator("img.org-logo").evaluate("img => img.complete && img.naturalWidth > 0")
    legend = page.locator("#aspect-delivery > legend").inner_text()
    assert legend.startswith("Question 2 of 8")
    progress = page.locator("[data-progress]")
    assert progress.get_attribute("aria-hidden") == "true"
    assert progress.inner_text() == "0 of 8 answered"
    fill = page.locator("[data-progress-fill]")
    assert fill.evaluate("el => getComputedStyle(el).transitionDuration") == "0s"
    assert not _overflows(page)

    # Sent with nothing chosen: every question says so, its radios aria-invalid.
    page.locator("#survey-form [type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary li").count() == 8
    question = page.locator("#aspect-product_quality")
    assert (
        question.locator(".field-error")
        .inner_text()
        .endswith("Please choose one of the five answers.")
    )
    radio = question.locator("input[value='4']")
    assert radio.get_attribute("aria-invalid") == "true"
    assert progress.inner_text() == "0 of 8 answered"

    # Choosing an answer takes that question's error away, and the bar counts it.
    radio.check()
    assert question.locator(".field-error").count() == 0
    assert question.locator("input[aria-invalid]").count() == 0
    assert radio.get_attribute("aria-describedby") is None
    assert page.locator("#error-summary li").count() == 7
    assert page.locator("#aspect-delivery .field-error").count() == 1
    assert progress.inner_text() == "1 of 8 answered"
    page.locator("#aspect-delivery input[value='2']").check()
    assert progress.inner_text() == "2 of 8 answered"
    assert fill.evaluate("el => getComputedStyle(el).transform") == "matrix(0.25, 0, 0, 1, 0, 0)"
    # The bar stays in view while the page scrolls.
    page.locator("#aspect-overall").scroll_into_view_if_needed()
    assert progress.evaluate("el => el.getBoundingClientRect().top") == 0
    # Every question answered: nothing left in the summary, so it goes too.
    for code in ("price", "service", "communication", "process", "profitability", "overall"):
        page.locator(f"#aspect-{code} input[value='5']").check()
    assert progress.inner_text() == "8 of 8 answered"
    assert page.locator(".field-error").count() == 0
    assert page.locator("#error-summary").is_hidden()
    assert not _overflows(page)
    context.close()


def test_survey_progress_without_javascript(live_server, customer_links, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/s/{customer_links['zh']}")
    assert page.locator("[data-progress]").inner_text() == "本问卷共 8 题"
    assert page.locator("#aspect-overall legend .step").inner_text() == "第 8 题，共 8 题"
    context.close()


def test_customer_pages_screenshots_at_phone_and_desktop(live_server, customer_links, browser):
    """The survey's first screen, the wrong-link and the closed page at 390 and 1366 px,
    in zh and en: each names the supplier, the stuck ones say whom to contact, and none
    scrolls sideways. Screenshots: tests/artifacts/customer-*.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    pages = {
        "survey": f"/s/{customer_links['en']}",
        "wrong-link": "/s/" + "A" * 43,
        "closed": f"/s/{customer_links['closed']}",
    }
    for width, height in ((390, 844), (1366, 900)):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        for lang, org in (("zh", "华信精密"), ("en", "Huaxin Precision")):
            for name, path in pages.items():
                page.goto(f"{live_server}{path}?lang={lang}")
                assert page.locator(".org-name").inner_text() == org, name
                if name != "survey":
                    contact = page.locator(".whom-to-contact a")
                    assert contact.get_attribute("href") == (
                        "mailto:surveys@huaxin-precision.example"
                    )
                assert not _overflows(page), (name, lang, width)
                page.screenshot(path=str(ARTIFACTS / f"customer-{name}-{lang}-{width}.png"))
        context.close()
