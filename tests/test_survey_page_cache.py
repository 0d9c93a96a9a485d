"""The survey page from its cache, and the submission read without a form, against
the way they were made before: a form class built per request and the template
rendered for every page (issue 20). Same markup, same stored rows, fewer statements."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask_sqlalchemy.record_queries import get_recorded_queries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from werkzeug.datastructures import MultiDict

import web.survey_pages as pages
from survey.answers import AnswerInput, AspectQuestion, load_invitation, questionnaire_questions
from survey.answers import record_response as record
from survey.db import db
from survey.models import Answer, AnswerReason, Aspect, FollowUp, Invitation, Response
from survey.scale import DEFAULT_ASPECTS, ReasonCode
from web.forms import read_survey_post, survey_form_for
from web.survey_page_cache import MAX_ENTRIES, _Lru, page_cache

from .conftest import csrf_token_from
from .factories import make_account, make_campaign
from .test_survey_pages import CLOSES, CODES, KEYS, VALUES

_CSRF_VALUE = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+(")')


@pytest.fixture
def links(app: Flask) -> dict[str, str]:
    """Three invitations to one campaign: two Chinese accounts and an English one
    whose name needs escaping."""
    with app.app_context():
        zh = make_account("KA001", name="华东贸易有限公司", locale="zh")
        zh2 = make_account("KA002", name='南方 "精密" 机械', locale="zh")
        en = make_account("KA003", name="Acme <Trading> & Co", locale="en")
        _, tokens = make_campaign(accounts=[zh, zh2, en], closes_at=CLOSES)
        db.session.commit()
        return {"zh": tokens[zh.id], "zh2": tokens[zh2.id], "en": tokens[en.id]}


def old_page(app: Flask, token: str, *, query: str = "", data: MultiDict | None = None) -> str:
    """The page as it was made before the cache: the invitation and the questions
    read apart, a new form class, the template rendered with it."""
    method = "POST" if data is not None else "GET"
    with app.test_request_context(f"/s/{token}{query}", method=method, data=data):
        ctx = load_invitation(token)
        assert ctx is not None
        g.locale = locale = pages._page_locale(ctx)
        g.csrf_valid = True  # what CSRFProtect marks before the view runs
        form = survey_form_for(questionnaire_questions(ctx.questionnaire_id), locale)
        if data is not None:
            assert not form.validate()
        phone = "channel=phone" in query
        staff_error = pages._phone_interviewer(phone)[1] if data is not None else None
        return pages._render_form(token, ctx, form, locale, phone=phone, staff_error=staff_error)


def same_markup(new: str, old: str) -> None:
    """Equal byte for byte, but for the CSRF token (signed anew for every page)."""
    assert len(_CSRF_VALUE.findall(new)) == 1
    assert _CSRF_VALUE.sub(r"\1CSRF\2", new) == _CSRF_VALUE.sub(r"\1CSRF\2", old)


@pytest.mark.parametrize("query", ["", "?lang=en", "?lang=zh", "?channel=phone"])
def test_cached_page_is_the_rendered_page(app, client, links, query):
    for name in ("zh", "zh2", "en", "zh", "en"):  # the second of each comes from the cache
        response = client.get(f"/s/{links[name]}{query}")
        assert response.status_code == 200
        same_markup(response.get_data(as_text=True), old_page(app, links[name], query=query))
    with app.app_context():
        kept = len(page_cache(app).pages)
    assert kept == (1 if query.startswith("?lang") else 2)


def failed_post(csrf: str) -> MultiDict:
    """Some scores chosen, a complaint with reasons and why, one score missing, a
    comment too long: what a person sees again after a failed POST."""
    data = MultiDict([("csrf_token", csrf)])
    for code in CODES[1:]:
        data.add(f"score_{code}", "4")
    data.setlist(f"score_{CODES[2]}", ["2"])
    data.setlist(f"reasons_{CODES[2]}", ["delivery", "price"])
    data.add(f"why_{CODES[2]}", "晚了 <三次> & 更多\r\n第二行")
    data.add(f"reasons_{CODES[3]}", "not-a-reason")  # ignored: a satisfied answer
    data.add("comment", "长" * 2001)
    return data


@pytest.mark.parametrize("query", ["", "?lang=en", "?channel=phone"])
def test_page_after_a_failed_post_is_the_rendered_page(app, client, links, query):
    for name in ("zh", "en"):
        token = links[name]
        csrf = csrf_token_from(client.get(f"/s/{token}{query}").get_data(as_text=True))
        response = client.post(f"/s/{token}{query}", data=failed_post(csrf))
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert 'value="2" checked' in html or 'checked id="score_' in html
        same_markup(html, old_page(app, token, query=query, data=failed_post(csrf)))


def test_an_edited_question_is_a_new_page(app, client, links):
    code = CODES[0]
    before = client.get(f"/s/{links['en']}").get_data(as_text=True)
    with app.app_context():
        db.session.execute(
            update(Aspect).where(Aspect.code == code).values(question_en="How is it now?")
        )
        db.session.commit()
    after = client.get(f"/s/{links['en']}").get_data(as_text=True)
    assert "How is it now?" not in before
    assert '<span class="question">How is it now?</span></legend>' in after
    same_markup(after, old_page(app, links["en"]))


def test_new_translations_are_a_new_page(app, client, links, tmp_path: Path):
    catalog = tmp_path / "messages.mo"
    catalog.write_bytes(b"one")
    with app.app_context():
        cache = page_cache(app)
        cache.files = (catalog,)
    client.get(f"/s/{links['zh']}")
    client.get(f"/s/{links['zh2']}")
    assert len(cache.pages) == 1
    catalog.write_bytes(b"three")  # compiled again: another size and time
    os.utime(catalog, ns=(1, 1))
    cache.stamps = None  # as a second later
    page = client.get(f"/s/{links['zh']}").get_data(as_text=True)
    assert len(cache.pages) == 2
    same_markup(page, old_page(app, links["zh"]))


def test_the_cache_is_bounded():
    lru = _Lru(3)
    made: list[int] = []
    for key in (1, 2, 3, 1, 4, 5, 1):
        lru.get_or_make(key, lambda key=key: made.append(key) or key)
    assert made == [1, 2, 3, 4, 5]  # 1 was used recently enough to stay
    assert len(lru) == 3
    assert MAX_ENTRIES >= 4


def test_a_link_opened_before_is_not_written_again(app, client, links):
    client.get(f"/s/{links['zh']}")
    with app.app_context():
        opened = db.session.scalar(select(Invitation.opened_at).where(Invitation.id == 1))
        assert opened is not None
    with app.app_context():
        client.get(f"/s/{links['zh']}?lang=en")
        statements = [q.statement for q in get_recorded_queries()]
        assert len(statements) == 1 and statements[0].startswith("SELECT")
    with app.app_context():
        assert db.session.scalar(select(Invitation.opened_at).where(Invitation.id == 1)) == opened


# --- the submission ----------------------------------------------------------------------


def answers_data(csrf: str, *, very_unhappy: bool = False) -> MultiDict:
    data = MultiDict([("csrf_token", csrf), ("comment", "交货问题请尽快解决。\r\n谢谢")])
    for n, code in enumerate(CODES):
        data.add(f"score_{code}", "5" if n % 2 else "4")
    data.setlist(f"score_{CODES[1]}", ["1" if very_unhappy else "2"])
    data.setlist(f"reasons_{CODES[1]}", ["service", "delivery", "service"])
    data.add(f"why_{CODES[1]}", "  近三个月多次延迟交货。 ")
    data.setlist(f"reasons_{CODES[4]}", ["price"])  # a satisfied answer: dropped
    return data


def stored_rows(invitation_id: int) -> dict[str, Any]:
    response = db.session.scalars(
        select(Response).where(Response.invitation_id == invitation_id)
    ).one()
    answers = db.session.execute(
        select(Answer.id, Answer.aspect_id, Answer.score, Answer.reason_text)
        .where(Answer.response_id == response.id)
        .order_by(Answer.id)
    ).all()
    first = answers[0].id
    reasons = db.session.execute(
        select(AnswerReason.answer_id, AnswerReason.reason)
        .join(Answer, Answer.id == AnswerReason.answer_id)
        .where(Answer.response_id == response.id)
        .order_by(AnswerReason.answer_id, AnswerReason.reason)
    ).all()
    follow_ups = db.session.scalars(
        select(FollowUp).where(FollowUp.response_id == response.id)
    ).all()
    invitation = db.session.get(Invitation, invitation_id)
    assert invitation is not None
    return {
        "response": (
            response.channel,
            response.locale,
            response.comment,
            response.entered_by,
            response.campaign_id,
        ),
        # ids relative to the first: in questionnaire order, as before
        "answers": [(a.id - first, a.aspect_id, a.score, a.reason_text) for a in answers],
        "reasons": [(r.answer_id - first, r.reason) for r in reasons],
        "follow_ups": [(f.status, f.owner, f.due_at - f.opened_at) for f in follow_ups],
        "invitation": (invitation.status, invitation.responded_at == response.submitted_at),
    }


@pytest.mark.parametrize("very_unhappy", [False, True], ids=["complaint", "follow-up"])
def test_posted_rows_equal_the_services_and_cost_few_statements(app, client, links, very_unhappy):
    token = links["zh"]
    csrf = csrf_token_from(client.get(f"/s/{token}").get_data(as_text=True))
    with app.app_context():
        response = client.post(f"/s/{token}", data=answers_data(csrf, very_unhappy=very_unhappy))
        assert response.status_code == 303
        statements = [q.statement for q in get_recorded_queries()]
    expected = [
        "SELECT invitations.id, invitations.status",  # the link with its questions
        "INSERT INTO responses ",
        "INSERT INTO answers ",  # one statement, a VALUES row per answer
        "INSERT INTO answer_reasons ",  # one statement, a VALUES row per reason
        "SELECT webhook_endpoints.id",  # who subscribes (survey/events.py), once
        *(["SELECT responses.account_id", "INSERT INTO follow_ups "] if very_unhappy else []),
        "UPDATE invitations SET status=",
        "INSERT INTO data_version ",
    ]
    assert len(statements) == len(expected) == (9 if very_unhappy else 7)
    for statement, start in zip(statements, expected, strict=True):
        assert statement.startswith(start), statement
    answers_insert = statements[2]
    values = answers_insert.split(" VALUES ", 1)[1].split(" RETURNING ")[0]
    assert values.count("), (") + 1 == len(CODES)

    # The same answers through the service (the API's path), to the English invitation.
    form = answers_data(csrf, very_unhappy=very_unhappy)
    with app.test_request_context():
        answers = {
            code: AnswerInput(
                score=int(form[f"score_{code}"]),
                reasons=tuple(form.getlist(f"reasons_{code}")),
                reason_text=form.get(f"why_{code}"),
            )
            for code in CODES
        }
    with app.app_context():
        en_id = load_invitation(links["en"]).invitation_id  # type: ignore[union-attr]
        zh_id = load_invitation(token).invitation_id  # type: ignore[union-attr]
        record(
            en_id,
            answers,
            comment=form["comment"].replace("\r\n", "\n"),
            locale="zh",
            follow_up_days=app.config["FOLLOW_UP_DAYS"],
        )
        db.session.commit()
        web_rows, service_rows = stored_rows(zh_id), stored_rows(en_id)
    assert web_rows == service_rows
    assert web_rows["reasons"] == [(1, "delivery"), (1, "service")]
    assert web_rows["answers"][1][3] == "近三个月多次延迟交货。"
    assert [a[0] for a in web_rows["answers"]] == list(range(len(CODES)))
    assert len(web_rows["follow_ups"]) == (1 if very_unhappy else 0)


# --- reading a POST without a form -------------------------------------------------------

QUESTIONS = tuple(
    AspectQuestion(n + 1, a.code, a.zh, a.en, a.question_zh, a.question_en)
    for n, a in enumerate(DEFAULT_ASPECTS)
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scores=st.fixed_dictionaries(
        {f"score_{code}": st.sampled_from(["1", "2", "3", "4", "5", "6", ""]) for code in CODES}
    ),
    drop=st.lists(st.sampled_from(CODES), max_size=2),
    reasons=st.lists(
        st.tuples(st.sampled_from(CODES), st.sampled_from([*ReasonCode.codes(), "Price"])),
        max_size=6,
    ),
    extra=st.lists(st.tuples(KEYS, VALUES), max_size=12),
)
def test_reading_the_post_agrees_with_the_form(app, scores, drop, reasons, extra):
    pairs = [(k, v) for k, v in scores.items() if k.removeprefix("score_") not in drop]
    pairs += [(f"reasons_{code}", reason) for code, reason in reasons]
    data = MultiDict([*pairs, *extra])
    with app.test_request_context("/s/x", method="POST", data=data):
        g.csrf_valid = True
        form = survey_form_for(QUESTIONS, "en")
        valid = form.validate()
        from flask import request

        read = read_survey_post(QUESTIONS, request.form)
    assert (read is not None) == valid
    if read is not None:
        assert read.answers == form.answers()
        assert read.comment == form.comment.data


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": False}], ids=["csrf-off"])
def test_cached_page_without_csrf(app, client, links):
    html = client.get(f"/s/{links['en']}").get_data(as_text=True)
    assert 'name="csrf_token"' not in html
    assert html == old_page(app, links["en"])


def test_a_kept_page_is_its_parts_and_values_in_utf8():
    from web.survey_page_cache import CachedPage

    page = CachedPage((b"<p>", "，截止 ".encode(), b"</p>"), ("A", "B"))
    assert page.render({"A": "华东 & Co", "B": "2099年6月30日"}) == (
        "<p>华东 & Co，截止 2099年6月30日</p>".encode()
    )
