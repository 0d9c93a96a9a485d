"""`flask contacts ...`: import the people we ask at each key account (its buying centre).

Thin over survey.registry: read the file, call the import, print the outcome the
way `flask accounts import` does.
"""

from __future__ import annotations

import io
from pathlib import Path

import click
from flask.cli import AppGroup

from survey import registry
from survey.errors import DomainError

group = AppGroup("contacts", help="Contacts at key accounts (the buying centre): import.")


@group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid rows and report the others (default: any problem imports nothing).",
)
def import_command(csv_file: Path, skip_invalid: bool) -> None:
    """Create or update contacts from CSV_FILE (UTF-8, header row required).

    Columns: account_external_id, name, role, email, phone, locale, primary. A contact
    is found by its account and e-mail (or phone, without an e-mail); a row marked
    primary (yes/是/1) makes it the account's primary contact.
    """
    try:
        report = registry.import_contacts_csv(
            io.BytesIO(csv_file.read_bytes()), skip_invalid=skip_invalid
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    for problem in report.problems:
        click.echo(str(problem))
    if not report.imported:
        if not report.problems:
            raise click.ClickException("nothing imported: the file has no contacts")
        lines = len({p.line for p in report.problems})
        raise click.ClickException(
            f"nothing imported: {_count(len(report.problems), 'problem')} on "
            f"{_count(lines, 'line')}; fix them and import again"
            + ("" if skip_invalid else ", or use --skip-invalid to import the valid rows")
        )
    click.echo(
        f"created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, skipped {report.skipped}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
