"""Reproducible samples: proportional allocation, simple and stratified random samples.

Pure functions, no database. "Draw a random sample from the existing key accounts"
must be auditable: given the frame as it was at launch and the recorded seed,
anyone can draw exactly the same sample again. So every function sorts its input
before drawing (the order rows come back from a database must not matter) and
uses its own `random.Random(seed)`, never the global generator. Python does not
promise that `Random.sample` draws the same across versions, so tests/test_sampling.py
pins the samples of known seeds: an upgrade that changes them fails there first.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any, Protocol, TypeVar


class _Sortable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Sortable)


def allocate_proportional(strata: Mapping[str, int], n: int) -> dict[str, int]:
    """Split a sample of `n` over strata in proportion to their sizes.

    Largest-remainder (Hamilton) rounding: every stratum first gets the whole
    part of its quota `n * size / total`; the seats left over go to the largest
    remainders, ties broken by the larger stratum, then by key order. When
    `n` is at least the number of non-empty strata, every non-empty stratum gets
    at least one account (so no kind of account is left unheard); the extra
    seats come from the strata holding the most, so the total stays exactly `n`.
    No stratum is ever given more than its size.

    Raises ValueError for a negative size or `n`, or when `n` exceeds the total.
    """
    if n < 0:
        raise ValueError(f"sample size must not be negative, got {n}")
    for key, size in strata.items():
        if size < 0:
            raise ValueError(f"stratum {key!r} has a negative size ({size})")
    total = sum(strata.values())
    if n > total:
        raise ValueError(f"sample size {n} is larger than the {total} units to sample from")
    keys = list(strata)
    if n == 0:
        return dict.fromkeys(keys, 0)

    # Integer arithmetic: quota = n * size / total = whole + remainder / total, exactly.
    whole = {k: n * strata[k] // total for k in keys}
    remainder = {k: n * strata[k] % total for k in keys}
    order = {k: i for i, k in enumerate(keys)}
    left = n - sum(whole.values())
    by_claim = sorted(keys, key=lambda k: (-remainder[k], -strata[k], order[k]))
    allocation = dict(whole)
    # A positive remainder means whole < quota <= size, so +1 never exceeds the size.
    for k in by_claim[:left]:
        allocation[k] += 1

    non_empty = [k for k in keys if strata[k] > 0]
    if n >= len(non_empty):
        for k in non_empty:
            if allocation[k] == 0:
                # Some stratum holds >= 2 here (pigeonhole), so the donor keeps >= 1.
                # Among the largest, take from the one furthest above its quota.
                donor = max(
                    keys,
                    key=lambda d: (
                        allocation[d],
                        allocation[d] * total - n * strata[d],
                        order[d],
                    ),
                )
                allocation[donor] -= 1
                allocation[k] = 1
    return allocation


def _sorted_unique(ids: Sequence[K]) -> list[K]:
    ordered = sorted(ids)
    for a, b in pairwise(ordered):
        if not a < b:
            raise ValueError(f"duplicate unit {a!r} in the frame")
    return ordered


def simple_sample(ids: Sequence[K], n: int, seed: int) -> list[K]:
    """A simple random sample of `n` distinct ids, sorted.

    The same seed on the same set of ids (in any order) gives the same sample.
    Raises ValueError when `n` is negative or larger than the frame, or ids repeat.
    """
    population = _sorted_unique(ids)
    if not 0 <= n <= len(population):
        raise ValueError(f"cannot draw {n} from a frame of {len(population)}")
    return sorted(random.Random(seed).sample(population, n))


def stratified_sample(
    frame: Mapping[str, Sequence[K]], n: int, seed: int
) -> tuple[dict[str, int], list[K]]:
    """A stratified random sample: proportional allocation, then a simple random
    sample inside each stratum. Returns the allocation (strata in key order) and
    the sampled ids, sorted.

    Strata are visited in sorted key order with one generator, so the mapping's
    order does not change the result. An id may belong to one stratum only.
    """
    keys = sorted(frame)
    strata = {k: sorted(frame[k]) for k in keys}
    _sorted_unique([unit for k in keys for unit in strata[k]])  # one stratum per id
    allocation = allocate_proportional({k: len(strata[k]) for k in keys}, n)
    rng = random.Random(seed)
    sample: list[K] = []
    for k in keys:
        sample.extend(rng.sample(strata[k], allocation[k]))
    return allocation, sorted(sample)


def size_from_fraction(frame_size: int, fraction: float) -> int:
    """How many accounts a fraction of the frame is: rounded half up, at least one
    when the frame is not empty. `fraction` must be in (0, 1]."""
    if frame_size < 0:
        raise ValueError(f"frame size must not be negative, got {frame_size}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be greater than 0 and at most 1, got {fraction}")
    if frame_size == 0:
        return 0
    # Decimal of the float's shortest repr, so 0.15 * 10 is exactly 1.5 and rounds up.
    exact = Decimal(repr(float(fraction))) * frame_size
    size = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return min(frame_size, max(1, size))
