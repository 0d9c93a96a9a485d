"""Applying tier suggestions (manager or admin) and changing a score model (admin)."""

from __future__ import annotations

import strawberry

from survey.scoring import WeightChange
from survey.scoring.admin import set_score_model
from survey.scoring.tiers import apply_tier_suggestions
from survey.scoring.value_reads import computed_times

from ..context import Info
from ..errors import service_errors
from ..permissions import IsAdmin, IsManager
from ..scalars import parse_id
from .value import ScoreModel, TierChange, build_change, build_model, measure_labels


@strawberry.input(description="A measure's new weight (0 takes it out of the model).")
class WeightInput:
    measure: str
    weight: float
    perspective: str | None = strawberry.field(
        default=None, description="Needed for a measure new to the model; moves one it has."
    )


@strawberry.input(description="A band's limit (value: A and B; health: good and watch).")
class BandLimitInput:
    band: str
    limit: float


@strawberry.type
class ScoringMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Change these accounts' tiers to their suggested tiers (manager or "
        "admin), one audit entry each; refused, changing nothing, when one has no suggestion.",
    )
    def apply_tier_suggestions(
        self, info: Info, account_ids: list[strawberry.ID]
    ) -> list[TierChange]:
        ids = [parse_id(i) for i in account_ids]
        with service_errors({}):
            changes = apply_tier_suggestions(ids, actor=info.context.staff_name)
        return [build_change(c) for c in changes]

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Change a score model's weights, band limits or tiering (admin): a new "
        "audited version, then its scores recomputed.",
    )
    def set_score_model(
        self,
        info: Info,
        code: str,
        weights: list[WeightInput] | None = None,
        band_limits: list[BandLimitInput] | None = None,
        tiering: bool | None = None,
        note: str | None = None,
    ) -> ScoreModel:
        changes = [WeightChange(w.measure, w.weight, w.perspective) for w in weights or ()]
        limits = {b.band: b.limit for b in band_limits} if band_limits else None
        with service_errors({"bands": "bandLimits", "measure": "weights", "model": "code"}):
            result = set_score_model(
                code,
                actor=info.context.staff_name,
                changes=changes,
                band_limits=limits,
                tiering=tiering,
                note=note,
            )
        locale = info.context.locale
        return build_model(result.model, computed_times().get(code), measure_labels(locale), locale)
