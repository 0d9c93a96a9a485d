"""The console's schedules page: read by viewers, changed by managers, no JavaScript."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import select

from survey.campaigns import ScheduleSpec, create_schedule, run_schedules
from survey.db import db
from survey.models import Campaign, KeyAccount, Schedule

from .conftest import TEST_SECRET, csrf_token_from
from .factories import make_account, make_response
from .test_manage import manager, viewer  # noqa: F401 (fixtures)


def _schedule_with_a_cycle(app: Flask) -> int:
    with app.app_context():
        accounts = [make_account(f"KA{i}") for i in range(3)]
        db.session.commit()
        view = create_schedule(
            ScheduleSpec(
                name="Quarterly KA",
                every="quarter",
                starts_on=date(2026, 7, 1),
                size=3,
                census_tiers=("A",),
            ),
            actor=None,
            today=date(2026, 7, 1),
        )
        run_schedules(date(2026, 8, 3), secret_key=TEST_SECRET, mail=None, actor="cron")
        campaign = db.session.scalars(select(Campaign)).one()
        for account, score in zip(accounts, (5, 4, 1), strict=True):
            make_response(campaign, db.session.get(KeyAccount, account.id), {"overall": score})
        db.session.commit()
        return view.id


def test_viewers_read_the_schedule_and_its_cycles(app: Flask, viewer) -> None:  # noqa: F811
    sid = _schedule_with_a_cycle(app)
    page = viewer.get("/manage/schedules?lang=zh")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'id="schedule-{sid}"' in html and "Quarterly KA" in html
    assert "2026年第3季度" in html and "每季度" in html
    assert 'href="/manage/campaigns/1"' in html and "Quarterly KA 2026-Q3" in html
    assert "67%" in html  # two of three accounts satisfied
    assert f'<caption id="schedule-{sid}-cycles-caption">' in html and 'scope="row"' in html
    assert "Only managers can create" in viewer.get("/manage/schedules?lang=en").get_data(
        as_text=True
    )
    assert 'action="/manage/schedules"' not in html
    refused = viewer.post(
        f"/manage/schedules/{sid}/pause", data={"csrf_token": csrf_token_from(html)}
    )
    assert refused.status_code == 403


def test_a_manager_creates_pauses_and_resumes_without_javascript(app: Flask, manager) -> None:  # noqa: F811
    page = manager.get("/manage/schedules?lang=en")
    html = page.get_data(as_text=True)
    assert "No schedule yet." in html and "Create schedule" in html
    token = csrf_token_from(html)
    created = manager.post(
        "/manage/schedules",
        data={
            "csrf_token": token,
            "name": "Monthly pulse",
            "every": "month",
            "starts_on": "2027-01-01",
            "size": "5",
            "stratify_by": "tier",
            "census_tiers": ["A", "B"],
            "cover_within_days": "200",
            "contacts": "all",
            "closes_after_days": "14",
        },
    )
    assert created.status_code == 303
    with app.app_context():
        schedule = db.session.scalars(select(Schedule)).one()
        assert (schedule.every, schedule.census_tiers, schedule.cover_within_days) == (
            "month",
            "A,B",
            200,
        )
        assert (schedule.contacts, schedule.closes_after_days, schedule.created_by) == (
            "all",
            14,
            "Zhang",
        )
    shown = manager.get("/manage/schedules?lang=en").get_data(as_text=True)
    assert "Monthly pulse" in shown and "A, B" in shown and "2027-01" in shown
    paused = manager.post(f"/manage/schedules/{schedule.id}/pause", data={"csrf_token": token})
    assert paused.status_code == 303
    assert "None while paused" in manager.get("/manage/schedules?lang=en").get_data(as_text=True)
    manager.post(f"/manage/schedules/{schedule.id}/resume", data={"csrf_token": token})
    with app.app_context():
        assert db.session.scalars(select(Schedule.paused_at)).one() is None


def test_bad_input_is_shown_in_the_pages_language(app: Flask, manager) -> None:  # noqa: F811
    token = csrf_token_from(manager.get("/manage/schedules").get_data(as_text=True))
    data = {
        "csrf_token": token,
        "name": "Both",
        "every": "quarter",
        "starts_on": "2027-01-01",
        "size": "5",
        "percent": "10",
        "stratify_by": "",
        "cover_within_days": "365",
        "contacts": "primary",
        "closes_after_days": "21",
    }
    zh = manager.post("/manage/schedules?lang=zh", data=data)
    assert zh.status_code == 400 and "请给出样本量或抽样比例" in zh.get_data(as_text=True)
    en = manager.post("/manage/schedules?lang=en", data=data)
    assert "Give either a sample size or a fraction" in en.get_data(as_text=True)
