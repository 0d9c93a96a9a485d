"""Honest small-sample statistics: intervals, margins of error, sample sizes, tests.

Pure functions on counts, no database and no scipy: the normal quantile for 95%
is a constant and the normal tail comes from `math.erfc`. Key-account samples are
small (tens, not thousands), so every share shown to a manager carries its
uncertainty, and a change between two campaigns is tested before it is believed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

#: The 97.5% quantile of the standard normal distribution: a two-sided 95% interval.
Z95 = 1.959964

#: The proportion that maximises p(1-p): the worst case when nothing is known yet.
WORST_CASE_P = 0.5


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval (no continuity correction) of `successes` out of `n`.

    Unlike the textbook p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and does not
    collapse to a point at 0 of n or n of n, which matters at key-account sample
    sizes. 8 of 10 gives (0.490, 0.943). None when n is 0 (no data, no interval).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return None
    low, high = _wilson(successes / n, n, z)
    # At 0 of n and n of n the bound is exactly 0 or 1; floating point says 1 - 2e-16.
    return (0.0 if successes == 0 else low), (1.0 if successes == n else high)


def _wilson(p: float, n: float, z: float) -> tuple[float, float]:
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Clamp the rounding dust at the ends (0 of n gives -1e-17 otherwise).
    return max(0.0, centre - half), min(1.0, centre + half)


def finite_population_correction(n: int, population: int | None) -> float:
    """sqrt((N - n) / (N - 1)): how much less uncertain a sample of `n` is when it is
    a large part of a finite frame of `population` (1.0 without a population)."""
    if population is None:
        return 1.0
    if population < 1 or n > population:
        raise ValueError(f"need 1 <= n <= population, got n={n}, population={population}")
    if population == 1:
        return 0.0
    return math.sqrt((population - n) / (population - 1))


def margin_of_error(
    p: float | None, n: int, population: int | None = None, z: float = Z95
) -> float | None:
    """The 95% margin of error of a share `p` observed on `n` answers: z·sqrt(p(1-p)/n),
    times the finite population correction when the sample came from a frame of
    `population` accounts. `p=None` uses the worst case 0.5. None when n is 0.

    Asking 50 of a frame of 60 key accounts leaves far less doubt than asking 50 of
    100,000, and the correction says by how much.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    if n == 0:
        return None
    share = WORST_CASE_P if p is None else p
    if not 0 <= share <= 1:
        raise ValueError(f"p must be between 0 and 1, got {share}")
    return z * math.sqrt(share * (1 - share) / n) * finite_population_correction(n, population)


def design_margin_of_error(
    p: float | None,
    effective_n: float,
    n: int,
    population: int | None = None,
    z: float = Z95,
) -> float | None:
    """The 95% margin of error of a design-weighted share `p` from `n` responding
    accounts whose weights give Kish's `effective_n`: z·sqrt(p(1-p)/n_eff), times the
    finite population correction for `n` of `population` (Kish's approximation: the
    unequal weights cost n/n_eff in variance; any gain from stratification is left
    out, so it errs on the wide side). Equal weights give margin_of_error(p, n, N).
    None without responses."""
    if n <= 0 or effective_n <= 0:
        return None
    share = WORST_CASE_P if p is None else min(1.0, max(0.0, p))
    return (
        z
        * math.sqrt(share * (1 - share) / effective_n)
        * finite_population_correction(n, population)
    )


def required_responses(target_margin: float, population: int, z: float = Z95) -> int:
    """The fewest responses whose worst-case margin of error (p = 0.5, with the finite
    population correction) is at most `target_margin`, capped by the population."""
    if not 0 < target_margin < 1:
        raise ValueError(f"the target margin must be between 0 and 1, got {target_margin}")
    if population < 1:
        raise ValueError(f"the population must be at least 1, got {population}")
    n0 = z * z * WORST_CASE_P * (1 - WORST_CASE_P) / (target_margin * target_margin)
    estimate = max(1, min(population, math.ceil(n0 / (1 + (n0 - 1) / population))))
    # The closed form can be one off after rounding: settle it on the margin itself.
    while estimate > 1 and _worst_margin(estimate - 1, population, z) <= target_margin:
        estimate -= 1
    while estimate < population and _worst_margin(estimate, population, z) > target_margin:
        estimate += 1
    return estimate


def _worst_margin(n: int, population: int, z: float) -> float:
    margin = margin_of_error(None, n, population, z)
    assert margin is not None
    return margin


