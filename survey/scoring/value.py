"""Value scores: every value model's score, band and flags for every active account.

`recompute_value_scores(period)` reads the period's indicators of the active
accounts (one query), turns each indicator into mid-rank percentiles over the
accounts that have it (lower-is-better indicators reversed), weighs them with each
value model's current version (missing indicators renormalised; under half the
weight present is "insufficient data": no score, no band), bands the scores into the
pyramid (A, B, the rest C, by cumulative share of total value) and replaces each
model's AccountScore rows with a few bulk statements. The arithmetic is
survey.scoring.normalise's.

**Default period**: the latest period that has any value, by its last day; when a
year, its last quarter and its December end on the same day, the longer period wins
(a year before a quarter before a month).

**One-off flag** (`one_off`, a false key account): revenue percentile ≥ 80 and
orders percentile ≤ 20 in the period, both present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Select, Table, bindparam, case, delete, func, insert, select, update

from survey.clock import utcnow
from survey.db import copy_rows, db
from survey.errors import InvalidInputError
from survey.models import AccountMetric, AccountScore, Indicator, KeyAccount, ScoreModel
from survey.scale import FLAG_ONE_OFF, TIERS, ScoreKind
from survey.scoring.defaults import ORDERS, REVENUE, ensure_score_models
from survey.scoring.normalise import composite, midrank_percentiles, pyramid_bands
from survey.scoring.parts_text import column_texts, join_parts, part_template
from survey.scoring.periods import PeriodError, parse_period, period_months
from survey.scoring.versions import ModelVersion, list_models, serialise_score_writes

#: The one-off flag's thresholds (percentiles of the period).
ONE_OFF_REVENUE_MIN = 80.0
ONE_OFF_ORDERS_MAX = 20.0
#: The band of the accounts below the pyramid's limits.
LAST_BAND = TIERS[-1]
#: Rows per INSERT batch.
BATCH_SIZE = 5000


@dataclass(frozen=True, slots=True)
class ModelRecompute:
    """What one value model's recompute produced."""

    code: str
    version: int
    scored: int
    insufficient: int
    bands: dict[str, int]


@dataclass(frozen=True, slots=True)
class ValueRecompute:
    """The outcome of `recompute_value_scores`: the period and each model's counts."""

    period: str | None
    accounts: int
    one_off: int
    models: list[ModelRecompute] = field(default_factory=list)


def default_period() -> str | None:
    """The period scores use by default (see the module's rule); None without metrics."""
    last = db.session.scalar(select(func.max(AccountMetric.period_end)))
    if last is None:
        return None
    periods = db.session.scalars(
        select(AccountMetric.period).where(AccountMetric.period_end == last).distinct()
    ).all()
    return max(periods, key=lambda text: (period_months(text), text))


def canonical_period(period: str) -> str:
    """The canonical text of a period given by a user; InvalidInputError otherwise."""
    try:
        return parse_period(period).text
    except PeriodError as exc:
        raise InvalidInputError(str(exc), field="period") from exc


