"""Health scores: computed as of any moment, stored per account, snapshotted per day.

The formula is the one every score model uses (`survey.scoring.normalise`): each
measure of `health_measures_as_of(at)` becomes its mid-rank percentile among the
accounts active at `at` that have a value (`100 − p` for the measures in
`HEALTH_LOWER_IS_BETTER`); the score is `Σ wᵢ·pᵢ / Σ wᵢ` over the present measures
with the health model's weights, NaN ("insufficient data") under half the weight;
the band is the first whose lowest score it reaches (`good` ≥ 70, `watch` ≥ 40 by
default, the rest `poor`).

`recompute_health` stores every active account's score now (one `AccountScore`
row per account, its parts as JSON) and replaces today's `HealthSnapshot`; it
records what it computed from in `ScoreModel.inputs_version`, a digest of the data
version (responses, answers, accounts, defections, campaigns and the follow-up
cases' dates: `survey.data_version`), a fingerprint of the invitations sent (the
data version ignores sending: the count and latest `sent_at`, an invitation is sent
once) and the model's current version. When
that digest differs, `health_inputs_changed()` says so; `refresh_health` (the
outbox worker's step) recomputes then, and at least once a day for the snapshot,
since time alone moves some measures (days since the last answer, cases falling
overdue, campaigns closing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import Table, bindparam, delete, func, insert, select, update

from survey.clock import today, utcnow
from survey.data_version import current_token
from survey.db import copy_rows, db
from survey.events import ACCOUNT_HEALTH_CHANGED, subscribers
from survey.models import (
    MODEL_HEALTH,
    AccountScore,
    HealthSnapshot,
    Invitation,
    ScoreModel,
)
from survey.registry import emit_health_changes
from survey.scale import HEALTH_LOWER_IS_BETTER, HealthBand
from survey.scoring.health_measures import FloatArray, IntArray, health_measures_as_of
from survey.scoring.normalise import composite, midrank_percentiles, threshold_bands
from survey.scoring.parts_text import column_texts, join_parts, json_float, part_template
from survey.scoring.versions import ModelVersion, load_model, serialise_score_writes

_LOWER = {m.value for m in HEALTH_LOWER_IS_BETTER}


@dataclass(frozen=True, slots=True)
class HealthScores:
    """Health of every account active at `at` under one model version.

    Arrays are accounts × `measures` (the model's measures in its order):
    `values` raw (NaN: no value), `percentiles`, `weights` (renormalised per
    account, 0 where missing) and `contributions` (adding up to `scores`, NaN for
    insufficient data); `bands` is None where the score is NaN.
    """

    at: datetime
    version: ModelVersion
    account_ids: IntArray
    measures: tuple[str, ...]
    perspectives: tuple[str, ...]
    values: FloatArray
    percentiles: FloatArray
    weights: FloatArray
    contributions: FloatArray
    scores: FloatArray
    bands: list[str | None]

    def parts(self, i: int) -> list[dict[str, object]]:
        """Account row `i`'s parts, as stored (JSON-ready; None for NaN)."""
        return [
            {key: (None if isinstance(v, float) and np.isnan(v) else v) for key, v in part.items()}
            for part in _parts_of(self, slice(i, i + 1))[0]
        ]


def _parts_of(scores: HealthScores, rows: slice) -> list[list[dict[str, object]]]:
    """The parts of a run of account rows, rounded (NaN stays NaN: see `_parts_json`)."""
    values = np.round(scores.values[rows], 4).tolist()
    percentiles = np.round(scores.percentiles[rows], 4).tolist()
    weights = np.round(scores.weights[rows], 6).tolist()
    contributions = np.round(scores.contributions[rows], 4).tolist()
    named = tuple(zip(scores.measures, scores.perspectives, strict=True))
    return [
        [
            {
                "measure": measure,
                "perspective": perspective,
                "value": v,
                "percentile": p,
                "weight": w,
                "contribution": c,
            }
            for (measure, perspective), v, p, w, c in zip(named, vr, pr, wr, cr, strict=True)
        ]
        for vr, pr, wr, cr in zip(values, percentiles, weights, contributions, strict=True)
    ]


def _parts_json(scores: HealthScores) -> list[str]:
    """Every account's parts as a JSON text (rounded as `_parts_of`, NaN written
    null), the same text the JSON encoder gives, each distinct number formatted
    once (survey.scoring.parts_text)."""
    n = len(scores.account_ids)
    if not n:
        return []
    last = len(scores.measures) - 1
    columns = []
    for j, (measure, perspective) in enumerate(
        zip(scores.measures, scores.perspectives, strict=True)
    ):
        template = part_template(
            {"measure": measure, "perspective": perspective},
            ("value", "percentile", "weight", "contribution"),
            first=j == 0,
            last=j == last,
        )
        cells = [
            column_texts(np.round(array[:, j], digits), json_float)
            for array, digits in (
                (scores.values, 4),
                (scores.percentiles, 4),
                (scores.weights, 6),
                (scores.contributions, 4),
            )
        ]
        columns.append(list(map(template.format, *cells)))
    return join_parts(columns, n)


def health_scores_as_of(at: datetime, version: ModelVersion | None = None) -> HealthScores:
    """Every active account's health at `at`, under `version` (default: current)."""
    model = version or load_model(MODEL_HEALTH)
    raw = health_measures_as_of(at)
    weights = [w for w in model.weights if w.measure in raw.measures]
    measures = tuple(w.measure for w in weights)
    values = raw.values[:, [raw.measures.index(m) for m in measures]]
    percentiles = (
        np.column_stack(
            [
                midrank_percentiles(values[:, j], higher_is_better=m not in _LOWER)
                for j, m in enumerate(measures)
            ]
        )
        if len(measures)
        else np.empty((len(raw.account_ids), 0))
    )
    if len(raw.account_ids) and measures:
        made = composite(percentiles, [w.weight for w in weights])
        scores, renormalised, contributions = made.score, made.weights, made.contributions
        contributions = np.where(np.isnan(scores)[:, None], np.nan, contributions)
    else:
        scores = np.full(len(raw.account_ids), np.nan)
        renormalised = np.zeros(values.shape)
        contributions = np.full(values.shape, np.nan)
    bands = threshold_bands(scores, model.band_limits, HealthBand.POOR.value)
    return HealthScores(
        at=raw.at,
        version=model,
        account_ids=raw.account_ids,
        measures=measures,
        perspectives=tuple(w.perspective for w in weights),
        values=values,
        percentiles=percentiles,
        weights=renormalised,
        contributions=contributions,
        scores=scores,
        bands=bands,
    )


# ---------------------------------------------------------------------------
# Inputs: has anything health reads changed since the scores were computed?


def health_inputs_version() -> str | None:
    """A digest of everything health reads (see the module's text), or None when
    the session holds uncommitted changes (nothing can be named then)."""
    token = current_token(db.session)
    if token is None:
        return None
    sent = db.session.execute(
        select(func.count(Invitation.sent_at), func.max(Invitation.sent_at))
    ).one()
    version = db.session.scalar(
        select(ScoreModel.current_version_id).where(ScoreModel.code == MODEL_HEALTH)
    )
    text = json.dumps([token, [str(x) for x in sent], version])
    return hashlib.sha256(text.encode()).hexdigest()


def health_inputs_changed() -> bool:
    """Whether health was never computed, or anything it reads changed since."""
    model = load_model(MODEL_HEALTH)
    stored = db.session.scalar(
        select(ScoreModel.inputs_version).where(ScoreModel.id == model.model_id)
    )
    now = health_inputs_version()
    return stored is None or now is None or now != stored


# ---------------------------------------------------------------------------
# Writing scores and snapshots


@dataclass(frozen=True, slots=True)
class HealthRecompute:
    """What a recomputation did."""

    at: datetime
    version: int
    accounts: int
    scored: int
    bands: dict[str, int] = field(default_factory=dict)
    snapshot_day: date | None = None
    inputs_version: str | None = None


#: The columns of `_rows`' tuples.
ROW_COLUMNS = ("account_id", "score", "band", "parts")


def _rows(scores: HealthScores) -> list[tuple[Any, ...]]:
    """One row per account (`ROW_COLUMNS`): account id, score, band, parts (the
    columns every write shares are given once, with the statement's values)."""
    score = np.round(scores.scores, 4)
    scored = np.where(np.isnan(score), None, score).tolist()
    return list(
        zip(
            scores.account_ids.tolist(),
            scored,
            scores.bands,
            _parts_json(scores),
            strict=True,
        )
    )


def _insert(table: Table, rows: list[tuple[Any, ...]], **same: object) -> None:
    """INSERT `rows` (tuples in `ROW_COLUMNS` order: plain values no type converts)
    plus the columns every row shares, as one DBAPI executemany in the session's
    transaction. The shared values are converted for the database once (a datetime,
    a date), not once per row as a Core executemany would."""
    connection = db.session.connection()
    dialect = connection.dialect
    fixed = []
    for name, value in same.items():
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        fixed.append(process(value) if process is not None and value is not None else value)
    names = [*ROW_COLUMNS, *same]
    tail = tuple(fixed)
    if copy_rows(table, names, (row + tail for row in rows)):
        return
    compiled = insert(table).values({n: bindparam(n) for n in names}).compile(dialect=dialect)
    if compiled.positional:
        order = [names.index(n) for n in compiled.positiontup or ()]
        if order == list(range(len(names))):
            params: list[Any] = [row + tail for row in rows]
        else:
            pick = itemgetter(*order)
            params = [pick(row + tail) for row in rows]
    else:
        params = [dict(zip(names, (*row, *tail), strict=True)) for row in rows]
    connection.exec_driver_sql(str(compiled), params)


def _write_snapshots(scores: HealthScores, day: date, rows: list[tuple[Any, ...]]) -> None:
    db.session.execute(delete(HealthSnapshot).where(HealthSnapshot.day == day))
    if rows:
        _insert(
            HealthSnapshot.__table__,
            rows,
            day=day,
            version_id=scores.version.version_id,
            taken_at=utcnow(),
        )


def _summary(scores: HealthScores, day: date | None, inputs: str | None) -> HealthRecompute:
    counts = {b.value: 0 for b in HealthBand}
    for band in scores.bands:
        if band is not None:
            counts[band] += 1
    return HealthRecompute(
        at=scores.at,
        version=scores.version.version,
        accounts=len(scores.account_ids),
        scored=int((~np.isnan(scores.scores)).sum()),
        bands=counts,
        snapshot_day=day,
        inputs_version=inputs,
    )


def _emit_band_changes(model_id: int, rows: list[tuple[Any, ...]], version: int) -> None:
    """account.health_changed for the accounts whose band the new rows change."""
    before = dict(
        db.session.execute(
            select(AccountScore.account_id, AccountScore.band).where(
                AccountScore.model_id == model_id
            )
        ).all()
    )
    emit_health_changes(
        (
            (account_id, before.get(account_id), band, score)
            for account_id, score, band, _ in rows
            if band is not None
        ),
        model_version=version,
    )


def recompute_health(*, snapshot: bool = True, commit: bool = True) -> HealthRecompute:
    """Store every active account's health now (replacing the model's scores),
    replace today's snapshot (with `snapshot`), record the inputs it read, and
    commit (unless `commit=False`: then the caller's transaction holds it). A
    recompute running at the same time waits for this one (serialise_score_writes)."""
    serialise_score_writes()
    inputs = health_inputs_version()
    now = utcnow()
    scores = health_scores_as_of(now)
    model_id = scores.version.model_id
    rows = _rows(scores)
    # Webhooks: account.health_changed for every account whose band moved (a first
    # score counts as a move from none), in the transaction that stores the new bands.
    if subscribers(ACCOUNT_HEALTH_CHANGED):
        _emit_band_changes(model_id, rows, scores.version.version)
    db.session.execute(delete(AccountScore).where(AccountScore.model_id == model_id))
    if rows:
        _insert(
            AccountScore.__table__,
            rows,
            model_id=model_id,
            version_id=scores.version.version_id,
            period=None,
            flags="",
            computed_at=now,
        )
    day = today() if snapshot else None
    if day is not None:
        _write_snapshots(scores, day, rows)
    db.session.execute(
        update(ScoreModel)
        .where(ScoreModel.id == model_id)
        .values(computed_at=now, inputs_version=inputs)
    )
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return _summary(scores, day, inputs)


def snapshot_health_as_of(day: date, *, commit: bool = True) -> HealthRecompute:
    """Replace `day`'s snapshots with health as of the end of that (UTC) day
    (`flask health backfill`; the stored current scores are left alone)."""
    serialise_score_writes()
    at = datetime.combine(day + timedelta(days=1), datetime.min.time()).replace(
        tzinfo=utcnow().tzinfo
    )
    scores = health_scores_as_of(min(at, utcnow()))
    _write_snapshots(scores, day, _rows(scores))
    if commit:
        db.session.commit()
    return _summary(scores, day, None)


def backfill_health(days: int, every: int = 7) -> list[HealthRecompute]:
    """Snapshots for today − every, today − 2·every, ... back to `days` days ago
    (today's is `recompute_health`'s). Returns one summary per day written."""
    if days < 1 or every < 1:
        raise ValueError("days and every must be positive")
    start = today()
    return [
        snapshot_health_as_of(start - timedelta(days=back))
        for back in range(every, days + 1, every)
    ]


def refresh_health() -> HealthRecompute | None:
    """The outbox worker's step: recompute when the inputs changed or today has no
    snapshot yet (the daily history); otherwise do nothing and return None."""
    model = load_model(MODEL_HEALTH)
    stored = db.session.scalar(
        select(ScoreModel.computed_at).where(ScoreModel.id == model.model_id)
    )
    day = today()
    snapped = stored is not None and db.session.scalar(
        select(HealthSnapshot.day).where(HealthSnapshot.day == day).limit(1)
    )
    if snapped and not health_inputs_changed():
        db.session.rollback()  # end the read transaction: the next pass sees new data
        return None
    return recompute_health()
