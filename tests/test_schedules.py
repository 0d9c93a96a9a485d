"""Schedules: cycles, creating, pausing, and running them (one campaign per cycle)."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey.audit import SCHEDULE_CREATE, SCHEDULE_PAUSE, SCHEDULE_RESUME
from survey.campaigns import (
    ScheduleInputError,
    ScheduleSpec,
    create_schedule,
    cycle_containing,
    cycle_label,
    list_schedules,
    pause_schedule,
    resume_schedule,
    run_schedules,
)
from survey.campaigns.schedule_runs import cycle_seed
from survey.db import db
from survey.errors import ConflictError
from survey.models import AuditEntry, Campaign, Invitation

from .conftest import TEST_SECRET
from .factories import make_account

DEC_6 = date(2026, 12, 6)
d = date


def quarterly(**fields: object) -> ScheduleSpec:
    values: dict = {"name": "Quarterly KA", "every": "quarter", "starts_on": date(2026, 1, 1)}
    values.update(size=2)
    values.update(fields)
    return ScheduleSpec(**values)


def accounts(n: int = 4) -> None:
    for i in range(n):
        make_account(f"KA{i:03d}", tier="ABC"[i % 3])
    db.session.commit()


def run(today: date, **kw: object):
    return run_schedules(today, secret_key=TEST_SECRET, mail=None, actor="cron", **kw)


@pytest.mark.parametrize(
    ("cadence", "day", "key", "zh", "start", "end"),
    [
        ("month", d(2026, 11, 30), "2026-11", "2026年11月", d(2026, 11, 1), d(2026, 12, 1)),
        ("month", d(2026, 12, 31), "2026-12", "2026年12月", d(2026, 12, 1), d(2027, 1, 1)),
        ("quarter", d(2026, 12, 6), "2026-Q4", "2026年第4季度", d(2026, 10, 1), d(2027, 1, 1)),
        ("quarter", d(2026, 3, 31), "2026-Q1", "2026年第1季度", d(2026, 1, 1), d(2026, 4, 1)),
        ("quarter", d(2026, 4, 1), "2026-Q2", "2026年第2季度", d(2026, 4, 1), d(2026, 7, 1)),
        ("half-year", d(2026, 6, 30), "2026-H1", "2026年上半年", d(2026, 1, 1), d(2026, 7, 1)),
        ("half-year", d(2026, 7, 1), "2026-H2", "2026年下半年", d(2026, 7, 1), d(2027, 1, 1)),
        ("year", d(2026, 12, 31), "2026", "2026年", d(2026, 1, 1), d(2027, 1, 1)),
    ],
)
def test_cycle_keys_and_labels_at_boundaries(cadence, day, key, zh, start, end) -> None:
    cycle = cycle_containing(cadence, day)
    assert (cycle.key, cycle.label("zh"), cycle.label("en")) == (key, zh, key)
    assert (cycle.starts_on, cycle.ends_on) == (start, end)
    assert cycle_label(cadence, key, "zh") == zh


@given(
    cadence=st.sampled_from(["month", "quarter", "half-year", "year"]),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
)
def test_every_day_is_in_exactly_one_cycle(cadence: str, day: date) -> None:
    cycle = cycle_containing(cadence, day)
    assert cycle.starts_on <= day < cycle.ends_on
    assert cycle.starts_on.day == 1
    assert cycle_containing(cadence, cycle.ends_on - timedelta(days=1)) == cycle
    following = cycle_containing(cadence, cycle.ends_on)
    assert following.starts_on == cycle.ends_on and following.key != cycle.key
    assert cycle_label(cadence, cycle.key, "zh") == cycle.label("zh")
    assert cycle.key.startswith(str(day.year))


def test_quarterly_schedule_launches_the_current_cycle_once(app: Flask) -> None:
    with app.app_context():
        accounts()
        created = create_schedule(quarterly(), actor="boss", today=DEC_6)
        assert (created.next_run, created.next_cycle.key) == (DEC_6, "2026-Q4")

        report = run(DEC_6)
        assert [(r.schedule, r.cycle.key, r.campaign_name) for r in report.launched] == [
            ("Quarterly KA", "2026-Q4", "Quarterly KA 2026-Q4")
        ]
        assert report.missed == [("Quarterly KA", ("2026-Q1", "2026-Q2", "2026-Q3"))]
        campaign = db.session.scalars(select(Campaign)).one()
        assert (campaign.schedule_id, campaign.cycle, campaign.created_by) == (
            created.id,
            "2026-Q4",
            "cron",
        )
        assert campaign.seed == cycle_seed(created.id, "2026-Q4")
        assert campaign.opens_at.date() == DEC_6
        assert (campaign.closes_at - campaign.opens_at) == timedelta(days=21)
        assert campaign.sample_size == 2

        again = run(DEC_6 + timedelta(days=10))
        assert again.launched == [] and again.already == [("Quarterly KA", "2026-Q4")]
        assert db.session.scalar(select(func.count(Campaign.id))) == 1

        view = list_schedules(DEC_6)[0]
        assert [c.name for c in view.campaigns] == ["Quarterly KA 2026-Q4"]
        assert (view.next_run, view.next_cycle.key) == (date(2027, 1, 1), "2027-Q1")


def test_seed_is_deterministic_and_depends_on_cycle() -> None:
    assert cycle_seed(1, "2026-Q4") == cycle_seed(1, "2026-Q4")
    assert len({cycle_seed(1, "2026-Q4"), cycle_seed(1, "2026-Q3"), cycle_seed(2, "2026-Q4")}) == 3


def test_not_started_and_dry_run(app: Flask) -> None:
    with app.app_context():
        accounts()
        create_schedule(quarterly(starts_on=date(2027, 2, 10)), actor=None, today=DEC_6)
        create_schedule(quarterly(name="Monthly", every="month"), actor=None, today=DEC_6)
        report = run(DEC_6, dry_run=True)
        assert report.not_started == [("Quarterly KA", date(2027, 2, 10))]
        assert [(r.campaign_name, r.campaign_id, r.sampled) for r in report.launched] == [
            ("Monthly 2026-12", None, 2)
        ]
        assert db.session.scalar(select(func.count(Campaign.id))) == 0
        view = {v.name: v for v in list_schedules(DEC_6)}
        assert view["Quarterly KA"].next_run == date(2027, 2, 10)
        assert view["Quarterly KA"].next_cycle.key == "2027-Q1"


def test_pause_and_resume(app: Flask) -> None:
    with app.app_context():
        accounts()
        create_schedule(quarterly(), actor="boss", today=DEC_6)
        paused = pause_schedule("Quarterly KA", actor="boss", today=DEC_6)
        assert paused.paused and paused.next_run is None
        report = run(DEC_6)
        assert report.paused == ["Quarterly KA"] and report.launched == []
        resumed = resume_schedule("Quarterly KA", actor="boss", today=DEC_6)
        assert not resumed.paused and resumed.next_run == DEC_6
        assert [r.cycle.key for r in run(DEC_6).launched] == ["2026-Q4"]
        actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert [a for a in actions if a.startswith("schedule.")] == [
            SCHEDULE_CREATE,
            SCHEDULE_PAUSE,
            SCHEDULE_RESUME,
        ]


@pytest.mark.parametrize(
    ("fields", "field", "zh"),
    [
        ({"every": "week"}, "every", "未知的周期"),
        ({"size": None}, "size", "二者取其一"),
        ({"fraction": 0.5}, "size", "二者取其一"),
        ({"size": None, "fraction": 1.5}, "fraction", "抽样比例"),
        ({"stratify_by": "colour"}, "stratify_by", "分层"),
        ({"census_tiers": ("A", "Z")}, "census_tiers", "客户等级"),
        ({"contacts": "some"}, "contacts", "联系人"),
        ({"contact_roles": ("boss",)}, "contact_roles", "联系人"),
        ({"kind": "nps"}, "kind", "调查类型"),
        ({"closes_after_days": 0}, "closes_after_days", "开放期"),
        ({"cover_within_days": 0}, "cover_within_days", "覆盖目标"),
        ({"name": "  "}, "name", "名称"),
    ],
)
def test_invalid_schedules_are_refused_in_both_languages(app: Flask, fields, field, zh) -> None:
    with app.app_context():
        with pytest.raises(ScheduleInputError) as caught:
            create_schedule(quarterly(**fields), actor=None, today=DEC_6)
        assert caught.value.field == field
        assert zh in caught.value.messages["zh"] and caught.value.messages["en"]


def test_duplicate_name_conflicts_and_values_are_stored(app: Flask) -> None:
    with app.app_context():
        view = create_schedule(
            quarterly(census_tiers=("b", "A"), contact_roles=("采购",), contacts="all"),
            actor=None,
            today=DEC_6,
        )
        assert view.census_tiers == ("A", "B") and view.contact_roles == ("purchaser",)
        with pytest.raises(ConflictError):
            create_schedule(quarterly(), actor=None, today=DEC_6)


def test_a_cycle_that_cannot_launch_is_reported_and_others_go_on(app: Flask) -> None:
    with app.app_context():
        accounts(2)
        create_schedule(quarterly(name="A too big", size=50), actor=None, today=DEC_6)
        create_schedule(quarterly(name="B fine", size=1), actor=None, today=DEC_6)
        report = run(DEC_6)
        assert [(p.schedule, p.cycle.key) for p in report.failed] == [("A too big", "2026-Q4")]
        assert "larger than the sampling frame" in report.failed[0].message
        assert [r.campaign_name for r in report.launched] == ["B fine 2026-Q4"]


def test_two_runs_at_once_launch_one_campaign(app: Flask) -> None:
    with app.app_context():
        accounts()
        create_schedule(quarterly(), actor=None, today=DEC_6)
    barrier = threading.Barrier(2)
    reports = []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            reports.append(run(DEC_6))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        assert db.session.scalar(select(func.count(Campaign.id))) == 1
        assert db.session.scalar(select(func.count(Invitation.id))) == 2
    assert sorted(len(r.launched) for r in reports) == [0, 1]
    assert sorted(len(r.already) for r in reports) == [0, 1]
    assert all(r.failed == [] for r in reports)


def test_a_cycle_asks_for_the_schedules_panel_design(app: Flask) -> None:
    from survey.campaigns.schedule_runs import _request
    from survey.models import Schedule

    with app.app_context():
        created = create_schedule(
            quarterly(census_tiers=("A",), cover_within_days=200, include_open_cases=True),
            actor=None,
            today=DEC_6,
        )
        schedule = db.session.get(Schedule, created.id)
        request = _request(schedule, cycle_containing("quarter", DEC_6), "cron")
        assert (request.census_tiers, request.cover_within_days, request.include_open_cases) == (
            ("A",),
            200,
            True,
        )
        assert (request.schedule_id, request.cycle, request.closes_in_days) == (
            created.id,
            "2026-Q4",
            21,
        )


def test_late_in_the_utc_day_a_local_today_launches_now_not_tomorrow(app: Flask) -> None:
    """At 17:00 UTC it is already tomorrow in Shanghai: run with the local date and
    its zone, the launch happens now (its mail due now), not a day ahead."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from survey import clock
    from survey.models import OutboxMessage

    evening = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    shanghai = ZoneInfo("Asia/Shanghai")
    with clock.travel_to(evening), app.app_context():
        accounts()
        create_schedule(quarterly(), actor="a", today=date(2026, 11, 24))
        db.session.commit()
        local = clock.today(shanghai)
        assert local == date(2026, 11, 24)
        from survey.delivery import MailSettings

        mail = MailSettings(secret_key=TEST_SECRET, base_url="https://survey.example.test")
        report = run_schedules(local, secret_key=TEST_SECRET, mail=mail, actor="cron", tz=shanghai)
        (launched,) = report.launched
        campaign = db.session.get(Campaign, launched.campaign_id)
        assert abs(campaign.opens_at - evening) < timedelta(minutes=1)
        due = db.session.scalars(select(OutboxMessage.next_attempt_at)).all()
        assert due and all(abs(t - evening) < timedelta(minutes=1) for t in due)
