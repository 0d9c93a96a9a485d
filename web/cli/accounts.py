"""`flask accounts ...` commands: import the registry, record defections, look around.

Thin over survey.registry: parse options, call a service, print the outcome.
"""

from __future__ import annotations

import getpass
import io
import sys
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from survey import registry
from survey.errors import DomainError
from survey.models import Contact, KeyAccount
from survey.scale import TIERS, ContactRole, ReasonCode, RelationshipStage, ValueType

from . import account_team, metrics

group = AppGroup(
    "accounts", help="Key-account registry: import, defections, list, show, account teams."
)
group.add_command(account_team.group)
group.add_command(metrics.group)

#: Files with more rows than this get a progress bar on stderr.
PROGRESS_MIN_ROWS = 1000


class RevenueType(click.ParamType):
    """A non-negative whole amount, thousands separators allowed ("1,200,000")."""

    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return registry.parse_revenue(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid rows and report the others (default: any problem imports nothing).",
)
def import_command(csv_file: Path, skip_invalid: bool) -> None:
    """Create or update key accounts from CSV_FILE (UTF-8, header row required).

    Columns: external_id, name, tier, value_type, relationship_stage, region,
    annual_revenue, account_manager, contact_name, contact_email, contact_phone, locale.
    """
    data = csv_file.read_bytes()
    # Counting line breaks is cheap and close enough for a progress bar (a quoted
    # value over several lines only makes the bar finish early).
    rows = max(data.count(b"\n") - 1, 0)
    try:
        if rows > PROGRESS_MIN_ROWS:
            with click.progressbar(length=rows, label="Importing accounts", file=sys.stderr) as bar:
                report = registry.import_accounts_csv(
                    io.BytesIO(data), skip_invalid=skip_invalid, progress=bar.update, actor="cli"
                )
        else:
            report = registry.import_accounts_csv(
                io.BytesIO(data), skip_invalid=skip_invalid, actor="cli"
            )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc

    for problem in report.problems:
        click.echo(str(problem))
    if not report.imported:
        lines = len({p.line for p in report.problems})
        raise click.ClickException(
            f"nothing imported: {_count(len(report.problems), 'problem')} on "
            f"{_count(lines, 'line')}; fix them and import again"
            + ("" if skip_invalid else ", or use --skip-invalid to import the valid rows")
        )
    summary = (
        f"created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, skipped {report.skipped}"
    )
    if report.no_contact:
        has = "account has" if report.no_contact == 1 else "accounts have"
        summary += f"; {report.no_contact} {has} no e-mail or phone and cannot be sampled"
    click.echo(summary)


