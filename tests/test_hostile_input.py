"""Hostile input on the pages the internet reaches: arbitrary and malformed survey
posts, oversized bodies, token guessing (rate limited, failed look-ups only), and
stored HTML/JS or spreadsheet formulas coming back out of pages and CSV exports."""

from __future__ import annotations

import csv
import io
import secrets
import socket
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from werkzeug.datastructures import MultiDict

from survey.answers.responses import (
    MAX_COMMENT_LENGTH,
    MAX_REASON_TEXT_LENGTH,
)
from survey.db import db
from survey.models import INVITATION_SENT, Answer, AnswerReason, Invitation, Response
from survey.registry.staff import add_staff
from survey.scale import DEFAULT_ASPECTS, DISSATISFIED_MAX, ReasonCode
from survey.text import has_control_characters
from survey.tokens import TOKEN_LENGTH

from .conftest import csrf_token_from
from .factories import make_account, make_campaign, make_response

CODES = [a.code for a in DEFAULT_ASPECTS]
REASONS = ReasonCode.codes()
SCORES = ("1", "2", "3", "4", "5")


def stored(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(  # type: ignore[return-value]
            db.session.scalar(select(func.count()).select_from(m))
            for m in (Response, Answer, AnswerReason)
        )


@pytest.fixture
def link(app) -> str:
    with app.app_context():
        account = make_account("KA1", name="华东贸易", locale="en")
        _, tokens = make_campaign(accounts=[account])
        db.session.commit()
        return tokens[account.id]


def forget_answers(app) -> None:
    """Back to an unanswered invitation, so the next example can answer again."""
    with app.app_context():
        db.session.execute(delete(Response))
        db.session.execute(update(Invitation).values(status=INVITATION_SENT, responded_at=None))
        db.session.commit()


# --- arbitrary form posts ----------------------------------------------------------------

KNOWN = [f"{kind}_{code}" for code in CODES for kind in ("score", "reasons", "why")]
hostile_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["<script>alert(1)</script>", "=1+1", "'; DROP TABLE x;--", "\x00", "\r\n"]),
    # Right at, and just over, the limits (500 for a reason, 2,000 for a comment).
    st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(["a", "界", " ", "\n"]),
        st.sampled_from([499, 500, 501, 1999, 2000, 2001, 5000]),
    ),
)
value = st.one_of(st.sampled_from(SCORES), st.sampled_from(REASONS), hostile_text)
name = st.one_of(
    st.sampled_from([*KNOWN, "comment", "csrf_token"]),
    st.text(max_size=12),  # unknown fields
)


@st.composite
def submissions(draw: st.DrawFn) -> tuple[list[tuple[str, str]], str]:
    """Form pairs: usually a valid base with hostile changes; and how CSRF is sent."""
    pairs: list[tuple[str, str]] = []
    for code in CODES:
        if draw(st.integers(0, 9)):  # mostly answered
            pairs.append((f"score_{code}", draw(st.sampled_from(SCORES))))
    pairs += draw(st.lists(st.tuples(name, value), max_size=6))
    csrf = draw(st.sampled_from(["valid", "valid", "valid", "missing", "forged"]))
    return pairs, csrf


def first(pairs: list[tuple[str, str]], key: str) -> str | None:
    return next((v for k, v in pairs if k == key), None)


def text_ok(raw: str | None, limit: int) -> bool:
    text = (raw or "").replace("\r\n", "\n").strip()
    return len(text) <= limit and not has_control_characters(text)


def acceptable(pairs: list[tuple[str, str]], csrf: str) -> bool:
    """What the page must accept: the oracle, written from the rules, not the code."""
    if csrf != "valid":
        return False
    for code in CODES:
        score = first(pairs, f"score_{code}")
        if score not in SCORES:
            return False
        if int(score) <= DISSATISFIED_MAX:
            reasons = [v for k, v in pairs if k == f"reasons_{code}"]
            if any(r not in REASONS for r in reasons):
                return False
            if not text_ok(first(pairs, f"why_{code}"), MAX_REASON_TEXT_LENGTH):
                return False
    return text_ok(first(pairs, "comment"), MAX_COMMENT_LENGTH)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(submission=submissions())
