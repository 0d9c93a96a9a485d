"""Which accounts matter most and which are slipping: value and health scores.

Business indicators per account and period (imported), value models (the pyramid
and the scorecard) that weigh their mid-rank percentiles into a value score and
bands A/B/C, health over the facts the product holds, its daily history, and the
check of health against the accounts that actually left.
"""

from survey.scoring.defaults import INDICATORS, MODELS, ensure_score_models
from survey.scoring.health import (
    HealthRecompute,
    HealthScores,
    backfill_health,
    health_inputs_changed,
    health_scores_as_of,
    recompute_health,
    refresh_health,
)
from survey.scoring.health_measures import HealthMeasures, health_measures_as_of
from survey.scoring.normalise import (
    MIN_WEIGHT_SHARE,
    Composite,
    composite,
    midrank_percentiles,
    pyramid_bands,
    threshold_band,
)
from survey.scoring.versions import (
    ModelVersion,
    ModelWeight,
    WeightChange,
    change_model,
    list_models,
    load_model,
    model_history,
    tiering_model,
)

__all__ = [
    "INDICATORS",
    "MIN_WEIGHT_SHARE",
    "MODELS",
    "Composite",
    # health
    "HealthMeasures",
    "HealthRecompute",
    "HealthScores",
    "ModelVersion",
    "ModelWeight",
    "WeightChange",
    "backfill_health",
    "change_model",
    "composite",
    "ensure_score_models",
    "health_inputs_changed",
    "health_measures_as_of",
    "health_scores_as_of",
    "list_models",
    "load_model",
    "midrank_percentiles",
    "model_history",
    "pyramid_bands",
    "recompute_health",
    "refresh_health",
    "threshold_band",
    "tiering_model",
]
