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
from survey.scale import WeightsNote
from survey.scoring import health_scores_as_of
from survey.scoring.suggested_weights import (
    adopt_command,
    fit_defection_logit,
    standardise,
    suggested_health_weights,
)
from survey.scoring.validation import (
    auc_lower_defects,
    cutoff_moment,
    defection_outcomes,
    hanley_mcneil_interval,
    health_quintiles,
    health_validation,
    resolve_cutoff,
    validate_scores,
)

from .factories import make_account, make_defection
from .health_data import build_health_data

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


# --- suggested weights: the logistic regression -------------------------------------


def _logit_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 80
    satisfaction = rng.normal(3.5, 1.0, n)
    overdue = rng.poisson(1.0, n).astype(float)
    noise = rng.normal(0, 1, n)
    logit = -1.0 - 1.2 * (satisfaction - 3.5) + 0.8 * (overdue - 1.0)
    defected = rng.random(n) < 1 / (1 + np.exp(-logit))
    satisfaction[[3, 11]] = NAN  # two accounts without the measure: imputed by the mean
    constant = np.full(n, 2.0)  # no variation: left out
    return np.column_stack([satisfaction, overdue, noise, constant]), defected


def test_logit_matches_an_independent_glm_fit():
    import statsmodels.api as sm

    values, defected = _logit_data()
    got = fit_defection_logit(
        values, defected, ["sat", "overdue", "noise", "flat"], [True, False, True, True]
    )
    # Independently: standardise by hand (ddof 0, mean-imputed), a binomial GLM.
    cols = []
    for j in range(3):
        x = values[:, j].copy()
        mean, sd = np.nanmean(x), np.nanstd(x)
        x[np.isnan(x)] = mean
        cols.append((x - mean) / sd)
    glm = sm.GLM(
        defected.astype(float),
        sm.add_constant(np.column_stack(cols)),
        family=sm.families.Binomial(),
    ).fit()
    by_measure = {c.measure: c for c in got.coefficients}
    for j, code in enumerate(["sat", "overdue", "noise"]):
        c = by_measure[code]
        assert c.coefficient == pytest.approx(glm.params[j + 1], rel=1e-5)
        low, high = glm.conf_int(0.05)[j + 1]
        assert (c.low, c.high) == pytest.approx((low, high), rel=1e-4)
        assert c.p_value == pytest.approx(glm.pvalues[j + 1], rel=1e-4)
    flat = by_measure["flat"]
    assert flat.coefficient is None and flat.proposed_weight is None
    # Healthier = more satisfaction (β < 0 protects) and fewer overdue (β > 0 protects).
    sat, overdue, noise = (by_measure[m] for m in ("sat", "overdue", "noise"))
    assert sat.coefficient < 0 < overdue.coefficient
    protective = {
        "sat": max(0.0, -sat.coefficient),
        "overdue": max(0.0, overdue.coefficient),
        "noise": max(0.0, -noise.coefficient),
    }
    total = sum(protective.values())
    for code, part in protective.items():
        assert by_measure[code].proposed_weight == pytest.approx(part / total)
    assert sum(c.proposed_weight or 0 for c in got.coefficients) == pytest.approx(1.0)
    # The in-sample AUC of the fitted predictor, by the health AUC's rule.
    predictor = glm.fittedvalues
    assert got.auc == pytest.approx(auc_lower_defects(-np.asarray(predictor), defected))
    assert got.accounts == 80 and got.defections == int(defected.sum())
    assert got.low_sample == (got.defections < 10)


def test_logit_never_crashes_on_separation_or_thin_data():
    measures, directions = ["a", "b"], [True, True]
    x = np.column_stack([np.arange(12.0), np.tile([1.0, 2.0], 6)])
    separated = fit_defection_logit(x, np.arange(12) < 6, measures, directions)
    assert separated.note is WeightsNote.SEPARATION and separated.low_sample
    assert all(c.coefficient is None for c in separated.coefficients)
    nobody = fit_defection_logit(x, np.zeros(12, bool), measures, directions)
    assert nobody.note is WeightsNote.NOTHING_TO_FIT and nobody.auc is None
    flat = fit_defection_logit(np.ones((12, 2)), np.arange(12) < 3, measures, directions)
    assert flat.note is WeightsNote.NO_VARIATION
    tiny = fit_defection_logit(x[:3], np.array([True, False, False]), measures, directions)
    assert tiny.note is WeightsNote.TOO_FEW
    # Few but overlapping defections: fitted, flagged.
    few = fit_defection_logit(
        x, np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0], bool), measures, directions
    )
    assert few.note is WeightsNote.FEW_DEFECTIONS and few.low_sample
    assert all(c.coefficient is not None and math.isfinite(c.coefficient) for c in few.coefficients)


