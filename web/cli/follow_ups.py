"""`flask follow-ups escalate [--dry-run]`: send overdue follow-up cases up to the
account's executive sponsor (or the administrators). Cron-friendly: idempotent, one
line per case, bilingual; exit 0 whatever it found."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from survey.delivery import MailSettings
from survey.follow_ups import EscalationReport, escalate_overdue

group = AppGroup("follow-ups", help="Follow-up cases: escalate the overdue ones.")


def escalation_step(app: Flask) -> Callable[[], EscalationReport]:
    """Escalating overdue cases as a step the outbox worker's loop runs (survey.delivery
    may not import survey.follow_ups, so the CLI hands it over)."""
    settings = MailSettings.from_config(app.config)
    after_days = int(app.config["ESCALATE_AFTER_DAYS"])
    return lambda: escalate_overdue(mail=settings, after_days=after_days)


def report_lines(report: EscalationReport) -> list[str]:
    """What a run did (or would do), in Chinese and English."""
    lines = []
    verb_zh, verb_en = ("将升级", "Would escalate") if report.dry_run else ("已升级", "Escalated")
    for case in report.escalated:
        names = ", ".join(f"{r.name} <{r.email}>" for r in case.recipients)
        whom_zh = "高层支持者" if case.to_sponsor else "管理员"
        whom_en = "executive sponsor" if case.to_sponsor else "administrators"
        lines.append(
            f"{verb_zh} / {verb_en}: #{case.follow_up_id} {case.account_name} "
            f"({case.external_id}), {case.owner} -> {whom_zh} / {whom_en}: {names}"
        )
    for case_id in report.nobody_to_tell:
        lines.append(
            f"未升级 / Not escalated: #{case_id}: 没有高层支持者，也没有带电子邮件的管理员 / "
            "no executive sponsor and no administrator with an e-mail"
        )
    count = len(report.escalated)
    if report.dry_run:
        lines.append(f"试运行：将升级 {count} 个案例，未做任何更改。")
        lines.append(f"Dry run: {count} case(s) would be escalated; nothing was changed.")
    else:
        lines.append(f"已升级 {count} 个案例，写入 {report.mails} 封邮件到发件箱。")
        lines.append(f"Escalated {count} case(s); {report.mails} e-mail(s) queued in the outbox.")
    return lines


@group.command("escalate")
@click.option("--dry-run", is_flag=True, help="Say what would be escalated; change nothing.")
def escalate_command(dry_run: bool) -> None:
    """Escalate cases still not resolved ESCALATE_AFTER_DAYS after their due date."""
    config = current_app.config
    report = escalate_overdue(
        mail=MailSettings.from_config(config),
        after_days=int(config["ESCALATE_AFTER_DAYS"]),
        dry_run=dry_run,
        actor="cli:escalate",
    )
    for line in report_lines(report):
        click.echo(line)


__all__ = ["escalation_step", "group"]
