"""What to fix first: which aspect moves overall satisfaction most (key-driver
analysis), and how well we do on it.

One SQL statement gathers the observations: per response (unit RESPONSE) or per
account (unit ACCOUNT, the mean of its responses in the filter, so an account
heard twice counts once), each aspect's score, the share of those scores that are
satisfied (4-5), the overall score and the account's annual revenue. numpy and
scipy do the rest:

- importance: Pearson's r between an aspect's score and the overall score over
  the observations that answered both, weighted by annual revenue under REVENUE
  (the weighted covariance over the weighted variances, numpy.cov with aweights);
- importance_low/high: the 95% interval by Fisher's z, tanh(atanh(r) ± 1.96/√(n−3)),
  n the number of observations, or Kish's effective n (Σw)²/Σw² under REVENUE;
- p_value: two-sided, t = r·√((n−2)/(1−r²)) on n−2 degrees of freedom (the same
  n as the interval);
- relative_weight: Johnson's relative weights in the regression of overall on
  every aspect, over the observations that answered every aspect and overall
  (eigen-decomposition of the aspects' correlation matrix R = VΛVᵀ, Λ½ = VΛ^½Vᵀ,
  β = Λ½⁻¹·r_xy, ε_j = Σ_k (Λ½)_jk²·β_k², shares ε/R² summing to 1), and r2 that
  regression's R² (Σε = r_xyᵀR⁻¹r_xy), flagged low_sample with fewer than
  OBSERVATIONS_PER_ASPECT complete observations per aspect;
- performance: the mean score, satisfied_share the share of satisfied scores (of
  an account, the share of its responses), with its Wilson interval (Kish's n
  when weighted), over the same observations as importance;
- quadrant: by the medians across aspects: FIX_FIRST (importance above the median
  importance, performance below the median performance), KEEP_UP (above, at or
  above), SECONDARY (at or below, below), POSSIBLE_OVERKILL (at or below, at or
  above). An aspect whose importance interval reaches zero is low_sample and
  counts as not important: never FIX_FIRST.

Degenerate input (no data, fewer than MIN_OBSERVATIONS observations, an aspect or
overall that never varies, aspects that move in lockstep) gives None figures and
low_sample, never NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import stats as scipy_stats
from sqlalchemy import Float, case, cast, func, select

from survey.analysis.filters import (
    DEFAULT_MIN_GROUP_SIZE,
    Interval,
    ResponseFilter,
    resolve_locale,
    response_conditions,
    validate_response_filter,
)
from survey.db import db
from survey.models import Answer, Aspect, KeyAccount, Response
from survey.scale import OVERALL, SATISFIED_MIN, DriverQuadrant
from survey.statistics import Z95, kish_effective_n, weighted_wilson_interval, wilson_interval

#: Fisher's interval needs n > 3: with fewer observations nothing is estimated.
MIN_OBSERVATIONS = 4
#: Below this many complete observations per aspect the regression's R² and relative
#: weights are flagged low_sample (a common rule of thumb for a regression).
OBSERVATIONS_PER_ASPECT = 10
#: Eigenvalues of the aspects' correlation matrix below this share of the largest
#: mean aspects that move in lockstep: the regression has no unique answer.
SINGULAR_TOLERANCE = 1e-9


class DriverUnit(StrEnum):
    """What one observation is: a response, or an account (the mean of its responses)."""

    RESPONSE = "response"
    ACCOUNT = "account"


class DriverWeight(StrEnum):
    """How much an observation counts: once (ANSWERS), or its account's annual revenue."""

    ANSWERS = "answers"
    REVENUE = "revenue"


#: The quadrants and their labels live with the vocabulary (survey.scale).
Quadrant = DriverQuadrant


@dataclass(frozen=True, slots=True)
class KeyDriver:
    """One aspect against overall satisfaction (figures None when not estimable)."""

    aspect: str
    label_zh: str
    label_en: str
    #: Observations that answered the aspect and overall.
    n: int
    importance: float | None
    importance_low: float | None
    importance_high: float | None
    p_value: float | None
    relative_weight: float | None
    performance: float | None
    satisfied_share: float | None
    satisfied_share_interval: Interval
    quadrant: Quadrant | None
    low_sample: bool

    def label(self, locale: str | None) -> str:
        return self.label_en if resolve_locale(locale) == "en" else self.label_zh


