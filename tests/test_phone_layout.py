"""Every console page and every customer page at 390x844 (a phone), in zh and in en:
no page scrolls sideways, and no table header is laid out narrower than two characters
a line. Full-page screenshots go to tests/artifacts/phone/<lang>/<page>.png.

The console's pages are read from the app's URL map, so a new page cannot be
forgotten: a page that needs an id gets one from tests/phone_data.py (PAGE_ARGS), and
only the routes in NOT_PAGES are left out, each with its reason.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest
from flask import Flask, url_for

from .browser import ARTIFACTS, TIMEOUT_MS, require_browser, shot
from .conftest import TEST_SECRET
from .phone_data import ADMIN_EMAIL, PASSWORD, PhoneData, build_phone_data

#: In a browser: run once (`make test`), not again a year ahead (see the Makefile).
pytestmark = pytest.mark.browser

require_browser()

PHONE = {"width": 390, "height": 844}
LANGUAGES = {"zh": "zh-CN", "en": "en-GB"}
#: GET routes that are not pages a person reads (the check visits all the others).
NOT_PAGES = {
    "manage.links_csv": "a CSV download",
    "manage.responses_csv": "a CSV download",
    "static": "files (CSS, images)",
    "survey.favicon": "an icon",
    "branding.logo": "an image: the supplier's logo (ORG_LOGO)",
    "graphql": "GraphiQL, a developer's tool served only in development",
}
#: Which fixture value fills a route's argument, by endpoint.
PAGE_ARGS = {
    "manage.account": lambda d: {"external_id": d.account},
    "manage.campaign": lambda d: {"campaign_id": d.campaign},
    "manage.follow_up_case": lambda d: {"follow_up_id": d.follow_up},
    "manage.response": lambda d: {"response_id": d.response},
    "survey.questionnaire": lambda d: {"token": d.survey_token},
    "survey.thanks": lambda d: {"token": d.answered_token},
    "unsubscribe.confirm": lambda d: {"token": d.optout_token},
}
#: Pages beyond one per route: name, endpoint, arguments, the status expected.
MORE_PAGES = [
    ("survey-closed", "survey.questionnaire", lambda d: {"token": d.closed_token}, 410),
    ("survey-wrong-link", "survey.questionnaire", lambda d: {"token": "x" * 43}, 404),
    ("priorities-cell", "manage.priorities", lambda d: {"value": "A", "health": "watch"}, 200),
]

#: Pages the brief names (the URL map adds any new one to these).
EXPECTED = {
    "login", "index", "accounts", "account", "campaigns", "campaign", "new-campaign",
    "schedules", "results", "drivers", "value", "priorities", "priorities-cell",
    "follow-ups", "follow-up-case", "response", "webhooks", "settings",
    "survey-questionnaire", "survey-thanks", "survey-closed", "survey-wrong-link",
    "unsubscribe-confirm",
}  # fmt: skip

#: What a page's layout measures: how wide the document is, the outermost elements
#: sticking out of the window (outside any scrolling box), and every visible table
#: header text that is laid out on more than one line with under 2 characters a line.
MEASURE = """() => {
  const vw = window.innerWidth;
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.classList.length) s += '.' + [...el.classList].join('.');
    const t = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return t ? s + ' "' + t + '"' : s;
  };
  const hidden = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden') return true;
      const r = e.getBoundingClientRect();
      const clips = cs.overflow !== 'visible' || cs.clip !== 'auto';
      if (clips && (r.width <= 1 || r.height <= 1)) return true;
    }
    return false;
  };
  const scrolls = (el) => getComputedStyle(el).overflowX !== 'visible';
  const out = {scrollWidth: document.documentElement.scrollWidth, width: vw, wide: [], headers: []};
  if (out.scrollWidth > vw) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.right <= vw + 0.5) continue;
      let inside = false;
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (scrolls(a)) { inside = true; break; }
      }
      const p = el.parentElement;
      const parentOut = p && p !== document.body && p.getBoundingClientRect().right > vw + 0.5;
      if (inside || parentOut) continue;
      out.wide.push({el: describe(el), right: Math.round(r.right)});
    }
    out.wide.sort((a, b) => b.right - a.right);
    out.wide = out.wide.slice(0, 5);
  }
  for (const th of document.querySelectorAll('th')) {
    if (hidden(th)) continue;
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const chars = [...n.textContent.replace(/\\s+/g, '')].length;
      if (!chars || hidden(n.parentElement)) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      const lines = new Set();
      for (const r of range.getClientRects()) if (r.width > 0) lines.add(Math.round(r.top));
      if (lines.size > 1 && chars / lines.size < 2) {
        out.headers.push({text: n.textContent.trim(), lines: lines.size, chars: chars});
      }
    }
  }
  return out;
}"""


def _pages(app: Flask, data: PhoneData) -> tuple[list[tuple[str, str, int]], list[str]]:
    """(name, path, expected status) for every page, and the routes with no arguments
    to fill (a new page the fixture data does not cover yet)."""
    pages: list[tuple[str, str, int]] = []
    missing: list[str] = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
                continue
            if rule.arguments and rule.endpoint not in PAGE_ARGS:
                missing.append(f"{rule.rule} ({rule.endpoint}): add its arguments to PAGE_ARGS")
                continue
            args = PAGE_ARGS[rule.endpoint](data) if rule.arguments else {}
            name = rule.endpoint.removeprefix("manage.").replace(".", "-").replace("_", "-")
            pages.append((name, url_for(rule.endpoint, **args), 200))
        for name, endpoint, make_args, status in MORE_PAGES:
            pages.append((name, url_for(endpoint, **make_args(data)), status))
    # Sign-in first (signed out), then the console, then the customer's pages.
    pages.sort(key=lambda p: (p[0] != "login", p[1].startswith(("/s/", "/u/"))))
    return pages, missing


def _check_page(page: Any, lang: str, name: str) -> list[str]:
    """Measure the page on screen, save its screenshot, say what is wrong with it."""
    problems: list[str] = []
    measured = page.evaluate(MEASURE)
    if measured["scrollWidth"] > measured["width"]:
        wide = "; ".join(f"{w['el']} (right edge {w['right']} px)" for w in measured["wide"])
        problems.append(
            f"{lang} {name}: the page is {measured['scrollWidth']} px wide in a "
            f"{measured['width']} px window; sticking out: {wide}"
        )
    for header in measured["headers"]:
        problems.append(
            f"{lang} {name}: table header {header['text']!r} is laid out on "
            f"{header['lines']} lines ({header['chars']} characters)"
        )
    shot(page, f"phone/{lang}/{name}")
    return problems


def _check_language(
    browser: Any, base: str, lang: str, pages: list[tuple[str, str, int]]
) -> list[str]:
    problems: list[str] = []
    context = browser.new_context(viewport=PHONE, locale=LANGUAGES[lang])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    for name, path, status in pages:
        answer = page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
        if answer is None or answer.status != status:
            got = answer.status if answer else "nothing"
            problems.append(f"{lang} {name}: {path} answered {got}, expected {status}")
        problems += _check_page(page, lang, name)
        if name == "login":
            page.fill("input[name=email]", ADMIN_EMAIL)
            page.fill("input[name=password]", PASSWORD)
            page.click("#submit")
            page.wait_for_url(lambda u: "/manage/login" not in u)
        elif name == "new-campaign":  # and its preview, a page of its own (a POST)
            page.fill("input[name=name]", "2027 Q1 大客户满意度调查")
            page.fill("input[name=size]", "6")
            page.select_option("select[name=stratify_by]", "tier")
            page.fill("input[name=seed]", "7")
            with page.expect_navigation() as preview:
                page.click("input[name=preview]")
            if preview.value is None or preview.value.status != 200:
                problems.append(f"{lang} new-campaign-preview: no preview")
            page.locator("section.preview").wait_for()
            problems += _check_page(page, lang, "new-campaign-preview")
    context.close()
    return problems


def test_every_page_fits_a_phone_in_both_languages(app, live_server, browser):
    started = time.monotonic()
    with app.app_context():
        data = build_phone_data(TEST_SECRET)
    pages, missing = _pages(app, data)
    assert missing == []
    assert {p[0] for p in pages} >= EXPECTED, sorted(p[0] for p in pages)
    shutil.rmtree(ARTIFACTS / "phone", ignore_errors=True)
    problems: list[str] = []
    for lang in LANGUAGES:
        problems += _check_language(browser, live_server, lang, pages)
    print(f"{len(pages)} pages x {len(LANGUAGES)} languages in {time.monotonic() - started:.1f} s")
    assert problems == [], "\n".join(problems)


def test_the_measure_names_what_sticks_out_and_squeezed_headers(browser):
    """The check itself on a made-up page: it fails where it should and only there."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_content(
        """<html lang="zh-CN"><body style="margin:0">
        <div id="wide" style="width:600px">宽</div>
        <div style="overflow-x:auto"><div style="width:900px">scrolls in its box</div></div>
        <table><tr><th style="width:1em">交货与物流</th><th>Net promoter score</th>
        <th><span style="position:absolute;width:1px;height:1px;overflow:hidden">隐藏标题</span>
        </th></tr></table>
        <table style="position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)">
        <thead style="display:block;width:1px;height:1px;overflow:hidden"><tr><th>客户经理</th></tr>
        </thead></table></body></html>"""
    )
    measured = page.evaluate(MEASURE)
    context.close()
    assert (measured["scrollWidth"], measured["width"]) == (600, 390)
    assert measured["wide"] == [{"el": 'div#wide "宽"', "right": 600}]
    assert measured["headers"] == [{"text": "交货与物流", "lines": 5, "chars": 5}]
