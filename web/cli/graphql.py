"""`flask graphql ...` commands."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from schema.build import SDL_PATH

group = AppGroup("graphql", help="The GraphQL API for internal tools.")


@group.command("export-schema")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=SDL_PATH,
    show_default="schema/schema.graphql",
    help="Where to write the SDL.",
)
def export_schema_command(output: Path) -> None:
    """Write the API's SDL (a test fails when schema/schema.graphql is stale)."""
    from schema.build import schema

    output.write_text(str(schema) + "\n", encoding="utf-8")
    click.echo(f"Wrote {output}")
