"""The survey link's request without a session (issue 20): a CSRF token bound to the
link instead of the session cookie, no cookie read or set, and the link's statement
run past the ORM with the same rows."""

from __future__ import annotations

import gc
import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from survey import reader_connections
from survey.answers import survey_link
from survey.answers.survey_link import _OPEN, _OPEN_RAW, _QUESTIONS_RAW, open_survey
from survey.clock import travel_to, utcnow
from survey.db import _processed, db, statement_time_limit
from survey.models import Campaign, Response
from survey.tokens import hash_token
from web.survey_csrf import INVALID, MISSING, link_csrf_problem, link_csrf_token

from .conftest import csrf_token_from
from .factories import make_account, make_campaign
from .test_manage import add_member, sign_in
from .test_survey_pages import CLOSES, CODES, count, open_form, valid_answers


@pytest.fixture
def survey(app) -> dict[str, str]:
    """Two invitations to one open campaign: a Chinese and an English account."""
    with app.app_context():
        zh = make_account("KA001", name="华东贸易有限公司", locale="zh")
        en = make_account("KA002", name="Acme <Trading> & Co", locale="en")
        _, tokens = make_campaign(accounts=[zh, en], closes_at=CLOSES)
        db.session.commit()
        return {"zh": tokens[zh.id], "en": tokens[en.id]}


def post(client, token: str, csrf: str | None, **headers: str):
    data = valid_answers()
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.post(f"/s/{token}", data=data, headers=headers)


def test_the_survey_page_sets_no_cookie_and_a_fresh_browser_can_post(app, survey):
    client = app.test_client()
    response, html = open_form(client, survey["en"])
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    # Another browser (no cookie at all) posting the page's token is stored.
    other = app.test_client()
    stored = post(other, survey["en"], csrf_token_from(html))
    assert stored.status_code == 303
    assert "Set-Cookie" not in stored.headers
    with app.app_context():
        assert count(Response) == 1


