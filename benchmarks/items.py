"""The measured items, each against its floor.

A ("measured") goes through the whole app in-process: the Flask test client
calls the WSGI app, so routing, sessions, CSRF, templates, authentication,
GraphQL parsing, validation and execution, the ORM and JSON all count.
B ("floor") is the least the stack can do for the same answer: a bare route in
the same app, or the raw SQL statements the resolver needs, run on a DBAPI
cursor. Each item first checks that A and B agree, so a floor cannot drift
away from what it stands for.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from survey.db import db
from survey.scale import DEFAULT_ASPECTS

from .responses_floor import FloorRows, plain_json_floor, strawberry_floor
from .timer import Samples, interleaved, interleaved_many

FLOOR_PATH = "/__bench_floor"
PAGE_SIZE = 200
FLOOR_BODY = "ok"


@dataclass
class ItemResult:
    """One line of the results table."""

    name: str
    unit: str
    measured: float
    floor: float | None
    ratio: float | None
    target: str
    met: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "measured": round(self.measured, 6),
            "floor": None if self.floor is None else round(self.floor, 6),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "target": self.target,
            "met": self.met,
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass(frozen=True, slots=True)
class Settings:
    """How many samples each item takes (the tiny run in the tests takes few)."""

    rounds: int = 15
    batch: int = 40  # requests per sample for the survey-page items
    launches: int = 3
    page_size: int = PAGE_SIZE  # responses(first: ...)


def install_floor_route(app: Flask) -> None:
    """The bare route: same app, same middleware and hooks, a static string."""
    app.add_url_rule(FLOOR_PATH, "bench_floor", lambda: FLOOR_BODY)


def _floor_request(client: FlaskClient) -> Callable[[], None]:
    def call() -> None:
        resp = client.get(FLOOR_PATH)
        if resp.status_code != 200:
            raise RuntimeError(f"floor route answered {resp.status_code}")

    return call


# ---------------------------------------------------------------------------
# Raw SQL on a DBAPI cursor


def raw_query(app: Flask, sql: str) -> list[tuple[Any, ...]]:
    """Run one statement on a pooled DBAPI connection and fetch every row."""
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            rows = [tuple(r) for r in cursor.fetchall()]
            cursor.close()
            connection.rollback()
        finally:
            connection.close()
    return rows


def raw_queries(app: Flask, statements: Sequence[str | Callable[[list[Any]], str]]) -> list[Any]:
    """Several statements on one connection; a callable builds its SQL from the
    rows of the statement before it (ids of a page, say)."""
    results: list[Any] = []
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            previous: list[Any] = []
            for statement in statements:
                sql = statement(previous) if callable(statement) else statement
                cursor.execute(sql)
                previous = [tuple(r) for r in cursor.fetchall()]
                results.append(previous)
            cursor.close()
            connection.rollback()
        finally:
            connection.close()
    return results


class StatementCounter:
    """Counts the SQL statements the app's engine issues while active."""

    def __init__(self, app: Flask) -> None:
        with app.app_context():
            self.engine = db.engine
        self.count = 0

    def _on_execute(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


# ---------------------------------------------------------------------------
# GraphQL


def graphql(client: FlaskClient, token: str, query: str) -> dict[str, Any]:
    resp = client.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh"},
    )
    body = resp.get_json()
    if resp.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL failed ({resp.status_code}): {resp.get_data(as_text=True)}")
    return body["data"]  # type: ignore[no-any-return]


def _latency_item(
    name: str,
    target: float,
    a: Callable[[], object],
    b: Callable[[], object],
    settings: Settings,
    detail: dict[str, Any] | None = None,
) -> ItemResult:
    paired = interleaved(a, b, rounds=settings.rounds)
    ratio = paired.a_median / paired.b_median
    return ItemResult(
        name=name,
        unit="s",
        measured=paired.a_median,
        floor=paired.b_median,
        ratio=ratio,
        target=f"<= {target}",
        met=ratio <= target,
        detail=detail or {},
    )


