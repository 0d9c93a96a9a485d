"""`flask campaign ...`: launch a sample survey, print its links, close it, list them."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable

import click
from flask import current_app
from flask.cli import AppGroup

from survey.campaigns import (
    DEFAULT_DEFECTED_WITHIN_DAYS,
    KINDS,
    STRATIFY_DIMENSIONS,
    CampaignPlan,
    CampaignRequest,
    InvitationLink,
    campaign_links,
    close_campaign,
    launch_campaign,
    list_campaigns,
    verify_campaign,
)
from survey.delivery import MailSettings, queue_reminders
from survey.errors import DomainError
from survey.models import CONTACT_CHOICES, CONTACTS_PRIMARY

group = AppGroup("campaign", help="Launch, list and close sample survey campaigns.")

#: Which command-line option a service error's `field` refers to.
_OPTIONS = {
    "name": "--name",
    "size": "--size",
    "fraction": "--fraction",
    "stratify_by": "--stratify-by",
    "seed": "--seed",
    "exclude_days": "--exclude-days",
    "closes_in_days": "--closes-in",
    "campaign_id": "CAMPAIGN_ID",
    "after_days": "--after-days",
    "kind": "--kind",
    "defected_within_days": "--defected-within",
    "target_margin": "--target-margin",
    "expected_response_rate": "--expected-response-rate",
    "contacts": "--contacts",
    "contact_roles": "--contact-role",
    "census_tiers": "--census-tier",
    "cover_within_days": "--cover-within-days",
}

LINKS_HEADER = (
    "external_id",
    "account",
    "contact_name",
    "contact_email",
    "contact_phone",
    "language",
    "url",
    "status",
    "contact_role",
)
# A cell starting with one of these is a formula to Excel/LibreOffice (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: How many accounts left out for an open case a dry run names.
OPEN_CASES_SHOWN = 20


def _fail(error: DomainError) -> click.ClickException:
    option = _OPTIONS.get(error.field or "")
    return click.ClickException(f"{option}: {error.message}" if option else error.message)


def _width(text: str) -> int:
    """Terminal columns: Chinese characters (regions like 华东) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _print_plan(plan: CampaignPlan) -> None:
    click.echo(f"Sampling frame: {plan.frame_size} accounts")
    excluded = ", ".join(f"{reason} {count}" for reason, count in plan.excluded.items())
    click.echo(f"Excluded: {excluded} (total {sum(plan.excluded.values())})")
    roles = f" in the roles {', '.join(plan.choice.roles)}" if plan.choice.roles else ""
    who = "the primary contact" if plan.choice.contacts == CONTACTS_PRIMARY else "all contacts"
    click.echo(f"Invites: {who}{roles} of each sampled account")
    if plan.open_cases:
        shown = ", ".join(plan.open_cases[:OPEN_CASES_SHOWN])
        more = len(plan.open_cases) - OPEN_CASES_SHOWN
        click.echo(
            f"Left out for an open case: {shown}" + (f" and {more} more" if more > 0 else "")
        )
    heading = plan.stratify_by or "stratum"
    width = max([_width(heading), 5, *(_width(a.key) for a in plan.allocation)])
    panel = bool(plan.census_tiers or plan.cover_within_days)
    extra = f"  {'census':>7}  {'coverage':>8}  {'random':>7}" if panel else ""
    click.echo(f"{_pad(heading, width)}  {'frame':>7}  {'sample':>7}{extra}  {'contacts':>8}")
    for row in plan.allocation:
        extra = f"  {row.census:>7}  {row.coverage:>8}  {row.random:>7}" if panel else ""
        click.echo(
            f"{_pad(row.key, width)}  {row.frame:>7}  {row.size:>7}{extra}  {row.contacts:>8}"
        )
    extra = (
        f"  {plan.census_count:>7}  {plan.coverage_count:>8}  {plan.random_count:>7}"
        if panel
        else ""
    )
    click.echo(
        f"{_pad('total', width)}  {plan.frame_size:>7}  {plan.sample_size:>7}{extra}  "
        f"{plan.contact_count:>8}"
    )
    if panel:
        census = f"tiers {', '.join(plan.census_tiers)}" if plan.census_tiers else "no tier"
        goal = f"{plan.cover_within_days} days" if plan.cover_within_days else "none"
        click.echo(
            f"Certainty: {plan.census_count} by census ({census}), {plan.coverage_count} by "
            f"the coverage goal ({goal}); by chance: {plan.random_count} "
            f"(asked for {plan.random_requested}), each with probability n_h/N_h of its stratum"
        )
    click.echo(f"Method: {plan.method}; seed: {plan.seed}")
    if plan.expected_response_rate is not None:
        margin = (
            f"±{plan.expected_margin * 100:.1f} points"
            if plan.expected_margin is not None
            else "none (no response expected)"
        )
        click.echo(
            f"Expected margin of error (95%, worst case) at a "
            f"{plan.expected_response_rate:.0%} response rate: {margin}"
        )


