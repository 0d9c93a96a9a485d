"""Which health measures tell defectors apart: a logistic regression, for an admin to read.

`defected ~ 1 + z₁ + … + z_k` by maximum likelihood (statsmodels `Logit`), where
`z_j` is measure j *standardised* over the judged accounts: `(x − mean) / sd` with
the mean and the population standard deviation (ddof 0) of the accounts that have a
value; an account without a value gets the mean (z = 0), so it neither helps nor
hurts. A measure that does not vary (or that fewer than two accounts have), or that is
a linear combination of the measures before it, is left out of the fit and shows no
coefficient.

A coefficient is the change in the log-odds of defecting for one standard deviation
more of the measure, with its 95 % Wald interval and p-value. The *proposed weight*
reads it in the direction of "healthier" (up for higher-is-better measures, down for
lower-is-better ones): `max(0, −β)` or `max(0, β)` respectively, the parts of the
measures that lower defection as they get healthier, normalised to sum to 1. A
measure that does not protect gets 0. The in-sample AUC is that of the fitted
linear predictor (higher = more likely to defect), by the same rule as the health
AUC. Nothing is applied: an admin may adopt the weights with
`flask scorecard set health MEASURE=WEIGHT ...`, or not.

Perfect separation, a fit that does not converge, too few accounts for the number of
measures, or no defector (or no stayer) give no coefficients and a `note` saying
why, never an error or a NaN. Fewer than 10 defections give `low_sample`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from survey.scale import HEALTH_LOWER_IS_BETTER, WeightsNote
from survey.scoring.health import health_scores_as_of
from survey.scoring.validation import (
    LOW_SAMPLE_DEFECTIONS,
    BoolArray,
    FloatArray,
    auc_lower_defects,
    cutoff_moment,
    defection_outcomes,
    judged,
    resolve_cutoff,
)


@dataclass(frozen=True, slots=True)
class SuggestedCoefficient:
    """One measure's coefficient (None when it was left out or nothing was fitted)."""

    measure: str
    coefficient: float | None
    low: float | None
    high: float | None
    p_value: float | None
    proposed_weight: float | None


@dataclass(frozen=True, slots=True)
class WeightSuggestion:
    """The fit's figures (`cutoff`/`horizon_days` are set by the service)."""

    accounts: int
    defections: int
    #: AUC of the fitted linear predictor on the accounts it was fitted to.
    auc: float | None
    low_sample: bool
    note: WeightsNote | None
    coefficients: list[SuggestedCoefficient]
    cutoff: date | None = None
    horizon_days: int | None = None


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def standardise(values: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """Each column as z-scores over its present values, NaN imputed by the mean (0);
    and which columns vary (the others are all 0 and should be left out)."""
    x = np.asarray(values, dtype=np.float64)
    present = ~np.isnan(x)
    counts = present.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=0)
        sd = np.nanstd(x, axis=0)
    usable = (counts >= 2) & np.isfinite(sd) & (sd > 1e-12)
    z = np.where(present & usable, (x - mean) / np.where(usable, sd, 1.0), 0.0)
    return z, usable


def _independent(z: FloatArray, usable: np.ndarray) -> np.ndarray:
    """`usable` less each column that is a linear combination of the constant and the
    usable columns before it (open and overdue cases that always go together): it
    cannot have a coefficient of its own, and is left out like a flat one."""
    kept = usable.copy()
    basis = [np.ones(len(z))]
    for j in np.flatnonzero(usable):
        candidate = np.column_stack([*basis, z[:, j]])
        if np.linalg.matrix_rank(candidate) == len(basis) + 1:
            basis.append(z[:, j])
        else:
            kept[j] = False
    return kept


def _empty(measures: Sequence[str], n: int, d: int, note: WeightsNote) -> WeightSuggestion:
    return WeightSuggestion(
        accounts=n,
        defections=d,
        auc=None,
        low_sample=True,
        note=note,
        coefficients=[SuggestedCoefficient(m, None, None, None, None, None) for m in measures],
    )


