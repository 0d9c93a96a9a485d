"""`flask` commands: accounts, contacts, campaign, staff, outbox, demo (see README)."""

from __future__ import annotations

from flask import Flask

from . import accounts, campaigns, contacts, demo, graphql, outbox, staff


def register_cli(app: Flask) -> None:
    for group in (
        accounts.group,
        contacts.group,
        campaigns.group,
        staff.group,
        graphql.group,
        outbox.group,
        demo.command,
    ):
        app.cli.add_command(group)
