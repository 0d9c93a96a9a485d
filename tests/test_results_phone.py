"""The results page in a real browser at 390 × 844 and 1366 × 900, in Chinese and
English: no sideways page overflow, no table header narrower than two characters a
line, each chart label above its bar on the phone (beside it on the desktop), chart
text of at least 12 px, identifiers, months and tiers on one line, every contents
link landing on its section. Screenshots go to tests/artifacts/ (git-ignored).

Same browser as tests/test_e2e_browser.py (skipped with its reason without one).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from survey.db import db
from survey.registry.staff import add_staff

from .browser import ARTIFACTS, TIMEOUT_MS, require_browser
from .factories import make_account, make_campaign, make_defection, make_response

#: In a browser: run once (`make test`), not again a year ahead (see the Makefile).
pytestmark = pytest.mark.browser

require_browser()

EMAIL = "li.na@example.com"
PASSWORD = "correct horse battery"

#: What the page must keep at every size, measured in the browser.
MEASURE = """() => {
  const lines = (el) => {
    const range = document.createRange(); range.selectNodeContents(el);
    const tops = [...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top));
    return new Set(tops).size;
  };
  const narrowHeaders = [...document.querySelectorAll('thead th')]
    .filter(th => th.offsetParent && th.innerText.trim())
    .filter(th => [...th.innerText.replace(/\\s+/g, '')].length / lines(th) < 2)
    .map(th => th.innerText);
  const broken = [...document.querySelectorAll('.nowrap')]
    .filter(el => el.offsetParent && lines(el) > 1).map(el => el.textContent);
  const rows = [...document.querySelectorAll('.likert-row.bar, .stack-row')].map(row => {
    const label = row.querySelector('.likert-label, .stack-label').getBoundingClientRect();
    const bar = row.querySelector('svg').getBoundingClientRect();
    return {above: label.bottom <= bar.top + 1, beside: label.right <= bar.left + 1};
  });
  const chartText = 'figure text, .likert-label, .stack-label, .chart-legend li';
  const small = [...document.querySelectorAll(chartText)]
    .filter(el => parseFloat(getComputedStyle(el).fontSize) < 12).map(el => el.textContent);
  return {overflow: document.documentElement.scrollWidth > window.innerWidth,
          narrowHeaders, broken, rows, small};
}"""


@pytest.fixture
def results_data(app) -> None:
    """Long Chinese names, a spread of scores, and defections in three months."""
    with app.app_context():
        accounts = [
            make_account(
                f"KA-{195 + i:04d}",
                name=f"广州鼎盛电子科技有限公司{i}",
                tier="ABC"[i % 3],
                annual_revenue=15_380_000 - i * 100_000,
            )
            for i in range(9)
        ]
        campaign, _ = make_campaign("2026 Q3", accounts=accounts)
        for i, account in enumerate(accounts):
            make_response(
                campaign,
                account,
                {"delivery": 1 + i % 5, "price": 1 + (i + 2) % 5, "overall": 2 + i % 4},
                reasons={"delivery": ["delivery", "communication"]} if i % 5 < 2 else None,
                submitted_at=datetime(2026, 9, 1 + i, tzinfo=UTC),
            )
        for i, (day, reasons) in enumerate(
            [
                (date(2026, 8, 3), ["price", "service"]),
                (date(2026, 8, 9), ["competitor_offer"]),
                (date(2026, 9, 12), ["customer_business_change"]),
                (date(2026, 10, 2), []),
            ]
        ):
            lost = make_account(f"KA-09{i:02d}", name=f"杭州博远连锁超市{i}", tier="CAB"[i % 3])
            make_defection(lost, day, reasons, lost_annual_revenue=1_000_000)
        db.session.commit()
        add_staff("Li Na", "viewer", EMAIL, password=PASSWORD)


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)])
def test_results_read_on_a_phone_and_a_desktop(
    live_server,
    browser,
    results_data,
    width,
    height,
):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server}/manage/login?lang=en")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("#submit")
    page.wait_for_load_state()
    for lang in ("zh", "en"):
        page.goto(f"{live_server}/manage/results?lang={lang}")
        # The tables behind <details> are measured too.
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        found = page.evaluate(MEASURE)
        assert not found["overflow"], f"{lang} {width}: the page scrolls sideways"
        assert found["narrowHeaders"] == [], f"{lang} {width}"
        assert found["broken"] == [], f"{lang} {width}"
        assert found["small"] == [], f"{lang} {width}"
        assert len(found["rows"]) == 3 + 3  # three aspects answered, three months
        where = "above" if width < 640 else "beside"
        assert all(r[where] for r in found["rows"]), f"{lang} {width}: {found['rows']}"
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = false)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"results-{width}-{lang}.png"), full_page=True)
        # Every entry of the contents leads to its section.
        for link in page.locator("#toc a").all():
            target = link.get_attribute("href")
            link.click()
            page.wait_for_url(f"**{target}")
            top = page.locator(target).evaluate("el => el.getBoundingClientRect().top")
            assert 0 <= top < height / 2, f"{target} is not at the top of the window"
        # A scrolling table is reachable with the keyboard: its region takes focus.
        region = page.locator("#accounts-at-risk .table-wrap")
        region.focus()
        assert page.evaluate("() => document.activeElement.getAttribute('role')") == "region"
    page.close()
