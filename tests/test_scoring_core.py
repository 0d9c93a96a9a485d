"""The arithmetic of scores (mid-rank percentiles, NA rules, bands) and model versions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey.audit import SCORE_MODEL_CHANGE
from survey.db import db
from survey.errors import InvalidInputError, NotFoundError
from survey.models import AuditEntry
from survey.scoring import (
    WeightChange,
    change_model,
    composite,
    list_models,
    load_model,
    midrank_percentiles,
    model_history,
    pyramid_bands,
    threshold_band,
    tiering_model,
)

NAN = math.nan


def test_midrank_percentiles_by_hand():
    # values 10, 20, 20, 40 and one missing: below/equal/n by hand.
    p = midrank_percentiles(np.array([10.0, 20.0, 20.0, 40.0, NAN]))
    # 10: (0 + 0.5·1)/4 = 12.5; 20: (1 + 0.5·2)/4 = 50; 40: (3 + 0.5)/4 = 87.5
    assert p[:4].tolist() == [12.5, 50.0, 50.0, 87.5]
    assert math.isnan(p[4])
    lower = midrank_percentiles(np.array([10.0, 20.0, 20.0, 40.0]), higher_is_better=False)
    assert lower.tolist() == [87.5, 50.0, 50.0, 12.5]
    assert midrank_percentiles(np.array([7.0])).tolist() == [50.0]
    assert np.isnan(midrank_percentiles(np.array([NAN, NAN]))).all()


@given(st.lists(st.integers(-5, 5), min_size=1, max_size=40))
def test_midrank_percentile_matches_its_definition(values):
    p = midrank_percentiles(np.array(values, dtype=float))
    n = len(values)
    for v, got in zip(values, p, strict=True):
        below = sum(1 for x in values if x < v)
        equal = sum(1 for x in values if x == v)
        assert got == pytest.approx(100 * (below + 0.5 * equal) / n)


def test_composite_renormalises_missing_weights_and_refuses_thin_data():
    p = np.array(
        [
            [80.0, 40.0, 20.0],  # all present
            [80.0, NAN, 20.0],  # weight 0.5 + 0.2 = 0.7 present: renormalised
            [NAN, NAN, 20.0],  # 0.2 of 1.0 present: insufficient data
            [NAN, 40.0, 20.0],  # 0.5 present: exactly half is enough
        ]
    )
    c = composite(p, [0.5, 0.3, 0.2])
    assert c.score[0] == pytest.approx(0.5 * 80 + 0.3 * 40 + 0.2 * 20)  # 56
    assert c.score[1] == pytest.approx((0.5 * 80 + 0.2 * 20) / 0.7)  # 62.857...
    assert math.isnan(c.score[2])
    assert c.score[3] == pytest.approx((0.3 * 40 + 0.2 * 20) / 0.5)  # 32
    assert c.weights[1].tolist() == pytest.approx([0.5 / 0.7, 0.0, 0.2 / 0.7])
    for row in (0, 1, 3):
        assert c.contributions[row].sum() == pytest.approx(c.score[row])
    assert c.present_share.tolist() == pytest.approx([1.0, 0.7, 0.2, 0.5])


def test_pyramid_bands_by_cumulative_share():
    # total 100: 40 (0 % before) A, 30 (40 % before) A, 15 (70 %) B, 10 (85 %) C, 5 C
    scores = np.array([10.0, 40.0, NAN, 30.0, 5.0, 15.0])
    assert pyramid_bands(scores, {"A": 50, "B": 80}, "C") == ["C", "A", None, "A", "C", "B"]
    # ties share the band of the first of them: 25 (0) A, 25 A, 25 (50 %, tie) A, 25 (75) B
    tied = np.array([25.0, 25.0, 25.0, 25.0])
    assert pyramid_bands(tied, {"A": 50, "B": 80}, "C") == ["A", "A", "A", "A"]
    assert pyramid_bands(np.array([0.0, 0.0]), {"A": 50, "B": 80}, "C") == ["C", "C"]


def test_threshold_bands():
    limits = {"good": 70, "watch": 40}
    assert [threshold_band(s, limits, "poor") for s in (70, 69.99, 40, 39.9, None)] == [
        "good",
        "watch",
        "watch",
        "poor",
        None,
    ]


def test_shipped_models_and_a_versioned_audited_change(app):
    with app.app_context():
        codes = [m.code for m in list_models()]
        assert codes == ["pyramid", "scorecard", "health"]
        assert tiering_model().code == "scorecard"
        scorecard = load_model("scorecard")
        assert scorecard.version == 1
        assert scorecard.total_weight == pytest.approx(1.0)
        assert {w.perspective for w in scorecard.weights} == {
            "financial",
            "sales",
            "customer",
            "service",
        }
        changed = change_model(
            "scorecard",
            actor="admin",
            changes=[WeightChange("revenue", 0.3), WeightChange("service_cost", 0)],
            band_limits={"A": 60, "B": 85},
        )
        db.session.commit()
        assert changed.version == 2
        assert dict((w.measure, w.weight) for w in changed.weights)["revenue"] == 0.3
        assert "service_cost" not in {w.measure for w in changed.weights}
        assert changed.band_limits == {"A": 60.0, "B": 85.0}
        assert [v.version for v in model_history("scorecard")] == [2, 1]
        entry = db.session.scalars(db.select(AuditEntry)).one()
        assert entry.action == SCORE_MODEL_CHANGE
        with pytest.raises(InvalidInputError, match="not a measure"):
            change_model("scorecard", actor="a", changes=[WeightChange("nps", 1)])
        with pytest.raises(InvalidInputError, match="perspective"):
            change_model("pyramid", actor="a", changes=[WeightChange("credit_rating", 1)])
        with pytest.raises(InvalidInputError, match="band limits"):
            change_model("health", actor="a", band_limits={"good": 30, "watch": 40})
        with pytest.raises(NotFoundError, match="there are: pyramid, scorecard, health"):
            load_model("nope")
