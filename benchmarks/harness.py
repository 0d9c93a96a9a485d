"""`python -m benchmarks`: build the data set, measure every item, write the results.

Usage:
    python -m benchmarks                 # 100,000 answers, SQLite in a temporary file
    python -m benchmarks --large         # 1,000,000 answers (and the 1M growth point)
    BENCH_DATABASE_URL=postgresql+psycopg://user@host:5432/postgres python -m benchmarks

With BENCH_DATABASE_URL the harness creates a scratch database on that server
(keypulse_bench_<random>), and drops it at the end: nothing of yours is touched.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import make_url

from survey.db import db
from survey.registry.staff import add_staff

from .data import Generator
from .drivers import drivers_item
from .items import (
    PAGE_SIZE,
    ItemResult,
    Settings,
    cached_summary_item,
    drilldown_items,
    install_floor_route,
    launch_item,
    posts_needed,
    responses_item,
    summary_check,
    summary_item,
    summary_latency,
    survey_get_item,
    survey_post_item,
)
from .scores import scores_read_item, scores_recompute_item
from .served import ServedSettings, describe, served_items

DEFAULT_ANSWERS = 100_000
LARGE_ANSWERS = 1_000_000
GROWTH_SIZES = (10_000, 100_000, 1_000_000)
#: "No faster than linear", with room for timing noise on a shared machine.
GROWTH_MAX_EXPONENT = 1.1
RESULTS_DIR = Path(__file__).resolve().parent / "results"
GET_LINKS = 50
#: The items in the order they run; `--only` picks some of them.
ITEM_NAMES = (
    "get",
    "post",
    "summary",
    "drilldown",
    "responses",
    "launch",
    "cached",
    "drivers",
    "served",
    "scores",
    "account-scores",
)


@dataclass
class GrowthPoint:
    answers: int
    latency: float
    floor: float

    def as_json(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "latency": round(self.latency, 6),
            "floor": round(self.floor, 6),
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="KeyPulse benchmarks against the stack's floor."
    )
    parser.add_argument("--answers", type=int, default=None, help="answers in the data set")
    parser.add_argument("--large", action="store_true", help=f"{LARGE_ANSWERS:,} answers")
    parser.add_argument(
        "--accounts", type=int, default=100_000, help="active accounts (the launch frame)"
    )
    parser.add_argument("--sample", type=int, default=5_000, help="launchCampaign sample size")
    parser.add_argument(
        "--campaign-size", type=int, default=5_000, help="accounts invited per past campaign"
    )
    parser.add_argument(
        "--growth",
        default=None,
        help="comma-separated answer counts for the growth table (default 10k,100k[,1M])",
    )
    parser.add_argument("--rounds", type=int, default=15, help="A/B rounds per item")
    parser.add_argument("--batch", type=int, default=40, help="requests per survey-page sample")
    parser.add_argument("--launches", type=int, default=3, help="launchCampaign runs")
    parser.add_argument(
        "--page-size", type=int, default=PAGE_SIZE, help="responses(first: ...) page size"
    )
    parser.add_argument(
        "--only",
        default=None,
        help=f"comma-separated items to measure (default all): {', '.join(ITEM_NAMES)}; "
        "the growth table runs only with summary",
    )
    served = ServedSettings()
    parser.add_argument(
        "--served-workers", type=int, default=served.workers, help="gunicorn workers (served)"
    )
    parser.add_argument(
        "--served-clients", type=int, default=served.clients, help="concurrent clients (served)"
    )
    parser.add_argument(
        "--served-requests",
        type=int,
        default=served.requests,
        help="requests per served run, at most",
    )
    parser.add_argument(
        "--served-seconds",
        type=float,
        default=served.seconds,
        help="seconds per served run, at most",
    )
    parser.add_argument(
        "--served-port", type=int, default=served.port, help="gunicorn's port (0: a free one)"
    )
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or None,
        help="PostgreSQL server to create a scratch database on (default: SQLite)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where latest.json and latest.md go (default benchmarks/results; "
        "with --only nowhere unless given)",
    )
    args = parser.parse_args(argv)
    args.items = _selected_items(parser, args.only)
    if args.output is None and not args.only:
        args.output = RESULTS_DIR
    if args.answers is None:
        args.answers = LARGE_ANSWERS if args.large else DEFAULT_ANSWERS
    if args.growth:
        args.growth_sizes = sorted({int(s) for s in args.growth.split(",") if s.strip()})
    else:
        args.growth_sizes = [s for s in GROWTH_SIZES if s <= args.answers]
    if args.answers not in args.growth_sizes:
        args.growth_sizes = sorted({*args.growth_sizes, args.answers})
    args.growth_sizes = [s for s in args.growth_sizes if s <= args.answers]
    return args


def _selected_items(parser: argparse.ArgumentParser, only: str | None) -> tuple[str, ...]:
    if not only:
        return ITEM_NAMES
    chosen = {name.strip() for name in only.split(",") if name.strip()}
    unknown = sorted(chosen - set(ITEM_NAMES))
    if unknown:
        parser.error(f"unknown item(s) {', '.join(unknown)}; choose from {', '.join(ITEM_NAMES)}")
    return tuple(name for name in ITEM_NAMES if name in chosen)


# ---------------------------------------------------------------------------
# The database


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[tuple[str, str]]:
    """A fresh, empty database: a temporary SQLite file, or a new PostgreSQL
    database on the given server, dropped afterwards. Yields (url, description)."""
    if not server_url:
        with tempfile.TemporaryDirectory(prefix="keypulse-bench-") as tmp:
            import sqlite3

            yield f"sqlite:///{tmp}/bench.sqlite3", f"SQLite {sqlite3.sqlite_version}"
        return
    import psycopg

    server = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"keypulse_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()
    try:
        yield (
            server.set(database=name).render_as_string(hide_password=False),
            f"PostgreSQL {version[0] if version else '?'}",
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_bench_app(database_url: str, secret_key: str, *, analysis_cache: bool = False) -> Flask:
    """The production app (no debug, no testing), rate limits off, plus the floor route.

    The analysis cache is off unless asked for: the summary and drill-down items
    measure computing the figures (what the first request after a write costs);
    the cached item measures the cache, on an app of its own over the same database."""
    from web import create_app

    app = create_app(
        {
            "KEYPULSE_ENV": "production",
            "SECRET_KEY": secret_key,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_RECORD_QUERIES": False,
            "RATELIMIT_ENABLED": False,
            "BASE_URL": "https://survey.example.test",
            "ANALYSIS_CACHE": analysis_cache,
            "CACHE_REDIS_URL": "memory://",
        }
    )
    install_floor_route(app)
    with app.app_context():
        db.create_all()
    return app


# ---------------------------------------------------------------------------
# Running


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def growth_exponent(points: Sequence[GrowthPoint]) -> float | None:
    """Slope of log(latency) over log(answers) between the smallest and largest size."""
    if len(points) < 2 or points[0].answers == points[-1].answers:
        return None
    first, last = points[0], points[-1]
    return math.log(last.latency / first.latency) / math.log(last.answers / first.answers)


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        rounds=args.rounds, batch=args.batch, launches=args.launches, page_size=args.page_size
    )
    secret_key = secrets.token_urlsafe(48)
    started = time.perf_counter()
    load = _load_average()
    with scratch_database(args.database_url) as (url, database):
        app = make_bench_app(url, secret_key)
        cached_app = make_bench_app(url, secret_key, analysis_cache=True)
        client = app.test_client()
        generator = Generator(
            seed=args.seed,
            secret_key=secret_key,
            accounts=args.accounts,
            sample_size=args.campaign_size,
        )
        with app.app_context():
            t = time.perf_counter()
            generator.start()
            viewer = add_staff("bench-viewer", "viewer").token
            manager = add_staff("bench-manager", "manager").token
            log(f"{generator.data.accounts:,} accounts in {time.perf_counter() - t:.1f} s")

        growth: list[GrowthPoint] = []
        # Without the summary the data is loaded once, at its full size.
        sizes = args.growth_sizes if "summary" in args.items else [args.answers]
        for size in sizes:
            t = time.perf_counter()
            with app.app_context():
                generator.grow_to(size)
            data = generator.data
            log(
                f"{data.answers:,} answers ({data.responses:,} responses, "
                f"{data.campaigns} campaigns) in {time.perf_counter() - t:.1f} s"
            )
            if "summary" not in args.items:
                continue
            summary_check(app, client, viewer)
            latency, floor = summary_latency(app, client, viewer, max(3, settings.rounds // 2))
            growth.append(GrowthPoint(data.answers, latency, floor))
            log(f"  summary {latency * 1000:.1f} ms, raw GROUP BY {floor * 1000:.1f} ms")

        # Links the GET item cycles through (each opened once before timing).
        links = max(1, min(GET_LINKS, settings.batch))
        if {"get", "post"} & set(args.items):
            with app.app_context():
                generator.open_campaign(links + posts_needed(settings))
        tokens = generator.data.open_tokens
        items: list[ItemResult] = []
        measures: dict[str, Callable[[], ItemResult | list[ItemResult]]] = {
            "get": lambda: survey_get_item(client, tokens[:links], settings),
            "post": lambda: survey_post_item(client, tokens[links:], settings),
            "summary": lambda: summary_item(app, client, viewer, settings),
            "drilldown": lambda: drilldown_items(app, client, viewer, settings),
            "responses": lambda: responses_item(app, client, viewer, settings),
            "launch": lambda: launch_item(
                client, manager, min(args.sample, args.accounts // 2), settings
            ),
            "cached": lambda: cached_summary_item(
                cached_app, cached_app.test_client(), viewer, settings
            ),
            "drivers": lambda: drivers_item(app, client, viewer, settings),
            "scores": lambda: scores_recompute_item(app, args.seed, settings),
            "account-scores": lambda: scores_read_item(app, client, viewer, settings),
        }
        for name in args.items:
            if name == "served":
                with app.app_context():
                    generator.open_campaign(
                        args.served_requests, name="本季度大客户满意度调查 (bench, served)"
                    )
                served = served_items(
                    app,
                    url,
                    secret_key,
                    tokens[:links],
                    generator.data.open_tokens,
                    ServedSettings(
                        workers=args.served_workers,
                        clients=args.served_clients,
                        requests=args.served_requests,
                        seconds=args.served_seconds,
                        port=args.served_port,
                    ),
                )
            else:
                measured = measures[name]()
                served = measured if isinstance(measured, list) else [measured]
            for item in served:
                log(f"  {_line(item)}")
                items.append(item)
        for each in (app, cached_app):
            with each.app_context():
                db.session.remove()
                db.engine.dispose()

    exponent = growth_exponent(growth)
    return {
        "machine": machine(load),
        "database": database,
        "answers": generator.data.answers,
        "data": {
            "accounts": generator.data.accounts,
            "campaigns": generator.data.campaigns,
            "invitations": generator.data.invitations,
            "responses": generator.data.responses,
            "answers": generator.data.answers,
            "answer_reasons": generator.data.reasons,
            "defections": generator.data.defections,
        },
        "items": [i.as_json() for i in items],
        "growth": [p.as_json() for p in growth],
        "growth_exponent": None if exponent is None else round(exponent, 3),
        "growth_met": exponent is None or exponent <= GROWTH_MAX_EXPONENT,
        "growth_note": _growth_note(args),
        "seconds": round(time.perf_counter() - started, 1),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _growth_note(args: argparse.Namespace) -> str | None:
    if "summary" not in args.items:
        return "Growth not measured (--only without summary)"
    if LARGE_ANSWERS in args.growth_sizes:
        return None
    return f"{LARGE_ANSWERS:,} answers needs --large"


def machine(load_before: float | None = None) -> dict[str, Any]:
    """Where the numbers come from; the load average tells how shared the machine was."""
    return {
        "cores": os.cpu_count(),
        "load_average": _load_average() if load_before is None else load_before,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "processor": platform.machine(),
    }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - platforms without it
        return None


def _line(item: ItemResult) -> str:
    ratio = "" if item.ratio is None else f" ratio {item.ratio:.3f}"
    floor = "" if item.floor is None else f" floor {_fmt(item.floor, item.unit)}"
    mark = "met" if item.met else "MISSED"
    return (
        f"{item.name}: {_fmt(item.measured, item.unit)}{floor}{ratio} (target {item.target}) {mark}"
    )


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


def markdown(results: dict[str, Any]) -> str:
    """The table the README's Performance section quotes."""
    m = results["machine"]
    load = m.get("load_average")
    shared = f" (load average {load} at the start)" if load is not None else ""
    lines = [
        f"Measured {results['finished_at']} on {m['cores']} cores{shared}, "
        f"Python {m['python']}, {results['database']}, {results['answers']:,} answers "
        f"({results['data']['responses']:,} responses, {results['data']['accounts']:,} "
        "accounts). A = through the whole app in-process (WSGI test client, GraphQL over "
        "HTTP); B = the floor (a bare route in the same app, or the raw SQL on a DBAPI "
        "cursor). Medians of interleaved A/B runs. Served items: gunicorn on a loopback "
        "port under concurrent clients, B = the bare route served and loaded the same way.",
        "",
        "| item | measured (A) | floor (B) | A/B | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for item in results["items"]:
        ratio = "—" if item["ratio"] is None else f"{item['ratio']:.2f}"
        floor = "—" if item["floor"] is None else _fmt(item["floor"], item["unit"])
        extra = ""
        if "statements" in item.get("detail", {}):
            extra = f", {item['detail']['statements']} statements"
        if "p99" in item.get("detail", {}):
            extra = describe(item)
        lines.append(
            f"| {item['name']} | {_fmt(item['measured'], item['unit'])}{extra} | {floor} "
            f"| {ratio} | {item['target']} | {'yes' if item['met'] else '**no**'} |"
        )
    for item in results["items"]:
        detail = item.get("detail", {})
        if "ratio_plain_json" in detail:
            lines.append(
                f"\n{item['name']}: the floor (B) is {detail['floor']}; against the raw SQL "
                f"+ plain-Python JSON ({_fmt(detail['plain_json'], 's')}) A is "
                f"{detail['ratio_plain_json']:.1f}x, against the raw SQL alone "
                f"({_fmt(detail['raw_sql'], 's')}) {detail['ratio_raw_sql']:.1f}x."
            )
    cpu = [i for i in results["items"] if "cpu_ratio" in i.get("detail", {})]
    if cpu:
        lines.append(
            "\nThis process's CPU time, A / B (medians; on PostgreSQL without the server's "
            "share): "
            + "; ".join(
                f"{i['name']} {_fmt(i['detail']['cpu'], 's')} / "
                f"{_fmt(i['detail']['cpu_floor'], 's')} = {i['detail']['cpu_ratio']:.2f}"
                for i in cpu
            )
            + "."
        )
    for item in results["items"]:
        detail = item.get("detail", {})
        if item["name"].startswith("launchCampaign") and "cpu" in detail:
            server = detail.get("server_cpu")
            lines.append(
                f"\n{item['name']}: CPU time (median) {_fmt(detail['cpu'], 's')} in this "
                "process"
                + (
                    f" + {_fmt(server, 's')} in the database server = "
                    f"{_fmt(detail['cpu'] + server, 's')}"
                    if server is not None
                    else " (SQLite included)"
                )
                + f"; wall times {', '.join(_fmt(s, 's') for s in detail['runs'])}."
            )
    lines += ["", "| answers | summary latency | raw GROUP BY |", "|---|---|---|"]
    for point in results["growth"]:
        lines.append(
            f"| {point['answers']:,} | {_fmt(point['latency'], 's')} "
            f"| {_fmt(point['floor'], 's')} |"
        )
    exponent = results["growth_exponent"]
    if exponent is not None:
        verdict = "no faster than linear" if results["growth_met"] else "FASTER than linear"
        lines.append(
            f"\nSummary latency grows as answers^{exponent:.2f} ({verdict}; "
            f"target <= {GROWTH_MAX_EXPONENT})."
        )
    if results["growth_note"]:
        lines.append(f"{results['growth_note']}.")
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (directory / "latest.md").write_text(markdown(results), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    print(markdown(results))
    if args.output is not None:
        write_results(results, args.output)
        log(f"wrote {args.output / 'latest.json'} and latest.md in {results['seconds']} s")
    missed = [i["name"] for i in results["items"] if not i["met"]]
    if not results["growth_met"]:
        missed.append("growth")
    if missed:
        log("missed: " + "; ".join(missed))
    return 0