_SCORE_FIELDS = "verySatisfied satisfied noOpinion somewhatDissatisfied veryDissatisfied"
SUMMARY_QUERY = (
    "{ satisfactionSummary(groupBy: ASPECT) { key label answers mean satisfiedShare "
    f"dissatisfiedShare distribution {{ {_SCORE_FIELDS} }} }} }}"
)
SUMMARY_SQL = """
SELECT aspects.code, count(*), sum(answers.score),
       sum(CASE WHEN answers.score = 1 THEN 1 ELSE 0 END),
       sum(CASE WHEN answers.score = 2 THEN 1 ELSE 0 END),
       sum(CASE WHEN answers.score = 3 THEN 1 ELSE 0 END),
       sum(CASE WHEN answers.score = 4 THEN 1 ELSE 0 END),
       sum(CASE WHEN answers.score = 5 THEN 1 ELSE 0 END)
FROM answers JOIN aspects ON aspects.id = answers.aspect_id
GROUP BY aspects.code
"""


def summary_check(app: Flask, client: FlaskClient, token: str) -> None:
    """The API's counts per aspect equal the raw GROUP BY's."""
    api = {
        g["key"]: g["answers"] for g in graphql(client, token, SUMMARY_QUERY)["satisfactionSummary"]
    }
    raw = {row[0]: int(row[1]) for row in raw_query(app, SUMMARY_SQL)}
    if api != raw:
        raise RuntimeError(f"summary disagrees with its floor: {api} != {raw}")


def summary_latency(
    app: Flask, client: FlaskClient, token: str, rounds: int
) -> tuple[float, float]:
    """Median latency of the summary over HTTP+GraphQL and of its raw GROUP BY."""
    paired = interleaved(
        lambda: graphql(client, token, SUMMARY_QUERY),
        lambda: raw_query(app, SUMMARY_SQL),
        rounds=rounds,
    )
    return paired.a_median, paired.b_median


def summary_item(app: Flask, client: FlaskClient, token: str, settings: Settings) -> ItemResult:
    summary_check(app, client, token)
    a, b = interleaved_many(
        [lambda: graphql(client, token, SUMMARY_QUERY), lambda: raw_query(app, SUMMARY_SQL)],
        rounds=settings.rounds,
    )
    ratio = a.median / b.median
    return ItemResult(
        name="satisfactionSummary(groupBy: ASPECT)",
        unit="s",
        measured=a.median,
        floor=b.median,
        ratio=ratio,
        target="<= 1.3",
        met=ratio <= 1.3,
        detail={
            "cpu": round(a.cpu_median, 6),
            "cpu_floor": round(b.cpu_median, 6),
            "cpu_ratio": round(a.cpu_median / b.cpu_median, 3),
        },
    )


#: What a cached summary request may cost (the analysis cache: survey/analysis/cache.py).
CACHED_SUMMARY_TARGET = 0.005
_ANALYTIC_TABLES = re.compile(r"\b(answers|responses|aspects|key_accounts|answer_reasons)\b")