@group.command("defect")
@click.argument("external_id")
@click.option(
    "--on",
    "defected_on",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day the account left (YYYY-MM-DD).",
)
@click.option(
    "--reason",
    "reasons",
    required=True,
    multiple=True,
    type=click.Choice(ReasonCode.codes(), case_sensitive=False),
    help="Why it left; repeat for several, the first is the main reason.",
)
@click.option("--competitor", help="Who it went to, if known.")
@click.option("--lost-revenue", type=RevenueType(), help="Annual revenue lost (whole amount).")
@click.option("--note", help="What happened, in a sentence or two.")
@click.option("--recorded-by", help="Who records this (default: your login name).")
def defect_command(
    external_id: str,
    defected_on: Any,
    reasons: tuple[str, ...],
    competitor: str | None,
    lost_revenue: int | None,
    note: str | None,
    recorded_by: str | None,
) -> None:
    """Record that the key account EXTERNAL_ID has left (defected)."""
    try:
        defection = registry.record_defection(
            external_id=external_id,
            defected_on=defected_on.date(),
            reasons=list(reasons),
            competitor=competitor,
            lost_annual_revenue=lost_revenue,
            note=note,
            recorded_by=recorded_by or _login_name(),
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    account = defection.account
    click.echo(
        f"Recorded: {account.external_id} {account.name} left on "
        f"{defection.defected_on.isoformat()} "
        f"(reasons: {', '.join(r.reason for r in defection.reasons)}); "
        "the account is now inactive."
    )


@group.command("list")
@click.option(
    "--tier",
    type=click.Choice(TIERS, case_sensitive=False),
    help="Only accounts of this tier.",
)
@click.option("--region", help="Only accounts in this region (exact name).")
@click.option(
    "--defected/--active",
    default=None,
    help="Only accounts that left, or only active ones (default: all).",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def list_command(tier: str | None, region: str | None, defected: bool | None, limit: int) -> None:
    """A short table of key accounts, ordered by external id."""
    try:
        found = registry.list_accounts(tier=tier, region=region, defected=defected, limit=limit)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    if not found.accounts:
        click.echo("No accounts match.")
        return
    table = [("ID", "NAME", "TIER", "REGION", "MANAGER", "CONTACTS", "STATUS")]
    for a in found.accounts:
        table.append(
            (
                a.external_id,
                a.name,
                a.tier,
                a.region,
                a.account_manager,
                str(a.contacts),
                _status(a.active, a.defected_on),
            )
        )
    for line in _format_table(table):
        click.echo(line)
    if found.total > len(found.accounts):
        click.echo(f"(showing {len(found.accounts)} of {found.total}; use --limit to see more)")


@group.command("show")
@click.argument("external_id")
def show_command(external_id: str) -> None:
    """Everything the registry knows about the account EXTERNAL_ID."""
    try:
        account = registry.get_account(external_id=external_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    for label, value in _account_fields(account):
        click.echo(f"{label:<20}{value}")


def _account_fields(account: KeyAccount) -> list[tuple[str, str]]:
    primary = account.primary_contact
    fields = [
        ("external_id", account.external_id),
        ("name", account.name),
        ("tier", account.tier),
        ("value_type", _labelled(ValueType, account.value_type)),
        ("relationship_stage", _labelled(RelationshipStage, account.relationship_stage)),
        ("region", account.region),
        ("annual_revenue", f"{account.annual_revenue:,}"),
        ("account_manager", account.account_manager),
        ("contact_name", primary.name or "-" if primary else "-"),
        ("contact_email", primary.email or "-" if primary else "-"),
        ("contact_phone", primary.phone or "-" if primary else "-"),
        ("locale", account.locale),
        ("status", _status(account.active, account.defection and account.defection.defected_on)),
    ]
    if primary is not None and primary.opted_out_at is not None:
        fields.append(("opted_out_at", primary.opted_out_at.isoformat(timespec="minutes")))
    for contact in account.contacts:
        fields.append(("contact", _contact_line(contact)))
    defection = account.defection
    if defection is not None:
        reasons = [r.reason + (" (primary)" if r.is_primary else "") for r in defection.reasons]
        fields += [
            ("defected_on", defection.defected_on.isoformat()),
            ("reasons", ", ".join(reasons)),
            ("competitor", defection.competitor or "-"),
            (
                "lost_revenue",
                "-"
                if defection.lost_annual_revenue is None
                else f"{defection.lost_annual_revenue:,}",
            ),
            ("note", defection.note or "-"),
            (
                "recorded",
                f"{defection.recorded_at:%Y-%m-%d %H:%M} UTC by {defection.recorded_by or '-'}",
            ),
        ]
    return fields


def _contact_line(contact: Contact) -> str:
    """One contact on one line: name, role, e-mail, phone, language, flags."""
    parts = [
        contact.name or "-",
        _labelled(ContactRole, contact.role),
        contact.email or "-",
        contact.phone or "-",
        contact.locale,
    ]
    if contact.is_primary:
        parts.append("primary")
    if contact.opted_out_at is not None:
        parts.append(f"opted out {contact.opted_out_at.isoformat(timespec='minutes')}")
    return "; ".join(parts)


def _labelled(
    enum: type[ValueType] | type[RelationshipStage] | type[ContactRole], code: str
) -> str:
    try:
        member = enum(code)
    except ValueError:
        return code
    return f"{code} ({member.zh} / {member.en})"


def _status(active: bool, defected_on: date | None) -> str:
    if defected_on is not None:
        return f"defected {defected_on.isoformat()}"
    return "active" if active else "inactive"


def _width(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _format_table(rows: list[tuple[str, ...]], max_width: int = 30) -> list[str]:
    def clip(text: str) -> str:
        text = " ".join(text.split())  # a line break in a name must not break the table
        while _width(text) > max_width:
            text = text[:-2] + "…"
        return text

    clipped = [[clip(cell) for cell in row] for row in rows]
    widths = [max(_width(row[i]) for row in clipped) for i in range(len(rows[0]))]
    return [
        "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip()
        for row in clipped
    ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _login_name() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return None