def test_standardise_imputes_the_mean_and_marks_flat_columns():
    z, usable = standardise(np.array([[1.0, 5.0], [3.0, 5.0], [NAN, 5.0]]))
    assert usable.tolist() == [True, False]
    assert z[:, 0].tolist() == [-1.0, 1.0, 0.0]
    assert z[:, 1].tolist() == [0.0, 0.0, 0.0]


# --- the services on the health data set --------------------------------------------


def test_health_validation_judges_health_at_the_cutoff(app):
    with app.app_context():
        data = build_health_data()
        # At the end of 2026-04-01: H1 65.0, H2 57.2, H3 insufficient data (nothing but
        # its stage and follow-up counts), H4 39.2 (defected 2026-10-01), H5 36.9.
        scores = health_scores_as_of(cutoff_moment(date(2026, 4, 1)))
        by_id = dict(zip(scores.account_ids.tolist(), scores.scores.tolist(), strict=True))
        h4 = by_id[data.accounts["H4"].id]
        others = [by_id[data.accounts[c].id] for c in ("H1", "H2", "H5")]
        assert sum(h4 < s for s in others) == 2  # H4 below H1 and H2, above H5
        result = health_validation(365, date(2026, 4, 1))
        assert (result.accounts, result.defections, result.unscored) == (4, 1, 1)
        assert result.auc == pytest.approx(2 / 3)
        # Q1 = ½, Q2 = 8/15, SE² = (2/9 + 0 + 2(8/15 − 4/9)) / 3 = 0.13333: 2/3 ∓ 0.7157.
        assert (result.auc_low, result.auc_high) == (0.0, 1.0)
        assert result.low_sample
        assert [(q.accounts, q.defections) for q in result.quintiles] == [
            (1, 0),
            (1, 1),
            (0, 0),
            (1, 0),
            (1, 0),
        ]
        # A cut-off after H4 left: H4 is not judged; nobody left after it.
        later = health_validation(30, date(2026, 10, 1))
        assert later.defections == 0 and later.auc is None and later.low_sample
        # The default cut-off (2025-11-23) is before any response: all five unscored.
        default = health_validation()
        assert default.cutoff == date(2025, 11, 23)
        assert (default.accounts, default.unscored, default.auc) == (0, 5, None)


def test_suggested_weights_on_too_few_accounts_say_so(app):
    with app.app_context():
        build_health_data()
        suggestion = suggested_health_weights(365, date(2026, 4, 1))
        assert (suggestion.accounts, suggestion.defections) == (4, 1)
        assert suggestion.note is WeightsNote.TOO_FEW and suggestion.low_sample
        assert suggestion.cutoff == date(2026, 4, 1) and suggestion.horizon_days == 365
        assert [c.measure for c in suggestion.coefficients][:2] == [
            "overall_score",
            "dissatisfied_share",
        ]


def test_a_measure_repeating_another_is_left_out():
    values, defected = _logit_data()
    doubled = np.column_stack([values[:, :2], values[:, 1] * 2 + 1])
    got = fit_defection_logit(doubled, defected, ["sat", "overdue", "again"], [True] * 3)
    alone = fit_defection_logit(values[:, :2], defected, ["sat", "overdue"], [True] * 2)
    assert got.coefficients[2].coefficient is None
    assert [c.coefficient for c in got.coefficients[:2]] == pytest.approx(
        [c.coefficient for c in alone.coefficients]
    )


def test_adopt_command_lists_the_proposed_weights():
    values, defected = _logit_data()
    got = fit_defection_logit(
        values, defected, ["sat", "overdue", "noise", "flat"], [True, False, True, True]
    )
    weights = {c.measure: c.proposed_weight for c in got.coefficients}
    command = adopt_command(got)
    assert command == (
        f"flask scorecard set health sat={weights['sat']:.3f} "
        f"overdue={weights['overdue']:.3f} noise={weights['noise']:.3f}"
    )
    nothing = fit_defection_logit(values, np.zeros(80, bool), ["a", "b", "c", "d"], [True] * 4)
    assert adopt_command(nothing) is None