def required_sample_size(
    target_margin: float, population: int, expected_response_rate: float, z: float = Z95
) -> int:
    """How many accounts to invite so that, at `expected_response_rate`, the responses
    reach `target_margin` (worst case p = 0.5, finite population corrected): the
    responses needed divided by the rate, rounded up, capped by the frame."""
    if not 0 < expected_response_rate <= 1:
        raise ValueError(
            f"the expected response rate must be in (0, 1], got {expected_response_rate}"
        )
    responses = required_responses(target_margin, population, z)
    return min(population, math.ceil(responses / expected_response_rate - 1e-9))


def expected_margin(
    sample_size: int, population: int, expected_response_rate: float, z: float = Z95
) -> float | None:
    """The worst-case margin of error a sample of `sample_size` invitations can expect
    from a frame of `population` when `expected_response_rate` of them answer."""
    if not 0 < expected_response_rate <= 1:
        raise ValueError(
            f"the expected response rate must be in (0, 1], got {expected_response_rate}"
        )
    responses = min(population, math.floor(sample_size * expected_response_rate + 1e-9))
    return margin_of_error(None, responses, population, z)


def normal_two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """Pooled two-proportion z-test of x1/n1 against x2/n2: (z, two-sided p-value).

    z = (p1 - p2) / sqrt(p(1-p)(1/n1 + 1/n2)) with the pooled p = (x1+x2)/(n1+n2).
    None when either sample is empty. When the pooled share is 0 or 1 both samples
    agree exactly: z = 0 and p = 1.
    """
    for x, n in ((x1, n1), (x2, n2)):
        if n < 0 or not 0 <= x <= n:
            raise ValueError(f"need 0 <= successes <= n, got {x} of {n}")
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return z, normal_two_sided_p(z)


def risk_ratio(
    exposed_events: int, exposed: int, control_events: int, control: int, z: float = Z95
) -> tuple[float | None, tuple[float, float] | None]:
    """The risk ratio (a/n1) / (c/n2) and its 95% interval by the log method:
    exp(ln RR ± z·sqrt(1/a - 1/n1 + 1/c - 1/n2)).

    The ratio is None when a group is empty or the control group had no event (no
    baseline to compare with); the interval is None also when the exposed group had
    no event (the log of 0). No continuity correction: an undefined figure is shown
    as missing rather than invented.
    """
    for events, n in ((exposed_events, exposed), (control_events, control)):
        if n < 0 or not 0 <= events <= n:
            raise ValueError(f"need 0 <= events <= n, got {events} of {n}")
    if exposed == 0 or control == 0 or control_events == 0:
        return None, None
    ratio = (exposed_events / exposed) / (control_events / control)
    if exposed_events == 0:
        return ratio, None
    se = math.sqrt(1 / exposed_events - 1 / exposed + 1 / control_events - 1 / control)
    log_ratio = math.log(ratio)
    return ratio, (math.exp(log_ratio - z * se), math.exp(log_ratio + z * se))


def median(values: Sequence[float]) -> float | None:
    """The median, or None of nothing."""
    return statistics.median(values) if values else None


def effective_sample_size(weights: Sequence[float]) -> float:
    """Kish's effective sample size (Σw)² / Σw²: n for equal weights, fewer when a few
    heavy accounts dominate (revenue weighting)."""
    return kish_effective_n(sum(weights), sum(w * w for w in weights))


def kish_effective_n(total: float, squares: float) -> float:
    """Kish's effective sample size from the sums SQL returns: (Σw)² / Σw² (0 without
    weights). Design weights 1, 1, 1, 4, 4 give 121 / 35 ≈ 3.46 accounts."""
    return total * total / squares if squares else 0.0


def weighted_wilson_interval(
    share: float | None, effective_n: float, z: float = Z95
) -> tuple[float, float] | None:
    """A Wilson interval for a weighted share, with the effective sample size standing
    in for n (an approximation; exact for equal weights)."""
    if share is None or effective_n <= 0:
        return None
    return _wilson(min(1.0, max(0.0, share)), effective_n, z)


__all__ = [
    "Z95",
    "design_margin_of_error",
    "effective_sample_size",
    "expected_margin",
    "finite_population_correction",
    "kish_effective_n",
    "margin_of_error",
    "median",
    "normal_two_sided_p",
    "required_responses",
    "required_sample_size",
    "risk_ratio",
    "two_proportion_z_test",
    "weighted_wilson_interval",
    "wilson_interval",
]
