"""Importing account indicators from CSV: `external_id,period,indicator,value`.

Read like the registry's CSV files (survey.registry.csv_files): UTF-8, every
problem at once as `line N: column: what is wrong`. All or nothing unless
`skip_invalid`. A row names an active or inactive account by external id, a
period (`YYYY`, `YYYY-Qn`, `YYYY-MM`), a known indicator and a finite number; the
same account, period and indicator twice in a file is a problem. Rows are upserted
by (account, period, indicator) with one read of the stored values and one
`INSERT ... ON CONFLICT DO UPDATE` per 1,000 rows, audited (`METRICS_IMPORT`), and
the value scores are recomputed in the same transaction.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from survey.audit import METRICS_IMPORT, record_audit
from survey.clock import utcnow
from survey.db import db
from survey.errors import ConflictError
from survey.models import AccountMetric, Indicator, KeyAccount
from survey.registry.csv_files import Problem, RowCheck, read_csv_file
from survey.registry.messages import quote_input
from survey.scoring.defaults import ensure_score_models
from survey.scoring.periods import PeriodError, parse_period
from survey.scoring.value import ValueRecompute, recompute_value_scores

METRICS_CSV_COLUMNS: tuple[str, ...] = ("external_id", "period", "indicator", "value")
MAX_LENGTH: dict[str, int] = {"external_id": 64, "period": 7, "indicator": 40, "value": 40}
BATCH_SIZE = 1000
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class MetricRow:
    line: int
    external_id: str
    period: str
    period_end: Any
    indicator: str
    value: float


@dataclass(slots=True)
class MetricsImportReport:
    """The outcome of one import. `imported` is False when nothing was written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    imported: bool = False
    periods: list[str] = field(default_factory=list)
    recompute: ValueRecompute | None = None


def _check_row(
    line: int, values: dict[str, str], indicators: list[str]
) -> tuple[MetricRow | None, list[Problem]]:
    check = RowCheck(line, values, MAX_LENGTH)
    external_id = check.text("external_id", required=True)
    period = None
    raw_period = values["period"]
    if not raw_period:
        check.problem("period", "is required")
    else:
        try:
            period = parse_period(raw_period)
        except PeriodError as exc:
            check.problem("period", str(exc))
    indicator = values["indicator"].lower()
    if not indicator:
        check.problem("indicator", "is required")
    elif indicator not in indicators:
        check.problem(
            "indicator",
            f"{quote_input(values['indicator'])} is not a known indicator "
            f"(known: {', '.join(indicators)})",
        )
    raw_value = values["value"]
    number = math.nan
    if not raw_value:
        check.problem("value", "is required (leave the row out when there is no value)")
    elif not _NUMBER.fullmatch(raw_value):
        check.problem("value", f"{quote_input(raw_value)} is not a number (write 1234.5)")
    else:
        number = float(raw_value)
        if not math.isfinite(number):
            check.problem("value", f"{quote_input(raw_value)} is too large")
    problems = check.problems(list(METRICS_CSV_COLUMNS))
    if problems or period is None:
        return None, problems
    return MetricRow(line, external_id, period.text, period.end, indicator, number), []


def validate_metrics_csv(stream: IO[bytes]) -> tuple[list[MetricRow], list[Problem], int, bool]:
    """(valid rows, problems, invalid row count, fatal) of a metrics CSV; no writes
    except adding the shipped indicators when they are missing."""
    ensure_score_models()
    indicators = sorted(db.session.scalars(select(Indicator.code)))
    file = read_csv_file(stream, METRICS_CSV_COLUMNS)
    if file.fatal:
        return [], list(file.problems), 0, True
    rows: list[MetricRow] = []
    problems: list[Problem] = []
    invalid = 0
    seen: dict[tuple[str, str, str], int] = {}
    for record in file.records:
        if record.values is None:
            assert record.problem is not None
            problems.append(record.problem)
            invalid += 1
            continue
        row, found = _check_row(record.line, record.values, indicators)
        if row is not None:
            key = (row.external_id, row.period, row.indicator)
            first = seen.setdefault(key, row.line)
            if first != row.line:
                found = [
                    Problem(
                        row.line,
                        "indicator",
                        f"{row.indicator} for {quote_input(row.external_id)} in {row.period} "
                        f"is already on line {first}",
                    )
                ]
                row = None
        if row is None:
            problems.extend(found)
            invalid += 1
        else:
            rows.append(row)
    return rows, problems, invalid, False