def cached_summary_item(
    app: Flask, client: FlaskClient, token: str, settings: Settings
) -> ItemResult:
    """The summary again with nothing changed, through an app whose analysis cache is
    on: the whole request (auth, GraphQL, JSON) around a cache hit, against the bare
    route. The first request computes and stores the figure (timed once, as a miss);
    each later one reads the data version (one primary-key look-up) and the entry."""
    summary_check(app, client, token)  # computes and caches; checks it against raw SQL
    start = time.perf_counter()
    graphql(client, token, SUMMARY_QUERY)
    hit = time.perf_counter() - start
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        graphql(client, token, SUMMARY_QUERY)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    analytic = [s for s in statements if _ANALYTIC_TABLES.search(s)]
    if analytic:
        raise RuntimeError(f"a cached summary ran the analytics again: {analytic}")
    paired = interleaved(
        lambda: graphql(client, token, SUMMARY_QUERY),
        _floor_request(client),
        rounds=settings.rounds,
        repeat_a=max(1, settings.batch // 4),
        repeat_b=max(1, settings.batch // 4),
    )
    return ItemResult(
        name="satisfactionSummary(groupBy: ASPECT), cached",
        unit="s",
        measured=paired.a_median,
        floor=paired.b_median,
        ratio=paired.a_median / paired.b_median,
        target=f"< {CACHED_SUMMARY_TARGET * 1000:.0f} ms",
        met=paired.a_median < CACHED_SUMMARY_TARGET,
        detail={"statements": len(statements), "second_request": round(hit, 6)},
    )


_NODE_FIELDS = (
    "key label answers dissatisfied dissatisfiedShare topReasons { reason count share } comments"
)
DRILLDOWN_QUERY = (
    f"{{ dissatisfactionDrilldown(by: [ASPECT, TIER]) {{ {_NODE_FIELDS} "
    f"children {{ {_NODE_FIELDS} }} }} }}"
)
_DISSATISFIED = "answers.score <= 2"
_DRILL_FROM = """
FROM answers
JOIN aspects ON aspects.id = answers.aspect_id
JOIN responses ON responses.id = answers.response_id
JOIN key_accounts ON key_accounts.id = responses.account_id
"""
#: How many texts a node keeps (survey.analysis.drilldown.MAX_NODE_COMMENTS).
DRILLDOWN_TEXTS = 20
DRILLDOWN_SQL = (
    # Every (aspect, tier) cell: the parents are sums of their children.
    f"""SELECT aspects.code, key_accounts.tier, count(*),
       sum(CASE WHEN {_DISSATISFIED} THEN 1 ELSE 0 END)
{_DRILL_FROM} GROUP BY aspects.code, key_accounts.tier""",
    # Reasons of the dissatisfied answers per cell (an answer sits in one cell).
    f"""SELECT aspects.code, key_accounts.tier, answer_reasons.reason, count(*)
{_DRILL_FROM} JOIN answer_reasons ON answer_reasons.answer_id = answers.id
WHERE {_DISSATISFIED}
GROUP BY aspects.code, key_accounts.tier, answer_reasons.reason""",
)
#: The dissatisfied answers with a reason text or a comment, newest first: read
#: until every cell holds its newest texts (a parent's are among its cells').
DRILLDOWN_TEXTS_SQL = f"""
SELECT aspects.code, key_accounts.tier, responses.submitted_at, answers.id,
       answers.reason_text, responses.id, responses.comment
{_DRILL_FROM} WHERE {_DISSATISFIED}
  AND (answers.reason_text <> '' OR responses.comment <> '')
ORDER BY responses.submitted_at DESC"""


def drilldown_floor(app: Flask) -> list[Any]:
    """The raw SQL the drill-down needs on one DBAPI connection: the cells, their
    reasons, then the newest texts, read in batches (a server-side cursor on
    PostgreSQL) until every cell with a dissatisfied answer holds DRILLDOWN_TEXTS
    of them, the texts of the last instant read whole. Returns [cells, reasons, texts]."""
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            results: list[Any] = []
            for sql in DRILLDOWN_SQL:
                cursor.execute(sql)
                results.append([tuple(r) for r in cursor.fetchall()])
            cursor.close()
            open_cells = {(r[0], r[1]) for r in results[0] if int(r[3]) > 0}
            found: dict[tuple[str, str], int] = dict.fromkeys(open_cells, 0)
            texts: list[tuple[Any, ...]] = []
            seen: set[tuple[str, str, int]] = set()
            postgres = db.engine.dialect.name == "postgresql"
            dbapi = connection.dbapi_connection
            assert dbapi is not None
            texts_cursor = dbapi.cursor(name="drilldown_texts") if postgres else dbapi.cursor()
            texts_cursor.execute(DRILLDOWN_TEXTS_SQL)
            instant = None
            done = False
            while not done:
                rows = texts_cursor.fetchmany(1000)
                if not rows:
                    break
                for code, tier, at, answer_id, reason_text, response_id, comment in rows:
                    if at != instant:
                        if not open_cells:
                            done = True
                            break
                        instant = at
                    cell = (code, tier)
                    if reason_text:
                        texts.append((code, tier, at, 0, answer_id, reason_text))
                        found[cell] += 1
                    if comment and (code, tier, response_id) not in seen:
                        seen.add((code, tier, response_id))
                        texts.append((code, tier, at, 1, response_id, comment))
                        found[cell] += 1
                    if found[cell] >= DRILLDOWN_TEXTS:
                        open_cells.discard(cell)
            texts_cursor.close()
            results.append(texts)
            connection.rollback()
        finally:
            connection.close()
    return results


def drilldown_check(app: Flask, client: FlaskClient, token: str) -> None:
    """Node counts of the API equal those summed from the raw cells, and each
    node's newest texts are among those the raw SQL read."""
    nodes = graphql(client, token, DRILLDOWN_QUERY)["dissatisfactionDrilldown"]
    api = {
        (n["key"], c["key"]): (c["answers"], c["dissatisfied"])
        for n in nodes
        for c in n["children"]
    }
    cells, _reasons, texts = drilldown_floor(app)
    raw = {(code, tier): (int(n), int(d)) for code, tier, n, d in cells if int(d) > 0}
    if api != raw:
        raise RuntimeError(f"drill-down disagrees with its floor: {api} != {raw}")
    read = {(code, tier, text) for code, tier, _at, _kind, _id, text in texts}
    for n in nodes:
        for c in n["children"]:
            if any((n["key"], c["key"], text) not in read for text in c["comments"]):
                cell = f"{n['key']}/{c['key']}"
                raise RuntimeError(f"drill-down texts of {cell} not read by its floor")


#: The drill-down against the summary's raw GROUP BY on the same data (issue 20).
DRILLDOWN_SUMMARY_TARGET = 4.0


def drilldown_items(
    app: Flask, client: FlaskClient, token: str, settings: Settings
) -> list[ItemResult]:
    """A against its own raw SQL and against the summary's raw GROUP BY, from the same
    interleaved rounds (ABC, CBA, ...)."""
    drilldown_check(app, client, token)
    summary_check(app, client, token)
    a, floor, summary = interleaved_many(
        [
            lambda: graphql(client, token, DRILLDOWN_QUERY),
            lambda: drilldown_floor(app),
            lambda: raw_query(app, SUMMARY_SQL),
        ],
        rounds=settings.rounds,
    )
    name = "dissatisfactionDrilldown(by: [ASPECT, TIER])"

    def cpu(b: Samples) -> dict[str, float]:
        return {
            "cpu": round(a.cpu_median, 6),
            "cpu_floor": round(b.cpu_median, 6),
            "cpu_ratio": round(a.cpu_median / b.cpu_median, 3) if b.cpu_median else 0.0,
        }

    return [
        ItemResult(
            name=name,
            unit="s",
            measured=a.median,
            floor=floor.median,
            ratio=a.median / floor.median,
            target="<= 1.5",
            met=a.median / floor.median <= 1.5,
            detail={**cpu(floor), "floor": "its raw SQL (cells, reasons, newest texts)"},
        ),
        ItemResult(
            name=f"{name} vs the summary's raw GROUP BY",
            unit="s",
            measured=a.median,
            floor=summary.median,
            ratio=a.median / summary.median,
            target=f"<= {DRILLDOWN_SUMMARY_TARGET:g}",
            met=a.median / summary.median <= DRILLDOWN_SUMMARY_TARGET,
            detail={**cpu(summary), "floor": "the summary's raw GROUP BY (SUMMARY_SQL)"},
        ),
    ]


def responses_query(size: int) -> str:
    return (
        f"{{ responses(first: {size}) {{ edges {{ cursor node {{ id submittedAt channel "
        "locale comment account { id name tier region accountManager } campaign { id name } "
        "answers { aspect score reasons reasonText } } } pageInfo { hasNextPage endCursor } } }"
    )


def responses_sql(size: int) -> tuple[str | Callable[[list[Any]], str], ...]:
    """The page with its account and campaign, then its answers with their reasons."""

    def answers(page: list[Any]) -> str:
        ids = ", ".join(str(int(r[0])) for r in page[:size]) or "0"
        return f"""SELECT answers.response_id, answers.id, aspects.code, answers.score,
       answers.reason_text, answer_reasons.reason
FROM answers JOIN aspects ON aspects.id = answers.aspect_id
LEFT JOIN answer_reasons ON answer_reasons.answer_id = answers.id
WHERE answers.response_id IN ({ids})
ORDER BY answers.response_id, aspects.position, answer_reasons.reason"""

    return (
        f"""SELECT responses.id, responses.submitted_at, responses.channel, responses.locale,
       responses.comment, key_accounts.id, key_accounts.name, key_accounts.tier,
       key_accounts.region, key_accounts.account_manager, campaigns.id, campaigns.name
FROM responses
JOIN key_accounts ON key_accounts.id = responses.account_id
JOIN campaigns ON campaigns.id = responses.campaign_id
ORDER BY responses.id LIMIT {size + 1}""",
        answers,
    )


def responses_rows(app: Flask, size: int) -> FloorRows:
    """The raw SQL of the page and its answers, as the floors build from them."""
    page, answers = raw_queries(app, responses_sql(size))
    return FloorRows(size=size, page=page, answers=answers)


def responses_check(
    app: Flask,
    client: FlaskClient,
    token: str,
    size: int,
    floors: Sequence[Callable[[], dict[str, Any]]] = (),
) -> int:
    """Same responses and answers as the raw SQL, and each floor answers exactly the
    endpoint's JSON; returns the statements one request issues."""
    with StatementCounter(app) as counter:
        data = graphql(client, token, responses_query(size))
    api = sorted(
        (int(e["node"]["id"]), a["aspect"], a["score"])
        for e in data["responses"]["edges"]
        for a in e["node"]["answers"]
    )
    _page, answers = raw_queries(app, responses_sql(size))
    raw = sorted({(int(r[0]), r[2], int(r[3])) for r in answers})
    if api != raw:
        raise RuntimeError("responses disagree with their floor")
    for floor in floors:
        if floor()["data"] != data:
            raise RuntimeError("a floor of responses answers other JSON than the endpoint")
    return counter.count


#: A/B target against raw SQL + strawberry over plain dataclasses (issue 20).
RESPONSES_TARGET = 1.5


def responses_item(app: Flask, client: FlaskClient, token: str, settings: Settings) -> ItemResult:
    """The page through the app (A) against its floor (B): the raw SQL plus strawberry
    executing the same query over plain dataclasses (benchmarks.responses_floor). The
    raw SQL alone and the raw SQL plus plain-Python JSON are timed beside them."""
    size = settings.page_size
    query, sql = responses_query(size), responses_sql(size)
    fetch = lambda: responses_rows(app, size)  # noqa: E731
    graphql_floor = strawberry_floor(fetch, query)
    json_floor = plain_json_floor(fetch)
    statements = responses_check(app, client, token, size, (graphql_floor, json_floor))
    sa, sb, sc, sd = interleaved_many(
        [
            lambda: graphql(client, token, query),
            graphql_floor,
            json_floor,
            lambda: raw_queries(app, sql),
        ],
        rounds=settings.rounds,
    )
    a, b, c, d = sa.median, sb.median, sc.median, sd.median
    ratio = a / b
    return ItemResult(
        name=f"responses(first: {size}) with account, campaign, answers",
        unit="s",
        measured=a,
        floor=b,
        ratio=ratio,
        target=f"<= {RESPONSES_TARGET}, statements <= 5",
        met=ratio <= RESPONSES_TARGET and statements <= 5,
        detail={
            "statements": statements,
            "statements_target": "<= 5",
            "floor": "raw SQL + strawberry over plain dataclasses",
            "plain_json": round(c, 6),
            "ratio_plain_json": round(a / c, 3),
            "raw_sql": round(d, 6),
            "ratio_raw_sql": round(a / d, 3),
            "cpu": round(sa.cpu_median, 6),
            "cpu_floor": round(sb.cpu_median, 6),
            "cpu_ratio": round(sa.cpu_median / sb.cpu_median, 3),
        },
    )


# ---------------------------------------------------------------------------
# Survey pages


_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def survey_get_item(client: FlaskClient, tokens: Sequence[str], settings: Settings) -> ItemResult:
    """Requests/s of the survey page (a link opened again) against the bare route."""
    for token in tokens:  # first views write opened_at; measure the steady state
        _expect(client.get(f"/s/{token}"), 200)
    cycle = iter(range(10**12))

    def page() -> None:
        token = tokens[next(cycle) % len(tokens)]
        _expect(client.get(f"/s/{token}"), 200)

    a, b = _batches(page, _floor_request(client), settings)
    rate, floor = settings.batch / a.median, settings.batch / b.median
    return ItemResult(
        name="survey page GET",
        unit="requests/s",
        measured=rate,
        floor=floor,
        ratio=rate / floor,
        target=">= 0.40",
        met=rate / floor >= 0.40,
        detail=_cpu_detail(a, b, settings),
    )


def _batches(
    a: Callable[[], None], b: Callable[[], None], settings: Settings
) -> tuple[Samples, Samples]:
    """After one untimed call of each, A and B in batches of `settings.batch`
    requests, interleaved ABBA: wall and this process's CPU time per batch."""
    a()
    b()
    samples = (Samples([], []), Samples([], []))
    for n in range(settings.rounds):
        for i in (0, 1) if n % 2 == 0 else (1, 0):
            operation = (a, b)[i]
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(settings.batch):
                operation()
            samples[i].cpu.append(time.process_time() - cpu)
            samples[i].wall.append(time.perf_counter() - wall)
    return samples


def _cpu_detail(a: Samples, b: Samples, settings: Settings) -> dict[str, Any]:
    """CPU seconds per request of A and B (medians), and B/A as the rates compare."""
    return {
        "cpu": round(a.cpu_median / settings.batch, 7),
        "cpu_floor": round(b.cpu_median / settings.batch, 7),
        "cpu_ratio": round(a.cpu_median / b.cpu_median, 3),
        "cpu_rate_ratio": round(b.cpu_median / a.cpu_median, 3),
    }


def survey_form_data(csrf_token: str, n: int) -> dict[str, Any]:
    """A valid submission: mostly satisfied, one complaint with reasons and why."""
    data: dict[str, Any] = {"csrf_token": csrf_token, "comment": "交货问题请尽快解决。"}
    unhappy = DEFAULT_ASPECTS[n % len(DEFAULT_ASPECTS)].code
    for spec in DEFAULT_ASPECTS:
        data[f"score_{spec.code}"] = "2" if spec.code == unhappy else str(4 + n % 2)
    data[f"reasons_{unhappy}"] = ["delivery", "service"]
    data[f"why_{unhappy}"] = "近三个月多次延迟交货。"
    return data


def survey_csrf_token(client: FlaskClient, token: str) -> str:
    """The CSRF token of a link's survey page (opening it, as a browser would)."""
    page = client.get(f"/s/{token}")
    _expect(page, 200)
    match = _CSRF_RE.search(page.get_data(as_text=True))
    if match is None:
        raise RuntimeError("the survey page has no CSRF token")
    return match.group(1)


_FORM = "application/x-www-form-urlencoded"


def survey_post_item(client: FlaskClient, tokens: Sequence[str], settings: Settings) -> ItemResult:
    """Responses stored per second (valid POST, each to a new invitation).

    Each link's page is fetched first, untimed, as a person's browser does: its CSRF
    token belongs to that link (web.survey_csrf). Each form body is encoded before the
    timing too, as a browser encodes it on its own machine: what is timed is what the
    server does (parse, check, store, answer), as for the floor's GET."""
    bodies = [
        urlencode(survey_form_data(survey_csrf_token(client, token), n), doseq=True)
        for n, token in enumerate(tokens)
    ]
    pending = iter(zip(tokens, bodies, strict=True))
    posted = 0

    def post() -> None:
        nonlocal posted
        token, body = next(pending)
        _expect(client.post(f"/s/{token}", data=body, content_type=_FORM), 303)
        posted += 1

    a, b = _batches(post, _floor_request(client), settings)
    rate, floor = settings.batch / a.median, settings.batch / b.median
    return ItemResult(
        name="survey POST (valid, new invitation)",
        unit="responses/s",
        measured=rate,
        floor=floor,
        ratio=rate / floor,
        target=">= 0.20",
        met=rate / floor >= 0.20,
        detail={"stored": posted, **_cpu_detail(a, b, settings)},
    )


def _expect(resp: Any, status: int) -> None:
    if resp.status_code != status:
        raise RuntimeError(
            f"{resp.request.method} {resp.request.path} answered {resp.status_code}, "
            f"expected {status}: {resp.get_data(as_text=True)[:500]}"
        )


def posts_needed(settings: Settings) -> int:
    """Invitations the POST item consumes: one warm-up call, then the timed batches."""
    return 1 + settings.rounds * settings.batch


# ---------------------------------------------------------------------------
# launchCampaign


LAUNCH_MUTATION = """
mutation Launch($input: LaunchCampaignInput!) {
  launchCampaign(input: $input) { sampled frameSize method campaign { id } }
}
"""


def server_cpu_seconds(app: Flask) -> float | None:
    """CPU seconds used so far by the PostgreSQL server processes of the app's database,
    read from /proc when the server runs on this machine; None otherwise (SQLite runs
    in this process, whose CPU time counts it)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return None
        pids = db.session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
        db.session.remove()
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None  # another machine's server, or a process gone meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def launch_item(client: FlaskClient, token: str, sample: int, settings: Settings) -> ItemResult:
    """Seconds to launch a stratified campaign over the whole registry, and the CPU
    seconds it took here and in the database server (what the wall time would be on
    idle cores: on a shared machine the wall time is mostly waiting for a core)."""
    seconds: list[float] = []
    frames: list[int] = []
    cpu: list[float] = []
    server: list[float] = []
    for n in range(settings.launches):
        variables = {
            "input": {
                "name": f"bench launch {n} {time.time_ns()}",
                "sampleSize": sample,
                "stratifyBy": "TIER",
                # Every launch sees the whole registry, not what the last one left.
                "excludeSurveyedWithinDays": 0,
            }
        }
        server_before = server_cpu_seconds(client.application)
        start, cpu_start = time.perf_counter(), time.process_time()
        resp = client.post(
            "/graphql",
            json={"query": LAUNCH_MUTATION, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        server_after = server_cpu_seconds(client.application)
        if server_before is not None and server_after is not None:
            server.append(server_after - server_before)
        body = resp.get_json()
        if resp.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"launchCampaign failed: {resp.get_data(as_text=True)[:500]}")
        payload = body["data"]["launchCampaign"]
        if payload["sampled"] != sample:
            raise RuntimeError(f"launchCampaign sampled {payload['sampled']}, not {sample}")
        frames.append(payload["frameSize"])
    median = sorted(seconds)[len(seconds) // 2]
    return ItemResult(
        name=f"launchCampaign stratified, {frames[0]:,} accounts frame, sample {sample:,}",
        unit="s",
        measured=median,
        floor=None,
        ratio=None,
        target="< 2 s",
        met=median < 2.0,
        detail={
            "frame": frames[0],
            "sample": sample,
            "runs": [round(s, 3) for s in seconds],
            "cpu": round(sorted(cpu)[len(cpu) // 2], 3),
            **({"server_cpu": round(sorted(server)[len(server) // 2], 3)} if server else {}),
        },
    )
