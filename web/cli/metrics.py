"""`flask accounts metrics ...`: import business indicators per account and period.

Thin over survey.scoring: read the file, call the import, print the outcome in
English and Chinese.
"""

from __future__ import annotations

import io
from pathlib import Path

import click
from flask.cli import AppGroup

from survey.errors import DomainError
from survey.scoring.metrics_import import import_metrics_csv

group = AppGroup("metrics", help="Business indicators per account and period: import from CSV.")


@group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid rows and report the others (default: any problem imports nothing).",
)
def import_command(csv_file: Path, skip_invalid: bool) -> None:
    """Import indicator values from CSV_FILE (UTF-8, header row required), then
    recompute the value scores.

    Columns: external_id, period, indicator, value. period is YYYY, YYYY-Qn or
    YYYY-MM; indicator one of the known indicator codes (revenue, gross_profit,
    collected, days_sales_outstanding, orders, credit_rating, growth_potential,
    service_cost); value a number. A value already stored for the same account,
    period and indicator is replaced.
    """
    try:
        report = import_metrics_csv(
            io.BytesIO(csv_file.read_bytes()),
            skip_invalid=skip_invalid,
            actor="cli",
            source=csv_file.name,
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    for problem in report.problems:
        click.echo(str(problem))
    if not report.imported:
        problems, lines = len(report.problems), len({p.line for p in report.problems})
        hint = "" if skip_invalid else ", or use --skip-invalid to import the valid rows"
        hint_zh = "" if skip_invalid else "，或用 --skip-invalid 导入有效的行"
        raise click.ClickException(
            f"nothing imported: {problems} problem(s) on {lines} line(s); "
            f"fix them and import again{hint}\n"
            f"未导入任何内容：{lines} 行共 {problems} 个问题；请改正后重新导入{hint_zh}"
        )
    click.echo(
        f"values created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, skipped {report.skipped}"
    )
    click.echo(
        f"指标值：新增 {report.created}，更新 {report.updated}，"
        f"未变 {report.unchanged}，跳过 {report.skipped}"
    )
    recompute = report.recompute
    if recompute is not None and recompute.period is not None:
        for model in recompute.models:
            bands = ", ".join(f"{band} {n}" for band, n in model.bands.items())
            click.echo(
                f"value scores {model.code} v{model.version} for {recompute.period}: "
                f"{bands}; insufficient data {model.insufficient}"
            )
        click.echo(
            f"价值分已按 {recompute.period} 重新计算（{recompute.accounts} 个客户，"
            f"一次性大单客户 {recompute.one_off} 个）"
        )