def _account_ids(external_ids: set[str]) -> dict[str, int]:
    wanted = sorted(external_ids)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), BATCH_SIZE):
        found.update(
            (external_id, account_id)
            for external_id, account_id in db.session.execute(
                select(KeyAccount.external_id, KeyAccount.id).where(
                    KeyAccount.external_id.in_(wanted[start : start + BATCH_SIZE])
                )
            )
        )
    return found


def import_metrics_csv(
    stream: IO[bytes],
    *,
    skip_invalid: bool = False,
    actor: str | None = None,
    source: str | None = None,
) -> MetricsImportReport:
    """Validate a metrics CSV, then upsert its values and recompute the value scores.

    With any problem nothing is imported, unless `skip_invalid`: then the valid rows
    are imported and the others reported. One transaction, committed here.
    """
    rows, problems, skipped, fatal = validate_metrics_csv(stream)
    if not fatal and rows:
        accounts = _account_ids({r.external_id for r in rows})
        unknown = [r for r in rows if r.external_id not in accounts]
        for row in unknown:
            problems.append(
                Problem(
                    row.line,
                    "external_id",
                    f"{quote_input(row.external_id)} is not a key account in the registry "
                    "(import it with flask accounts import first)",
                )
            )
        if unknown:
            rows = [r for r in rows if r.external_id in accounts]
            skipped += len(unknown)
    problems.sort(key=lambda p: p.line)
    report = MetricsImportReport(skipped=skipped, problems=problems)
    if fatal or (problems and not skip_invalid) or not rows:
        return report
    try:
        report.created, report.updated, report.unchanged = _upsert(rows, accounts)
        report.periods = sorted({r.period for r in rows})
        record_audit(
            actor,
            METRICS_IMPORT,
            "account_metrics",
            None,
            {
                "file": source,
                "rows": len(rows),
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
                "periods": report.periods,
                "indicators": sorted({r.indicator for r in rows}),
            },
        )
        report.recompute = recompute_value_scores(commit=False)
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ConflictError(
            "the indicators changed while importing (another import at the same time?); "
            "nothing was imported, run the import again"
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    report.imported = True
    return report


def _upsert(rows: list[MetricRow], accounts: dict[str, int]) -> tuple[int, int, int]:
    """Write new and changed values; (created, updated, unchanged)."""
    keyed = {(accounts[r.external_id], r.period, r.indicator): r for r in rows}
    stored: dict[tuple[int, str, str], float] = {}
    keys = list(keyed)
    for start in range(0, len(keys), BATCH_SIZE):
        chunk = keys[start : start + BATCH_SIZE]
        stored.update(
            ((a, p, i), v)
            for a, p, i, v in db.session.execute(
                select(
                    AccountMetric.account_id,
                    AccountMetric.period,
                    AccountMetric.indicator,
                    AccountMetric.value,
                ).where(
                    tuple_(
                        AccountMetric.account_id, AccountMetric.period, AccountMetric.indicator
                    ).in_(chunk)
                )
            )
        )
    now = utcnow()
    changed = [
        {
            "account_id": key[0],
            "period": key[1],
            "period_end": row.period_end,
            "indicator": key[2],
            "value": row.value,
            "imported_at": now,
        }
        for key, row in keyed.items()
        if stored.get(key) != row.value
    ]
    created = sum(1 for key in keyed if key not in stored)
    updated = len(changed) - created
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(changed), BATCH_SIZE):
        statement = dialect.insert(AccountMetric.__table__).values(
            changed[start : start + BATCH_SIZE]
        )
        statement = statement.on_conflict_do_update(
            index_elements=["account_id", "period", "indicator"],
            set_={
                "value": statement.excluded.value,
                "period_end": statement.excluded.period_end,
                "imported_at": statement.excluded.imported_at,
            },
        )
        db.session.execute(statement)
    return created, updated, len(keyed) - len(changed)


__all__ = [
    "METRICS_CSV_COLUMNS",
    "MetricRow",
    "MetricsImportReport",
    "import_metrics_csv",
    "validate_metrics_csv",
]