def test_arbitrary_posts_never_fail_and_never_store_invalid_input(app, link, submission):
    pairs, csrf = submission
    client = app.test_client()
    html = client.get(f"/s/{link}").get_data(as_text=True)
    token = {"valid": csrf_token_from(html), "forged": "x" * 40, "missing": None}[csrf]
    form = [(k, v) for k, v in pairs if k != "csrf_token"]
    if token is not None:
        form.insert(0, ("csrf_token", token))
    resp = client.post(f"/s/{link}?lang=en", data=MultiDict(form))
    try:
        assert resp.status_code < 500
        if acceptable(pairs, csrf):
            assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
            assert stored(app)[:2] == (1, len(CODES))
        else:
            assert resp.status_code in (400, 422), resp.status_code
            assert stored(app) == (0, 0, 0)
    finally:
        forget_answers(app)


def test_non_utf8_and_garbage_bodies_are_refused_without_storing(app, client, link):
    html = client.get(f"/s/{link}").get_data(as_text=True)
    csrf = csrf_token_from(html).encode()
    bodies = [
        b"csrf_token=" + csrf + b"&score_delivery=%FF%FE&comment=%C3%28",
        b"csrf_token=" + csrf + b"&" + b"&".join(f"score_{c}=\xff".encode() for c in CODES),
        b"\x00\x01\x02\xff" * 100,
        b"csrf_token=" + csrf + b"&score_" + b"%" * 1000,
    ]
    for body in bodies:
        for content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            resp = client.post(f"/s/{link}", data=body, content_type=content_type)
            assert 400 <= resp.status_code < 500, (body[:40], content_type, resp.status_code)
    assert stored(app) == (0, 0, 0)


def test_a_body_over_max_content_length_is_a_413_page(app, client, link):
    html = client.get(f"/s/{link}").get_data(as_text=True)
    data = {f"score_{c}": "3" for c in CODES}
    data["csrf_token"] = csrf_token_from(html)
    data["comment"] = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = client.post(f"/s/{link}?lang=en", data=data)
    assert resp.status_code == 413
    assert "Too much data" in resp.get_data(as_text=True)
    assert stored(app) == (0, 0, 0)


# --- token guessing ------------------------------------------------------------------------


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_FAILED_LOOKUPS": "5 per minute"}


def guess(client, n: int, ip: str = "198.51.100.7") -> Any:
    token = f"{n:0{TOKEN_LENGTH}d}"
    return client.get(f"/s/{token}?lang=en", environ_base={"REMOTE_ADDR": ip})