def _metrics(period: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(account ids, indicator codes, values[account, indicator] with NaN) of the period.

    One statement; the indicator comes back as its position among the codes (a CASE),
    so every row is numbers and goes into numpy at C speed, straight through the
    driver's cursor (800,000 rows through the ORM's result machinery would cost more
    than all the arithmetic)."""
    codes = sorted(db.session.scalars(select(Indicator.code)))
    if not codes:
        return np.zeros(0, dtype=np.int64), [], np.zeros((0, 0))
    position = case(
        {code: j for j, code in enumerate(codes)}, value=AccountMetric.indicator, else_=-1
    )
    query = (
        select(AccountMetric.account_id, position, AccountMetric.value)
        .join(KeyAccount, KeyAccount.id == AccountMetric.account_id)
        .where(AccountMetric.period == bindparam("period"), KeyAccount.active.is_(True))
    )
    rows = _raw_rows(query, {"period": period})
    if not rows:
        return np.zeros(0, dtype=np.int64), codes, np.zeros((0, len(codes)))
    table = np.array(rows, dtype=np.float64)
    accounts, account_index = np.unique(table[:, 0].astype(np.int64), return_inverse=True)
    values = np.full((len(accounts), len(codes)), np.nan)
    values[account_index, table[:, 1].astype(np.int64)] = table[:, 2]
    return accounts, codes, values


def _raw_rows(query: Select[Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
    connection = db.session.connection()
    compiled = query.compile(dialect=connection.dialect)
    result = connection.exec_driver_sql(
        str(compiled), _positional(compiled, params, connection.dialect.paramstyle)
    )
    return list(result.cursor.fetchall()) if result.cursor is not None else []


def _positional(compiled: Any, params: dict[str, Any], paramstyle: str) -> Any:
    values = {**compiled.params, **params}
    if compiled.positional:
        return tuple(values[name] for name in compiled.positiontup)
    return values


def _bulk_insert(table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT many rows of plain values (already in the driver's types, in `columns`'
    order) through the driver's executemany, in batches (a COPY on PostgreSQL)."""
    if copy_rows(table, columns, rows):
        return
    connection = db.session.connection()
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(columns))
    sql = str(compiled)
    if compiled.positional:
        order = [columns.index(name) for name in compiled.positiontup or ()]
        identity = order == list(range(len(columns)))
        params: list[Any] = rows if identity else [tuple(row[i] for i in order) for row in rows]
    else:
        params = [dict(zip(columns, row, strict=True)) for row in rows]
    for start in range(0, len(params), BATCH_SIZE):
        connection.exec_driver_sql(sql, params[start : start + BATCH_SIZE])


def _percentiles(codes: list[str], values: np.ndarray) -> np.ndarray:
    lower_better = set(
        db.session.scalars(select(Indicator.code).where(Indicator.higher_is_better.is_(False)))
    )
    out = np.full(values.shape, np.nan)
    for j, code in enumerate(codes):
        out[:, j] = midrank_percentiles(values[:, j], higher_is_better=code not in lower_better)
    return out


def _column(codes: list[str], matrix: np.ndarray, code: str) -> np.ndarray:
    if code in codes:
        return matrix[:, codes.index(code)]
    return np.full(matrix.shape[0], np.nan)


def one_off_flags(percentiles_revenue: np.ndarray, percentiles_orders: np.ndarray) -> np.ndarray:
    """Where revenue's percentile is ≥ 80 and orders' ≤ 20 (both present)."""
    with np.errstate(invalid="ignore"):
        return (percentiles_revenue >= ONE_OFF_REVENUE_MIN) & (
            percentiles_orders <= ONE_OFF_ORDERS_MAX
        )


def recompute_value_scores(period: str | None = None, *, commit: bool = True) -> ValueRecompute:
    """Recompute every value model's scores for `period` (default: see the module).

    Replaces each value model's AccountScore rows (accounts with any indicator in the
    period) and sets its `computed_at`. Commits unless `commit=False` (then the
    caller's transaction holds it). InvalidInputError for a malformed period. A
    recompute running at the same time waits for this one (serialise_score_writes).
    """
    serialise_score_writes()
    ensure_score_models()
    chosen = canonical_period(period) if period is not None else default_period()
    models = list_models(ScoreKind.VALUE)
    now = utcnow()
    if chosen is None:
        accounts, codes, values = np.zeros(0, dtype=np.int64), [], np.zeros((0, 0))
    else:
        accounts, codes, values = _metrics(chosen)
    percentiles = _percentiles(codes, values)
    one_off = one_off_flags(
        _column(codes, percentiles, REVENUE), _column(codes, percentiles, ORDERS)
    )
    texts: dict[str, tuple[list[str], list[str]]] = {}  # an indicator's, for every model
    summaries = [
        _recompute_model(model, chosen, accounts, codes, values, percentiles, one_off, now, texts)
        for model in models
    ]
    if commit:
        db.session.commit()
    return ValueRecompute(chosen, len(accounts), int(one_off.sum()), summaries)


