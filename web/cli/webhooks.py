"""`flask webhooks ...`: endpoints that other systems registered, and their delivery log.

The deliveries themselves go out with `flask outbox send` (the same worker as e-mail)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from survey.delivery import (
    DeliveryView,
    EndpointView,
    create_endpoint,
    delete_endpoint,
    list_deliveries,
    list_endpoints,
    redeliver,
)
from survey.errors import DomainError
from survey.events import EVENT_KINDS

group = AppGroup(
    "webhooks",
    help="Signed webhooks: add, list and delete endpoints, read the delivery log, send "
    "a failed delivery again (deliveries go out with `flask outbox send`).",
)


def allow_http_loopback() -> bool:
    """http:// to a loopback address is accepted outside production."""
    return current_app.config.get("KEYPULSE_ENV") != "production"


def _fail(error: DomainError) -> click.ClickException:
    return click.ClickException(error.message)


def _when(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "-"


def endpoint_lines(view: EndpointView) -> list[str]:
    state = "启用 / active" if view.active else f"已停用 / disabled {_when(view.disabled_at)}"
    counts = ", ".join(f"{status} {n}" for status, n in view.deliveries.items())
    lines = [
        f"#{view.id} {view.url}  [{state}]",
        f"  events: {', '.join(view.events)}",
        f"  deliveries: {counts}",
    ]
    if view.description:
        lines.insert(1, f"  {view.description}")
    if view.failing_since is not None and view.active:
        lines.append(f"  failing since {_when(view.failing_since)}")
    if view.disabled_reason:
        lines.append(f"  last error: {view.disabled_reason}")
    return lines


def delivery_line(d: DeliveryView) -> str:
    answer = f"HTTP {d.response_status}" if d.response_status is not None else "-"
    took = f"{d.response_ms} ms" if d.response_ms is not None else "-"
    line = (
        f"#{d.id} endpoint {d.endpoint_id} {d.kind} {d.event_id} {d.status} "
        f"attempts {d.attempts} {answer} {took}"
    )
    if d.next_attempt_at is not None:
        line += f" next {_when(d.next_attempt_at)}"
    if d.last_error:
        line += f" error: {d.last_error}"
    return line


@group.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    type=click.Choice(EVENT_KINDS),
    help="An event kind to receive (repeat for more).",
)
@click.option("--description", default=None, help="What the endpoint is for.")
def add(url: str, events: tuple[str, ...], description: str | None) -> None:
    """Register URL (https://; http:// to a loopback address outside production) and
    print its signing secret, once: it cannot be shown again."""
    try:
        new = create_endpoint(
            url,
            events,
            secret_key=str(current_app.config["SECRET_KEY"]),
            allow_http_loopback=allow_http_loopback(),
            description=description,
            actor="cli",
        )
    except DomainError as error:
        raise _fail(error) from None
    for line in endpoint_lines(new.endpoint):
        click.echo(line)
    click.echo("签名密钥（只显示这一次）/ Signing secret (shown only this once):")
    click.echo(new.secret)


@group.command("list")
def list_command() -> None:
    """Every endpoint with its events and deliveries by status (never its secret)."""
    views = list_endpoints()
    if not views:
        click.echo("没有 webhook / No webhooks.")
    for view in views:
        for line in endpoint_lines(view):
            click.echo(line)


@group.command("delete")
@click.argument("endpoint_id", type=int)
def delete(endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log; nothing more is sent to it."""
    try:
        delete_endpoint(endpoint_id, actor="cli")
    except DomainError as error:
        raise _fail(error) from None
    click.echo(f"已删除 / Deleted webhook #{endpoint_id}.")


@group.command("deliveries")
@click.option("--endpoint", "endpoint_id", type=int, default=None, help="One endpoint's.")
@click.option("--failed", is_flag=True, help="Only the failed ones.")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
def deliveries(endpoint_id: int | None, failed: bool, limit: int) -> None:
    """The delivery log, newest first: status, attempts, answer, time, last error."""
    page = list_deliveries(endpoint_id=endpoint_id, failed_only=failed, first=limit)
    if not page.deliveries:
        click.echo("没有投递记录 / No deliveries.")
    for d in page.deliveries:
        click.echo(delivery_line(d))


@group.command("redeliver")
@click.argument("delivery_id", type=int)
def redeliver_command(delivery_id: int) -> None:
    """Queue a failed delivery again (same event id); `flask outbox send` posts it."""
    try:
        view = redeliver(delivery_id, actor="cli")
    except DomainError as error:
        raise _fail(error) from None
    click.echo(f"已重新排队 / Queued again: {delivery_line(view)}")


__all__ = ["allow_http_loopback", "group"]
