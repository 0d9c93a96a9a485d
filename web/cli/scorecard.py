"""`flask scorecard ...`: the score models (value pyramid, value scorecard, health).

Thin over survey.scoring: show a model's weights, bands and history; change its
weights or bands (a new audited version) and recompute its scores.
"""

from __future__ import annotations

import math

import click
from flask.cli import AppGroup

from survey.errors import DomainError
from survey.scale import Perspective
from survey.scoring import WeightChange, list_models, load_model, model_history
from survey.scoring.admin import set_score_model

group = AppGroup("scorecard", help="Score models: show weights, bands and history; change them.")


@group.command("show")
@click.argument("model", required=False)
def show_command(model: str | None) -> None:
    """Weights by perspective, bands, version and history of MODEL (default: all)."""
    try:
        models = [load_model(model)] if model else list_models()
        for i, current in enumerate(models):
            if i:
                click.echo("")
            _show(current.code)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


def _show(code: str) -> None:
    history = model_history(code)
    current = history[0]
    tiering = " · suggests tiers" if current.tiering else ""
    click.echo(
        f"{current.code}  {current.label_en} / {current.label_zh}  "
        f"({current.kind}, version {current.version}{tiering})"
    )
    bands = ", ".join(f"{name} {limit:g}" for name, limit in current.band_limits.items())
    rule = "cumulative % of total value" if current.kind == "value" else "lowest score"
    click.echo(f"  bands ({rule}): {bands}")
    total = current.total_weight
    perspectives: dict[str, list[tuple[str, float]]] = {}
    for weight in current.weights:
        perspectives.setdefault(weight.perspective, []).append((weight.measure, weight.weight))
    for perspective, measures in perspectives.items():
        share = sum(w for _, w in measures) / total if total else 0.0
        try:
            label = Perspective(perspective).en
        except ValueError:
            label = perspective
        click.echo(f"  {label} ({perspective}) {share:.0%}")
        for measure, weight in measures:
            click.echo(f"    {measure:<28}{weight:g}")
    click.echo("  history:")
    for version in history:
        by = version.created_by or "-"
        note = f"  {version.note}" if version.note else ""
        click.echo(f"    v{version.version}  {version.created_at:%Y-%m-%d %H:%M} UTC  {by}{note}")


def _pairs(items: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        for part in item.split(","):
            name, sep, value = part.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise click.BadParameter(f"{part!r}: write {what}")
            pairs.append((name.strip().lower(), value.strip()))
    return pairs


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(f"{name}={text}: the value must be a number") from None
    if not math.isfinite(value):
        raise click.BadParameter(f"{name}={text}: the value must be a finite number")
    return value


@group.command("set")
@click.argument("model")
@click.argument("weights", nargs=-1)
@click.option(
    "--perspective",
    "perspectives",
    multiple=True,
    help="MEASURE=PERSPECTIVE: the group of a measure new to the model (or moved).",
)
@click.option("--bands", help="Band limits, e.g. A=50,B=80 (value) or good=70,watch=40 (health).")
@click.option("--tiering", is_flag=True, help="Make this value model the one that suggests tiers.")
@click.option("--note", help="Why the model changes (kept with the version).")
@click.option("--actor", help="Who changes it (default: cli).")
def set_command(
    model: str,
    weights: tuple[str, ...],
    perspectives: tuple[str, ...],
    bands: str | None,
    tiering: bool,
    note: str | None,
    actor: str | None,
) -> None:
    """Change MODEL's WEIGHTS (measure=weight ..., 0 takes a measure out), its bands or
    whether it suggests tiers; makes a new version and recomputes the scores.

    Example: flask scorecard set scorecard revenue=0.3 orders=0 --bands A=50,B=80
    """
    moved = dict(_pairs(perspectives, "MEASURE=PERSPECTIVE"))
    changes = [
        WeightChange(measure, _number(measure, value), moved.pop(measure, None))
        for measure, value in _pairs(weights, "MEASURE=WEIGHT")
    ]
    if moved:
        raise click.BadParameter(
            f"--perspective names {', '.join(moved)} without a weight; give MEASURE=WEIGHT too"
        )
    limits = (
        {
            name.upper() if len(name) == 1 else name: _number(name, value)
            for name, value in _pairs((bands,), "NAME=LIMIT,...")
        }
        if bands
        else None
    )
    if not changes and limits is None and not tiering:
        raise click.UsageError("nothing to change: give MEASURE=WEIGHT, --bands or --tiering")
    try:
        result = set_score_model(
            model,
            actor=actor or "cli",
            changes=changes,
            band_limits=limits,
            tiering=tiering or None,
            note=note,
        )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    current = result.model
    click.echo(f"{current.code} is now at version {current.version}")
    click.echo(f"{current.code} 现为第 {current.version} 版")
    if result.value is not None:
        period = result.value.period or "-"
        click.echo(f"value scores recomputed for {period}: {result.value.accounts} accounts")
        click.echo(f"价值分已按 {period} 重新计算：{result.value.accounts} 个客户")
    if result.health is not None:
        click.echo(f"health recomputed: {result.health.scored} of {result.health.accounts} scored")
        click.echo(
            f"健康度已重新计算：{result.health.accounts} 个客户中 {result.health.scored} 个有分数"
        )