@group.command("launch")
@click.option("--name", required=True, help="A unique name, e.g. '2026 Q4 satisfaction'.")
@click.option("--size", type=int, help="How many accounts to sample.")
@click.option("--fraction", type=float, help="Or: the share of the frame to sample (0-1].")
@click.option(
    "--stratify-by",
    type=click.Choice(STRATIFY_DIMENSIONS),
    help="Draw proportionally from each tier, value type, relationship stage or region.",
)
@click.option("--seed", type=int, help="Seed of the random draw (recorded; random if omitted).")
@click.option(
    "--exclude-days",
    type=int,
    default=90,
    show_default=True,
    help="Leave out accounts invited to any campaign within this many days.",
)
@click.option(
    "--closes-in",
    "closes_in",
    type=int,
    default=14,
    show_default=True,
    help="Days until the survey closes.",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=KINDS[0],
    show_default=True,
    help="satisfaction: active accounts; exit: accounts lost recently (why did they leave?).",
)
@click.option(
    "--defected-within",
    "defected_within",
    type=int,
    default=DEFAULT_DEFECTED_WITHIN_DAYS,
    show_default=True,
    help="With --kind exit: sample accounts lost within this many days.",
)
@click.option(
    "--target-margin",
    type=float,
    help="Or: sample the fewest accounts whose expected 95%% margin of error reaches this "
    "(e.g. 0.05 for ±5 points), at most the whole frame.",
)
@click.option(
    "--expected-response-rate",
    type=float,
    help="Share of invited accounts expected to answer (0-1]; default: the mean of closed "
    "campaigns, else 0.3.",
)
@click.option(
    "--contacts",
    type=click.Choice(CONTACT_CHOICES, case_sensitive=False),
    default=CONTACTS_PRIMARY,
    show_default=True,
    help="Invite each sampled account's primary contact, or all its contacts.",
)
@click.option(
    "--contact-role",
    "contact_roles",
    multiple=True,
    help="Only contacts in this role (code or Chinese/English label, e.g. purchaser or 采购); "
    "repeat for several.",
)
@click.option(
    "--census-tier",
    "census_tiers",
    multiple=True,
    help="Survey every account of this tier (A, B or C) on top of the random sample; "
    "repeat for several.",
)
@click.option(
    "--cover-within-days",
    type=int,
    help="Also take every account that would otherwise go longer than this many days "
    "(by the closing date) without an invitation.",
)
@click.option(
    "--include-open-cases",
    is_flag=True,
    help="Keep accounts with an open or escalated follow-up in the frame (left out by default).",
)
@click.option("--dry-run", is_flag=True, help="Show the frame and allocation; write nothing.")
def launch(
    name: str,
    size: int | None,
    fraction: float | None,
    stratify_by: str | None,
    seed: int | None,
    exclude_days: int,
    closes_in: int,
    kind: str,
    defected_within: int,
    target_margin: float | None,
    expected_response_rate: float | None,
    contacts: str,
    contact_roles: tuple[str, ...],
    census_tiers: tuple[str, ...],
    cover_within_days: int | None,
    include_open_cases: bool,
    dry_run: bool,
) -> None:
    """Draw a random sample of key accounts and open a survey campaign."""
    request = CampaignRequest(
        name=name,
        size=size,
        fraction=fraction,
        stratify_by=stratify_by,
        seed=seed,
        exclude_days=exclude_days,
        closes_in_days=closes_in,
        created_by="cli",
        kind=kind,
        defected_within_days=defected_within,
        target_margin=target_margin,
        expected_response_rate=expected_response_rate,
        contacts=contacts,
        contact_roles=contact_roles,
        census_tiers=census_tiers,
        cover_within_days=cover_within_days,
        include_open_cases=include_open_cases,
    )
    try:
        result = launch_campaign(
            request,
            secret_key=current_app.config["SECRET_KEY"],
            dry_run=dry_run,
            mail=MailSettings.from_config(current_app.config),
        )
    except DomainError as exc:
        raise _fail(exc) from exc
    plan = result.plan
    _print_plan(plan)
    if result.campaign_id is None:
        click.echo("Dry run: nothing was written.")
        return
    closes = plan.closes_at.strftime("%Y-%m-%d %H:%M UTC") if plan.closes_at else "?"
    click.echo(
        f"Launched campaign ID {result.campaign_id} {plan.name!r}: "
        f"{plan.contact_count} invitations to {plan.sample_size} accounts, open until {closes}."
    )
    click.echo(
        f"{result.emails_queued} invitation e-mails queued; deliver them with: flask outbox send"
    )
    click.echo(
        f"Print the survey links with: flask campaign links {result.campaign_id} --output links.csv"
    )


