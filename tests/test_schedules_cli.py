"""`flask schedules ...` and the outbox worker's loop running schedules."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from survey.db import db
from survey.delivery import MailSettings
from survey.delivery.backends import FileBackend
from survey.delivery.worker import run_worker
from survey.models import Campaign, OutboxMessage

from .conftest import BASE_URL, TEST_NOW, TEST_SECRET
from .factories import make_account


def _accounts(app: Flask) -> None:
    with app.app_context():
        for i in range(4):
            make_account(f"KA{i:03d}")
        db.session.commit()


def test_add_list_pause_resume_run(app: Flask, runner: FlaskCliRunner) -> None:
    _accounts(app)
    added = runner.invoke(
        args=["schedules", "add", "Quarterly KA", "--every", "quarter", "--starts", "2026-01-01",
              "--size", "2", "--census-tier", "A", "--stratify-by", "tier"]
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "已创建 / Created:" in added.output
    assert "census tiers A" in added.output

    dry = runner.invoke(args=["schedules", "run", "--today", "2026-12-06", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "将发起 / Would launch: Quarterly KA 2026-Q4 [2026年第4季度]" in dry.output
    assert "Dry run: 1 campaign(s) would be launched; nothing was changed." in dry.output

    first = runner.invoke(args=["schedules", "run", "--today", "2026-12-06"])
    assert first.exit_code == 0, first.output
    assert "已发起 / Launched: Quarterly KA 2026-Q4 (#1) [2026年第4季度]" in first.output
    assert (
        "未补发 / Not back-filled: Quarterly KA: 错过的周期 / missed cycles "
        "2026-Q1, 2026-Q2, 2026-Q3" in first.output
    )
    assert "Launched 1 campaign(s)." in first.output and "已发起 1 个调查。" in first.output

    second = runner.invoke(args=["schedules", "run", "--today", "2026-12-20"])
    assert "已发起过 / Already launched: Quarterly KA 2026-Q4" in second.output
    assert "Launched 0 campaign(s)." in second.output

    listed = runner.invoke(args=["schedules", "list"])
    assert "Quarterly KA  [quarter, 启用 / active]" in listed.output
    assert "#1 Quarterly KA 2026-Q4 (2026-12-06)" in listed.output

    assert (
        "已暂停 / Paused: Quarterly KA"
        in runner.invoke(args=["schedules", "pause", "Quarterly KA"]).output
    )
    paused = runner.invoke(args=["schedules", "run", "--today", "2027-01-02"])
    assert "已暂停 / Paused: Quarterly KA" in paused.output
    resumed = runner.invoke(args=["schedules", "resume", "Quarterly KA"])
    assert "已恢复 / Resumed: Quarterly KA" in resumed.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Campaign.id))) == 1


def test_bad_input_is_said_in_both_languages(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["schedules", "add", "X", "--every", "month", "--starts", "2026-01-01"]
    )
    assert result.exit_code == 1
    assert "请给出样本量或抽样比例" in result.output
    assert "Give either a sample size or a fraction" in result.output
    missing = runner.invoke(args=["schedules", "pause", "Nope"])
    assert missing.exit_code == 1 and "No schedule named 'Nope'" in missing.output


def test_the_outbox_workers_loop_runs_schedules(app: Flask, tmp_path: Path) -> None:
    from web.cli.schedules import schedule_step

    _accounts(app)
    with app.app_context():
        from survey.campaigns import ScheduleSpec, create_schedule

        create_schedule(
            ScheduleSpec(name="Monthly", every="month", starts_on=TEST_NOW.date(), size=1),
            actor=None,
            today=TEST_NOW.date(),
        )
        report = run_worker(
            FileBackend(tmp_path),
            MailSettings(secret_key=TEST_SECRET, base_url=BASE_URL),
            periodic=schedule_step(app),
            periodic_seconds=3600,
        )
        assert report.sent == 1  # the campaign's one invitation e-mail
        campaign = db.session.scalars(select(Campaign)).one()
        assert campaign.cycle == f"{TEST_NOW.year}-{TEST_NOW.month:02d}"
        assert db.session.scalars(select(OutboxMessage.status)).all() == ["sent"]
