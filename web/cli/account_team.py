"""`flask accounts team ...`: the team around each key account (besides its manager).

Thin over survey.registry: read the file, call the import, print the outcome in
English and Chinese.
"""

from __future__ import annotations

import io
from pathlib import Path

import click
from flask.cli import AppGroup

from survey import registry
from survey.errors import DomainError

group = AppGroup("team", help="Our team around each account: import from CSV.")


@group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid rows and report the others (default: any problem imports nothing).",
)
def import_command(csv_file: Path, skip_invalid: bool) -> None:
    """Create or update account team members from CSV_FILE (UTF-8, header row required).

    Columns: account_external_id, name, role, email. role is executive_sponsor,
    service_lead, sales_support or other (or the Chinese or English label). Members
    are matched by account and e-mail, or by account and name without an e-mail.
    """
    try:
        report = registry.import_account_team_csv(
            io.BytesIO(csv_file.read_bytes()), skip_invalid=skip_invalid, actor="cli"
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
            f"nothing imported: {_count(problems, 'problem')} on {_count(lines, 'line')}; "
            f"fix them and import again{hint}\n"
            f"未导入任何内容：{lines} 行共 {problems} 个问题；请改正后重新导入{hint_zh}"
        )
    click.echo(
        f"team members created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, skipped {report.skipped}"
    )
    click.echo(
        f"团队成员：新增 {report.created}，更新 {report.updated}，"
        f"未变 {report.unchanged}，跳过 {report.skipped}"
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