def test_unknown_links_look_alike_until_the_limit_then_429(app, client, link):
    pages = [guess(client, n) for n in range(5)]
    assert {p.status_code for p in pages} == {404}
    assert len({p.get_data() for p in pages}) == 1  # one unknown link is like any other
    malformed = client.get("/s/nope?lang=en", environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert malformed.get_data() == pages[0].get_data()
    limited = guess(client, 99)
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    # Another office is not affected.
    assert guess(client, 100, ip="203.0.113.9").status_code == 404


def test_valid_links_are_never_locked_out_and_do_not_count(app, client, link):
    office = {"REMOTE_ADDR": "198.51.100.7"}
    # Many colleagues at one office open their own links: none of it counts.
    for _ in range(30):
        assert client.get(f"/s/{link}", environ_base=office).status_code == 200
    for n in range(5):
        assert guess(client, n).status_code == 404
    assert guess(client, 5).status_code == 429
    # Even now the office's valid link opens and takes the answers.
    page = client.get(f"/s/{link}", environ_base=office)
    assert page.status_code == 200
    data = {f"score_{c}": "4" for c in CODES}
    data["csrf_token"] = csrf_token_from(page.get_data(as_text=True))
    sent = client.post(f"/s/{link}", data=data, environ_base=office)
    assert sent.status_code == 303
    thanks = client.get(sent.headers["Location"], environ_base=office)
    assert thanks.status_code == 200


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_failed_lookups_are_counted_in_redis_when_configured(database_url):
    pytest.importorskip("redis", reason="the redis client is not installed")
    if not _redis_answers():
        pytest.skip("no Redis at 127.0.0.1:6379")
    import redis

    from .conftest import make_test_app

    # A client address of its own keeps this test's counts apart from any other run.
    ip = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    app = make_test_app(
        database_url,
        RATELIMIT_ENABLED=True,
        RATELIMIT_FAILED_LOOKUPS="3 per minute",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15",
    )
    server = redis.Redis(host="127.0.0.1", port=6379, db=15)
    with app.app_context():
        db.create_all()
    try:
        client = app.test_client()
        assert [guess(client, n, ip=ip).status_code for n in range(3)] == [404] * 3
        # The count lives in Redis, where every server process sees it.
        assert server.keys(f"*{ip}*")
        assert guess(client, 3, ip=ip).status_code == 429
    finally:
        for key in server.keys(f"*{ip}*"):
            server.delete(key)
        server.close()
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


# --- stored HTML/JS and formulas -----------------------------------------------------------

SCRIPT = '<script>alert("kp")</script>'
FORMULA = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
def hostile_data(app) -> dict[str, Any]:
    with app.app_context():
        account = make_account(
            "KA1",
            name=f"{SCRIPT} Trading",
            contact_name="@SUM(1+1)",
            contact_email="a@example.com",
            locale="en",
        )
        other = make_account("KA2", name=FORMULA, locale="en")
        campaign, tokens = make_campaign(accounts=[account, other])
        make_response(
            campaign,
            account,
            {code: 1 for code in CODES},
            reasons={CODES[0]: ["delivery"]},
            reason_texts={CODES[0]: f"-2+3 {SCRIPT}"},
            comment=f"{FORMULA} {SCRIPT}",
        )
        add_staff("Boss", "manager", "boss@example.com", password="long enough password")
        db.session.commit()
        return {"campaign": campaign.id, "answered": tokens[account.id], "open": tokens[other.id]}


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html
    assert SCRIPT.replace("<", "&lt;").replace(">", "&gt;")[:14] in html or "alert" not in html


def test_stored_html_is_escaped_on_survey_pages(client, hostile_data):
    for path in (
        f"/s/{hostile_data['answered']}",
        f"/s/{hostile_data['answered']}/thanks",
        f"/s/{hostile_data['open']}",
    ):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert_escaped(resp.get_data(as_text=True))


def sign_in(client) -> None:
    page = client.get("/manage/login")
    resp = client.post(
        "/manage/login",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "email": "boss@example.com",
            "password": "long enough password",
        },
    )
    assert resp.status_code == 303


def test_stored_html_is_escaped_in_the_console(client, hostile_data):
    sign_in(client)
    campaign = hostile_data["campaign"]
    for path in ("/manage/campaigns", f"/manage/campaigns/{campaign}", "/manage/results"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert_escaped(resp.get_data(as_text=True))


def cells(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]


def test_csv_exports_neutralise_formulas(client, runner, hostile_data):
    sign_in(client)
    campaign = hostile_data["campaign"]
    exported = [
        client.get(f"/manage/campaigns/{campaign}/responses.csv").data,
        client.get(f"/manage/campaigns/{campaign}/links.csv").data,
        runner.invoke(args=["campaign", "links", str(campaign)]).output.encode(),
    ]
    for data in exported:
        found = cells(data)
        assert found, data[:200]
        for cell in found:
            assert cell[:1] not in ("=", "+", "-", "@"), cell
    responses = cells(exported[0])
    assert f"'{FORMULA} {SCRIPT}" in responses  # kept, as text
    assert f"'{FORMULA}" in cells(exported[1])
    assert "'@SUM(1+1)" in cells(exported[2])
