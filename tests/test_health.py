"""Health: measures as of a moment, scores, recomputation and its inputs check.

Exact numbers on the fixed data of tests/health_data.py (see its table).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, timedelta

import numpy as np
import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import select, text

from survey import clock
from survey.db import db
from survey.models import MODEL_HEALTH, AccountScore, FollowUp, HealthSnapshot, ScoreModel
from survey.scoring import (
    HealthPart,
    WeightChange,
    account_health,
    change_model,
    health_of_accounts,
)
from survey.scoring.health import (
    backfill_health,
    health_inputs_changed,
    health_scores_as_of,
    recompute_health,
    refresh_health,
)
from survey.scoring.health_measures import MEASURES, health_measures_as_of
from survey.scoring.health_reads import why_moved

from .factories import make_account
from .health_data import CREATED, at, build_health_data

NAN = math.nan


def _by_code(data, ids, rows):
    codes = {a.id: code for code, a in data.accounts.items()}
    return {codes[int(i)]: row for i, row in zip(ids, rows, strict=True)}


def _same(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if math.isnan(e):
            assert math.isnan(g), (got, expected)
        else:
            assert g == pytest.approx(e, abs=1e-9), (got, expected)


def test_measures_now(app, now):
    with app.app_context():
        data = build_health_data()
        m = health_measures_as_of(now)
        assert m.measures == MEASURES
        rows = _by_code(data, m.account_ids, m.values)
        # H4 defected on 2026-10-01: not active now.
        assert set(rows) == {"H1", "H2", "H3", "H5"}
        # overall, share 1-2, change, days, answered last, open, overdue, stage
        _same(rows["H1"], [5, 2 / 3, 1, 74, 1, 1, 1, 4])
        # H2 did not answer C2, closed on 09-22: 0; one response, no change.
        _same(rows["H2"], [3, 0, NAN, 258, 0, 0, 0, 1])
        _same(rows["H3"], [NAN, NAN, NAN, NAN, NAN, 0, 0, 3])
        # H5's C3 invitation is open and unanswered: not judged yet, C2 is its last.
        _same(rows["H5"], [2, 0.5, 0, 72, 1, 1, 0, 2])


def test_measures_as_of_a_past_moment(app):
    with app.app_context():
        data = build_health_data()
        rows = _by_code(data, *_ids_values(health_measures_as_of(at(9, 15))))
        assert set(rows) == {"H1", "H2", "H3", "H4", "H5"}
        # H1's case is due 09-17: open, not yet overdue.
        _same(rows["H1"], [5, 2 / 3, 1, 5, 1, 1, 0, 4])
        # C2 still open on 09-15 and unanswered: C1 (answered) is H2's last.
        _same(rows["H2"], [3, 0, NAN, 189, 1, 0, 0, 1])
        _same(rows["H4"], [2, 1, NAN, 193, 1, 0, 0, 3])
        # Before any response H2's case did not exist; on 03-20 it was open and overdue.
        rows = _by_code(data, *_ids_values(health_measures_as_of(at(3, 20))))
        _same(rows["H2"], [3, 0, NAN, 10, 1, 1, 1, 1])
        # The day after it was resolved (04-01) it is gone.
        rows = _by_code(data, *_ids_values(health_measures_as_of(at(4, 2))))
        assert rows["H2"][5:7].tolist() == [0, 0]
        # Accounts created after the moment are not there.
        assert len(health_measures_as_of(CREATED).account_ids) == 0


def _ids_values(m):
    return m.account_ids, m.values


def test_measures_read_in_a_fixed_number_of_statements(app, now):
    with app.app_context():
        build_health_data()
        for i in range(20):
            make_account(f"X{i:02}", created_at=CREATED)
        db.session.commit()
        before = len(get_recorded_queries())
        health_measures_as_of(now)
        assert len(get_recorded_queries()) - before == 4


def test_scores_percentiles_na_and_bands(app, now):
    with app.app_context():
        data = build_health_data()
        s = health_scores_as_of(now)
        assert s.measures == MEASURES  # the shipped model weighs all eight
        p = _by_code(data, s.account_ids, s.percentiles)
        # overall 5, 3, -, 2 -> 83.33, 50, -, 16.67 (mid-rank among the three present)
        _same(p["H1"], [250 / 3, 50 / 3, 75, 50, 200 / 3, 25, 12.5, 87.5])
        # days since: lower is better, 258 is the worst of 74, 258, 72
        _same(p["H2"], [50, 250 / 3, NAN, 50 / 3, 50 / 3, 75, 62.5, 12.5])
        scores = dict(_by_code(data, s.account_ids, s.scores))
        bands = dict(_by_code(data, s.account_ids, s.bands))
        # H1: .25·83.33 + .15·16.67 + .1·75 + .1·50 + .1·66.67 + .05·25 + .1·12.5 + .15·87.5
        assert scores["H1"] == pytest.approx(58.125)
        # H2 has no change (weight .1): the other 0.9 renormalised.
        h2 = (
            0.25 * 50
            + 0.15 * 250 / 3
            + 0.1 * 50 / 3
            + 0.1 * 50 / 3
            + 0.05 * 75
            + 0.1 * 62.5
            + 0.15 * 12.5
        ) / 0.9
        assert scores["H2"] == pytest.approx(h2)
        # H3 has only follow-ups and stage: 0.30 of the weight, insufficient data.
        assert math.isnan(scores["H3"]) and bands["H3"] is None
        assert scores["H5"] == pytest.approx(42.2916666667)
        assert bands == {"H1": "watch", "H2": "watch", "H3": None, "H5": "watch"}
        c = _by_code(data, s.account_ids, s.contributions)
        assert c["H1"].sum() == pytest.approx(scores["H1"])
        assert c["H2"][2] == 0  # the missing measure contributes nothing
        # Raising the band limits moves them (a new model version).
        change_model(MODEL_HEALTH, actor="t", band_limits={"good": 55, "watch": 43})
        bands = dict(_by_code(data, *_bands(health_scores_as_of(now))))
        assert bands == {"H1": "good", "H2": "watch", "H3": None, "H5": "poor"}


def _bands(s):
    return s.account_ids, s.bands


def test_a_model_without_a_measure_renormalises(app, now):
    with app.app_context():
        data = build_health_data()
        change_model(MODEL_HEALTH, actor="t", changes=[WeightChange("score_change", 0)])
        s = health_scores_as_of(now)
        assert "score_change" not in s.measures and len(s.measures) == 7
        scores = dict(_by_code(data, s.account_ids, s.scores))
        assert scores["H1"] == pytest.approx((58.125 - 7.5) / 0.9)


def test_recompute_writes_scores_snapshot_and_inputs(app, now):
    with app.app_context():
        data = build_health_data()
        summary = recompute_health()
        assert (summary.accounts, summary.scored) == (4, 3)
        assert summary.bands == {"good": 0, "watch": 3, "poor": 0}
        assert summary.snapshot_day == date(2026, 11, 23)
        rows = {r.account_id: r for r in db.session.scalars(select(AccountScore))}
        h1 = rows[data.accounts["H1"].id]
        assert (h1.score, h1.band, h1.period) == (58.125, "watch", None)
        parts = json.loads(h1.parts)
        assert [p["measure"] for p in parts] == list(MEASURES)
        assert parts[0] == {
            "measure": "overall_score",
            "perspective": "voice",
            "value": 5.0,
            "percentile": 83.3333,
            "weight": 0.25,
            "contribution": 20.8333,
        }
        assert sum(p["contribution"] for p in parts) == pytest.approx(h1.score, abs=0.01)
        h3 = rows[data.accounts["H3"].id]
        assert h3.score is None and h3.band is None
        snaps = db.session.scalars(select(HealthSnapshot)).all()
        assert {(s.day, s.account_id) for s in snaps} == {
            (date(2026, 11, 23), a.id) for c, a in data.accounts.items() if c != "H4"
        }
        model = db.session.scalar(select(ScoreModel).where(ScoreModel.code == MODEL_HEALTH))
        assert model.inputs_version == summary.inputs_version
        assert len(model.inputs_version) == 64
        # Again on the same day: replaced, not added.
        recompute_health()
        assert db.session.query(HealthSnapshot).count() == 4
        assert db.session.query(AccountScore).count() == 4


def test_inputs_changed_notices_every_input(app, now):
    with app.app_context():
        data = build_health_data()
        assert health_inputs_changed()  # never computed
        recompute_health()
        assert not health_inputs_changed()
        # A case resolved (follow_ups' dates count) ...
        case = db.session.scalar(select(FollowUp).where(FollowUp.resolved_at.is_(None)))
        case.resolved_at = clock.utcnow()
        db.session.commit()
        assert health_inputs_changed()
        recompute_health()
        # ... but who owns a case does not.
        case.owner = "李娜"
        db.session.commit()
        assert not health_inputs_changed()
        # An account's stage.
        data.accounts["H3"].relationship_stage = "vendor"
        db.session.commit()
        assert health_inputs_changed()
        recompute_health()
        # A new model version.
        change_model(MODEL_HEALTH, actor="t", changes=[WeightChange("score_change", 0.2)])
        db.session.commit()
        assert health_inputs_changed()


def test_refresh_recomputes_only_when_needed(app, now):
    with app.app_context():
        data = build_health_data()
        first = refresh_health()
        assert first is not None and first.accounts == 4
        assert refresh_health() is None  # nothing changed, today's snapshot is there
        data.accounts["H2"].relationship_stage = "partner"
        db.session.commit()
        again = refresh_health()
        assert again is not None
        assert refresh_health() is None
    # The next day, with nothing changed: the daily snapshot.
    with clock.travel_to(now + timedelta(days=1)), app.app_context():
        daily = refresh_health()
        assert daily is not None and daily.snapshot_day == date(2026, 11, 24)
        assert db.session.query(HealthSnapshot).count() == 8


def test_backfill_writes_past_days(app, now):
    with app.app_context():
        data = build_health_data()
        written = backfill_health(70, every=7)
        assert [w.snapshot_day for w in written][:2] == [date(2026, 11, 16), date(2026, 11, 9)]
        assert len(written) == 10
        # As of the end of 2026-09-14 H4 was still a customer.
        day = date(2026, 9, 14)
        h4 = db.session.get(HealthSnapshot, (data.accounts["H4"].id, day))
        assert h4 is not None and h4.band == "poor"
        assert db.session.get(HealthSnapshot, (data.accounts["H4"].id, date(2026, 11, 16))) is None
        assert np.isclose(
            db.session.get(HealthSnapshot, (data.accounts["H1"].id, date(2026, 11, 16))).score,
            58.125,
        )
        with pytest.raises(ValueError):
            backfill_health(0)


def test_account_health_parts_history_and_why_moved(app, now):
    with app.app_context():
        data = build_health_data()
        backfill_health(14, every=7)
        h1 = data.accounts["H1"].id
        # H1's case is resolved an hour ago: the move between 11-16 and today.
        case = db.session.scalar(select(FollowUp).where(FollowUp.account_id == h1))
        case.resolved_at = now - timedelta(hours=1)
        db.session.commit()
        recompute_health()
        health = account_health(h1)
        assert health is not None
        assert health.version == 1 and health.band == "watch"
        assert [p.day for p in health.history] == [
            date(2026, 11, 23),
            date(2026, 11, 16),
            date(2026, 11, 9),
        ]
        assert sum(p.contribution for p in health.parts) == pytest.approx(health.score, abs=0.01)
        assert health.history[1].score == pytest.approx(58.125)
        # No open case any more: open 25 -> 62.5 (of .05), overdue 12.5 -> 50 (of .1).
        assert health.score == pytest.approx(58.125 + 0.05 * 37.5 + 0.1 * 37.5)
        assert health.change == pytest.approx(5.625, abs=0.006)
        moved = health.why_moved
        assert moved is not None and moved.since == date(2026, 11, 16)
        assert [(p.measure, p.delta) for p in moved.parts] == [
            ("overdue_follow_ups", 3.75),
            ("open_follow_ups", 1.88),
        ]
        assert (moved.parts[0].value_before, moved.parts[0].value_after) == (1.0, 0.0)
        assert moved.text_en == (
            "Health rose 5.6 points between 2026-11-16 and 2026-11-23 (58.1 → 63.8), mostly: "
            "Overdue follow-ups (+3.8; 1 → 0); Open follow-ups (+1.9; 1 → 0)."
        )
        assert moved.text_zh.startswith("自 2026-11-16 至 2026-11-23，健康度上升 5.6 分")
        assert len(account_health(h1, history_first=1).history) == 1
        # H3 has a row without a score; why-moved says there is not enough data.
        h3 = account_health(data.accounts["H3"].id)
        assert h3 is not None and h3.score is None and h3.why_moved.change is None
        assert h3.why_moved.text_en.startswith("Not enough data")
        # A defected account has no current health.
        assert account_health(data.accounts["H4"].id) is None


def test_a_page_of_healths_in_two_statements(app, now):
    with app.app_context():
        data = build_health_data()
        backfill_health(21, every=7)
        recompute_health()
        ids = [a.id for a in data.accounts.values()]
        before = len(get_recorded_queries())
        healths = health_of_accounts(ids, history_first=3)
        assert len(get_recorded_queries()) - before == 2
        assert set(healths) == {data.accounts[c].id for c in ("H1", "H2", "H3", "H5")}
        assert all(len(h.history) == 3 for h in healths.values())


def test_cli_recompute_backfill_show(app, runner, now):
    with app.app_context():
        data = build_health_data()
    result = runner.invoke(args=["health", "backfill", "--days", "14"])
    assert result.exit_code == 0, result.output
    assert "Wrote health snapshots for 2 day(s)." in result.output
    result = runner.invoke(args=["health", "recompute"])
    assert result.exit_code == 0, result.output
    assert "Health (version 1): 4 account(s), 3 scored (good 0, watch 3, poor 0)" in result.output
    result = runner.invoke(args=["health", "show", "H1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Account H1 (H1): 58.1 需关注 / Watch (v1, 2026-11-23 09:30")
    assert "  最近一次总体满意度 / Latest overall satisfaction | 5 | 83.3 | 0.250 | 20.83" in lines
    assert "  逾期跟进 / Overdue follow-ups | 1 | 12.5 | 0.100 | 1.25" in lines
    assert "  2026-11-09  58.1  需关注 / Watch" in lines
    assert lines[-1] == ("Health did not change between 2026-11-16 and 2026-11-23 (58.1).")
    result = runner.invoke(args=["health", "show", "H4"])
    assert "no health yet" in result.output
    result = runner.invoke(args=["health", "show", "NOPE"])
    assert result.exit_code != 0
    del data


def test_outbox_worker_recomputes_health(app, runner, now):
    with app.app_context():
        build_health_data()
    assert runner.invoke(args=["outbox", "send"]).exit_code == 0
    with app.app_context():
        assert db.session.query(AccountScore).count() == 4
        computed = db.session.scalar(
            select(ScoreModel.computed_at).where(ScoreModel.code == MODEL_HEALTH)
        )
    assert runner.invoke(args=["outbox", "send"]).exit_code == 0
    with app.app_context():
        again = db.session.scalar(
            select(ScoreModel.computed_at).where(ScoreModel.code == MODEL_HEALTH)
        )
    assert again == computed  # nothing changed: not recomputed


def test_why_moved_names_the_parts_and_unchanged_values():
    before = (
        HealthPart("overall_score", "voice", 4.0, 50.0, 0.5, 25.0),
        HealthPart("days_since_answer", "engagement", 10.0, 80.0, 0.5, 40.0),
    )
    after = (
        HealthPart("overall_score", "voice", 4.0, 40.0, 0.5, 20.0),
        HealthPart("days_since_answer", "engagement", 17.0, 60.0, 0.5, 30.0),
    )
    moved = why_moved(date(2026, 11, 16), 65.0, before, date(2026, 11, 23), 50.0, after)
    assert moved.change == -15.0
    assert [(p.measure, p.delta) for p in moved.parts] == [
        ("days_since_answer", -10.0),
        ("overall_score", -5.0),
    ]
    assert moved.text_en == (
        "Health fell 15.0 points between 2026-11-16 and 2026-11-23 (65.0 → 50.0), mostly: "
        "Days since the account answered (-10.0; 10 days → 17 days); "
        "Latest overall satisfaction (-5.0; 4 unchanged, others moved)."
    )
    assert moved.text_zh == (
        "自 2026-11-16 至 2026-11-23，健康度下降 15.0 分（65.0 → 50.0），主要因为："
        "距上次答卷的天数（-10.0；10 天 → 17 天）、"
        "最近一次总体满意度（-5.0；4 未变，其他客户有变化）。"
    )


def test_an_account_invited_before_it_was_imported_counts(app, now):
    with app.app_context():
        data = build_health_data()
        late = make_account("LATE", created_at=now - timedelta(days=1))
        db.session.commit()
        ids = health_measures_as_of(at(9, 15)).account_ids.tolist()
        assert late.id not in ids
        # H1 entered the registry after its first campaign: counted from its invitation.
        data.accounts["H1"].created_at = now - timedelta(days=1)
        db.session.commit()
        assert data.accounts["H1"].id in health_measures_as_of(at(3, 2)).account_ids.tolist()
        assert data.accounts["H1"].id not in health_measures_as_of(at(2, 28)).account_ids.tolist()


def test_bulk_rows_store_dates_as_the_orm_does(app, now):
    with app.app_context():
        build_health_data()
        recompute_health()
        # Read back through the ORM's types: aware UTC datetimes, dates.
        score = db.session.scalars(select(AccountScore)).first()
        snap = db.session.scalars(select(HealthSnapshot)).first()
        assert timedelta(0) <= score.computed_at - now < timedelta(minutes=5)
        assert snap.day == date(2026, 11, 23) and snap.taken_at.tzinfo is not None
        # And as the ORM writes them (SQLite keeps text: the same format).
        if db.engine.dialect.name == "sqlite":
            raw = db.session.execute(text("SELECT computed_at FROM account_scores")).scalar()
            assert re.fullmatch(r"2026-11-23 09:3\d:\d\d\.\d{6}", raw), raw
