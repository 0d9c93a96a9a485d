"""survey.statistics: hand-worked numbers, and properties over the whole input space."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.statistics import (
    effective_sample_size,
    expected_margin,
    finite_population_correction,
    margin_of_error,
    median,
    required_responses,
    required_sample_size,
    risk_ratio,
    two_proportion_z_test,
    weighted_wilson_interval,
    wilson_interval,
)


def test_wilson_eight_of_ten_by_hand():
    # p = 0.8, z² = 3.84146: centre (0.8 + 0.19207) / 1.38415 = 0.71681,
    # half 1.95996 / 1.38415 · sqrt(0.016 + 0.0096037) = 0.22665.
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-5)
    assert high == pytest.approx(0.94332, abs=1e-5)
    assert round(low, 3) == 0.490 and round(high, 3) == 0.943


def test_wilson_edges():
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-5)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.72247, abs=1e-5) and high == 1.0
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_share_inside_zero_one(case):
    x, n = case
    low, high = wilson_interval(x, n)
    assert 0.0 <= low <= x / n <= high <= 1.0
    # Symmetry: the failures' interval mirrors the successes'.
    mirror_low, mirror_high = wilson_interval(n - x, n)
    assert mirror_low == pytest.approx(1 - high, abs=1e-12)
    assert mirror_high == pytest.approx(1 - low, abs=1e-12)


@given(st.integers(1, 2000))
def test_wilson_narrows_with_more_data(n):
    low1, high1 = wilson_interval(n, 2 * n)
    low2, high2 = wilson_interval(2 * n, 4 * n)
    assert high2 - low2 < high1 - low1


def test_margin_of_error_with_and_without_the_finite_population_correction():
    # 1.959964 · sqrt(0.25 / 100) = 0.0979982
    assert margin_of_error(0.5, 100) == pytest.approx(0.0979982, abs=1e-7)
    # times sqrt((500 - 100) / 499) = 0.895323
    assert margin_of_error(0.5, 100, population=500) == pytest.approx(0.0877400, abs=1e-7)
    # p = 0.8, n = 50 of 60: 1.959964 · 0.0565685 · sqrt(10/59) = 0.0456454
    assert margin_of_error(0.8, 50, population=60) == pytest.approx(0.0456454, abs=1e-7)
    assert margin_of_error(None, 100) == margin_of_error(0.5, 100)  # worst case
    assert margin_of_error(0.5, 0) is None
    assert margin_of_error(0.5, 60, population=60) == 0.0  # a census has no sampling error
    assert finite_population_correction(100, None) == 1.0


def test_required_sample_size():
    # n0 = 1.959964² · 0.25 / 0.05² = 384.15; corrected for 200: 384.15 / 2.9157 -> 132.
    assert required_responses(0.05, 200) == 132
    assert margin_of_error(None, 132, 200) <= 0.05 < margin_of_error(None, 131, 200)
    assert required_responses(0.05, 10**9) == 385  # the textbook 385 for a huge frame
    # 132 responses at a 30% response rate means 440 invitations: capped by the frame.
    assert required_sample_size(0.05, 200, 0.3) == 200
    # n0 = 96.04; 96.04 / (1 + 95.04 / 200) = 65.1 -> 66 responses, / 0.5 = 132 invitations.
    assert required_responses(0.1, 200) == 66
    assert required_sample_size(0.1, 200, 0.5) == 132
    with pytest.raises(ValueError):
        required_sample_size(0.05, 200, 0)
    with pytest.raises(ValueError):
        required_responses(0, 200)


@given(st.floats(0.01, 0.3), st.integers(1, 100_000))
def test_required_responses_is_the_smallest_that_reaches_the_target(target, population):
    n = required_responses(target, population)
    assert 1 <= n <= population
    assert margin_of_error(None, n, population) <= target + 1e-12
    if n > 1:
        assert margin_of_error(None, n - 1, population) > target


def test_expected_margin():
    # 60 invitations at 50% -> 30 responses of a frame of 200:
    # 1.959964 · sqrt(0.25/30) · sqrt(170/199) = 0.165369
    assert expected_margin(60, 200, 0.5) == pytest.approx(0.165369, abs=1e-6)
    assert expected_margin(1, 200, 0.3) is None  # no response expected


def test_two_proportion_z_test_by_hand():
    # 45/60 = 0.75 against 30/60 = 0.5; pooled 75/120 = 0.625;
    # se = sqrt(0.625 · 0.375 · (1/60 + 1/60)) = 0.0883883; z = 0.25 / se = 2√2;
    # p = erfc(2√2 / √2) = erfc(2) = 0.0046777.
    z, p = two_proportion_z_test(45, 60, 30, 60)
    assert z == pytest.approx(2 * math.sqrt(2), abs=1e-9)
    assert p == pytest.approx(0.0046777, abs=1e-7)
    z, p = two_proportion_z_test(30, 60, 45, 60)
    assert z == pytest.approx(-2 * math.sqrt(2), abs=1e-9) and p == pytest.approx(0.0046777, 1e-4)
    assert two_proportion_z_test(5, 5, 7, 7) == (0.0, 1.0)
    assert two_proportion_z_test(0, 0, 3, 7) is None


@given(
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_z_test_p_value_is_a_probability_and_symmetric(a, b):
    z, p = two_proportion_z_test(*a, *b)
    z2, p2 = two_proportion_z_test(*b, *a)
    assert 0.0 <= p <= 1.0
    assert z2 == pytest.approx(-z) and p2 == pytest.approx(p)


def test_risk_ratio_by_hand():
    # 6 of 20 dissatisfied left against 3 of 60 satisfied: RR = 0.3 / 0.05 = 6;
    # se = sqrt(1/6 - 1/20 + 1/3 - 1/60) = 0.658281; exp(ln 6 ± 1.959964 se).
    ratio, (low, high) = risk_ratio(6, 20, 3, 60)
    assert ratio == pytest.approx(6.0)
    assert low == pytest.approx(1.65128, abs=1e-5)
    assert high == pytest.approx(21.8012, abs=1e-4)
    assert risk_ratio(0, 20, 3, 60) == (0.0, None)
    assert risk_ratio(6, 20, 0, 60) == (None, None)
    assert risk_ratio(0, 0, 3, 60) == (None, None)


def test_median_and_effective_sample_size():
    assert median([]) is None
    assert median([30, 10, 20]) == 20
    assert median([10, 20]) == 15
    assert effective_sample_size([1, 1, 1, 1]) == 4
    # One account with 9 times the others' revenue: (12)² / (81 + 3) = 1.714
    assert effective_sample_size([9, 1, 1, 1]) == pytest.approx(144 / 84)
    assert weighted_wilson_interval(0.8, 10) == pytest.approx(wilson_interval(8, 10))
    assert weighted_wilson_interval(None, 10) is None