@dataclass(frozen=True, slots=True)
class KeyDriverAnalysis:
    """The drivers in questionnaire order; n and r2 are those of the regression
    over the observations that answered every aspect and overall."""

    unit: DriverUnit
    weight: DriverWeight
    n: int
    r2: float | None
    low_sample: bool
    drivers: tuple[KeyDriver, ...]
    #: The medians the quadrants are cut at (over the aspects with both figures).
    median_importance: float | None = None
    median_performance: float | None = None


@dataclass(frozen=True, slots=True)
class Observations:
    """What the SQL gathers, as arrays: scores[i, j] of aspect j (NaN: not answered),
    satisfied[i, j] the satisfied share behind it, overall[i], weights[i]."""

    aspects: tuple[tuple[str, str, str], ...]  # (code, label_zh, label_en)
    scores: np.ndarray
    satisfied: np.ndarray
    overall: np.ndarray
    weights: np.ndarray


def _aspects() -> list[tuple[int, str, str, str]]:
    """(id, code, label_zh, label_en) of every aspect but overall, in questionnaire order."""
    rows = db.session.execute(
        select(Aspect.id, Aspect.code, Aspect.label_zh, Aspect.label_en).order_by(
            Aspect.position, Aspect.code
        )
    ).all()
    return [(int(i), c, zh, en) for i, c, zh, en in rows]


def observations_statement(
    f: ResponseFilter, unit: DriverUnit, aspect_ids: list[int], overall_id: int
) -> Any:
    """The one SELECT of the observations: per response (or account) and aspect id in
    `aspect_ids`, the mean score and mean satisfied indicator; the overall mean; the
    account's annual revenue. A response counts when it matches `f`."""
    selected = (
        select(
            Response.id.label("response_id"),
            Response.account_id.label("account_id"),
            KeyAccount.annual_revenue.label("revenue"),
        )
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .where(*response_conditions(f))
        .subquery("selected_responses")
    )
    key = selected.c.response_id if unit is DriverUnit.RESPONSE else selected.c.account_id
    columns: list[Any] = []
    for aspect_id in aspect_ids:
        on_aspect = Answer.aspect_id == aspect_id
        columns.append(func.avg(case((on_aspect, cast(Answer.score, Float)))))
        columns.append(
            func.avg(case((on_aspect, case((Answer.score >= SATISFIED_MIN, 1.0), else_=0.0))))
        )
    columns.append(func.avg(case((Answer.aspect_id == overall_id, cast(Answer.score, Float)))))
    return (
        select(key, func.max(cast(selected.c.revenue, Float)), *columns)
        .select_from(selected.join(Answer, Answer.response_id == selected.c.response_id))
        .group_by(key)
        .order_by(key)
    )


def observations_from_rows(
    rows: list[Any], aspects: tuple[tuple[str, str, str], ...], weight: DriverWeight
) -> Observations:
    """The arrays of `observations_statement`'s rows (NULL becomes NaN)."""
    k = len(aspects)
    # numpy reads None as NaN when told the array holds floats.
    data = np.array(rows, dtype=float).reshape(len(rows), 2 * k + 3)[:, 1:]
    weights = data[:, 0] if weight is DriverWeight.REVENUE else np.ones(len(rows))
    return Observations(
        aspects=aspects,
        scores=data[:, 1 : 1 + 2 * k : 2],
        satisfied=data[:, 2 : 2 + 2 * k : 2],
        overall=data[:, 2 * k + 1],
        weights=np.nan_to_num(weights, nan=0.0),
    )


