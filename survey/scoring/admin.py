"""Changing a score model and recomputing its scores, in one step.

`set_score_model` is what `flask scorecard set` and the GraphQL mutation call: a
new audited version (survey.scoring.versions.change_model), then the scores of
that model recomputed with it (value models: every value model for the default
period; health: every active account's health and today's snapshot); committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from survey.db import db
from survey.scale import ScoreKind
from survey.scoring.health import HealthRecompute, recompute_health
from survey.scoring.value import ValueRecompute, recompute_value_scores
from survey.scoring.versions import ModelVersion, WeightChange, change_model


@dataclass(frozen=True, slots=True)
class ModelChange:
    """The model at its new current version and what recomputing it produced."""

    model: ModelVersion
    value: ValueRecompute | None
    health: HealthRecompute | None


def set_score_model(
    code: str,
    *,
    actor: str | None,
    changes: Sequence[WeightChange] = (),
    band_limits: Mapping[str, float] | None = None,
    tiering: bool | None = None,
    note: str | None = None,
) -> ModelChange:
    """Change a model (InvalidInputError/NotFoundError change nothing), then
    recompute its scores; commits."""
    try:
        model = change_model(
            code,
            actor=actor,
            changes=changes,
            band_limits=band_limits,
            tiering=tiering,
            note=note,
        )
        if model.kind == ScoreKind.HEALTH:
            health = recompute_health(commit=False)
            db.session.commit()
            return ModelChange(model, None, health)
        value = recompute_value_scores(commit=False)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return ModelChange(model, value, None)


__all__ = ["ModelChange", "set_score_model"]
