"""`python -m benchmarks.costliest`: how long the dearest requests a viewer may send
take, on the benchmark's data set (schema.cost prices them; GRAPHQL_MAX_COST caps them).

Builds the data set `make bench` uses (100,000 answers on SQLite by default), then
times a few viewer requests priced just under the default cap, each a different
kind of work (many aggregates, a wide drill-down, nested pages), and prints each
one's cost and median latency through the whole app: the cost model's calibration.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Sequence

from graphql import parse

from schema.build import schema
from schema.cost import DEFAULT_MAX_COST, operation_cost
from survey.analysis import Dimension
from survey.db import db
from survey.registry.staff import add_staff

from .data import Generator
from .harness import DEFAULT_ANSWERS, log, make_bench_app, scratch_database
from .items import graphql

_PAGE = (
    "edges { node { id comment account { name satisfactionTrend { mean } "
    "defection { defectedOn } } campaign { name } answers { score reasons reasonText } } }"
)
#: The eight dimensions measured (CONTACT_ROLE, newer, would push nine summaries past the cap).
_DIMENSIONS = [d.name for d in Dimension if d is not Dimension.CONTACT_ROLE]

#: Viewer requests just under the default cap, each a different kind of work.
CANDIDATES: dict[str, str] = {
    "a summary weighted by revenue, by account manager": (
        "{ satisfactionSummary(groupBy: ACCOUNT_MANAGER, weight: REVENUE) { key mean answers } }"
    ),
    "a drill-down by [REGION, ACCOUNT_MANAGER, TIER]": (
        "{ dissatisfactionDrilldown(by: [REGION, ACCOUNT_MANAGER, TIER]) { key dissatisfied "
        "topReasons { reason count } comments(first: 5) children { key dissatisfied "
        "children { key dissatisfied } } } }"
    ),
    "nine summaries, one per dimension and one filtered": "{ "
    + " ".join(
        f"{d.lower()}: satisfactionSummary(groupBy: {d}) {{ key mean }}" for d in _DIMENSIONS
    )
    + ' f: satisfactionSummary(groupBy: MONTH, filter: {aspect: "delivery"}) { key mean } }',
    "two responses(first: 200) pages with accounts, trends, answers": (
        f"{{ a: responses(first: 200) {{ {_PAGE} }} "
        f'b: responses(first: 200, filter: {{aspect: "delivery", scoreAtMost: 2}}) {{ {_PAGE} }} }}'
    ),
    "at-risk accounts, aspect defection risk, defection reasons by month": (
        "{ atRiskAccounts(first: 20) { riskScore account { name } } "
        "aspectDefectionRisk { aspect riskRatio } "
        "defectionReasons(groupBy: MONTH) { key reasons { reason count } } }"
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.costliest", description=__doc__)
    parser.add_argument("--answers", type=int, default=DEFAULT_ANSWERS)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--campaign-size", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)

    costs = {name: operation_cost(schema._schema, parse(q)) for name, q in CANDIDATES.items()}
    for name, cost in costs.items():
        if cost is None or cost > DEFAULT_MAX_COST:
            raise SystemExit(f"{name!r} costs {cost}: over the cap {DEFAULT_MAX_COST}")

    secret_key = secrets.token_urlsafe(48)
    with scratch_database(None) as (url, database):
        app = make_bench_app(url, secret_key)
        client = app.test_client()
        generator = Generator(
            seed=args.seed,
            secret_key=secret_key,
            accounts=args.accounts,
            sample_size=args.campaign_size,
        )
        with app.app_context():
            generator.start()
            viewer = add_staff("bench-viewer", "viewer").token
            generator.grow_to(args.answers)
        data = generator.data
        log(
            f"{database}: {data.answers:,} answers, {data.responses:,} responses, "
            f"{data.accounts:,} accounts, {data.campaigns} campaigns"
        )
        print("| request | cost | median | ms per 1,000 cost |\n|---|---|---|---|")
        for name, query in CANDIDATES.items():
            graphql(client, viewer, query)  # warm: parse cache, SQLite pages
            seconds = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                graphql(client, viewer, query)
                seconds.append(time.perf_counter() - start)
            median = statistics.median(seconds)
            cost = costs[name] or 1
            print(
                f"| {name} | {cost:,} | {median * 1000:,.0f} ms | "
                f"{median * 1000 / cost * 1000:,.0f} |",
                flush=True,
            )
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
