"""`flask staff ...` commands: who may use the GraphQL API, and with which role."""

from __future__ import annotations

import getpass

import click
from flask.cli import AppGroup

from survey.errors import DomainError
from survey.models import ROLES
from survey.registry import (
    MIN_PASSWORD_LENGTH,
    add_staff,
    issue_token,
    list_staff,
    revoke_staff,
    set_password,
    set_staff_locale,
)
from survey.scale import DEFAULT_LOCALE, LOCALES

group = AppGroup("staff", help="Staff members and their GraphQL API tokens.")


def _print_token(token: str) -> None:
    click.echo(f"API token (shown once, keep it secret): {token}")
    click.echo(f"Use it as: Authorization: Bearer {token}")


@group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What they may do.")
@click.option("--email", default=None, help="Their e-mail address (needed to sign in on the web).")
@click.option(
    "--password",
    "ask_password",
    is_flag=True,
    help="Ask (twice, hidden) for a password to sign in to the manager console at /manage.",
)
@click.option(
    "--locale",
    type=click.Choice(LOCALES),
    default=DEFAULT_LOCALE,
    show_default=True,
    help="The language of the e-mails they receive (follow-ups, escalations).",
)
def add_command(name: str, role: str, email: str | None, ask_password: bool, locale: str) -> None:
    """Add a staff member NAME and print their first API token once."""
    if ask_password and not (email or "").strip():
        raise click.UsageError("--password needs --email: staff sign in with their e-mail.")
    password = _prompt_password() if ask_password else None
    try:
        issued = add_staff(name, role, email, password=password, actor=_actor(), locale=locale)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Added {issued.name} ({issued.role}).")
    if password is not None:
        click.echo(f"{issued.name} can sign in at /manage with their e-mail and this password.")
    _print_token(issued.token)


def _prompt_password() -> str:
    return str(
        click.prompt(
            f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
            hide_input=True,
            confirmation_prompt="Repeat the password",
        )
    )


@group.command("password")
@click.argument("name")
def password_command(name: str) -> None:
    """Set or replace NAME's password for the manager console (asked twice, hidden)."""
    try:
        set_password(name, _prompt_password())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Password set; {name} can sign in at /manage with their e-mail.")


@group.command("set-locale")
@click.argument("name")
@click.argument("locale", type=click.Choice(LOCALES))
def set_locale_command(name: str, locale: str) -> None:
    """Set the language (zh or en) of the e-mails NAME receives."""
    try:
        who = set_staff_locale(name, locale, actor=_actor())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{who} now receives e-mails in {'English' if locale == 'en' else '中文'}.")


@group.command("token")
@click.argument("name")
def token_command(name: str) -> None:
    """Issue an additional API token for NAME and print it once."""
    try:
        issued = issue_token(name, actor=_actor())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"New token for {issued.name} ({issued.role}).")
    _print_token(issued.token)


@group.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Deactivate NAME and revoke all their API tokens."""
    try:
        revoked = revoke_staff(name, actor=_actor())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Deactivated {name}; revoked {revoked} token(s).")


@group.command("list")
def list_command() -> None:
    """List staff members: name, role, e-mail, active, live tokens, last API use."""
    members = list_staff()
    if not members:
        click.echo("No staff members yet: flask staff add NAME --role viewer|manager|admin")
        return
    rows = [("NAME", "ROLE", "EMAIL", "ACTIVE", "TOKENS", "LAST USED (UTC)")]
    for m in members:
        last = m.last_used_at.strftime("%Y-%m-%d %H:%M") if m.last_used_at else "never"
        rows.append(
            (m.name, m.role, m.email or "-", "yes" if m.active else "no", str(m.tokens), last)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _actor() -> str:
    """Who runs the command, for the audit log: the operating-system login."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in some containers
        return "cli"
