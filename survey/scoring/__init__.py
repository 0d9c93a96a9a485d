"""Which accounts matter most and which are slipping: value and health scores.

Business indicators per account and period (imported), value models (the pyramid
and the scorecard) that weigh their mid-rank percentiles into a value score and
bands A/B/C, health over the facts the product holds, its daily history, and the
check of health against the accounts that actually left.
"""

from survey.scoring.defaults import INDICATORS, MODELS, ensure_score_models
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
    "ModelVersion",
    "ModelWeight",
    "WeightChange",
    "change_model",
    "composite",
    "ensure_score_models",
    "list_models",
    "load_model",
    "midrank_percentiles",
    "model_history",
    "pyramid_bands",
    "threshold_band",
    "tiering_model",
]
