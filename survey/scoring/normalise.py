"""The arithmetic every score model shares: percentiles, weighted composites, bands.

All of it works on numpy arrays with NaN for "no value", one row per account:

- **Mid-rank percentile** of each account's value among the accounts that have one:
  `100 × (below + 0.5 × equal) / n` (below: accounts with a lower value; equal:
  accounts with the same value, itself included; n: accounts with a value), and
  `100 − p` where lower is better. Ties share a percentile; one account alone is 50.
- **Composite**: `Σ wᵢ·pᵢ / Σ wᵢ` over the measures the account has a value for (the
  weights of the missing ones are left out and the rest renormalised). An account
  whose present weight is under half the model's total has no score (NaN:
  "insufficient data"), never a zero. Each part's contribution is `wᵢ·pᵢ / Σ wᵢ`,
  so the contributions add up to the score.
- **Pyramid bands** by cumulative share of total value: accounts in descending
  score order; an account belongs to the first band whose limit the cumulative share
  of the accounts *before* it has not reached (so the account that crosses 50 % is
  still in A), and accounts with equal scores share the band of the first of them.
- **Threshold bands** (health): the first band whose lowest score the score reaches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

FloatArray = NDArray[np.float64]

#: An account needs at least this share of its model's total weight to be scored.
MIN_WEIGHT_SHARE = 0.5


def midrank_percentiles(values: FloatArray, *, higher_is_better: bool = True) -> FloatArray:
    """Each value's mid-rank percentile among the present (non-NaN) values; NaN stays NaN."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    n = int(present.sum())
    if n == 0:
        return out
    # rankdata's average rank is below + (equal + 1) / 2, so below + equal/2 is rank - 1/2.
    ranks = rankdata(values[present], method="average")
    p = 100.0 * (ranks - 0.5) / n
    out[present] = p if higher_is_better else 100.0 - p
    return out


@dataclass(frozen=True, slots=True)
class Composite:
    """Scores of many accounts under one set of weights.

    `score[i]` is NaN for insufficient data; `weights[i, j]` is measure j's
    renormalised weight for account i (0 where it had no value), and
    `contributions[i, j] = weights[i, j] × percentiles[i, j]`, summing to the score.
    """

    score: FloatArray
    weights: FloatArray
    contributions: FloatArray
    present_share: FloatArray


def composite(percentiles: FloatArray, weights: Sequence[float]) -> Composite:
    """Weighted mean of each row's present percentiles (see the module's rules)."""
    p = np.asarray(percentiles, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError("percentiles must be a 2-D array: accounts × measures")
    w = np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    if p.shape[1] != w.shape[0] or total <= 0:
        raise ValueError("one positive weight per measure is needed")
    present = ~np.isnan(p)
    w_present = np.where(present, w, 0.0)
    present_weight = w_present.sum(axis=1)
    scored = present_weight >= MIN_WEIGHT_SHARE * total - 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        renormalised = np.where(scored[:, None], w_present / present_weight[:, None], 0.0)
    contributions = np.where(present, renormalised * np.nan_to_num(p), 0.0)
    score = np.where(scored, contributions.sum(axis=1), np.nan)
    return Composite(
        score=score,
        weights=renormalised,
        contributions=contributions,
        present_share=present_weight / total,
    )


def pyramid_bands(scores: FloatArray, limits: Mapping[str, float], last: str) -> list[str | None]:
    """Band of each score by cumulative share of the total (see the module's rules).

    `limits` maps band names, top first, to the cumulative percentage that closes
    them (`{"A": 50, "B": 80}`); `last` names the band of the rest. NaN scores get
    None.
    """
    s = np.asarray(scores, dtype=np.float64)
    bands: list[str | None] = [None] * len(s)
    present = np.flatnonzero(~np.isnan(s))
    total = float(s[present].sum()) if len(present) else 0.0
    if total <= 0:
        for i in present:
            bands[i] = last
        return bands
    order = present[np.argsort(-s[present], kind="stable")]
    ordered = s[order]
    # The running total before each account (summed in order, as a loop would), taken
    # at the first of each run of equal scores, so ties share that account's band.
    before = np.concatenate(([0.0], np.cumsum(ordered)[:-1]))
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    share = 100.0 * before[first] / total
    ordered_limits = sorted(limits.items(), key=lambda item: item[1])
    names = np.array([name for name, _ in ordered_limits] + [last], dtype=object)
    closes = np.array([limit for _, limit in ordered_limits], dtype=np.float64)
    # The first band whose limit the share has not reached (`share < limit`).
    chosen = names[np.searchsorted(closes, share, side="right")]
    out = np.full(len(s), None, dtype=object)
    out[order] = chosen
    return out.tolist()  # type: ignore[no-any-return]


def threshold_band(score: float | None, limits: Mapping[str, float], last: str) -> str | None:
    """The first band (highest limit first) whose lowest score `score` reaches."""
    if score is None or np.isnan(score):
        return None
    for name, lowest in sorted(limits.items(), key=lambda item: -item[1]):
        if score >= lowest:
            return name
    return last


def threshold_bands(scores: FloatArray, limits: Mapping[str, float], last: str) -> list[str | None]:
    """`threshold_band` of every score at once (None for NaN)."""
    s = np.asarray(scores, dtype=np.float64)
    out = np.full(len(s), None, dtype=object)
    out[~np.isnan(s)] = last
    # `threshold_band`'s order backwards: the band it would pick is written last.
    for name, lowest in reversed(sorted(limits.items(), key=lambda item: -item[1])):
        with np.errstate(invalid="ignore"):
            out[s >= lowest] = name
    return out.tolist()  # type: ignore[no-any-return]
