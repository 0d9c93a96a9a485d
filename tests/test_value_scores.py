"""Value scores on a small fixed data set: percentiles, NA rules, bands, flags, reads."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from survey.analysis import account_timeline
from survey.audit import ACCOUNT_TIER_CHANGE
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import AccountMetric, AccountScore, AuditEntry, KeyAccount, ScoreModel
from survey.scale import TimelineKind
from survey.scoring import WeightChange, change_model, ensure_score_models
from survey.scoring.periods import PeriodError, parse_period
from survey.scoring.tiers import apply_tier_suggestions, tier_suggestions
from survey.scoring.value import default_period, recompute_value_scores
from survey.scoring.value_reads import account_value, account_values, value_pyramid

from .factories import make_account

Q3 = "2026-Q3"
#: account -> indicator -> value in 2026-Q3 (A6 has only a credit rating; A7 left).
DATA: dict[str, dict[str, float]] = {
    "A1": {"revenue": 100, "gross_profit": 10, "orders": 50},
    "A2": {"revenue": 200, "gross_profit": 20, "collected": 5, "orders": 40},
    "A3": {"revenue": 300, "gross_profit": 20, "collected": 5, "orders": 30},
    "A4": {"revenue": 400, "gross_profit": 40, "collected": 5, "orders": 20},
    "A5": {"revenue": 1000, "collected": 5, "orders": 1},
    "A6": {"credit_rating": 3},
    "A7": {"revenue": 5000, "orders": 1},
}
TIERS = {"A1": "A", "A2": "B", "A3": "B", "A4": "A", "A5": "C", "A6": "B", "A7": "A"}


def _load(
    period: str = Q3, data: dict[str, dict[str, float]] = DATA, tiers: dict[str, str] = TIERS
) -> dict[str, int]:
    ensure_score_models()
    ids = {}
    end = parse_period(period).end
    for external_id, values in data.items():
        account = make_account(external_id, tier=tiers[external_id], annual_revenue=1000)
        ids[external_id] = account.id
        for indicator, value in values.items():
            db.session.add(
                AccountMetric(
                    account_id=account.id,
                    period=period,
                    period_end=end,
                    indicator=indicator,
                    value=value,
                )
            )
    db.session.get(KeyAccount, ids["A7"]).active = False
    db.session.commit()
    return ids


@pytest.mark.parametrize(
    ("text", "canonical", "end"),
    [
        ("2026", "2026", date(2026, 12, 31)),
        ("2026-Q1", "2026-Q1", date(2026, 3, 31)),
        ("2024-q1", "2024-Q1", date(2024, 3, 31)),
        ("2024-02", "2024-02", date(2024, 2, 29)),
        (" 2026-11 ", "2026-11", date(2026, 11, 30)),
    ],
)
def test_periods_parse_to_canonical_text_and_last_day(text, canonical, end):
    period = parse_period(text)
    assert (period.text, period.end) == (canonical, end)


@given(
    st.integers(1900, 2999),
    st.sampled_from(["", "-Q1", "-Q2", "-Q3", "-Q4", *[f"-{m:02d}" for m in range(1, 13)]]),
)
def test_every_valid_period_round_trips_and_ends_in_it(year, suffix):
    period = parse_period(f"{year}{suffix}")
    assert period.text == f"{year}{suffix}"
    assert period.end.year == year
    assert parse_period(period.text) == period
    months = {"": 12, "-Q": 3}.get(suffix[:2] if suffix.startswith("-Q") else suffix, 1)
    assert period.months == months
    # the day after the last day is in the next period (or the next year)
    following = date.fromordinal(period.end.toordinal() + 1)
    assert following.day == 1
    if months > 1:
        assert following.month in ((1,) if months == 12 else (1, 4, 7, 10))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "month must be 01 to 12"),
        ("2026-Q5", "not a period"),
        ("26", "not a period"),
        ("2026-1", "not a period"),
        ("2026/03", "not a period"),
        ("0999", "out of range"),
        ("", "not a period"),
    ],
)
def test_bad_periods_say_why(text, message):
    with pytest.raises(PeriodError, match=message):
        parse_period(text)


def test_pyramid_scores_by_hand(app):
    with app.app_context():
        ids = _load()
        summary = recompute_value_scores()
        assert summary.period == Q3
        assert summary.accounts == 6  # A7 left: not scored, not in the percentiles
        assert summary.one_off == 1
        pyramid = {s.code: s for s in summary.models}["pyramid"]
        assert (pyramid.version, pyramid.scored, pyramid.insufficient) == (1, 5, 1)
        assert pyramid.bands == {"A": 2, "B": 2, "C": 1}

        values = account_values(ids.values(), "pyramid")
        score = {e: values[i].score for e, i in ids.items() if i in values}
        # revenue p: 10 30 50 70 90; gross profit (A5 none): 12.5 50 50 87.5;
        # collected (A1 none): all 50; orders: A5 10, A4 30, A3 50, A2 70, A1 90.
        assert score["A1"] == pytest.approx((0.35 * 10 + 0.30 * 12.5 + 0.15 * 90) / 0.8)
        assert score["A1"] == pytest.approx(25.9375)
        assert score["A2"] == pytest.approx(46.0)
        assert score["A3"] == pytest.approx(50.0)
        assert score["A4"] == pytest.approx(65.25)
        assert score["A5"] == pytest.approx((0.35 * 90 + 0.20 * 50 + 0.15 * 10) / 0.7)
        assert score["A6"] is None  # insufficient data: never 0
        assert ids["A7"] not in values
        band = {e: values[i].band for e, i in ids.items() if i in values}
        # order 65.25, 61.43 (26 % before), 50 (51 %), 46 (71 %), 25.94 (90 %)
        assert band == {"A1": "C", "A2": "B", "A3": "B", "A4": "A", "A5": "A", "A6": None}
        assert values[ids["A5"]].flags == ("one_off",)
        assert values[ids["A4"]].flags == ()
        assert values[ids["A1"]].suggested_tier is None  # not the tiering model

        a1 = values[ids["A1"]]
        assert a1.version == 1 and a1.period == Q3 and a1.model == "pyramid"
        parts = {p.indicator: p for p in a1.parts}
        assert [p.indicator for p in a1.parts] == ["revenue", "gross_profit", "collected", "orders"]
        assert (parts["revenue"].value, parts["revenue"].percentile) == (100.0, 10.0)
        assert parts["revenue"].weight == pytest.approx(0.4375)
        assert parts["revenue"].contribution == pytest.approx(4.375)
        assert parts["collected"].value is None and parts["collected"].percentile is None
        assert (parts["collected"].weight, parts["collected"].contribution) == (0.0, 0.0)
        assert parts["orders"].contribution == pytest.approx(16.875)
        assert parts["revenue"].label("en") == "Revenue"
        assert parts["revenue"].label("zh") == "销售额"
        for value in values.values():
            if value.score is not None:
                assert sum(p.contribution for p in value.parts) == pytest.approx(
                    value.score, abs=0.01
                )
        computed = db.session.scalar(
            select(ScoreModel.computed_at).where(ScoreModel.code == "pyramid")
        )
        assert computed is not None


def test_scorecard_uses_lower_is_better_and_suggests_tiers(app):
    data = {
        "S1": {"revenue": 1, "days_sales_outstanding": 90, "service_cost": 30},
        "S2": {"revenue": 2, "days_sales_outstanding": 30, "service_cost": 10},
        "S3": {"revenue": 3, "days_sales_outstanding": 60, "service_cost": 20},
    }
    with app.app_context():
        tiers = {"S1": "A", "S2": "B", "S3": "C", "A7": "A"}
        ids = _load(data={**data, "A7": {"revenue": 1}}, tiers=tiers)
        recompute_value_scores()
        values = account_values(ids.values())  # the tiering model: the scorecard
        s2 = values[ids["S2"]]
        assert s2.model == "scorecard"
        parts = {p.indicator: p for p in s2.parts}
        # lowest days sales outstanding and cost to serve are the best: 100 - 16.67
        assert parts["days_sales_outstanding"].percentile == pytest.approx(100 - 100 / 6, abs=1e-4)
        assert parts["service_cost"].percentile == pytest.approx(100 - 100 / 6, abs=1e-4)
        # revenue 0.2 + dso 0.1 + cost 0.1 = 0.4 of 1.0 present: insufficient data
        assert s2.score is None and s2.suggested_tier is None
        assert tier_suggestions() == []


def test_tier_suggestions_and_applying_them(app):
    with app.app_context():
        ids = _load()
        # make the pyramid the tiering model: its bands are the suggestions
        change_model("pyramid", actor="admin", tiering=True)
        db.session.commit()
        recompute_value_scores()
        found = tier_suggestions()
        # tiers A1 A, A2 B, A3 B, A4 A, A5 C; bands C, B, B, A, A: A5 and A1 differ
        assert [(s.external_id, s.current_tier, s.suggested_tier) for s in found] == [
            ("A5", "C", "A"),
            ("A1", "A", "C"),
        ]
        assert found[0].deciding_parts[0].indicator == "revenue"
        assert account_value(ids["A5"]).suggested_tier == "A"

        with pytest.raises(InvalidInputError, match="no tier suggestion for account"):
            apply_tier_suggestions([ids["A5"], ids["A3"]], actor="boss")
        assert db.session.get(KeyAccount, ids["A5"]).tier == "C"  # nothing changed

        changes = apply_tier_suggestions([ids["A5"]], actor="boss")
        assert [(c.external_id, c.old, c.new) for c in changes] == [("A5", "C", "A")]
        db.session.expire_all()
        assert db.session.get(KeyAccount, ids["A5"]).tier == "A"
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == ACCOUNT_TIER_CHANGE)
        ).one()
        assert (entry.actor, entry.target_id) == ("boss", "A5")
        details = json.loads(entry.details)
        assert details["old"] == "C" and details["new"] == "A"
        assert details["model"] == "pyramid" and details["version"] == 1
        assert [s.external_id for s in tier_suggestions()] == ["A1"]
        # the account's timeline tells it, from the same audit entry
        events = account_timeline(ids["A5"], locale="en").events
        changed = [e for e in events if e.kind == TimelineKind.TIER_CHANGED]
        assert [e.detail for e in changed] == ["Tier C → Tier A"]


def test_versions_are_recorded_and_period_default(app):
    with app.app_context():
        ids = _load()
        recompute_value_scores()
        change_model("pyramid", actor="admin", changes=[WeightChange("orders", 0)])
        db.session.commit()
        recompute_value_scores()
        assert account_value(ids["A1"], "pyramid").version == 2
        stored = db.session.scalars(
            select(AccountScore.version_id).where(AccountScore.account_id == ids["A1"])
        ).all()
        assert len(stored) == 2  # one row per value model
        pyramid = value_pyramid("pyramid")
        assert [b.band for b in pyramid.bands] == ["A", "B", "C"]
        assert sum(b.value_share for b in pyramid.bands) == pytest.approx(100, abs=0.02)
        assert pyramid.accounts + pyramid.insufficient == 6
        assert pyramid.version == 2 and pyramid.period == Q3


def test_default_period_latest_end_then_longest(app):
    with app.app_context():
        assert default_period() is None
        ensure_score_models()
        account = make_account("P1")
        for text in ("2025", "2026-12", "2026-Q4", "2026", "2026-Q3"):
            period = parse_period(text)
            db.session.add(
                AccountMetric(
                    account_id=account.id,
                    period=period.text,
                    period_end=period.end,
                    indicator="revenue",
                    value=1,
                )
            )
        db.session.commit()
        assert default_period() == "2026"
        assert recompute_value_scores("2026-q3").period == "2026-Q3"
        with pytest.raises(InvalidInputError, match="not a period"):
            recompute_value_scores("last year")


def test_pyramid_revenue_and_shares(app):
    with app.app_context():
        _load()
        recompute_value_scores()
        pyramid = value_pyramid("pyramid")
        a, b, c = pyramid.bands
        assert (a.accounts, b.accounts, c.accounts, pyramid.insufficient) == (2, 2, 1, 1)
        assert a.revenue == 2000  # annual revenue of A4 and A5 in the registry
        assert a.period_revenue == 1400.0  # their revenue indicator in 2026-Q3
        total = 65.25 + 43 / 0.7 + 50 + 46 + 25.9375
        assert a.value_share == pytest.approx(round(100 * (65.25 + 43 / 0.7) / total, 2))
        assert c.value_share == pytest.approx(round(100 * 25.9375 / total, 2))
