"""Key-driver analysis (survey.analysis.key_drivers) on a small fixed data set: every
figure checked against an independent library call (scipy's pearsonr, statsmodels'
OLS/WLS and weighted statistics, Johnson's relative weights by the SVD of the data),
the quadrant rules, degenerate input, filters, the ACCOUNT unit and REVENUE weights."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from statsmodels.stats.weightstats import DescrStatsW

from survey.analysis import (
    DriverUnit,
    DriverWeight,
    Quadrant,
    ResponseFilter,
    key_drivers,
)
from survey.analysis.key_drivers import Observations, analyse
from survey.db import db
from survey.errors import InvalidInputError
from survey.scale import DEFAULT_ASPECTS, OVERALL
from survey.statistics import weighted_wilson_interval, wilson_interval

from .conftest import TEST_NOW
from .factories import make_account, make_campaign, make_response

ASPECTS = [a.code for a in DEFAULT_ASPECTS if a.code != OVERALL]
#: Scores of the 7 aspects (questionnaire order) and overall, one row per response.
#: Rows 0-11 are accounts KA-0 ... KA-11 in campaign Q3; rows 12 and 13 are KA-10
#: and KA-11 again, in campaign Q4.
TABLE = np.array(
    [
        (5, 5, 3, 5, 3, 5, 5, 5),
        (3, 3, 3, 5, 3, 5, 4, 4),
        (4, 4, 4, 4, 4, 5, 5, 4),
        (5, 5, 5, 4, 5, 5, 4, 5),
        (5, 1, 5, 4, 1, 1, 3, 3),
        (2, 2, 4, 5, 4, 5, 5, 4),
        (5, 5, 5, 5, 4, 5, 4, 5),
        (1, 4, 1, 1, 1, 4, 3, 2),
        (3, 1, 2, 1, 1, 1, 2, 1),
        (4, 3, 1, 2, 1, 4, 4, 2),
        (1, 2, 4, 4, 3, 3, 1, 2),
        (5, 5, 3, 4, 5, 5, 5, 5),
        (5, 5, 5, 4, 5, 5, 3, 5),
        (1, 2, 1, 1, 1, 1, 1, 1),
    ],
    dtype=float,
)
ACCOUNT_OF_ROW = [*range(12), 10, 11]
#: Annual revenue of KA-i; tier B for KA-8 ... KA-11.
REVENUE = [(i + 1) * 100_000 for i in range(12)]
TIER = ["A"] * 8 + ["B"] * 4


def fisher(r: float, n: float) -> tuple[float, float]:
    half = 1.959964 / math.sqrt(n - 3)
    return math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)


def johnson_by_svd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Johnson (2000) as first written: the orthonormal Z closest to the standardised
    X (X = PΔQᵀ, Z = PQᵀ), y regressed on Z (OLS), X on Z (Λ = QΔQᵀ), ε = Λ²β²."""
    xs = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    ys = (y - y.mean()) / y.std(ddof=1)
    p, _delta, qt = np.linalg.svd(xs, full_matrices=False)
    z = p @ qt
    beta = sm.OLS(ys, z).fit().params
    lam = np.linalg.lstsq(z, xs, rcond=None)[0]
    eps = (lam**2).T @ (beta**2)
    return eps / eps.sum()


@pytest.fixture
def data(app):
    with app.app_context():
        accounts = [
            make_account(f"KA-{i}", annual_revenue=REVENUE[i], tier=TIER[i]) for i in range(12)
        ]
        q3, _ = make_campaign("Q3", accounts=accounts, opens_at=TEST_NOW - timedelta(days=100))
        q4, _ = make_campaign("Q4", accounts=accounts[10:], opens_at=TEST_NOW - timedelta(days=10))
        for row, scores in enumerate(TABLE):
            campaign = q3 if row < 12 else q4
            make_response(
                campaign,
                accounts[ACCOUNT_OF_ROW[row]],
                {**dict(zip(ASPECTS, map(int, scores[:7]), strict=True)), OVERALL: int(scores[7])},
                submitted_at=TEST_NOW - timedelta(days=90 if row < 12 else 5),
            )
        db.session.commit()
        ids = {"q3": q3.id, "q4": q4.id}
    # Outside the app context: each request of a test then gets its own (and locale).
    return ids


