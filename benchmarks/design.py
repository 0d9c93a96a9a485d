"""`python -m benchmarks.design`: what weighting by the sampling design costs.

Builds the data set `make bench` uses (100,000 answers on SQLite by default), gives
a quarter of the invitations π = 1 and the rest π = 0.05 (so DESIGN weights vary),
then times the uncached summaries and drill-downs under ANSWERS, ACCOUNTS and DESIGN,
interleaved, and prints each median and the DESIGN / ACCOUNTS ratios.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import case, update

from survey.analysis import Dimension, Weight
from survey.analysis.drilldown import dissatisfaction_drilldown
from survey.analysis.satisfaction import satisfaction_summary
from survey.db import db
from survey.models import Invitation

from .data import Generator
from .harness import DEFAULT_ANSWERS, log, make_bench_app, scratch_database


def items() -> dict[str, Callable[[], Any]]:
    """What is timed: the uncached service functions (no HTTP, no cache)."""
    result: dict[str, Callable[[], Any]] = {}
    for dimension in (Dimension.ASPECT, Dimension.REGION):
        for weight in (Weight.ACCOUNTS, Weight.DESIGN):
            result[f"summary {dimension.name} {weight.name}"] = lambda d=dimension, w=weight: (
                satisfaction_summary(d, weight=w)
            )
    for weight in (Weight.ANSWERS, Weight.DESIGN):
        result[f"drill-down [TIER] {weight.name}"] = lambda w=weight: dissatisfaction_drilldown(
            [Dimension.TIER], weight=w
        )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.design", description=__doc__)
    parser.add_argument("--answers", type=int, default=DEFAULT_ANSWERS)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)
    secret_key = secrets.token_urlsafe(48)
    with scratch_database(None) as (url, database):
        app = make_bench_app(url, secret_key)
        with app.app_context():
            generator = Generator(
                seed=args.seed, secret_key=secret_key, accounts=100_000, sample_size=5_000
            )
            generator.start()
            generator.grow_to(args.answers)
            db.session.execute(
                update(Invitation).values(
                    inclusion_probability=case((Invitation.id % 4 == 0, 1.0), else_=0.05)
                )
            )
            db.session.commit()
            log(f"{database}: {generator.data.answers:,} answers")
            timed = items()
            seconds: dict[str, list[float]] = {name: [] for name in timed}
            for run in timed.values():
                run()  # warm
            for _ in range(args.rounds):
                for name, run in timed.items():
                    start = time.perf_counter()
                    run()
                    seconds[name].append(time.perf_counter() - start)
                    db.session.rollback()
            medians = {name: statistics.median(s) for name, s in seconds.items()}
            print("| item | median |\n|---|---|")
            for name, median in medians.items():
                print(f"| {name} | {median * 1000:,.1f} ms |")
            for dimension in ("ASPECT", "REGION"):
                ratio = (
                    medians[f"summary {dimension} DESIGN"]
                    / medians[f"summary {dimension} ACCOUNTS"]
                )
                print(f"DESIGN / ACCOUNTS, summary by {dimension}: {ratio:.2f}")
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
