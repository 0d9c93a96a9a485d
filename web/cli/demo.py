"""`flask demo`: load believable demo data into an empty database."""

from __future__ import annotations

import click


@click.command("demo")
def command() -> None:
    """Load demo key accounts, campaigns, responses and defections."""
