"""`flask outbox ...`: deliver queued e-mails, show the queue, retry given-up messages."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType

import click
from flask import current_app
from flask.cli import AppGroup

from survey.delivery import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ATTEMPTS,
    DeliveryReport,
    MailSettings,
    backend_from_config,
    outbox_counts,
    queue_times,
    release_held_back,
    requeue_failed,
    run_worker,
    webhook_queue,
)
from survey.follow_ups import EscalationReport

from .follow_ups import escalation_step
from .health import health_step
from .schedules import schedule_step

group = AppGroup(
    "outbox",
    help="Deliver invitation, reminder and follow-up e-mails from the outbox "
    "(each run also escalates overdue follow-up cases and launches due scheduled campaigns).",
)


def _line(report: DeliveryReport) -> str:
    line = (
        f"sent {report.sent}, retry later {report.retried}, "
        f"bounced {report.bounced}, failed {report.failed}"
    )
    hooks = report.webhooks
    if hooks.claimed:
        line += (
            f"; webhooks delivered {hooks.delivered}, retry later {hooks.retried}, "
            f"failed {hooks.failed}"
        )
    return line


@group.command("send")
@click.option("--loop", is_flag=True, help="Keep running and poll for new messages (Ctrl-C stops).")
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Messages claimed per batch.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 3600),
    default=5.0,
    show_default=True,
    help="With --loop: seconds to wait when nothing is due.",
)
@click.option(
    "--now",
    "now",
    is_flag=True,
    help="First make every queued message due, also those held back after a failed "
    "attempt (the mail server is back).",
)
def send(loop: bool, batch_size: int, interval: float, now: bool) -> None:
    """Deliver due e-mails over SMTP (SMTP_HOST...), or to instance/outbox/*.eml
    when SMTP_HOST is not set.

    Exits with status 75 (EX_TEMPFAIL) when nothing could be delivered although
    messages wait: the server could not be reached, or every queued message is held
    back after a failure. An empty queue exits 0."""
    config = current_app.config
    if now:
        released = release_held_back()
        click.echo(f"{released} held-back message(s) made due now.", err=True)
    backend = backend_from_config(config, current_app.instance_path)
    where = (
        f"SMTP {config['SMTP_HOST']}:{config['SMTP_PORT']}"
        if config.get("SMTP_HOST")
        else f"files in {current_app.instance_path}/outbox (SMTP_HOST is not set)"
    )
    click.echo(f"Delivering to {where}.", err=True)
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True  # finish the message in hand, then leave: nothing half-marked

    previous = signal.signal(signal.SIGTERM, stop) if loop else None
    started = time.perf_counter()
    try:
        total = run_worker(
            backend,
            MailSettings.from_config(config),
            loop=loop,
            batch_size=batch_size,
            max_attempts=int(config.get("OUTBOX_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS),
            idle_seconds=interval,
            should_stop=lambda: stopping,
            on_batch=(lambda r: click.echo(_line(r), err=True)) if loop else None,
            periodic=_escalating(),
        )
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
        return
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    elapsed = time.perf_counter() - started
    rate = f" ({total.sent / elapsed:.0f} messages/second)" if total.sent and elapsed > 0 else ""
    click.echo(f"Outbox: {_line(total)}{rate}.")
    if not loop and not total.sent:
        _fail_if_stuck(total)


def _held_back_line() -> str | None:
    times = queue_times()
    if not times.held_back or times.next_attempt_at is None:
        return None
    error = f" (last error: {times.last_error})" if times.last_error else ""
    return (
        f"{times.held_back} message(s) held back until "
        f"{times.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC{error}"
    )


def _fail_if_stuck(total: DeliveryReport) -> None:
    """Nothing went out: say why and exit 75 unless the queue is simply empty."""
    held = _held_back_line()
    if total.unreachable is None and held is None:
        return
    reason = (
        f"could not reach the mail server: {total.unreachable}"
        if total.unreachable
        else "every queued message is waiting after a failed attempt"
    )
    click.echo(f"Nothing delivered: {reason}.", err=True)
    if held:
        click.echo(f"{held}; `flask outbox send --now` tries them at once.", err=True)
    raise SystemExit(75)


def _escalating() -> Callable[[], object]:
    """Each pass of the worker also escalates overdue follow-up cases (their e-mails
    go out in the same run), and says so when it did."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    step = escalation_step(app)
    schedules = schedule_step(app)
    health = health_step()

    def run() -> EscalationReport:
        report = step()
        if report.escalated:
            click.echo(f"escalated {len(report.escalated)} follow-up case(s)", err=True)
        # Each pass also launches any schedule's cycle that is due (see `flask schedules run`).
        launched = schedules().launched
        if launched:
            names = ", ".join(item.campaign_name for item in launched)
            click.echo(f"launched {len(launched)} scheduled campaign(s): {names}", err=True)
        # And recomputes health when its inputs changed, or once a day for the snapshot.
        if health() is not None:
            click.echo("recomputed account health", err=True)
        return report

    return run


@group.command("status")
def status() -> None:
    """How many messages are queued, sending, sent, failed and bounced, and when the
    held-back ones are tried again; then the webhook deliveries the same worker sends,
    by status, and the endpoints failing (`flask webhooks deliveries` lists them)."""
    counts = outbox_counts()
    for name, count in counts.items():
        click.echo(f"{name:<8} {count:>7}")
    if counts["queued"]:
        click.echo(f"due now  {queue_times().due:>7}")
        held = _held_back_line()
        if held:
            click.echo(held)
    hooks = webhook_queue()
    click.echo("webhook deliveries:")
    for name, count in hooks.deliveries.items():
        click.echo(f"{name:<9} {count:>6}")
    if hooks.failing_endpoints:
        click.echo(
            f"{hooks.failing_endpoints} endpoint(s) failing, their deliveries retried "
            "(`flask webhooks list` says since when)"
        )


@group.command("retry-failed")
def retry_failed() -> None:
    """Queue again the messages that reached the retry limit (e.g. after an outage)."""
    count = requeue_failed()
    click.echo(f"{count} failed messages queued again.")


__all__ = ["group"]