def test_per_response_every_figure_against_scipy_and_statsmodels(app, data):
    with app.app_context():
        result = key_drivers()
    x, y = TABLE[:, :7], TABLE[:, 7]
    assert (result.n, result.unit, result.weight) == (14, DriverUnit.RESPONSE, DriverWeight.ANSWERS)
    assert [d.aspect for d in result.drivers] == ASPECTS
    for j, driver in enumerate(result.drivers):
        r, p = scipy_stats.pearsonr(x[:, j], y)
        assert driver.n == 14
        assert driver.importance == pytest.approx(r, abs=1e-12)
        assert driver.p_value == pytest.approx(p, rel=1e-9)
        assert (driver.importance_low, driver.importance_high) == pytest.approx(fisher(r, 14))
        assert driver.performance == pytest.approx(x[:, j].mean())
        satisfied = int((x[:, j] >= 4).sum())
        assert driver.satisfied_share == pytest.approx(satisfied / 14)
        assert driver.satisfied_share_interval == wilson_interval(satisfied, 14)
    # Delivery by hand: r = 0.76169..., interval (0.388, 0.920).
    delivery = result.drivers[1]
    assert delivery.importance == pytest.approx(0.7616920, abs=1e-6)
    assert (delivery.importance_low, delivery.importance_high) == pytest.approx(
        (0.38786, 0.92033), abs=1e-5
    )
    ols = sm.OLS(y, sm.add_constant(x)).fit()
    assert result.r2 == pytest.approx(ols.rsquared, abs=1e-12)
    weights = np.array([d.relative_weight for d in result.drivers])
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert weights == pytest.approx(johnson_by_svd(x, y), abs=1e-9)
    # 14 observations for 7 aspects: the regression is flagged (fewer than 10 each).
    assert result.low_sample is True


def test_quadrants_follow_the_medians(app, data):
    with app.app_context():
        result = key_drivers()
    importance = np.median([d.importance for d in result.drivers])
    performance = np.median([d.performance for d in result.drivers])
    expected = []
    for d in result.drivers:
        high = d.importance > importance and not d.low_sample
        behind = d.performance < performance
        expected.append(
            {
                (True, True): Quadrant.FIX_FIRST,
                (True, False): Quadrant.KEEP_UP,
                (False, True): Quadrant.SECONDARY,
                (False, False): Quadrant.POSSIBLE_OVERKILL,
            }[(high, behind)]
        )
    assert [d.quadrant for d in result.drivers] == expected
    # Every interval lies above zero here: no aspect is low_sample by its interval.
    assert [d.low_sample for d in result.drivers] == [False] * 7
    by_aspect = {d.aspect: d.quadrant for d in result.drivers}
    # communication (r 0.858, mean 2.93) is the one to fix first; service (0.826, 3.50) keep up.
    assert by_aspect["communication"] is Quadrant.FIX_FIRST
    assert by_aspect["service"] is Quadrant.KEEP_UP


def test_unit_account_counts_an_account_heard_twice_once(app, data):
    with app.app_context():
        result = key_drivers(unit=DriverUnit.ACCOUNT)
    per_account = np.array(
        [TABLE[[r for r, a in enumerate(ACCOUNT_OF_ROW) if a == i]].mean(axis=0) for i in range(12)]
    )
    assert result.n == 12
    for j, driver in enumerate(result.drivers):
        r, p = scipy_stats.pearsonr(per_account[:, j], per_account[:, 7])
        assert driver.n == 12
        assert driver.importance == pytest.approx(r, abs=1e-12)
        assert driver.p_value == pytest.approx(p, rel=1e-9)
        assert driver.performance == pytest.approx(per_account[:, j].mean())
        # An account's satisfied share is the share of its responses that were 4-5.
        shares = [
            (TABLE[[r for r, a in enumerate(ACCOUNT_OF_ROW) if a == i], j] >= 4).mean()
            for i in range(12)
        ]
        assert driver.satisfied_share == pytest.approx(np.mean(shares))
        assert driver.satisfied_share_interval == pytest.approx(
            weighted_wilson_interval(float(np.mean(shares)), 12)
        )
    ols = sm.OLS(per_account[:, 7], sm.add_constant(per_account[:, :7])).fit()
    assert result.r2 == pytest.approx(ols.rsquared, abs=1e-12)


