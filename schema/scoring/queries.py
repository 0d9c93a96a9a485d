"""Value pyramid, tier suggestions and score models (anyone signed in may read them)."""

from __future__ import annotations

import strawberry

from survey.scoring import list_models
from survey.scoring.tiers import tier_suggestions
from survey.scoring.value_reads import computed_times, value_pyramid

from ..context import Info
from ..errors import domain_errors
from .value import (
    PyramidBand,
    ScoreModel,
    TierSuggestion,
    build_band,
    build_model,
    build_suggestions,
    measure_labels,
)

#: Tier suggestions listed at most (high value first).
MAX_SUGGESTIONS = 200


@strawberry.type
class ScoringQuery:
    @strawberry.field(
        description="The bands A, B, C of a value model (default: the one that suggests "
        "tiers): accounts, their revenue and their share of the total value."
    )
    def value_pyramid(self, info: Info, model: str | None = None) -> list[PyramidBand]:
        with domain_errors():
            pyramid = value_pyramid(model)
        return [build_band(b, info.context.locale) for b in pyramid.bands]

    @strawberry.field(
        description="Active accounts whose tier differs from their value band in the model "
        f"that suggests tiers, high value first (at most {MAX_SUGGESTIONS})."
    )
    def tier_suggestions(self, info: Info) -> list[TierSuggestion]:
        return build_suggestions(tier_suggestions(limit=MAX_SUGGESTIONS), info.context.locale)

    @strawberry.field(description="Every score model at its current version.")
    def score_models(self, info: Info) -> list[ScoreModel]:
        locale = info.context.locale
        labels = measure_labels(locale)
        times = computed_times()
        return [build_model(m, times.get(m.code), labels, locale) for m in list_models()]
