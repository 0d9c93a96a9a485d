"""Score models and their versions: what the current weights are, and changing them.

A version is immutable. `change_model` makes the next version from the current one
with the given changes, makes it current and records the change in the audit log,
in the caller's transaction; scores made before keep naming the version that made
them. Recomputing the scores is the caller's next step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from survey.audit import SCORE_MODEL_CHANGE, record_audit
from survey.db import db
from survey.errors import InvalidInputError, NotFoundError
from survey.models import Indicator, ScoreModel, ScoreModelVersion, ScoreModelWeight
from survey.scale import HealthBand, HealthMeasure, Perspective, ScoreKind
from survey.scoring.defaults import ensure_score_models
from survey.transactions import serialise

#: PostgreSQL's advisory lock that serialises storing scores (any fixed number).
SCORES_LOCK_KEY = 0x4B50_5343  # "KPSC"


def serialise_score_writes() -> None:
    """Hold the scores' lock until this transaction ends. A recompute that runs at the
    same time (a second worker, `flask health recompute`, a model change) waits, then
    reads and replaces what this one stored: without it, on PostgreSQL the second's
    DELETE does not see the rows the first inserted meanwhile, and its INSERT fails
    on their primary keys."""
    serialise(SCORES_LOCK_KEY)


@dataclass(frozen=True, slots=True)
class ModelWeight:
    measure: str
    perspective: str
    weight: float


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A score model at one version: the weights and band limits scores are made with."""

    model_id: int
    code: str
    kind: str
    label_zh: str
    label_en: str
    tiering: bool
    version_id: int
    version: int
    band_limits: dict[str, float]
    weights: tuple[ModelWeight, ...]
    created_at: datetime
    created_by: str | None
    note: str | None

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh

    @property
    def total_weight(self) -> float:
        return sum(w.weight for w in self.weights)


@dataclass(frozen=True, slots=True)
class WeightChange:
    """Set `measure`'s weight (0 takes it out of the model); `perspective` is
    needed for a measure the model does not have yet, and moves one it has."""

    measure: str
    weight: float
    perspective: str | None = None


def _view(model: ScoreModel, version: ScoreModelVersion) -> ModelVersion:
    return ModelVersion(
        model_id=model.id,
        code=model.code,
        kind=model.kind,
        label_zh=model.label_zh,
        label_en=model.label_en,
        tiering=model.tiering,
        version_id=version.id,
        version=version.version,
        band_limits={k: float(v) for k, v in json.loads(version.band_limits).items()},
        weights=tuple(
            ModelWeight(w.measure, w.perspective, float(w.weight)) for w in version.weights
        ),
        created_at=version.created_at,
        created_by=version.created_by,
        note=version.note,
    )


def list_models(kind: ScoreKind | None = None) -> list[ModelVersion]:
    """Every score model at its current version (of one kind), value models first."""
    ensure_score_models()
    query = (
        select(ScoreModel, ScoreModelVersion)
        .join(ScoreModelVersion, ScoreModelVersion.id == ScoreModel.current_version_id)
        .options(selectinload(ScoreModelVersion.weights))
        .order_by(ScoreModel.kind.desc(), ScoreModel.id)
    )
    if kind is not None:
        query = query.where(ScoreModel.kind == kind.value)
    return [_view(model, version) for model, version in db.session.execute(query)]


def load_model(code: str) -> ModelVersion:
    """One model at its current version; NotFoundError names the models there are."""
    models = list_models()
    for model in models:
        if model.code == code:
            return model
    known = ", ".join(m.code for m in models)
    raise NotFoundError(f"no score model {code!r} (there are: {known})", field="model")


def tiering_model() -> ModelVersion:
    """The value model whose bands suggest tiers."""
    values = list_models(ScoreKind.VALUE)
    return next((m for m in values if m.tiering), values[0])


def model_history(code: str) -> list[ModelVersion]:
    """Every version of a model, newest first."""
    current = load_model(code)
    versions = db.session.scalars(
        select(ScoreModelVersion)
        .where(ScoreModelVersion.model_id == current.model_id)
        .options(selectinload(ScoreModelVersion.weights))
        .order_by(ScoreModelVersion.version.desc())
    ).all()
    model = db.session.get(ScoreModel, current.model_id)
    assert model is not None
    return [_view(model, version) for version in versions]


def _known_measures(kind: str) -> dict[str, str]:
    """Measure code -> its label in English, for the kind of model."""
    if kind == ScoreKind.HEALTH:
        return {m.value: m.en for m in HealthMeasure}
    return {
        code: label
        for code, label in db.session.execute(select(Indicator.code, Indicator.label_en))
    }


