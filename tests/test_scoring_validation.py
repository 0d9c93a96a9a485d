"""Does health predict defection: AUC, its Hanley-McNeil interval, quintiles, outcomes."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu

from survey.db import db
from survey.errors import InvalidInputError
from survey.scoring.validation import (
    auc_lower_defects,
    defection_outcomes,
    hanley_mcneil_interval,
    health_quintiles,
    resolve_cutoff,
    validate_scores,
)

from .factories import make_account, make_defection

NAN = math.nan


def test_auc_by_hand_with_a_tie():
    # Defectors 10, 20, 50; stayers 20, 30, 40. Pairs (defector below stayer):
    # 10: 3; 20: ½ (tie with 20) + 2; 50: 0 -> 5.5 of 9.
    scores = np.array([10.0, 20.0, 20.0, 30.0, 40.0, 50.0])
    defected = np.array([True, True, False, False, False, True])
    assert auc_lower_defects(scores, defected) == pytest.approx(5.5 / 9)
    # Defectors 1, 2, 4 among 1..10: 7 + 7 + 6 of 21 pairs.
    ten = np.arange(1.0, 11.0)
    assert auc_lower_defects(ten, np.isin(ten, [1, 2, 4])) == pytest.approx(20 / 21)
    # Every defector healthier than every stayer: 0; all tied: ½.
    assert auc_lower_defects(ten, ten > 7) == 0.0
    assert auc_lower_defects(np.ones(4), np.array([True, False, False, True])) == 0.5


def test_auc_needs_both_groups():
    assert auc_lower_defects(np.array([1.0, 2.0]), np.array([False, False])) is None
    assert auc_lower_defects(np.array([1.0, 2.0]), np.array([True, True])) is None
    assert auc_lower_defects(np.array([]), np.array([], dtype=bool)) is None


@given(
    st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=40).filter(
        lambda rows: 0 < sum(d for _, d in rows) < len(rows)
    )
)
def test_auc_is_mann_whitney_u_over_pairs(rows):
    scores = np.array([float(s) for s, _ in rows])
    defected = np.array([d for _, d in rows])
    stayers, defectors = scores[~defected], scores[defected]
    u = mannwhitneyu(stayers, defectors).statistic
    assert auc_lower_defects(scores, defected) == pytest.approx(u / (len(stayers) * len(defectors)))
    # Turned upside down, the pairs swap sides.
    assert auc_lower_defects(-scores, defected) == pytest.approx(
        1 - auc_lower_defects(scores, defected)
    )


def test_hanley_mcneil_interval_by_hand():
    # A = 11/18, 3 defectors, 3 stayers: Q1 = A/(2-A) = 11/25 = 0.44,
    # Q2 = 2A²/(1+A) = 242/522 = 0.4636015, A² = 0.3734568, A(1-A) = 77/324 = 0.2376543;
    # SE² = (0.2376543 + 2(0.0665432) + 2(0.0901447)) / 9 = 0.0612256, SE = 0.247438;
    # 0.611111 ∓ 1.959964 × 0.247438 = 0.126141 .. 1.096081, clipped to 1.
    low, high = hanley_mcneil_interval(11 / 18, 3, 3)
    assert low == pytest.approx(0.126141, abs=1e-6)
    assert high == 1.0
    # A = 20/21, 3 defectors, 7 stayers: Q1 = 10/11, Q2 = 0.929152, SE = 0.093149
    # -> 0.769813 .. 1.134949, clipped to 1.
    low, high = hanley_mcneil_interval(20 / 21, 3, 7)
    assert low == pytest.approx(0.769813, abs=1e-6)
    assert high == 1.0
    # A = ½, 10 and 10: SE² = (¼ + 9(1/3 − ¼) + 9(1/3 − ¼)) / 100 = 1.75 / 100.
    low, high = hanley_mcneil_interval(0.5, 10, 10)
    se = math.sqrt(0.0175)
    assert (low, high) == pytest.approx((0.5 - 1.959964 * se, 0.5 + 1.959964 * se))
    # Perfect separation has no spread: [1, 1].
    assert hanley_mcneil_interval(1.0, 4, 6) == (1.0, 1.0)
    with pytest.raises(ValueError):
        hanley_mcneil_interval(0.5, 0, 3)


def test_quintiles_by_midrank_percentile_and_ties_together():
    # Percentiles 8.3, 33.3, 33.3, 58.3, 75, 91.7 -> quintiles 1, 2, 2, 3, 4, 5.
    scores = np.array([10.0, 20.0, 20.0, 30.0, 40.0, 50.0])
    defected = np.array([True, True, False, False, False, True])
    got = [
        (q.quintile, q.accounts, q.defections, q.rate) for q in health_quintiles(scores, defected)
    ]
    assert got == [(1, 1, 1, 1.0), (2, 2, 1, 0.5), (3, 1, 0, 0.0), (4, 1, 0, 0.0), (5, 1, 1, 1.0)]
    # Ten distinct scores: two per quintile, lowest first.
    ten = np.arange(10.0, 0.0, -1.0)
    assert [q.accounts for q in health_quintiles(ten, ten <= 3)] == [2, 2, 2, 2, 2]
    assert [q.defections for q in health_quintiles(ten, ten <= 3)] == [2, 1, 0, 0, 0]
    # All tied: one percentile (50), one quintile; the others are empty with no rate.
    tied = health_quintiles(np.full(4, 60.0), np.array([True, False, False, False]))
    assert [(q.accounts, q.defections) for q in tied] == [(0, 0), (0, 0), (4, 1), (0, 0), (0, 0)]
    assert tied[0].rate is None and tied[2].rate == 0.25
    assert [q.accounts for q in health_quintiles(np.array([]), np.array([], bool))] == [0] * 5


def test_validate_scores_leaves_out_insufficient_data_and_flags_low_samples():
    scores = np.array([10.0, NAN, 20.0, 20.0, 30.0, 40.0, 50.0, NAN])
    defected = np.array([True, True, True, False, False, False, True, False])
    result = validate_scores(scores, defected, cutoff=date(2025, 1, 1), horizon_days=365)
    assert (result.accounts, result.defections, result.unscored) == (6, 3, 2)
    assert result.auc == pytest.approx(5.5 / 9)
    assert result.auc_low == pytest.approx(0.126141, abs=1e-6)
    assert result.auc_high == 1.0
    assert result.low_sample
    assert result.horizon_end == date(2026, 1, 1)
    nobody_left = validate_scores(
        np.array([1.0, 2.0]), np.array([False, False]), cutoff=date(2025, 1, 1), horizon_days=30
    )
    assert nobody_left.auc is None and nobody_left.auc_low is None and nobody_left.low_sample


def test_many_defections_are_not_a_low_sample():
    scores = np.arange(40.0)
    result = validate_scores(scores, scores < 10, cutoff=date(2025, 1, 1), horizon_days=365)
    assert result.defections == 10 and result.auc == 1.0 and not result.low_sample


def test_cutoff_defaults_to_a_full_horizon_ago(now):
    assert resolve_cutoff(365, None) == date(2025, 11, 23)
    assert resolve_cutoff(30, date(2026, 1, 5)) == date(2026, 1, 5)
    for bad in (0, -1, 3651):
        with pytest.raises(InvalidInputError):
            resolve_cutoff(bad, None)


def test_outcomes_judge_accounts_active_at_the_cutoff(app):
    with app.app_context():
        stays = make_account("KA1")
        left_within = make_account("KA2")
        left_before = make_account("KA3")
        left_after_horizon = make_account("KA4")
        switched_off = make_account("KA5", active=False)
        left_on_cutoff = make_account("KA6")
        left_on_horizon_end = make_account("KA7")
        make_defection(left_within, date(2025, 6, 1), ["price"])
        make_defection(left_before, date(2024, 12, 1), ["price"])
        make_defection(left_after_horizon, date(2026, 1, 2), ["price"])
        make_defection(left_on_cutoff, date(2025, 1, 1), ["price"])
        make_defection(left_on_horizon_end, date(2026, 1, 1), ["price"])
        db.session.flush()
        outcomes = defection_outcomes(365, date(2025, 1, 1))
        judged = dict(zip(outcomes.account_ids, outcomes.defected.tolist(), strict=True))
        assert judged == {
            stays.id: False,
            left_within.id: True,
            left_after_horizon.id: False,
            left_on_horizon_end.id: True,
        }
        assert switched_off.id not in judged