def test_revenue_weights_use_weighted_pearson_and_kish(app, data):
    with app.app_context():
        result = key_drivers(weight=DriverWeight.REVENUE)
    w = np.array([REVENUE[a] for a in ACCOUNT_OF_ROW], dtype=float)
    n_eff = w.sum() ** 2 / (w**2).sum()
    x, y = TABLE[:, :7], TABLE[:, 7]
    for j, driver in enumerate(result.drivers):
        r = DescrStatsW(np.column_stack([x[:, j], y]), weights=w).corrcoef[0, 1]
        t = r * math.sqrt((n_eff - 2) / (1 - r * r))
        assert driver.importance == pytest.approx(r, abs=1e-12)
        assert (driver.importance_low, driver.importance_high) == pytest.approx(fisher(r, n_eff))
        assert driver.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(t), n_eff - 2))
        assert driver.performance == pytest.approx(np.average(x[:, j], weights=w))
        share = np.average(x[:, j] >= 4, weights=w)
        assert driver.satisfied_share_interval == pytest.approx(
            weighted_wilson_interval(float(share), n_eff)
        )
    wls = sm.WLS(y, sm.add_constant(x), weights=w).fit()
    assert result.r2 == pytest.approx(wls.rsquared, abs=1e-10)
    assert sum(d.relative_weight for d in result.drivers) == pytest.approx(1.0)


def test_filters_select_the_responses(app, data):
    with app.app_context():
        tier_b = key_drivers(ResponseFilter(tier="B"))
        q4 = key_drivers(ResponseFilter(campaign_id=data["q4"]))
        # An aspect filter selects responses that answered it so: the whole response counts.
        unhappy = key_drivers(ResponseFilter(aspect=OVERALL, score_at_most=2))
        since = key_drivers(ResponseFilter(since=(TEST_NOW - timedelta(days=30)).date()))
    rows = [r for r, a in enumerate(ACCOUNT_OF_ROW) if TIER[a] == "B"]
    assert tier_b.drivers[0].n == 6
    r, _ = scipy_stats.pearsonr(TABLE[rows, 0], TABLE[rows, 7])
    assert tier_b.drivers[0].importance == pytest.approx(r)
    # Two responses: nothing to estimate.
    assert q4.drivers[0].n == 2 and q4.drivers[0].importance is None and q4.low_sample
    assert since.drivers[0].n == 2
    low = TABLE[TABLE[:, 7] <= 2]
    assert unhappy.drivers[0].n == len(low) == 5
    assert unhappy.drivers[0].performance == pytest.approx(low[:, 0].mean())


def test_an_unknown_filter_value_is_refused(app, data):
    with app.app_context(), pytest.raises(InvalidInputError):
        key_drivers(ResponseFilter(tier="Z"))


def test_no_data_and_too_few_observations_say_low_sample(app):
    with app.app_context():
        empty = key_drivers()
        account = make_account("KA-X")
        campaign, _ = make_campaign("C", accounts=[account])
        make_response(campaign, account, {"delivery": 4, OVERALL: 5})
        db.session.commit()
        one = key_drivers()
    for result in (empty, one):
        assert result.r2 is None and result.low_sample
        for d in result.drivers:
            assert d.importance is None and d.p_value is None and d.relative_weight is None
            assert d.importance_low is None and d.quadrant is None and d.low_sample
    delivery = next(d for d in one.drivers if d.aspect == "delivery")
    assert (delivery.n, delivery.performance, delivery.satisfied_share) == (1, 4.0, 1.0)


def test_a_constant_aspect_has_no_importance_and_no_regression(app, data):
    with app.app_context():
        db.session.execute(
            db.text(
                "UPDATE answers SET score = 3 WHERE aspect_id = "
                "(SELECT id FROM aspects WHERE code = 'price')"
            )
        )
        db.session.commit()
        result = key_drivers()
    price = next(d for d in result.drivers if d.aspect == "price")
    assert price.importance is None and price.p_value is None and price.low_sample
    assert price.performance == 3.0 and price.quadrant is None
    assert result.r2 is None and all(d.relative_weight is None for d in result.drivers)
    # The other aspects are still estimated.
    assert result.drivers[0].importance == pytest.approx(
        scipy_stats.pearsonr(TABLE[:, 0], TABLE[:, 7])[0]
    )


