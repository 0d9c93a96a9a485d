"""The demo's business indicators: two quarters of the eight shipped indicators for the
demo accounts, believable and reproducible (seeded), written to the shipped sample file
`docs/samples/account_metrics.csv` and imported by `flask demo`.

Built from the demo's account file (survey.demo.dataset.demo_accounts_csv), so the
sample matches the demo accounts whatever the database holds. The story in the
numbers: revenue follows the account's size with noise; margins, collection and
cost to serve differ; a couple of one-off accounts bring a large revenue from one
or two orders (false key accounts); a few values are missing and two accounts
report almost nothing (insufficient data); and some accounts grow or shrink against
their tier, so the value pyramid suggests moving them.
"""

from __future__ import annotations

import csv
import io
import math
import random
from pathlib import Path

from survey.scoring.metrics_import import (
    METRICS_CSV_COLUMNS,
    MetricsImportReport,
    import_metrics_csv,
)

#: The quarters of the sample, oldest first (the latest is what the scores read).
PERIODS: tuple[str, ...] = ("2026-Q2", "2026-Q3")
#: Accounts (by position in the demo's account file) with a one-off big order, with
#: almost no data, and that grow or shrink against their tier.
ONE_OFF = (17, 64)
SPARSE = (33, 120)
GROWING = (5, 41, 88, 150)
SHRINKING = (9, 27, 77)
#: Share of values left out at random.
MISSING = 0.04
#: The shipped sample, for the demo's 200 accounts (`flask demo`'s default).
SAMPLE_FILE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "account_metrics.csv"
METRICS_SEED = 20261123 + 18


def _accounts(accounts_file: bytes) -> list[tuple[str, str, int]]:
    """(external id, tier, annual revenue) of the accounts of an account file."""
    text = accounts_file.decode("utf-8")
    return [
        (row["external_id"], row["tier"], int(row["annual_revenue"]))
        for row in csv.DictReader(io.StringIO(text))
    ]


def _values(rng: random.Random, position: int, annual: int, quarter: int) -> dict[str, float]:
    size = annual / 4 * rng.lognormvariate(0, 0.25)
    if position in GROWING:
        size *= 3.5 + quarter
    if position in SHRINKING:
        size *= 0.15
    revenue = round(size, -2)
    margin = rng.uniform(0.06, 0.32)
    order_size = rng.uniform(8_000, 40_000) * (annual / 1_000_000) ** 0.5
    orders = max(1, round(revenue / order_size))
    if position in ONE_OFF:
        revenue = round(rng.uniform(9_000_000, 14_000_000), -2)
        orders = rng.choice((1, 2))
    return {
        "revenue": revenue,
        "gross_profit": round(revenue * margin, -2),
        "collected": round(revenue * rng.uniform(0.7, 1.0), -2),
        "days_sales_outstanding": rng.randint(25, 120),
        "orders": orders,
        # Larger accounts tend to be better rated (200,000 a year: 2; 20 million: 4).
        "credit_rating": min(
            5, max(1, round(2 + math.log10(annual / 200_000) + rng.gauss(0, 0.8)))
        ),
        "growth_potential": 5 if position in GROWING else rng.randint(1, 5),
        "service_cost": round(8_000 + revenue * rng.uniform(0.01, 0.05), -2),
    }


def demo_metrics_csv(accounts_file: bytes) -> bytes:
    """The indicators of the accounts of the demo's account file, as the import reads
    them (UTF-8 CSV; the same file gives the same indicators)."""
    rng = random.Random(METRICS_SEED)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(METRICS_CSV_COLUMNS)
    for quarter, period in enumerate(PERIODS):
        for position, (external_id, _tier, annual) in enumerate(_accounts(accounts_file), start=1):
            values = _values(rng, position, annual, quarter)
            for indicator, value in values.items():
                if position in SPARSE and indicator not in ("credit_rating",):
                    continue
                if rng.random() < MISSING:
                    continue
                writer.writerow([external_id, period, indicator, _text(value)])
    return out.getvalue().encode("utf-8")


def _text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def add_demo_metrics(accounts_file: bytes) -> MetricsImportReport:
    """Import the indicators of the demo's accounts (which recomputes the value scores)."""
    report = import_metrics_csv(io.BytesIO(demo_metrics_csv(accounts_file)), actor="demo")
    if not report.imported:
        raise RuntimeError(f"demo indicators did not import: {report.problems[:3]}")
    return report


__all__ = ["PERIODS", "SAMPLE_FILE", "add_demo_metrics", "demo_metrics_csv"]
