"""`flask` commands: accounts, contacts, campaign, staff, outbox, follow-ups, schedules,
demo (see README)."""

from __future__ import annotations

from flask import Flask

from . import (
    accounts,
    campaigns,
    contacts,
    demo,
    follow_ups,
    graphql,
    health,
    outbox,
    schedules,
    scorecard,
    staff,
)


def register_cli(app: Flask) -> None:
    for group in (
        accounts.group,
        contacts.group,
        campaigns.group,
        staff.group,
        graphql.group,
        outbox.group,
        follow_ups.group,
        schedules.group,
        health.group,
        scorecard.group,
        demo.command,
    ):
        app.cli.add_command(group)