def gather_observations(f: ResponseFilter, unit: DriverUnit, weight: DriverWeight) -> Observations:
    """The observations `f` selects, in one statement (after the aspects' look-up)."""
    aspects = _aspects()
    overall_id = next((i for i, code, _, _ in aspects if code == OVERALL), None)
    drivers = tuple((c, zh, en) for _, c, zh, en in aspects if c != OVERALL)
    if overall_id is None or not drivers:
        empty = np.empty((0, len(drivers)))
        return Observations(drivers, empty, empty, np.empty(0), np.empty(0))
    ids = [i for i, code, _, _ in aspects if code != OVERALL]
    # Plain tuples: numpy probes each SQLAlchemy Row for the array protocol's attributes,
    # and every miss is a KeyError raised and caught inside Row (half the request).
    rows = [
        tuple(row) for row in db.session.execute(observations_statement(f, unit, ids, overall_id))
    ]
    return observations_from_rows(rows, drivers, weight)


# ---------------------------------------------------------------------------
# The arithmetic


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def weighted_correlation(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float | None:
    """Pearson's r of x and y with observation weights w (None if either is constant)."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    covariance = np.cov(np.vstack([x, y]), aweights=w, ddof=0)
    variances = covariance[0, 0] * covariance[1, 1]
    if not variances > 0:
        return None
    return float(np.clip(covariance[0, 1] / math.sqrt(variances), -1.0, 1.0))


def fisher_interval(r: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """tanh(atanh(r) ± z/√(n−3)); None unless n > 3. |r| = 1 gives (r, r)."""
    if n <= 3:
        return None
    if abs(r) >= 1.0:
        return r, r
    centre, half = math.atanh(r), z / math.sqrt(n - 3)
    return math.tanh(centre - half), math.tanh(centre + half)


def correlation_p_value(r: float, n: float) -> float | None:
    """Two-sided p of r ≠ 0 from t = r·√((n−2)/(1−r²)) on n−2 degrees of freedom."""
    df = n - 2
    if df <= 0:
        return None
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt(df / (1.0 - r * r))
    return float(2.0 * scipy_stats.t.sf(abs(t), df))


def relative_weights(
    predictors: np.ndarray, outcome: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, float] | None:
    """Johnson's relative weights (shares of R², summing to 1) and R² of the
    regression of `outcome` on the columns of `predictors`, weighted by `w`; None
    when a column or the outcome is constant or the columns are collinear."""
    n, k = predictors.shape
    if n < k + 2 or k == 0:
        return None
    if np.any(np.ptp(predictors, axis=0) == 0) or np.ptp(outcome) == 0:
        return None
    covariance = np.cov(np.column_stack([predictors, outcome]).T, aweights=w, ddof=0)
    scale = np.sqrt(np.diag(covariance))
    correlation = covariance / np.outer(scale, scale)
    rxx, rxy = correlation[:k, :k], correlation[:k, k]
    eigenvalues, eigenvectors = np.linalg.eigh(rxx)
    if eigenvalues.min() <= SINGULAR_TOLERANCE * eigenvalues.max():
        return None
    root = eigenvectors @ np.diag(np.sqrt(eigenvalues)) @ eigenvectors.T
    beta = np.linalg.solve(root, rxy)
    raw = (root**2) @ (beta**2)
    r2 = float(raw.sum())
    if not r2 > 0:
        return None
    return raw / r2, r2


def _quadrants(
    importance: list[float | None], performance: list[float | None], weak: list[bool]
) -> tuple[list[Quadrant | None], float | None, float | None]:
    """Each aspect's quadrant, and the median importance and performance across the
    aspects that have both."""
    pairs = zip(importance, performance, strict=True)
    known = [(i, p) for i, p in pairs if i is not None and p is not None]
    if not known:
        return [None] * len(importance), None, None
    middle_importance = float(np.median([i for i, _ in known]))
    middle_performance = float(np.median([p for _, p in known]))
    result: list[Quadrant | None] = []
    for i, p, low in zip(importance, performance, weak, strict=True):
        if i is None or p is None:
            result.append(None)
            continue
        important = i > middle_importance and i > 0 and not low
        behind = p < middle_performance
        if important:
            result.append(Quadrant.FIX_FIRST if behind else Quadrant.KEEP_UP)
        else:
            result.append(Quadrant.SECONDARY if behind else Quadrant.POSSIBLE_OVERKILL)
    return result, middle_importance, middle_performance


def analyse(
    obs: Observations,
    unit: DriverUnit = DriverUnit.RESPONSE,
    weight: DriverWeight = DriverWeight.ANSWERS,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> KeyDriverAnalysis:
    """The figures of `obs` (pure numpy/scipy; see the module's docstring)."""
    minimum = max(MIN_OBSERVATIONS, min_group_size)
    # Observations that weigh nothing (no revenue recorded) tell nothing.
    usable = obs.weights > 0
    exact_counts = unit is DriverUnit.RESPONSE and weight is DriverWeight.ANSWERS
    figures: list[dict[str, Any]] = []
    for j in range(len(obs.aspects)):
        mask = usable & ~np.isnan(obs.scores[:, j]) & ~np.isnan(obs.overall)
        x, y, w = obs.scores[mask, j], obs.overall[mask], obs.weights[mask]
        n = int(mask.sum())
        figure: dict[str, Any] = {"n": n, "importance": None, "interval": None, "p": None}
        if n:
            total = float(w.sum())
            n_eff = kish_effective_n(total, float((w * w).sum()))
            share = float((w * obs.satisfied[mask, j]).sum() / total)
            figure["performance"] = _finite((w * x).sum() / total)
            figure["satisfied_share"] = share
            figure["satisfied_interval"] = (
                wilson_interval(round(share * n), n)
                if exact_counts
                else weighted_wilson_interval(share, n_eff)
            )
            r = weighted_correlation(x, y, w) if n >= MIN_OBSERVATIONS else None
            if r is not None:
                figure["importance"] = r
                figure["interval"] = fisher_interval(r, n_eff)
                figure["p"] = correlation_p_value(r, n_eff)
        interval = figure["interval"]
        figure["low_sample"] = n < minimum or interval is None or interval[0] <= 0.0 <= interval[1]
        figures.append(figure)

    complete = usable & ~np.isnan(obs.overall) & ~np.isnan(obs.scores).any(axis=1)
    regression = (
        relative_weights(obs.scores[complete], obs.overall[complete], obs.weights[complete])
        if obs.aspects
        else None
    )
    n_complete = int(complete.sum())
    quadrants, median_importance, median_performance = _quadrants(
        [f["importance"] for f in figures],
        [f.get("performance") for f in figures],
        [f["low_sample"] for f in figures],
    )
    drivers = tuple(
        KeyDriver(
            aspect=code,
            label_zh=zh,
            label_en=en,
            n=f["n"],
            importance=f["importance"],
            importance_low=f["interval"][0] if f["interval"] else None,
            importance_high=f["interval"][1] if f["interval"] else None,
            p_value=f["p"],
            relative_weight=float(regression[0][j]) if regression else None,
            performance=f.get("performance"),
            satisfied_share=f.get("satisfied_share"),
            satisfied_share_interval=f.get("satisfied_interval"),
            quadrant=quadrant,
            low_sample=f["low_sample"],
        )
        for j, ((code, zh, en), f, quadrant) in enumerate(
            zip(obs.aspects, figures, quadrants, strict=True)
        )
    )
    return KeyDriverAnalysis(
        unit=unit,
        weight=weight,
        n=n_complete,
        r2=regression[1] if regression else None,
        low_sample=regression is None
        or n_complete < max(minimum, OBSERVATIONS_PER_ASPECT * len(obs.aspects)),
        drivers=drivers,
        median_importance=median_importance,
        median_performance=median_performance,
    )


def key_drivers(
    f: ResponseFilter | None = None,
    unit: DriverUnit = DriverUnit.RESPONSE,
    weight: DriverWeight = DriverWeight.ANSWERS,
    *,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> KeyDriverAnalysis:
    """Which aspects drive overall satisfaction among the responses `f` selects
    (see the module's docstring for every definition). Two statements: the aspects,
    then the observations."""
    f = f or ResponseFilter()
    validate_response_filter(f)
    obs = gather_observations(f, unit, weight)
    return analyse(obs, unit, weight, min_group_size)