@pytest.mark.parametrize("kind", ["other-link", "tampered", "malformed", "empty"])
def test_a_token_not_made_for_this_link_is_the_csrf_400(app, client, survey, kind):
    _, html_zh = open_form(client, survey["zh"])
    good = csrf_token_from(html_zh)
    issued, mac = good.split(".")
    token = {
        "other-link": good,  # made for the Chinese link, posted to the English one
        "tampered": f"{issued}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        "malformed": "not a token",
        "empty": "",
    }[kind]
    response = post(client, survey["en"], token, **{"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Bad request" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Response) == 0
    # The right token for the English link still works.
    _, html_en = open_form(client, survey["en"])
    assert post(client, survey["en"], csrf_token_from(html_en)).status_code == 303


def test_the_token_is_bound_to_the_link_and_the_key(app):
    with app.test_request_context("/s/x"):
        token = link_csrf_token("link-a")
        assert link_csrf_problem("link-a", token) is None
        assert link_csrf_problem("link-b", token) == INVALID
        assert link_csrf_problem("link-a", None) == MISSING
        assert link_csrf_problem("link-a", "zz." + token.split(".")[1]) == INVALID
        app.config["SECRET_KEY"] = "another key"
        assert link_csrf_problem("link-a", token) == INVALID


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_TIME_LIMIT": 3600}], ids=["1h"])
def test_with_a_time_limit_the_token_expires(app, client, survey):
    _, html = open_form(client, survey["zh"])
    csrf = csrf_token_from(html)
    with travel_to(utcnow() + timedelta(hours=2)):
        assert post(client, survey["zh"], csrf).status_code == 400
    with travel_to(utcnow() + timedelta(minutes=30)):
        assert post(client, survey["zh"], csrf).status_code == 303


def test_a_managers_login_cookie_is_neither_read_nor_replaced_on_a_survey_link(app, client, survey):
    sign_in(client, add_member(app, "Zhang", "manager"))
    assert client.get("/manage/campaigns").status_code == 200
    response, html = open_form(client, survey["zh"])
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert post(client, survey["zh"], csrf_token_from(html)).status_code == 303
    assert client.get("/manage/campaigns").status_code == 200  # still signed in


def test_the_raw_statement_gives_the_rows_sqlalchemy_gives(app, survey):
    params = {"token_hash": hash_token(survey["zh"])}
    with app.app_context():
        core = [tuple(row) for row in db.session.execute(_OPEN, params)]
        db.session.rollback()
        raw = _OPEN_RAW.rows(params)
        in_session = _OPEN_RAW.rows(params, db.session.connection())
        db.session.rollback()
        with statement_time_limit(5):  # through SQLAlchemy, so the limit holds
            limited = _OPEN_RAW.rows(params)
        db.session.rollback()
    assert len(core) == 1  # the link's one row; its questions are read apart
    assert raw == core == in_session == limited
    assert [type(v) for v in raw[0]] == [type(v) for v in core[0]]
    assert raw[0][7].tzinfo is not None  # the closing time, aware UTC as the ORM gives
    assert raw[0][9] is False and raw[0][13] is False  # booleans, not 0/1
    assert isinstance(raw[0][14], str)  # the questionnaire version's token


def test_the_questions_raw_statement_gives_what_sqlalchemy_gives(app, survey):
    with app.app_context():
        questionnaire_id = db.session.scalar(select(Campaign.questionnaire_id))
        params = {"questionnaire_id": questionnaire_id}
        core = [tuple(row) for row in db.session.execute(_QUESTIONS_RAW.stmt, params)]
        raw = _QUESTIONS_RAW.rows(params)
        db.session.rollback()
    assert len(core) == 8
    assert raw == core


def test_an_unknown_link_reads_nothing_and_writes_nothing(app, survey):
    with app.app_context():
        assert _OPEN_RAW.rows({"token_hash": hash_token("A" * 43)}) == []
        assert db.session.scalar(select(Response.id)) is None


# --- the link's read on PostgreSQL: reader connections kept between requests ----------


def _postgres_only(app) -> None:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("reader connections exist on PostgreSQL only")


def _readers(app):
    with app.app_context():
        readers = reader_connections.readers_for(db.engine)
    assert readers is not None
    return readers


def _admin(app):
    import psycopg

    with app.app_context():
        url = db.engine.url.set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def _reader_pids(readers) -> list[int]:
    return [connection.info.backend_pid for connection, _ in readers.idle]


def test_the_link_is_read_on_one_kept_connection_that_sees_every_change(app, client, survey):
    _postgres_only(app)
    assert client.get(f"/s/{survey['zh']}").status_code == 200
    readers = _readers(app)
    pids = _reader_pids(readers)
    assert len(pids) == 1
    # The link's current state on every request: a response stored in between shows.
    assert (
        post(client, survey["zh"], csrf_token_from(open_form(client, survey["zh"])[1])).status_code
        == 303
    )
    again = client.get(f"/s/{survey['zh']}")
    assert again.status_code == 200
    assert 'name="csrf_token"' not in again.get_data(as_text=True)  # the already-answered page
    assert _reader_pids(readers) == pids  # the same connection, no transaction left open
    with app.app_context():
        db.engine.dispose()  # closes the reader connections with the engine
    assert readers.idle == [] and readers.closed


def test_a_dropped_reader_connection_costs_no_error(app, client, survey):
    """The server drops every connection (a restart): the next page still opens, on a
    new connection, and the idle ones dropped with it are not tried one by one."""
    _postgres_only(app)
    tokens = [survey["zh"], survey["en"]]
    # Two idle reader connections: two requests at once (threads) leave both behind.
    readers = _readers(app)
    first, second = readers.take(), readers.take()
    readers.give_back(first)
    readers.give_back(second)
    old = set(_reader_pids(readers))
    assert len(old) == 2
    with _admin(app) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    for token in tokens:
        response = client.get(f"/s/{token}")
        assert response.status_code == 200
        assert 'name="csrf_token"' in response.get_data(as_text=True)
    assert len(readers.idle) == 1 and not set(_reader_pids(readers)) & old


def test_a_server_refusing_connections_gives_a_503_once_then_the_page(app, client, survey):
    _postgres_only(app)
    token = survey["zh"]
    assert client.get(f"/s/{token}").status_code == 200
    with app.app_context():
        name = db.engine.url.database
    server = _admin(app)
    with app.app_context():
        other = db.engine.url.set(drivername="postgresql", database="postgres")
    import psycopg

    with psycopg.connect(other.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            down = client.get(f"/s/{token}?lang=en")
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    server.close()
    assert down.status_code == 503
    assert "Temporarily unavailable" in down.get_data(as_text=True)
    back = client.get(f"/s/{token}")
    assert back.status_code == 200 and 'name="csrf_token"' in back.get_data(as_text=True)


def test_threads_share_the_reader_connections_one_read_at_a_time(app, survey):
    _postgres_only(app)
    tokens = [survey["zh"], survey["en"]] * 20
    params = [{"token_hash": hash_token(token)} for token in tokens]
    with app.app_context():
        expected = [_OPEN_RAW.rows(p) for p in params]

    def read(p: dict[str, str]) -> list[tuple[object, ...]]:
        with app.app_context():
            return _OPEN_RAW.rows(p)

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(read, params))
    assert got == expected
    readers = _readers(app)
    assert 1 <= len(readers.idle) <= reader_connections.READER_IDLE
    assert len({id(c) for c, _ in readers.idle}) == len(readers.idle)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_never_touches_its_parents_reader_connection(app, survey):
    """gunicorn forks its workers: the child opens its own connection, and forgetting
    the inherited one leaves the parent's session working."""
    _postgres_only(app)
    params = {"token_hash": hash_token(survey["zh"])}
    with app.app_context():
        expected = _OPEN_RAW.rows(params)
    readers = _readers(app)
    (pid_before,) = _reader_pids(readers)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            with app.app_context():
                same = _OPEN_RAW.rows(params) == expected
            own = _reader_pids(readers)
            code = 0 if same and own and pid_before not in own else 2
            readers.drop_idle()
            gc.collect()
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with app.app_context():
        assert _OPEN_RAW.rows(params) == expected
    assert _reader_pids(readers) == [pid_before]  # still the parent's own, alive


def test_a_run_of_equal_values_is_processed_once_and_nothing_else_is_shared():
    calls: list[object] = []

    def process(value: object) -> str:
        calls.append(value)
        return f"done {value!r}"

    moment = datetime(2027, 1, 5, 19, 0)
    in_shanghai = datetime(2027, 1, 6, 3, 0, tzinfo=timezone(timedelta(hours=8)))
    in_utc = datetime(2027, 1, 5, 19, 0, tzinfo=UTC)
    rows = [
        (1, moment, 0.0),
        (2, datetime(2027, 1, 5, 19, 0), -0.0),  # equal, not the same object
        (3, None, 1.0),
        (4, None, True),
        (5, in_shanghai, 1),
        (6, in_utc, [1]),  # the same instant in another zone: another value
        (7, in_utc, [1]),
    ]
    out = _processed(rows, ((1, process), (2, process)))
    assert [row[0] for row in out] == [1, 2, 3, 4, 5, 6, 7]
    assert [row[1] for row in out] == [
        f"done {moment!r}",
        f"done {moment!r}",
        "done None",
        "done None",
        f"done {in_shanghai!r}",
        f"done {in_utc!r}",
        f"done {in_utc!r}",
    ]
    assert out[0][1] is out[1][1] and out[5][1] is out[6][1]
    assert [row[2] for row in out] == [
        "done 0.0",
        "done -0.0",
        "done 1.0",
        "done True",
        "done 1",
        "done [1]",
        "done [1]",
    ]
    assert calls == [moment, 0.0, -0.0, None, 1.0, True, in_shanghai, 1, in_utc, [1], [1]]


def test_a_mutable_result_is_made_for_each_row():
    """JSON kept as text (SQLite): equal texts, a new dict for each row."""
    rows = [(1, '{"a": 1}'), (2, '{"a": 1}')]
    out = _processed(rows, ((1, json.loads),))
    assert out == [(1, {"a": 1}), (2, {"a": 1})]
    assert out[0][1] is not out[1][1]


def test_the_questions_are_made_once_for_the_same_values(app, survey):
    with app.app_context():
        zh = open_survey(survey["zh"])
        en = open_survey(survey["en"])
    assert zh is not None and en is not None
    assert len(zh.questions) == 8 and zh.questions is en.questions
    assert [q.code for q in zh.questions] == CODES
    values = tuple(
        (q.id, q.code, q.label_zh, q.label_en, q.question_zh, q.question_en) for q in zh.questions
    )
    changed = ((*values[0][:2], "新的名称", *values[0][3:]), *values[1:])
    renamed = survey_link._questions(changed)
    assert renamed is not zh.questions and renamed[0].label_zh == "新的名称"
    assert renamed[1:] == zh.questions[1:]
    assert survey_link._questions(values) is zh.questions