def _safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def links_csv(links: Iterable[InvitationLink]) -> str:
    """The links as CSV text with the header row; formula-safe cells."""
    buffer = io.StringIO()
    # LF row endings: the same bytes on stdout and in the file (Excel reads both).
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LINKS_HEADER)
    for link in links:
        writer.writerow(
            [
                _safe_cell(value)
                for value in (
                    link.external_id,
                    link.account_name,
                    link.contact_name,
                    link.contact_email,
                    link.contact_phone,
                    link.locale,
                    link.url,
                    link.status,
                    link.contact_role,
                )
            ]
        )
    return buffer.getvalue()


@group.command("links")
@click.argument("campaign_id", type=int)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this CSV file (UTF-8 with BOM, so Excel shows Chinese) instead of stdout.",
)
def links(campaign_id: int, output: str | None) -> None:
    """Print a campaign's personal survey links as CSV."""
    try:
        rows = campaign_links(
            campaign_id,
            secret_key=current_app.config["SECRET_KEY"],
            base_url=current_app.config["BASE_URL"],
        )
    except DomainError as exc:
        raise _fail(exc) from exc
    text = links_csv(rows)
    if output is None:
        click.echo(text, nl=False)
        return
    # newline="": write the row endings exactly as the csv module made them.
    with open(output, "w", encoding="utf-8-sig", newline="") as file:
        file.write(text)
    click.echo(f"Wrote {len(rows)} links to {output}.", err=True)


@group.command("close")
@click.argument("campaign_id", type=int)
def close(campaign_id: int) -> None:
    """Close a campaign; invitations not answered expire."""
    try:
        campaign = close_campaign(campaign_id, actor="cli")
    except DomainError as exc:
        raise _fail(exc) from exc
    closed_at = campaign.closed_at.strftime("%Y-%m-%d %H:%M UTC") if campaign.closed_at else "?"
    click.echo(f"Campaign {campaign.id} {campaign.name!r} is closed (since {closed_at}).")


@group.command("remind")
@click.argument("campaign_id", type=int)
@click.option(
    "--after-days",
    type=int,
    default=5,
    show_default=True,
    help="Remind invitations last e-mailed at least this many days ago.",
)
def remind(campaign_id: int, after_days: int) -> None:
    """Queue a reminder e-mail for invitations not answered yet (at most 2 each)."""
    try:
        queued = queue_reminders(
            campaign_id,
            MailSettings.from_config(current_app.config),
            after_days=after_days,
            actor="cli",
        )
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(
        f"{queued} reminders queued for campaign {campaign_id}; deliver with: flask outbox send"
    )


@group.command("verify")
@click.argument("campaign_id", type=int)
def verify(campaign_id: int) -> None:
    """Re-draw a campaign's sample from its recorded frame and seed; exit 1 unless it
    reproduces the invited accounts exactly."""
    try:
        result = verify_campaign(campaign_id)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(
        f"Campaign {campaign_id}: recorded frame of {result.frame_size} accounts, "
        f"sample of {result.sample_size}."
    )
    click.echo(f"Frame digest (SHA-256): {result.frame_digest or '-'}")
    if result.census or result.coverage:
        click.echo(
            f"Certainty stratum: {result.census} by census, {result.coverage} by the coverage "
            f"goal; the rest drawn at random from the remaining frame."
        )
    if result.reproduced:
        click.echo("Verified: re-drawing the sample reproduces the invited accounts exactly.")
        return
    if not result.frame_digest_matches:
        click.echo(
            f"The recorded frame changed since launch: its digest was {result.recorded_digest}."
        )
    if not result.certainty_matches:
        click.echo(
            "The census and coverage accounts invited are not those recorded at launch: "
            f"their digest was {result.recorded_certainty_digest}."
        )
    if result.missing:
        click.echo(f"Drawn but not invited ({len(result.missing)}): {', '.join(result.missing)}")
    if result.unexpected:
        click.echo(
            f"Invited but not drawn ({len(result.unexpected)}): {', '.join(result.unexpected)}"
        )
    raise click.exceptions.Exit(1)


@group.command("list")
def list_() -> None:
    """List campaigns, newest first, with how many have responded."""
    rows = list_campaigns()
    if not rows:
        click.echo("No campaigns yet. Start one with: flask campaign launch --name NAME --size N")
        return
    click.echo(
        f"{'ID':>4}  {'status':<6}  {'method':<10}  {'by':<18}  {'sampled':>7}  "
        f"{'responded':>9}  {'rate':>5}  {'closes (UTC)':<16}  name"
    )
    for row in rows:
        rate = f"{row.response_rate:.0%}" if row.response_rate is not None else "-"
        closes = row.closes_at.strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"{row.id:>4}  {row.status:<6}  {row.method:<10}  {row.stratify_by or '-':<18}  "
            f"{row.sampled:>7}  {row.responded:>9}  {rate:>5}  {closes:<16}  {row.name}"
        )


__all__ = ["group", "links_csv"]