def fit_defection_logit(
    values: FloatArray,
    defected: BoolArray,
    measures: Sequence[str],
    higher_is_better: Sequence[bool],
) -> WeightSuggestion:
    """The regression of the module on `values` (accounts × measures, NaN missing)."""
    y = np.asarray(defected, dtype=bool)
    n, d = len(y), int(y.sum())
    if d == 0 or d == n:
        return _empty(measures, n, d, WeightsNote.NOTHING_TO_FIT)
    z, usable = standardise(values)
    usable = _independent(z, usable)
    columns = np.flatnonzero(usable)
    if len(columns) == 0:
        return _empty(measures, n, d, WeightsNote.NO_VARIATION)
    if n <= len(columns) + 1 or min(d, n - d) < 2:
        return _empty(measures, n, d, WeightsNote.TOO_FEW)
    design = sm.add_constant(z[:, columns], has_constant="add")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = sm.Logit(y.astype(float), design).fit(disp=0, maxiter=100)
    except (PerfectSeparationWarning, PerfectSeparationError):
        return _empty(measures, n, d, WeightsNote.SEPARATION)
    except (np.linalg.LinAlgError, ValueError):
        return _empty(measures, n, d, WeightsNote.NOT_CONVERGED)
    params = np.asarray(fit.params, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bse = np.asarray(fit.bse, dtype=np.float64)
        interval = np.asarray(fit.conf_int(0.05), dtype=np.float64)
        pvalues = np.asarray(fit.pvalues, dtype=np.float64)
    converged = bool(fit.mle_retvals.get("converged", False))
    if not (converged and np.isfinite(params).all() and np.isfinite(bse).all()):
        return _empty(measures, n, d, WeightsNote.NOT_CONVERGED)
    predictor = design @ params
    auc = auc_lower_defects(-predictor, y)
    beta = np.full(len(measures), np.nan)
    beta[columns] = params[1:]
    direction = np.where(np.asarray(higher_is_better, dtype=bool), 1.0, -1.0)
    protective = np.where(np.isnan(beta), 0.0, np.maximum(0.0, -direction * beta))
    total = float(protective.sum())
    note = None if d >= LOW_SAMPLE_DEFECTIONS else WeightsNote.FEW_DEFECTIONS
    if total <= 0:
        note = note or WeightsNote.NOTHING_PROTECTS
    coefficients = []
    for j, measure in enumerate(measures):
        if not usable[j]:
            coefficients.append(SuggestedCoefficient(measure, None, None, None, None, None))
            continue
        k = 1 + int(np.searchsorted(columns, j))
        coefficients.append(
            SuggestedCoefficient(
                measure=measure,
                coefficient=_finite(params[k]),
                low=_finite(interval[k, 0]),
                high=_finite(interval[k, 1]),
                p_value=_finite(pvalues[k]),
                proposed_weight=float(protective[j] / total) if total > 0 else None,
            )
        )
    return WeightSuggestion(
        accounts=n,
        defections=d,
        auc=auc,
        low_sample=d < LOW_SAMPLE_DEFECTIONS,
        note=note,
        coefficients=coefficients,
    )


def adopt_command(suggestion: WeightSuggestion) -> str | None:
    """The command that would adopt the proposed weights (to 3 decimals), or None when
    nothing is proposed. Measures without a coefficient are not in it (they keep
    their weight); a measure proposed at 0 leaves the model."""
    parts = [
        f"{c.measure}={c.proposed_weight:.3f}"
        for c in suggestion.coefficients
        if c.proposed_weight is not None
    ]
    return f"flask scorecard set health {' '.join(parts)}" if parts else None


def suggested_health_weights(
    horizon_days: int = 365, cutoff: date | None = None
) -> WeightSuggestion:
    """The regression over the current health model's measures, on the accounts
    `health_validation` judges: active at the cut-off and with a health score then
    (missing measures of those accounts imputed, see the module's rules)."""
    cutoff = resolve_cutoff(horizon_days, cutoff)
    outcomes = defection_outcomes(horizon_days, cutoff)
    health = health_scores_as_of(cutoff_moment(cutoff))
    mask, defected = judged(outcomes, health.account_ids)
    scored = ~np.isnan(health.scores[mask])
    lower = {m.value for m in HEALTH_LOWER_IS_BETTER}
    fitted = fit_defection_logit(
        health.values[mask][scored],
        defected[scored],
        health.measures,
        [m not in lower for m in health.measures],
    )
    return replace(fitted, cutoff=cutoff, horizon_days=horizon_days)


__all__ = [
    "SuggestedCoefficient",
    "WeightSuggestion",
    "adopt_command",
    "fit_defection_logit",
    "standardise",
    "suggested_health_weights",
]
