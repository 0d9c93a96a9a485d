"""Does health predict defection? The health score at a cut-off against who left after it.

The question is asked of the past, so the whole horizon has been seen: the cut-off
defaults to today − horizon. The accounts judged are those *active at the cut-off*:
not defected on or before it, and either still active today or defected after it (an
account switched off without a recorded defection cannot be dated and is left out).
An account *defected* when its defection date falls in (cut-off, cut-off + horizon];
every other judged account stayed.

Each account's health is its score **as of the cut-off**
(`health_scores_as_of(cutoff)`): the measures are recomputed from the responses,
invitations and follow-ups dated up to that day, so no snapshot from back then is
needed (and none exists for dates before snapshots began). One input is today's, not
the cut-off's: the relationship stage, which the registry keeps without history.
Accounts whose health had insufficient data at the cut-off are left out of the
statistics and counted in `unscored`.

The statistics (pure functions on arrays, below):

- **AUC** (Mann-Whitney): lower health should mean defection, so
  `AUC = P(health of a defector < health of a stayer) + ½ P(tie)` over all
  defector-stayer pairs: 0.5 is a coin toss, 1.0 ranks every defector below every
  stayer. None when there are no defectors or no stayers.
- **95 % interval** by Hanley & McNeil (1982):
  `SE² = (A(1−A) + (n_d − 1)(Q1 − A²) + (n_s − 1)(Q2 − A²)) / (n_d · n_s)` with
  `Q1 = A / (2 − A)`, `Q2 = 2A² / (1 + A)`, n_d defectors, n_s stayers;
  `A ± 1.959964 · SE`, clipped to [0, 1].
- **Quintiles**: each account's mid-rank percentile of health among the judged
  accounts, `p = 100 × (below + ½ equal) / n` (the same percentile the scores use),
  and quintile `1 + floor(p / 20)` (at most 5). Quintile 1 is the least healthy
  fifth; equal scores share a percentile, so ties always fall in one quintile (a
  quintile may then hold more or fewer than a fifth, or none).
- `low_sample` when there are fewer than 10 defections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata
from sqlalchemy import select

from survey.clock import today as clock_today
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import Defection, KeyAccount
from survey.scoring.health import health_scores_as_of
from survey.scoring.normalise import midrank_percentiles
from survey.statistics import Z95

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Fewer defections than this and the figures are flagged as a low sample.
LOW_SAMPLE_DEFECTIONS = 10
QUINTILES = 5
#: The longest horizon asked about (ten years).
MAX_HORIZON_DAYS = 3650


def auc_lower_defects(scores: FloatArray, defected: BoolArray) -> float | None:
    """`P(defector's score < stayer's score) + ½ P(tie)`; None without both groups.

    From average ranks of the pooled scores: the stayers' rank sum less its minimum,
    `R_s − n_s(n_s + 1)/2`, counts the (stayer above defector) pairs with ties as ½.
    """
    s = np.asarray(scores, dtype=np.float64)
    d = np.asarray(defected, dtype=bool)
    n_d = int(d.sum())
    n_s = len(s) - n_d
    if n_d == 0 or n_s == 0:
        return None
    ranks = rankdata(s, method="average")
    u_stayers = float(ranks[~d].sum()) - n_s * (n_s + 1) / 2.0
    return u_stayers / (n_d * n_s)


def hanley_mcneil_interval(
    auc: float, defectors: int, stayers: int, z: float = Z95
) -> tuple[float, float]:
    """The Hanley & McNeil (1982) interval `auc ± z·SE`, clipped to [0, 1]."""
    if defectors < 1 or stayers < 1:
        raise ValueError("the interval needs at least one defector and one stayer")
    a = auc
    q1 = a / (2.0 - a)
    q2 = 2.0 * a * a / (1.0 + a)
    variance = (a * (1.0 - a) + (defectors - 1) * (q1 - a * a) + (stayers - 1) * (q2 - a * a)) / (
        defectors * stayers
    )
    se = math.sqrt(max(variance, 0.0))
    return max(0.0, a - z * se), min(1.0, a + z * se)


@dataclass(frozen=True, slots=True)
class Quintile:
    """One fifth of the judged accounts by health, 1 the least healthy."""

    quintile: int
    accounts: int
    defections: int

    @property
    def rate(self) -> float | None:
        """Share of its accounts that defected; None for an empty quintile."""
        return self.defections / self.accounts if self.accounts else None


def health_quintiles(scores: FloatArray, defected: BoolArray) -> list[Quintile]:
    """The five quintiles (see the module's rule), always five, in order."""
    s = np.asarray(scores, dtype=np.float64)
    d = np.asarray(defected, dtype=bool)
    if len(s) == 0:
        return [Quintile(q, 0, 0) for q in range(1, QUINTILES + 1)]
    p = midrank_percentiles(s)
    q = np.minimum(np.floor(p / (100.0 / QUINTILES)).astype(int) + 1, QUINTILES)
    accounts = np.bincount(q, minlength=QUINTILES + 1)
    defections = np.bincount(q[d], minlength=QUINTILES + 1)
    return [Quintile(i, int(accounts[i]), int(defections[i])) for i in range(1, QUINTILES + 1)]


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Who is judged at a cut-off and who of them defected within the horizon."""

    cutoff: date
    horizon_days: int
    #: Account ids active at the cut-off, ascending.
    account_ids: list[int]
    defected: BoolArray

    @property
    def horizon_end(self) -> date:
        return self.cutoff + timedelta(days=self.horizon_days)


def resolve_cutoff(horizon_days: int, cutoff: date | None) -> date:
    """Check the horizon; the cut-off given, or today − horizon (the horizon has passed)."""
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise InvalidInputError(
            f"the horizon is 1 to {MAX_HORIZON_DAYS} days, not {horizon_days}",
            field="horizonDays",
        )
    return cutoff if cutoff is not None else clock_today() - timedelta(days=horizon_days)


def defection_outcomes(horizon_days: int, cutoff: date) -> Outcomes:
    """The accounts active at `cutoff` and whether each defected within the horizon
    (one query; see the module's rules)."""
    rows = db.session.execute(
        select(KeyAccount.id, KeyAccount.active, Defection.defected_on)
        .outerjoin(Defection, Defection.account_id == KeyAccount.id)
        .order_by(KeyAccount.id)
    ).all()
    end = cutoff + timedelta(days=horizon_days)
    ids: list[int] = []
    defected: list[bool] = []
    for account_id, active, defected_on in rows:
        if defected_on is None:
            if not active:
                continue
            ids.append(account_id)
            defected.append(False)
        elif defected_on > cutoff:
            ids.append(account_id)
            defected.append(defected_on <= end)
    return Outcomes(cutoff, horizon_days, ids, np.asarray(defected, dtype=bool))


@dataclass(frozen=True, slots=True)
class HealthValidation:
    """Health at the cut-off against defection within the horizon after it."""

    cutoff: date
    horizon_days: int
    #: Judged accounts with a health score, and how many of them defected.
    accounts: int
    defections: int
    #: Accounts active at the cut-off left out for insufficient data.
    unscored: int
    auc: float | None
    auc_low: float | None
    auc_high: float | None
    low_sample: bool
    quintiles: list[Quintile]

    @property
    def horizon_end(self) -> date:
        return self.cutoff + timedelta(days=self.horizon_days)


def validate_scores(
    scores: FloatArray, defected: BoolArray, *, cutoff: date, horizon_days: int
) -> HealthValidation:
    """The statistics of the module on one array of scores (NaN: insufficient data)."""
    s = np.asarray(scores, dtype=np.float64)
    d = np.asarray(defected, dtype=bool)
    scored = ~np.isnan(s)
    s, d_scored = s[scored], d[scored]
    defections = int(d_scored.sum())
    auc = auc_lower_defects(s, d_scored)
    low = high = None
    if auc is not None:
        low, high = hanley_mcneil_interval(auc, defections, len(s) - defections)
    return HealthValidation(
        cutoff=cutoff,
        horizon_days=horizon_days,
        accounts=len(s),
        defections=defections,
        unscored=int((~scored).sum()),
        auc=auc,
        auc_low=low,
        auc_high=high,
        low_sample=auc is None or defections < LOW_SAMPLE_DEFECTIONS,
        quintiles=health_quintiles(s, d_scored),
    )


def cutoff_moment(cutoff: date) -> datetime:
    """The last moment of the cut-off day (UTC): everything dated that day counts, and
    an account that defected on it is not judged (it was gone by then)."""
    return datetime.combine(cutoff, time.max, UTC)


def judged(outcomes: Outcomes, account_ids: np.ndarray) -> tuple[np.ndarray, BoolArray]:
    """Of `account_ids` (a health computation's rows), which are judged at the cut-off
    (a mask over them) and, for those, whether each defected within the horizon."""
    outcome = dict(zip(outcomes.account_ids, outcomes.defected.tolist(), strict=True))
    ids = [int(i) for i in account_ids]
    mask = np.array([i in outcome for i in ids], dtype=bool)
    defected = np.array([outcome[i] for i in ids if i in outcome], dtype=bool)
    return mask, defected


def health_validation(horizon_days: int = 365, cutoff: date | None = None) -> HealthValidation:
    """Health at the cut-off (default today − horizon) against defection within the
    horizon after it, under the current health model (see the module's rules)."""
    cutoff = resolve_cutoff(horizon_days, cutoff)
    outcomes = defection_outcomes(horizon_days, cutoff)
    scores = health_scores_as_of(cutoff_moment(cutoff))
    mask, defected = judged(outcomes, scores.account_ids)
    return validate_scores(scores.scores[mask], defected, cutoff=cutoff, horizon_days=horizon_days)


__all__ = [
    "LOW_SAMPLE_DEFECTIONS",
    "MAX_HORIZON_DAYS",
    "HealthValidation",
    "Outcomes",
    "Quintile",
    "auc_lower_defects",
    "cutoff_moment",
    "defection_outcomes",
    "hanley_mcneil_interval",
    "health_quintiles",
    "health_validation",
    "judged",
    "resolve_cutoff",
    "validate_scores",
]
