"""`flask demo`: load believable demo data into an empty database, then print a
manager API token and three survey links to try."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from survey.campaigns import campaign_links
from survey.demo import ensure_demo_manager, load_demo


@click.command("demo")
@with_appcontext
@click.option("--accounts", default=200, show_default=True, help="How many key accounts.")
def command(accounts: int) -> None:
    """Load demo key accounts, campaigns, responses and defections (once)."""
    report = load_demo(
        secret_key=current_app.config["SECRET_KEY"],
        accounts=accounts,
        base_url=current_app.config["BASE_URL"],
    )
    if report.loaded:
        click.echo(
            f"Demo loaded: {report.accounts} key accounts, {report.responses} responses, "
            f"{report.defections} defections."
        )
    else:
        click.echo(f"The database already holds {report.accounts} key accounts: demo not reloaded.")

    # The same token and password every run on this installation (see ensure_demo_manager).
    manager = ensure_demo_manager(secret_key=current_app.config["SECRET_KEY"])
    click.echo(f"\nManager API token ({manager.name}): {manager.token}")
    click.echo(
        f"Manager console: {current_app.config['BASE_URL']}/manage  "
        f"e-mail {manager.email}  password {manager.password}"
    )

    if report.open_campaign_id is not None:
        base_url = current_app.config["BASE_URL"]
        links = campaign_links(
            report.open_campaign_id,
            secret_key=current_app.config["SECRET_KEY"],
            base_url=base_url,
        )
        waiting = [link for link in links if link.status != "responded"][:3]
        click.echo("\nSurvey links to try (open campaign):")
        for link in waiting:
            click.echo(f"  [{link.locale}] {link.account_name}: {link.url}")
