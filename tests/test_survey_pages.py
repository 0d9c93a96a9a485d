"""The customer-facing survey page /s/<token>: rendering, languages, submitting."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask_sqlalchemy.record_queries import get_recorded_queries
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from survey.clock import utcnow
from survey.db import db
from survey.models import (
    CAMPAIGN_CLOSED,
    INVITATION_OPENED,
    INVITATION_RESPONDED,
    INVITATION_SENT,
    Answer,
    AnswerReason,
    Aspect,
    Campaign,
    Invitation,
    Response,
)
from survey.scale import DEFAULT_ASPECTS, SCALE, ReasonCode
from survey.tokens import TOKEN_LENGTH

from .conftest import csrf_token_from
from .factories import make_account, make_campaign

CODES = [a.code for a in DEFAULT_ASPECTS]
CLOSES = datetime(2099, 6, 30, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai, the app's time zone
CATALOG = Path(__file__).resolve().parent.parent / "web/translations/zh/LC_MESSAGES/messages.po"


class Page(HTMLParser):
    """The parts of a rendered page the tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.inputs: list[dict[str, str | None]] = []
        self.labels: dict[str, str] = {}  # for -> text
        self.legends: list[str] = []
        self.textareas: dict[str, str] = {}
        self.textarea_attrs: dict[str, dict[str, str | None]] = {}
        self.scripts: list[dict[str, str | None]] = []
        self.ids: dict[str, dict[str, str | None]] = {}
        self._capture: list[tuple[str, str | None, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids[str(attributes["id"])] = {"tag": tag, **attributes}
        if tag == "input":
            self.inputs.append(attributes)
        elif tag == "script":
            self.scripts.append(attributes)
        elif tag in ("label", "legend", "textarea"):
            key = attributes.get("for") if tag == "label" else attributes.get("name")
            self._capture.append((tag, key, []))
            if tag == "textarea":
                self.textarea_attrs[str(key)] = attributes

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._capture:
            parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._capture and self._capture[-1][0] == tag:
            _, key, parts = self._capture.pop()
            text = "".join(parts)
            if tag == "label":
                self.labels[str(key)] = " ".join(text.split())
            elif tag == "legend":
                self.legends.append(" ".join(text.split()))
            else:
                # Browsers drop the line break a textarea starts with; so do we.
                self.textareas[str(key)] = re.sub(r"\A\r?\n", "", text)

    def radios(self, name: str) -> list[dict[str, str | None]]:
        return [i for i in self.inputs if i.get("name") == name and i.get("type") == "radio"]

    def checked(self, name: str) -> list[str | None]:
        return [i["value"] for i in self.inputs if i.get("name") == name and "checked" in i]


@pytest.fixture
def survey(app):
    """Two invitations to one open campaign: a Chinese and an English account."""
    with app.app_context():
        zh = make_account("KA001", name="华东贸易有限公司", locale="zh")
        en = make_account("KA002", name="Acme <Trading> & Co", locale="en")
        _, tokens = make_campaign(accounts=[zh, en], closes_at=CLOSES)
        db.session.commit()
        return {"zh": tokens[zh.id], "en": tokens[en.id], "zh_id": zh.id, "en_id": en.id}


def invitation_of(account_id: int) -> Invitation:
    return db.session.scalars(select(Invitation).where(Invitation.account_id == account_id)).one()


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def valid_answers(score: str = "4", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {f"score_{code}": score for code in CODES}
    data.update(overrides)
    return data


def open_form(client, token: str, query: str = "", **headers: str) -> tuple[Any, str]:
    response = client.get(f"/s/{token}{query}", headers=headers)
    return response, response.get_data(as_text=True)


def submit(client, token: str, data: dict[str, Any], query: str = "") -> Any:
    _, html = open_form(client, token, query)
    return client.post(f"/s/{token}{query}", data={"csrf_token": csrf_token_from(html), **data})


# --- rendering ---------------------------------------------------------------------------


def test_form_in_chinese_has_the_verbatim_scale_and_accessible_structure(client, survey):
    # The invitation's language wins over the browser's.
    response, html = open_form(client, survey["zh"], **{"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert '<html lang="zh-CN">' in html
    page = Page(html)
    assert "尊敬的华东贸易有限公司：" in html
    assert "本次调查截止时间：2099年6月30日 16:00。" in html
    # One legend per aspect, in questionnaire order, each saying where it stands (for
    # screen readers and without script), then the reasons legends.
    questions = [legend for legend in page.legends if legend.endswith("？")]
    total = len(DEFAULT_ASPECTS)
    assert total == 8
    assert questions == [
        f"第 {n} 题，共 8 题 {a.question_zh}" for n, a in enumerate(DEFAULT_ASPECTS, 1)
    ]
    for code in CODES:
        radios = page.radios(f"score_{code}")
        assert [r["value"] for r in radios] == ["5", "4", "3", "2", "1"]
        assert [page.labels[str(r["id"])] for r in radios] == [s.zh for s in SCALE]
        assert [page.labels[str(r["id"])] for r in radios] == [
            "高度满意",
            "一般满意",
            "无意见",
            "有些不满意",
            "极不满意",
        ]
        boxes = [i for i in page.inputs if i.get("name") == f"reasons_{code}"]
        assert [b["value"] for b in boxes] == ReasonCode.codes()
        assert [page.labels[str(b["id"])] for b in boxes] == [
            r.customer_label("zh") for r in ReasonCode
        ]
        assert page.labels[f"why_{code}"] == "请用您自己的话说明（不超过 500 字）"
        assert page.textarea_attrs[f"why_{code}"]["maxlength"] == "500"
        assert page.checked(f"score_{code}") == []
    assert page.legends.count("您对哪些方面不满意？（可多选）") == len(CODES)
    assert html.count("如果您不满意，请告诉我们原因（选填）。") == len(CODES)
    assert page.textarea_attrs["comment"]["maxlength"] == "2000"
    assert page.labels["comment"] == "您还有什么想告诉我们的吗？（选填）"
    assert "提交我的回答" in html


def test_form_in_english_for_an_english_invitation(client, survey):
    response, html = open_form(client, survey["en"], **{"Accept-Language": "zh-CN"})
    assert response.status_code == 200
    assert '<html lang="en">' in html
    page = Page(html)
    # The account name is escaped, not interpreted.
    assert "Dear Acme &lt;Trading&gt; &amp; Co," in html
    assert "This survey is open until 30 Jun 2099 16:00." in html
    questions = [legend for legend in page.legends if legend.endswith("?") and "tick" not in legend]
    assert questions == [
        f"Question {n} of 8 {a.question_en}" for n, a in enumerate(DEFAULT_ASPECTS, 1)
    ]
    radios = page.radios("score_delivery")
    assert [page.labels[str(r["id"])] for r in radios] == [
        "Very satisfied",
        "Satisfied",
        "No opinion",
        "Somewhat dissatisfied",
        "Very dissatisfied",
    ]
    assert "If you are dissatisfied, please tell us why (optional)." in html
    assert "Send my answers" in html


def test_language_switch(client, survey):
    token = survey["zh"]
    _, html = open_form(client, token)
    assert f'href="/s/{token}?lang=en"' in html
    assert f'action="/s/{token}?lang=zh"' in html
    _, html = open_form(client, token, "?lang=en")
    assert '<html lang="en">' in html
    assert "Very satisfied" in html and "高度满意" not in html
    # The chosen language goes along with the answers.
    assert f'action="/s/{token}?lang=en"' in html
    assert f'href="/s/{token}?lang=zh"' in html
    # An unsupported ?lang falls back to the invitation's language.
    _, html = open_form(client, token, "?lang=fr")
    assert '<html lang="zh-CN">' in html


def test_page_uses_only_the_external_script(client, survey):
    _, html = open_form(client, survey["zh"])
    page = Page(html)
    assert page.scripts == [{"src": "/static/survey.js", "defer": None}]
    assert "/static/survey.css" in html
    for asset in ("/static/survey.js", "/static/survey.css"):
        response = client.get(asset)
        response.close()  # static files are streamed: close them
        assert response.status_code == 200


def test_opening_the_link_sets_opened_at_once(app, client, survey):
    open_form(client, survey["zh"])
    with app.app_context():
        first = invitation_of(survey["zh_id"])
        assert first.status == INVITATION_OPENED
        opened_at = first.opened_at
        assert opened_at is not None
        assert invitation_of(survey["en_id"]).opened_at is None
    open_form(client, survey["zh"], "?lang=en")
    with app.app_context():
        assert invitation_of(survey["zh_id"]).opened_at == opened_at


def test_page_and_submission_cost_a_fixed_number_of_queries(app, client, survey):
    token = survey["zh"]
    # One app context around one request, so its recorded queries can be read after.
    with app.app_context():
        html = client.get(f"/s/{token}").get_data(as_text=True)
        # the invitation (one statement), the questionnaire's questions (the first
        # time this process sees its version), the opened-at update
        assert len(get_recorded_queries()) == 3
    with app.app_context():
        client.get(f"/s/{token}")
        # opened before: no update; the questions are kept
        assert len(get_recorded_queries()) == 1
    data = valid_answers(
        "1", **{f"reasons_{code}": ReasonCode.codes() for code in CODES}, comment="c"
    )
    with app.app_context():
        response = client.post(f"/s/{token}", data={"csrf_token": csrf_token_from(html), **data})
        assert response.status_code == 303
        # the invitation (its questions kept), then the response, its answers (one
        # INSERT), their reasons (one INSERT), two for the follow-up every score of 1
        # opens (its account, its insert), the webhook subscriptions
        # (survey/events.py), the invitation marked responded and the
        # data version's new token (survey/data_version.py)
        statements = [q.statement for q in get_recorded_queries()]
        assert len(statements) == 9
        assert count(AnswerReason) == len(CODES) * len(ReasonCode)
    inserts = [s.split("(")[0].strip() for s in statements if s.startswith("INSERT")]
    assert inserts == [
        "INSERT INTO responses",
        "INSERT INTO answers",
        "INSERT INTO answer_reasons",
        "INSERT INTO follow_ups",
        "INSERT INTO data_version",
    ]


def test_browser_language_counts_only_for_an_unsupported_invitation_language(app, client):
    with app.app_context():
        account = make_account(locale="fr")
        _, tokens = make_campaign(accounts=[account], closes_at=CLOSES)
        token = tokens[account.id]
        db.session.commit()
    _, html = open_form(client, token, **{"Accept-Language": "en"})
    assert '<html lang="en">' in html
    _, html = open_form(client, token, **{"Accept-Language": "de"})
    assert '<html lang="zh-CN">' in html


# --- submitting ----------------------------------------------------------------------------


def test_full_submission_stores_the_right_rows(app, client, survey):
    token = survey["zh"]
    data = valid_answers(
        "5",
        score_delivery="1",
        reasons_delivery=["delivery", "service"],
        why_delivery="  上月三次延误  ",
        score_price="2",
        reasons_price=["price", "competitor_offer"],
        why_price="",
        score_service="4",
        reasons_service=["service"],  # ticked, then the score changed: dropped
        why_service="还行",
        score_overall="3",
        comment="<script>alert(1)</script> 希望加强沟通",
    )
    response = submit(client, token, data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/s/{token}/thanks?lang=zh"
    with app.app_context():
        invitation = invitation_of(survey["zh_id"])
        assert invitation.status == INVITATION_RESPONDED
        assert invitation.responded_at is not None
        stored = db.session.scalars(select(Response)).one()
        assert (stored.invitation_id, stored.account_id) == (invitation.id, survey["zh_id"])
        assert (stored.locale, stored.channel) == ("zh", "web")
        assert stored.comment == "<script>alert(1)</script> 希望加强沟通"
        answers = dict(
            db.session.execute(
                select(Aspect.code, Answer.score).join(Aspect, Aspect.id == Answer.aspect_id)
            ).all()
        )
        assert answers == {
            "product_quality": 5,
            "delivery": 1,
            "price": 2,
            "service": 4,
            "communication": 5,
            "process": 5,
            "profitability": 5,
            "overall": 3,
        }
        texts = dict(
            db.session.execute(
                select(Aspect.code, Answer.reason_text)
                .join(Aspect, Aspect.id == Answer.aspect_id)
                .where(Answer.reason_text.is_not(None))
            ).all()
        )
        assert texts == {"delivery": "上月三次延误"}
        reasons = db.session.execute(
            select(Aspect.code, AnswerReason.reason)
            .join(Answer, Answer.id == AnswerReason.answer_id)
            .join(Aspect, Aspect.id == Answer.aspect_id)
            .order_by(Aspect.code, AnswerReason.reason)
        ).all()
        assert [tuple(r) for r in reasons] == [
            ("delivery", "delivery"),
            ("delivery", "service"),
            ("price", "competitor_offer"),
            ("price", "price"),
        ]


def test_language_chosen_on_the_page_is_recorded(app, client, survey):
    token = survey["zh"]
    response = submit(client, token, valid_answers(), "?lang=en")
    assert response.headers["Location"] == f"/s/{token}/thanks?lang=en"
    with app.app_context():
        assert db.session.scalar(select(Response.locale)) == "en"


def test_invalid_submission_keeps_everything_typed_and_stores_nothing(app, client, survey):
    token = survey["en"]
    data = valid_answers(
        "4",
        score_delivery="2",
        reasons_delivery=["delivery", "process"],
        why_delivery="x" * 501,
        score_price="1",
        reasons_price=["price"],
        why_price="Too expensive since March",
        score_overall="",  # not answered
        comment='He said "<b>hi</b>" & left',
    )
    response = submit(client, token, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    page = Page(html)
    summary = page.ids["error-summary"]
    assert summary["role"] == "alert"
    assert re.findall(r'<li><a href="#([^"]+)">([^<]+)</a></li>', html) == [
        (
            "why_delivery",
            "Delivery and logistics: "
            "Please shorten this text to 500 characters or fewer (it has 501).",
        ),
        ("score_overall-0", "Overall satisfaction: Please choose one of the five answers."),
    ]
    # Messages sit next to their fields and are tied to the inputs.
    assert page.ids["why_delivery-error"]["tag"] == "p"
    assert page.textarea_attrs["why_delivery"]["aria-describedby"] == (
        "why-hint-delivery why_delivery-error"
    )
    assert page.ids["score_overall-error"]["tag"] == "p"
    assert all(
        r["aria-describedby"] == "score_overall-error" and r["aria-invalid"] == "true"
        for r in page.radios("score_overall")
    )
    # Everything typed comes back.
    assert page.checked("score_delivery") == ["2"]
    assert page.checked("score_price") == ["1"]
    assert page.checked("score_product_quality") == ["4"]
    assert page.checked("score_overall") == []
    assert page.checked("reasons_delivery") == ["delivery", "process"]
    assert page.checked("reasons_price") == ["price"]
    assert page.textareas["why_delivery"] == "x" * 501
    assert page.textareas["why_price"] == "Too expensive since March"
    assert page.textareas["comment"] == 'He said "<b>hi</b>" & left'
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "<b>hi</b>" not in html
    with app.app_context():
        assert (count(Response), count(Answer)) == (0, 0)
        assert invitation_of(survey["en_id"]).status == INVITATION_OPENED


def test_error_messages_are_translated(client, survey):
    response = submit(client, survey["zh"], valid_answers(score_price="9", comment="评" * 2001))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请检查您的回答" in html
    assert "价格与商务条款: 请在五个选项中选择一项。" in html
    assert "请将这段文字缩短到 2000 字以内（目前为 2001 字）。" in html


def test_script_in_the_comment_is_escaped_on_re_render(client, survey):
    attack = '</textarea><script>alert("x")</script>'
    response = submit(client, survey["zh"], {"score_price": "2", "comment": attack})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;/textarea&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert Page(html).textareas["comment"] == attack


def test_too_long_comment_is_refused(app, client, survey):
    response = submit(client, survey["en"], valid_answers(comment="a" * 2001))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please shorten this text to 2000 characters or fewer (it has 2001)." in html
    assert Page(html).textareas["comment"] == "a" * 2001
    with app.app_context():
        assert count(Response) == 0


def test_line_breaks_count_once_towards_the_limit(app, client, survey):
    # The browser counts each line break once for maxlength but sends CRLF.
    comment = "\r\n".join(["a" * 99] * 20)  # 1980 + 19 line breaks = 1999 characters
    response = submit(client, survey["en"], valid_answers(comment=comment))
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Response.comment)) == comment.replace("\r\n", "\n")


def test_unknown_reason_code_is_refused(app, client, survey):
    data = valid_answers(score_delivery="1", reasons_delivery=["delivery", "bribery"])
    response = submit(client, survey["en"], data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Delivery and logistics: Please choose reasons from the list." in html
    assert Page(html).checked("reasons_delivery") == ["delivery"]
    with app.app_context():
        assert count(Response) == 0


def test_an_unknown_reason_with_a_satisfied_score_is_ignored(app, client, survey):
    data = valid_answers(score_delivery="5", reasons_delivery=["bribery"], why_delivery="x" * 900)
    assert submit(client, survey["en"], data).status_code == 303
    with app.app_context():
        assert (count(Response), count(AnswerReason)) == (1, 0)
        assert db.session.scalar(select(func.count()).where(Answer.reason_text.is_not(None))) == 0


# Flask-WTF checks CSRF under TESTING too: the default test app and an explicit setting.
@pytest.mark.parametrize("app_config", [{}, {"WTF_CSRF_ENABLED": True}], ids=["default", "on"])
@pytest.mark.parametrize("csrf", [None, "forged-token"], ids=["missing", "forged"])
def test_post_without_a_valid_csrf_token_is_a_400_and_stores_nothing(app, client, survey, csrf):
    open_form(client, survey["en"])
    data = valid_answers()
    if csrf is not None:
        data["csrf_token"] = csrf
    response = client.post(f"/s/{survey['en']}", data=data, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Bad request" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Response) == 0


def test_duplicate_submission_is_a_409_and_one_row(app, client, survey):
    token = survey["zh"]
    _, html = open_form(client, token)
    data = {"csrf_token": csrf_token_from(html), **valid_answers("5")}
    assert client.post(f"/s/{token}", data=data).status_code == 303
    replay = client.post(f"/s/{token}", data={**data, "score_overall": "1"})
    assert replay.status_code == 409
    assert "我们已收到您的回答" in replay.get_data(as_text=True)
    with app.app_context():
        assert (count(Response), count(Answer)) == (1, 8)
        assert db.session.scalars(select(Answer.score).distinct()).all() == [5]


def test_opening_an_answered_link_says_thank_you(client, survey):
    token = survey["en"]
    submit(client, token, valid_answers())
    response, html = open_form(client, token)
    assert response.status_code == 200
    assert "We already have your answers" in html
    assert "Thank you, Acme &lt;Trading&gt; &amp; Co:" in html
    assert 'name="score_' not in html


def test_thank_you_page(client, survey):
    token = survey["zh"]
    before = client.get(f"/s/{token}/thanks")
    assert before.status_code == 303
    assert before.headers["Location"] == f"/s/{token}?lang=zh"
    response = submit(client, token, valid_answers())
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200
    html = thanks.get_data(as_text=True)
    assert "感谢您的回答" in html and '<html lang="zh-CN">' in html
    english = client.get(f"/s/{token}/thanks?lang=en").get_data(as_text=True)
    assert "Thank you for your answers" in english


# --- links that open nothing ------------------------------------------------------------


def test_unknown_tokens_get_identical_404_pages(client, survey):
    bodies = []
    for token in ("A" * TOKEN_LENGTH, "B" * TOKEN_LENGTH, "not-a-token", survey["zh"][:-1] + "!"):
        for path in (f"/s/{token}", f"/s/{token}/thanks"):
            response = client.get(path, headers={"Accept-Language": "en"})
            assert response.status_code == 404
            bodies.append(response.get_data(as_text=True))
    assert len(set(bodies)) == 1
    assert "This link is not valid" in bodies[0]
    # A well-formed POST (valid CSRF token) to an unknown link gets the same page.
    _, html = open_form(client, survey["en"])
    post = client.post(
        "/s/" + "C" * TOKEN_LENGTH,
        data={"csrf_token": csrf_token_from(html), **valid_answers()},
        headers={"Accept-Language": "en"},
    )
    assert post.status_code == 404
    assert post.get_data(as_text=True) == bodies[0]


def test_closed_campaign_is_a_410(app, client):
    with app.app_context():
        account = make_account(locale="en")
        _, tokens = make_campaign(accounts=[account], status=CAMPAIGN_CLOSED, closes_at=CLOSES)
        db.session.commit()
        token = tokens[account.id]
    response = client.get(f"/s/{token}")
    assert response.status_code == 410
    assert "This survey has closed" in response.get_data(as_text=True)
    with app.app_context():
        # A closed survey is not "opened".
        assert db.session.scalar(select(Invitation.status)) == INVITATION_SENT


def test_past_closing_time_is_a_410_also_for_a_form_opened_earlier(app, client, survey):
    token = survey["zh"]
    _, html = open_form(client, token)
    with app.app_context():
        campaign = db.session.get(Campaign, invitation_of(survey["zh_id"]).campaign_id)
        campaign.closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    response = client.post(
        f"/s/{token}", data={"csrf_token": csrf_token_from(html), **valid_answers()}
    )
    assert response.status_code == 410
    assert "本次调查已结束" in response.get_data(as_text=True)
    assert client.get(f"/s/{token}").status_code == 410
    with app.app_context():
        assert count(Response) == 0


NODE = shutil.which("node")
SURVEY_JS = Path(__file__).resolve().parent.parent / "web/static/survey.js"
# A minimal stand-in for the page's DOM: just what survey.js touches.
JS_HARNESS = r"""
const fs = require("fs");
function aspect(checkedValue, hasError) {
  const radios = ["5", "4", "3", "2", "1"].map((value) => ({
    value, checked: value === checkedValue, handlers: [],
    addEventListener(type, handler) { if (type === "change") this.handlers.push(handler); },
  }));
  const why = {
    hidden: false,
    querySelector: (s) => (s === ".field-error" && hasError ? {} : null),
  };
  return {
    why,
    querySelector(s) {
      if (s === "[data-why]") return why;
      if (s === 'input[type="radio"]:checked') return radios.find((r) => r.checked) || null;
      throw new Error("unexpected selector " + s);
    },
    querySelectorAll(s) {
      if (s === 'input[type="radio"]') return radios;
      throw new Error("unexpected selector " + s);
    },
    choose(value) {
      radios.forEach((r) => { r.checked = r.value === value; });
      radios.find((r) => r.value === value).handlers.forEach((handler) => handler());
    },
  };
}
const aspects = [aspect(null, false), aspect("2", false), aspect("5", false), aspect(null, true)];
let focused = false;
const summary = { focus() { focused = true; }, addEventListener() {} };
const form = {
  getAttribute: (n) => (n === "data-dissatisfied-max" ? "2" : null),
  querySelector: () => null,
  querySelectorAll: (s) => (s === "[data-aspect]" ? aspects : []),
};
global.document = {
  querySelector: (s) => (s === "form[data-survey]" ? form : null),
  getElementById: (id) => (id === "error-summary" ? summary : null),
};
eval(fs.readFileSync(process.argv[1], "utf8"));
const states = [aspects.map((a) => a.why.hidden)];
aspects[0].choose("1");
aspects[1].choose("4");
aspects[2].choose("3");
states.push(aspects.map((a) => a.why.hidden));
aspects[1].choose("2");
states.push(aspects.map((a) => a.why.hidden));
console.log(JSON.stringify({ states, focused }));
"""


@pytest.mark.skipif(NODE is None, reason="node is needed to run survey.js")
def test_why_blocks_show_only_for_dissatisfied_scores_with_javascript():
    assert NODE is not None
    result = subprocess.run(
        [NODE, "-e", JS_HARNESS, str(SURVEY_JS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    # Aspects: none chosen, "2" chosen, "5" chosen, none chosen but an error inside.
    assert json.loads(result.stdout) == {
        "states": [
            [True, False, True, False],  # re-rendered form: a 1-2 score keeps its block
            [False, True, True, False],  # chose 1, 4 and 3
            [False, False, True, False],  # back to 2
        ],
        "focused": True,
    }


# --- any input at all --------------------------------------------------------------------

FIELD_NAMES = [f"{prefix}_{code}" for prefix in ("score", "reasons", "why") for code in CODES]
SCORE_TEXTS = ["1", "2", "3", "4", "5", "0", "6", " 3", "+3", "٣", "3.0", ""]
VALUES = st.one_of(
    st.sampled_from(SCORE_TEXTS),
    st.sampled_from([*ReasonCode.codes(), "Price", "价格", "other "]),
    st.text(max_size=20),
    st.text(alphabet="ab \r\n\x00", min_size=495, max_size=505),
)
KEYS = st.one_of(st.sampled_from([*FIELD_NAMES, "comment"]), st.text(max_size=12)).filter(
    lambda key: key != "csrf_token"
)
_counter = itertools.count()


def expected_valid(form: MultiDict) -> bool:
    """An independent statement of what the page must accept."""

    def text_ok(value: str | None, limit: int) -> bool:
        text = (value or "").replace("\r\n", "\n").strip()
        return len(text) <= limit and not any(
            (ord(c) < 32 or 127 <= ord(c) < 160) and c not in "\t\n\r" for c in text
        )

    for code in CODES:
        score = form.get(f"score_{code}")
        if score not in {"1", "2", "3", "4", "5"}:
            return False
        if int(score) <= 2:
            if any(r not in ReasonCode.codes() for r in form.getlist(f"reasons_{code}")):
                return False
            if not text_ok(form.get(f"why_{code}"), 500):
                return False
    return text_ok(form.get("comment"), 2000)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scores=st.fixed_dictionaries(
        {f"score_{code}": st.sampled_from(["1", "2", "4", "5"]) for code in CODES}
    ),
    drop=st.lists(st.sampled_from(CODES), max_size=2),
    extra=st.lists(st.tuples(KEYS, VALUES), max_size=12),
)
def test_any_form_data_never_breaks_the_page(app, client, scores, drop, extra):
    n = next(_counter)
    with app.app_context():
        account = make_account(f"H{n}", locale="en")
        _, tokens = make_campaign(f"hypothesis {n}", accounts=[account], closes_at=CLOSES)
        db.session.commit()
        invitation_id = invitation_of(account.id).id
    token = tokens[account.id]
    _, html = open_form(client, token)
    pairs = [(k, v) for k, v in scores.items() if k.removeprefix("score_") not in drop]
    form = MultiDict([("csrf_token", csrf_token_from(html)), *pairs, *extra])

    response = client.post(f"/s/{token}", data=form)

    assert response.status_code < 500
    valid = expected_valid(form)
    event("valid" if valid else "invalid")
    assert response.status_code == (303 if valid else 422)
    with app.app_context():
        stored = db.session.scalar(
            select(func.count()).where(Response.invitation_id == invitation_id)
        )
    assert stored == (1 if valid else 0)


# --- the catalog -------------------------------------------------------------------------


def test_chinese_catalog_is_complete():
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="zh")
    messages = [m for m in catalog if m.id]
    assert messages, "empty catalog"
    untranslated = [m.id for m in messages if not m.string]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert untranslated == []
    assert fuzzy == []
    placeholders = re.compile(r"%\(\w+\)[sd]")
    for message in messages:
        assert sorted(placeholders.findall(str(message.id))) == sorted(
            placeholders.findall(str(message.string))
        ), message.id
