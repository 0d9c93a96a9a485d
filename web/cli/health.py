"""`flask health recompute | show EXTERNAL_ID | backfill --days N --every 7`: account
health (survey.scoring.health). Bilingual output; `recompute` is cron-friendly, and
the outbox worker runs `health_step` on its own (see README, "Health")."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import AppGroup

from survey import registry
from survey.errors import DomainError
from survey.scale import HealthBand
from survey.scoring import (
    HealthRecompute,
    account_health,
    backfill_health,
    format_measure,
    recompute_health,
    refresh_health,
)

group = AppGroup("health", help="Account health: recompute, show one account, backfill history.")


def health_step() -> Callable[[], HealthRecompute | None]:
    """Recomputing health as a step of the outbox worker's loop: when its inputs
    changed, and once a day for the snapshot (survey.delivery may not import
    survey.scoring, so the CLI hands it over)."""
    return refresh_health


def _band(code: str | None) -> str:
    if code is None:
        return "数据不足 / insufficient data"
    band = HealthBand(code)
    return f"{band.zh} / {band.en}"


def summary_lines(summary: HealthRecompute) -> list[str]:
    bands = ", ".join(f"{HealthBand(b).en.lower()} {n}" for b, n in summary.bands.items())
    zh_bands = "，".join(f"{HealthBand(b).zh} {n}" for b, n in summary.bands.items())
    day = f"{summary.snapshot_day}" if summary.snapshot_day else "-"
    return [
        f"健康度（版本 {summary.version}）：{summary.accounts} 个客户，{summary.scored} 个有分数"
        f"（{zh_bands}）；快照日期 {day}。",
        f"Health (version {summary.version}): {summary.accounts} account(s), "
        f"{summary.scored} scored ({bands}); snapshot of {day}.",
    ]


@group.command("recompute")
@click.option("--no-snapshot", is_flag=True, help="Leave today's snapshot alone.")
def recompute_command(no_snapshot: bool) -> None:
    """Compute every active account's health now (and today's snapshot)."""
    for line in summary_lines(recompute_health(snapshot=not no_snapshot)):
        click.echo(line)


@group.command("backfill")
@click.option("--days", type=click.IntRange(1, 3660), required=True, help="How far back.")
@click.option("--every", type=click.IntRange(1, 366), default=7, show_default=True)
def backfill_command(days: int, every: int) -> None:
    """Snapshots as of past days (today minus every, 2·every, ... up to DAYS)."""
    written = backfill_health(days, every)
    click.echo(f"已写入 {len(written)} 天的健康度快照。")
    click.echo(f"Wrote health snapshots for {len(written)} day(s).")


@group.command("show")
@click.argument("external_id")
@click.option("--history", type=click.IntRange(1, 60), default=12, show_default=True)
def show_command(external_id: str, history: int) -> None:
    """One account's health: score, band, parts, last snapshots, why it moved."""
    try:
        account = registry.get_account(external_id=external_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    health = account_health(account.id, history)
    if health is None:
        click.echo(f"{account.name} ({account.external_id})：尚无健康度 / no health yet.")
        return
    score = "—" if health.score is None else f"{health.score:.1f}"
    click.echo(
        f"{account.name} ({account.external_id}): {score} {_band(health.band)} "
        f"(v{health.version}, {health.as_of:%Y-%m-%d %H:%M} UTC)"
    )
    click.echo(
        "指标 / measure | 值 / value | 百分位 / percentile | 权重 / weight | 贡献 / contribution"
    )
    for part in health.parts:
        pct = "—" if part.percentile is None else f"{part.percentile:.1f}"
        contribution = "—" if part.contribution is None else f"{part.contribution:.2f}"
        value = format_measure(part.measure, part.value, "en")
        click.echo(
            f"  {part.label('zh')} / {part.label('en')} | {value}"
            f" | {pct} | {part.weight:.3f} | {contribution}"
        )
    if health.history:
        click.echo("快照 / snapshots:")
        for point in health.history:
            value = "—" if point.score is None else f"{point.score:.1f}"
            click.echo(f"  {point.day}  {value}  {_band(point.band)}")
    if health.why_moved is not None:
        click.echo(health.why_moved.text_zh)
        click.echo(health.why_moved.text_en)


__all__ = ["group", "health_step"]