def _check_limits(kind: str, limits: Mapping[str, float]) -> dict[str, float]:
    if kind == ScoreKind.HEALTH:
        names = (HealthBand.GOOD.value, HealthBand.WATCH.value)
        rule = "good above watch, both between 0 and 100"
    else:
        names = ("A", "B")
        rule = "A below B, both between 0 and 100 (cumulative % of total value)"
    if set(limits) != set(names):
        raise InvalidInputError(
            f"band limits need exactly {', '.join(names)} ({rule})", field="bands"
        )
    values = {name: float(limits[name]) for name in names}
    ok = all(math.isfinite(v) and 0 < v <= 100 for v in values.values())
    first, second = values[names[0]], values[names[1]]
    ordered = first > second if kind == ScoreKind.HEALTH else first < second
    if not (ok and ordered):
        raise InvalidInputError(f"band limits: {rule}", field="bands")
    return values


def change_model(
    code: str,
    *,
    actor: str | None,
    changes: Sequence[WeightChange] = (),
    band_limits: Mapping[str, float] | None = None,
    tiering: bool | None = None,
    note: str | None = None,
) -> ModelVersion:
    """Make the next version of a model with these changes, current from now on.

    Raises InvalidInputError (nothing changed) for an unknown measure, a negative or
    non-finite weight, a new measure without a perspective, a model left with no
    weight, or band limits out of order. `tiering=True` makes this value model the
    one that suggests tiers (in place, not a new version).
    """
    current = load_model(code)
    known = _known_measures(current.kind)
    perspectives = {p.value for p in Perspective}
    weights = {w.measure: w for w in current.weights}
    order = [w.measure for w in current.weights]
    for change in changes:
        if change.measure not in known:
            raise InvalidInputError(
                f"{change.measure!r} is not a measure of a {current.kind} model "
                f"(known: {', '.join(sorted(known))})",
                field="measure",
            )
        if not math.isfinite(change.weight) or change.weight < 0:
            raise InvalidInputError(
                f"{change.measure}: a weight is a number of 0 or more", field="weight"
            )
        if change.perspective is not None and change.perspective not in perspectives:
            raise InvalidInputError(
                f"{change.perspective!r} is not a perspective (known: "
                f"{', '.join(sorted(perspectives))})",
                field="perspective",
            )
        old = weights.get(change.measure)
        if change.weight == 0:
            weights.pop(change.measure, None)
            continue
        perspective = change.perspective or (old.perspective if old else None)
        if perspective is None:
            raise InvalidInputError(
                f"{change.measure}: name its perspective to add it to the model",
                field="perspective",
            )
        weights[change.measure] = ModelWeight(change.measure, perspective, float(change.weight))
        if change.measure not in order:
            order.append(change.measure)
    if not weights:
        raise InvalidInputError("a model needs at least one measure with a weight", field="weight")
    limits = _check_limits(current.kind, band_limits or current.band_limits)
    model = db.session.get(ScoreModel, current.model_id)
    assert model is not None
    if tiering:
        if current.kind != ScoreKind.VALUE:
            raise InvalidInputError("only a value model suggests tiers", field="tiering")
        before = [m.code for m in db.session.scalars(select(ScoreModel).where(ScoreModel.tiering))]
        for other in db.session.scalars(select(ScoreModel).where(ScoreModel.tiering)):
            other.tiering = False
        model.tiering = True
        if before != [current.code]:
            # Which model suggests tiers is a change too: audited, though not a version.
            record_audit(
                actor,
                SCORE_MODEL_CHANGE,
                "score_model",
                current.code,
                {"model": current.code, "tiering_before": before, "tiering_after": current.code},
            )
    new_weights = [weights[m] for m in order if m in weights]
    if new_weights == list(current.weights) and limits == current.band_limits:
        db.session.flush()
        return load_model(code) if tiering else current
    number = db.session.scalar(
        select(func.max(ScoreModelVersion.version)).where(
            ScoreModelVersion.model_id == current.model_id
        )
    )
    version = ScoreModelVersion(
        model_id=current.model_id,
        version=(number or 0) + 1,
        band_limits=json.dumps(limits, sort_keys=True),
        created_by=actor,
        note=note,
        weights=[
            ScoreModelWeight(
                measure=w.measure, perspective=w.perspective, weight=w.weight, position=i
            )
            for i, w in enumerate(new_weights)
        ],
    )
    db.session.add(version)
    db.session.flush()
    model.current_version_id = version.id
    record_audit(
        actor,
        SCORE_MODEL_CHANGE,
        "score_model",
        current.code,
        {
            "model": current.code,
            "version": version.version,
            "before": {w.measure: w.weight for w in current.weights},
            "after": {w.measure: w.weight for w in new_weights},
            "bands_before": current.band_limits,
            "bands_after": limits,
        },
    )
    db.session.flush()
    return load_model(code)