def _recompute_model(
    model: ModelVersion,
    period: str | None,
    accounts: np.ndarray,
    codes: list[str],
    values: np.ndarray,
    percentiles: np.ndarray,
    one_off: np.ndarray,
    now: object,
    texts: dict[str, tuple[list[str], list[str]]],
) -> ModelRecompute:
    db.session.execute(delete(AccountScore).where(AccountScore.model_id == model.model_id))
    db.session.execute(
        update(ScoreModel).where(ScoreModel.id == model.model_id).values(computed_at=now)
    )
    bands_count = dict.fromkeys(TIERS, 0)
    if len(accounts) == 0:
        return ModelRecompute(model.code, model.version, 0, 0, bands_count)
    measures = [w.measure for w in model.weights]
    p = np.column_stack([_column(codes, percentiles, m) for m in measures])
    raw = np.column_stack([_column(codes, values, m) for m in measures])
    result = composite(p, [w.weight for w in model.weights])
    bands = pyramid_bands(result.score, model.band_limits, LAST_BAND)
    parts = _parts_json(model, raw, p, result.weights, result.contributions, texts)
    scores = np.where(np.isnan(result.score), None, np.round(result.score, 6)).tolist()
    flags = np.where(one_off, FLAG_ONE_OFF, "").tolist()
    table = AccountScore.__table__
    dialect = db.session.get_bind().dialect
    constants = {
        "model_id": model.model_id,
        "version_id": model.version_id,
        "period": period,
        "computed_at": now,
    }
    for name, value in list(constants.items()):
        # The type's whole conversion (to the driver's text on SQLite, as the ORM
        # writes it), once, not the driver's adapter once per row.
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        constants[name] = processor(value) if processor and value is not None else value
    model_id, version_id, stored_period, stored_now = constants.values()
    rows = [
        (account_id, model_id, version_id, stored_period, score, band, flag, part, stored_now)
        for account_id, score, band, flag, part in zip(
            accounts.tolist(), scores, bands, flags, parts, strict=True
        )
    ]
    _bulk_insert(
        table,
        (
            "account_id",
            "model_id",
            "version_id",
            "period",
            "score",
            "band",
            "flags",
            "parts",
            "computed_at",
        ),
        rows,
    )
    for band in bands:
        if band is not None:
            bands_count[band] += 1
    scored = sum(bands_count.values())
    return ModelRecompute(model.code, model.version, scored, len(rows) - scored, bands_count)


def _parts_json(
    model: ModelVersion,
    raw: np.ndarray,
    percentiles: np.ndarray,
    weights: np.ndarray,
    contributions: np.ndarray,
    texts: dict[str, tuple[list[str], list[str]]] | None = None,
) -> list[str]:
    """Each account's parts as JSON text: measure, perspective, value (`{:.12g}`),
    percentile, weight, contribution (`{:.4f}`); a missing value and its percentile
    are `null`. Each distinct number is formatted once (survey.scoring.parts_text);
    `texts` keeps an indicator's value and percentile texts for the next model."""
    last = len(model.weights) - 1
    columns = []
    for j, w in enumerate(model.weights):
        template = part_template(
            {"measure": w.measure, "perspective": w.perspective},
            ("value", "percentile", "weight", "contribution"),
            first=j == 0,
            last=j == last,
        )
        known = texts.get(w.measure) if texts is not None else None
        if known is None:
            known = (
                column_texts(raw[:, j], _value_text),
                column_texts(percentiles[:, j], _percentile_text),
            )
            if texts is not None:
                texts[w.measure] = known
        columns.append(
            list(
                map(
                    template.format,
                    *known,
                    column_texts(weights[:, j], "{:.4f}".format),
                    column_texts(contributions[:, j], "{:.4f}".format),
                )
            )
        )
    return join_parts(columns, raw.shape[0])


def _value_text(x: float) -> str:
    return "null" if x != x else f"{x:.12g}"


def _percentile_text(x: float) -> str:
    return "null" if x != x else f"{x:.4f}"


def value_models() -> Sequence[ModelVersion]:
    """The value models at their current versions."""
    return list_models(ScoreKind.VALUE)


__all__ = [
    "BATCH_SIZE",
    "LAST_BAND",
    "ONE_OFF_ORDERS_MAX",
    "ONE_OFF_REVENUE_MIN",
    "ModelRecompute",
    "ValueRecompute",
    "canonical_period",
    "default_period",
    "one_off_flags",
    "recompute_value_scores",
    "value_models",
]
