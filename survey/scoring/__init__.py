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
from survey.scoring.health_reads import (
    AccountHealth,
    HealthPart,
    HealthPoint,
    MovedPart,
    WhyMoved,
    account_health,
    format_measure,
    health_of_accounts,
)
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
    "AccountHealth",
    "Composite",
    # health
    "HealthMeasures",
    "HealthPart",
    "HealthPoint",
    "HealthRecompute",
    "HealthScores",
    "ModelVersion",
    "ModelWeight",
    "MovedPart",
    "WeightChange",
    "WhyMoved",
    "account_health",
    "backfill_health",
    "change_model",
    "composite",
    "ensure_score_models",
    "format_measure",
    "health_inputs_changed",
    "health_measures_as_of",
    "health_of_accounts",
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
