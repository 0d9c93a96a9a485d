"""`flask schedules ...`: periodic campaigns (定期调查): add, list, pause, resume, run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from survey.campaigns import (
    STRATIFY_DIMENSIONS,
    ScheduleInputError,
    ScheduleRunReport,
    ScheduleSpec,
    ScheduleView,
    create_schedule,
    list_schedules,
    pause_schedule,
    resume_schedule,
    run_schedules,
)
from survey.clock import today as clock_today
from survey.delivery import MailSettings
from survey.errors import DomainError
from survey.models import CADENCES, CONTACT_CHOICES
from survey.scale import TIERS

group = AppGroup("schedules", help="Periodic survey campaigns: one campaign per cycle.")

_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _fail(error: DomainError) -> click.ClickException:
    if isinstance(error, ScheduleInputError):
        return click.ClickException(f"{error.messages['zh']}\n{error.messages['en']}")
    return click.ClickException(error.message)


def _goal(view: ScheduleView) -> str:
    size = f"{view.size}" if view.size is not None else f"{view.fraction:.0%}"
    tiers = ",".join(view.census_tiers) or "-"
    return (
        f"随机 / random {size}; 普查等级 / census tiers {tiers}; "
        f"覆盖 / cover within {view.cover_within_days} 天/days"
    )


def schedule_lines(view: ScheduleView) -> list[str]:
    state = "已暂停 / paused" if view.paused else "启用 / active"
    if view.next_run is not None and view.next_cycle is not None:
        upcoming = (
            f"下次 / next: {view.next_run.isoformat()} "
            f"({view.next_cycle.label('zh')} / {view.next_cycle.key})"
        )
    else:
        upcoming = "下次 / next: -"
    lines = [
        f"{view.name}  [{view.every}, {state}]  {upcoming}",
        f"  {_goal(view)}",
    ]
    for campaign in view.campaigns:
        lines.append(f"  #{campaign.id} {campaign.name} ({campaign.opens_at.date().isoformat()})")
    return lines


def report_lines(report: ScheduleRunReport) -> list[str]:
    """What a run did (or would do), in Chinese and English."""
    verb_zh, verb_en = ("将发起", "Would launch") if report.dry_run else ("已发起", "Launched")
    lines = []
    for item in report.launched:
        where = f" (#{item.campaign_id})" if item.campaign_id is not None else ""
        lines.append(
            f"{verb_zh} / {verb_en}: {item.campaign_name}{where} "
            f"[{item.cycle.label('zh')}]: {item.sampled} 个客户 / accounts, "
            f"{item.invited} 位联系人 / contacts"
        )
    for name, key in report.already:
        lines.append(f"已发起过 / Already launched: {name} {key}")
    for name, keys in report.missed:
        lines.append(
            f"未补发 / Not back-filled: {name}: 错过的周期 / missed cycles {', '.join(keys)}"
        )
    for problem in report.failed:
        lines.append(f"未能发起 / Could not launch: {problem.schedule} {problem.cycle.key}: ")
        lines[-1] += problem.message
    for name in report.paused:
        lines.append(f"已暂停 / Paused: {name}")
    for name, starts in report.not_started:
        lines.append(f"尚未开始 / Not started: {name} (starts {starts.isoformat()})")
    count = len(report.launched)
    if report.dry_run:
        lines.append(f"试运行：将发起 {count} 个调查，未做任何更改。")
        lines.append(f"Dry run: {count} campaign(s) would be launched; nothing was changed.")
    else:
        lines.append(f"已发起 {count} 个调查。")
        lines.append(f"Launched {count} campaign(s).")
    return lines


def local_zone(app: Flask) -> ZoneInfo:
    """The installation's time zone (a quarter starts at local midnight)."""
    return ZoneInfo(str(app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC"))


def local_today(app: Flask) -> date:
    """Today in the installation's time zone."""
    return clock_today(local_zone(app))


def schedule_step(app: Flask) -> Callable[[], ScheduleRunReport]:
    """Running schedules as a step of the outbox worker's loop (survey.delivery may not
    import survey.campaigns, so the CLI hands it over)."""
    settings = MailSettings.from_config(app.config)
    secret = app.config["SECRET_KEY"]
    zone = local_zone(app)
    return lambda: run_schedules(
        clock_today(zone), secret_key=secret, mail=settings, actor="cli:schedules", tz=zone
    )


@group.command("add")
@click.argument("name")
@click.option("--every", type=click.Choice(CADENCES), required=True)
@click.option("--starts", type=_DAY, required=True, help="First day (YYYY-MM-DD).")
@click.option("--size", type=int, help="Accounts drawn at random each cycle.")
@click.option("--fraction", type=float, help="Or: this fraction of the frame (0-1).")
@click.option("--stratify-by", type=click.Choice(STRATIFY_DIMENSIONS))
@click.option("--census-tier", "census_tiers", multiple=True, type=click.Choice(TIERS))
@click.option("--cover-within-days", type=int, default=365, show_default=True)
@click.option("--include-open-cases", is_flag=True, help="Keep accounts with an open case.")
@click.option("--contacts", type=click.Choice(CONTACT_CHOICES), default="primary")
@click.option("--contact-role", "contact_roles", multiple=True, help="Code or label.")
@click.option("--closes-after-days", type=int, default=21, show_default=True)
@click.option("--exclude-days", type=int, default=90, show_default=True)
@click.option("--kind", type=click.Choice(["satisfaction", "exit"]), default="satisfaction")
def add(name: str, every: str, starts: datetime, **options: object) -> None:
    """Create a schedule NAME."""
    spec = ScheduleSpec(name=name, every=every, starts_on=starts.date(), **options)  # type: ignore[arg-type]
    try:
        view = create_schedule(spec, actor="cli", today=local_today(current_app))
    except DomainError as exc:
        raise _fail(exc) from None
    click.echo("已创建 / Created:")
    for line in schedule_lines(view):
        click.echo(line)


@group.command("list")
def list_command() -> None:
    """Every schedule with its next run and past campaigns."""
    views = list_schedules(local_today(current_app))
    if not views:
        click.echo("没有计划 / No schedules.")
    for view in views:
        for line in schedule_lines(view):
            click.echo(line)


@group.command("pause")
@click.argument("name")
def pause(name: str) -> None:
    """Stop launching NAME's cycles."""
    try:
        view = pause_schedule(name, actor="cli", today=local_today(current_app))
    except DomainError as exc:
        raise _fail(exc) from None
    click.echo(f"已暂停 / Paused: {view.name}")


@group.command("resume")
@click.argument("name")
def resume(name: str) -> None:
    """Launch NAME's cycles again (from the current one)."""
    try:
        view = resume_schedule(name, actor="cli", today=local_today(current_app))
    except DomainError as exc:
        raise _fail(exc) from None
    next_run = view.next_run.isoformat() if view.next_run else "-"
    click.echo(f"已恢复 / Resumed: {view.name} (下次 / next: {next_run})")


@group.command("run")
@click.option("--today", "day", type=_DAY, help="Run as on this day (default: today).")
@click.option("--dry-run", is_flag=True, help="Say what would be launched; change nothing.")
def run(day: datetime | None, dry_run: bool) -> None:
    """Launch the current cycle of every active schedule not launched yet (cron-friendly)."""
    config = current_app.config
    today: date = day.date() if day else local_today(current_app)
    report = run_schedules(
        today,
        secret_key=config["SECRET_KEY"],
        mail=MailSettings.from_config(config),
        actor="cli:schedules",
        dry_run=dry_run,
        tz=local_zone(current_app),
    )
    for line in report_lines(report):
        click.echo(line)
    if report.failed:
        raise click.exceptions.Exit(1)


__all__ = ["group", "report_lines", "schedule_step"]