def obs(scores: np.ndarray, overall: np.ndarray, weights: np.ndarray | None = None):
    k = scores.shape[1]
    return Observations(
        aspects=tuple((f"a{j}", f"甲{j}", f"A{j}") for j in range(k)),
        scores=scores.astype(float),
        satisfied=(scores >= 4).astype(float),
        overall=overall.astype(float),
        weights=np.ones(len(overall)) if weights is None else weights,
    )


def test_an_interval_across_zero_is_low_sample_and_never_fix_first():
    # Six observations: a0 is the most important (r 0.66) and the worst performer,
    # but its interval (-0.27, 0.96) reaches zero: SECONDARY, not FIX_FIRST.
    scores = np.array([[1, 3, 4], [2, 4, 5], [1, 2, 4], [3, 4, 4], [2, 5, 5], [1, 3, 5]])
    overall = np.array([2, 4, 3, 5, 3, 4])
    result = analyse(obs(scores, overall), min_group_size=1)
    a0 = result.drivers[0]
    r = scipy_stats.pearsonr(scores[:, 0], overall)[0]
    assert a0.importance == pytest.approx(r)
    assert a0.importance == max(d.importance for d in result.drivers)
    assert a0.performance == min(d.performance for d in result.drivers)
    assert a0.importance_low < 0 < a0.importance_high
    assert a0.low_sample is True
    assert a0.quadrant is Quadrant.SECONDARY


def test_perfect_correlation_is_finite():
    scores = np.array([[1], [2], [3], [4], [5]])
    result = analyse(obs(scores, scores[:, 0]), min_group_size=1)
    (d,) = result.drivers
    assert (d.importance, d.importance_low, d.importance_high, d.p_value) == (1.0, 1.0, 1.0, 0.0)
    assert result.r2 == pytest.approx(1.0) and d.relative_weight == pytest.approx(1.0)


def test_aspects_in_lockstep_have_no_regression_but_keep_their_correlations():
    scores = np.array([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [2, 2]])
    overall = np.array([1, 3, 2, 5, 4, 2])
    result = analyse(obs(scores, overall), min_group_size=1)
    assert result.r2 is None and result.low_sample
    assert result.drivers[0].importance == pytest.approx(result.drivers[1].importance)


def test_observations_without_revenue_weigh_nothing():
    scores = np.array([[1], [2], [3], [4], [5], [1]])
    overall = np.array([1, 3, 2, 5, 4, 5])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    result = analyse(obs(scores, overall, weights), weight=DriverWeight.REVENUE)
    r = scipy_stats.pearsonr(scores[:5, 0], overall[:5])[0]
    assert result.drivers[0].n == 5
    assert result.drivers[0].importance == pytest.approx(r)


finite_or_none = st.none() | st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=0, max_value=30).flatmap(
        lambda n: st.tuples(
            st.lists(
                st.lists(st.integers(1, 5) | st.none(), min_size=4, max_size=4),
                min_size=n,
                max_size=n,
            ),
            st.lists(st.floats(0, 1e9), min_size=n, max_size=n),
        )
    )
)
def test_any_input_gives_finite_figures_or_none(sample):
    rows, revenue = sample
    table = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
    table = table.reshape(len(rows), 4)
    observations = Observations(
        aspects=tuple((f"a{j}", "甲", "A") for j in range(3)),
        scores=table[:, :3],
        satisfied=(table[:, :3] >= 4).astype(float),
        overall=table[:, 3],
        weights=np.array(revenue, dtype=float),
    )
    result = analyse(observations, weight=DriverWeight.REVENUE)
    for value in (result.r2, *(getattr(d, f) for d in result.drivers for f in FIELDS)):
        assert value is None or math.isfinite(value)
    weights = [d.relative_weight for d in result.drivers]
    if result.r2 is not None:
        assert sum(weights) == pytest.approx(1.0)
        assert -1e-9 <= result.r2 <= 1 + 1e-9
    else:
        assert weights == [None] * 3
    for d in result.drivers:
        if d.importance is not None:
            assert -1.0 <= d.importance <= 1.0
        if d.quadrant is Quadrant.FIX_FIRST:
            assert not d.low_sample and d.importance_low > 0


FIELDS = (
    "importance",
    "importance_low",
    "importance_high",
    "p_value",
    "relative_weight",
    "performance",
    "satisfied_share",
)
