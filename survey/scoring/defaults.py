"""The shipped indicators and score models, in one place.

`ensure_score_models` adds whatever of them is missing (a new database, a test
database built with `create_all`) and leaves what exists alone: an admin's weights
and an indicator imported under the same code are never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from survey.db import db
from survey.models import (
    MODEL_HEALTH,
    MODEL_PYRAMID,
    MODEL_SCORECARD,
    UNIT_COUNT,
    UNIT_DAYS,
    UNIT_MONEY,
    UNIT_RATING,
    Indicator,
    ScoreModel,
    ScoreModelVersion,
    ScoreModelWeight,
)
from survey.scale import HealthBand, HealthMeasure, Perspective, ScoreKind


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    code: str
    zh: str
    en: str
    unit: str
    higher_is_better: bool = True


INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec("revenue", "销售额", "Revenue", UNIT_MONEY),
    IndicatorSpec("gross_profit", "毛利", "Gross profit", UNIT_MONEY),
    IndicatorSpec("collected", "回款额", "Money collected", UNIT_MONEY),
    IndicatorSpec(
        "days_sales_outstanding", "应收账款天数", "Days sales outstanding", UNIT_DAYS, False
    ),
    IndicatorSpec("orders", "订单数", "Number of orders", UNIT_COUNT),
    IndicatorSpec("credit_rating", "信用等级（1-5）", "Credit rating (1-5)", UNIT_RATING),
    IndicatorSpec("growth_potential", "成长潜力（1-5）", "Growth potential (1-5)", UNIT_RATING),
    IndicatorSpec("service_cost", "服务成本", "Cost to serve", UNIT_MONEY, False),
)

#: The indicators the one-off flag reads (revenue high, orders few).
REVENUE = "revenue"
ORDERS = "orders"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    code: str
    kind: ScoreKind
    zh: str
    en: str
    tiering: bool
    band_limits: dict[str, float]
    #: (perspective, measure, weight), in display order.
    weights: tuple[tuple[str, str, float], ...]


#: Value bands by cumulative share of total value: A up to 50 %, B up to 80 %, C the rest.
VALUE_BAND_LIMITS: dict[str, float] = {"A": 50.0, "B": 80.0}
#: Health bands by score: good from 70, watch from 40, poor below.
HEALTH_BAND_LIMITS: dict[str, float] = {HealthBand.GOOD.value: 70.0, HealthBand.WATCH.value: 40.0}

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        MODEL_PYRAMID,
        ScoreKind.VALUE,
        "价值金字塔",
        "Value pyramid",
        False,
        VALUE_BAND_LIMITS,
        (
            (Perspective.VALUE, "revenue", 0.35),
            (Perspective.VALUE, "gross_profit", 0.30),
            (Perspective.VALUE, "collected", 0.20),
            (Perspective.VALUE, "orders", 0.15),
        ),
    ),
    ModelSpec(
        MODEL_SCORECARD,
        ScoreKind.VALUE,
        "价值记分卡",
        "Value scorecard",
        True,
        VALUE_BAND_LIMITS,
        (
            (Perspective.FINANCIAL, "gross_profit", 0.15),
            (Perspective.FINANCIAL, "collected", 0.10),
            (Perspective.FINANCIAL, "days_sales_outstanding", 0.10),
            (Perspective.SALES, "revenue", 0.20),
            (Perspective.SALES, "orders", 0.10),
            (Perspective.CUSTOMER, "credit_rating", 0.10),
            (Perspective.CUSTOMER, "growth_potential", 0.15),
            (Perspective.SERVICE, "service_cost", 0.10),
        ),
    ),
    ModelSpec(
        MODEL_HEALTH,
        ScoreKind.HEALTH,
        "客户健康度",
        "Account health",
        False,
        HEALTH_BAND_LIMITS,
        (
            (Perspective.VOICE, HealthMeasure.OVERALL_SCORE, 0.25),
            (Perspective.VOICE, HealthMeasure.DISSATISFIED_SHARE, 0.15),
            (Perspective.VOICE, HealthMeasure.SCORE_CHANGE, 0.10),
            (Perspective.ENGAGEMENT, HealthMeasure.DAYS_SINCE_ANSWER, 0.10),
            (Perspective.ENGAGEMENT, HealthMeasure.ANSWERED_LAST_INVITATION, 0.10),
            (Perspective.SERVICE, HealthMeasure.OPEN_FOLLOW_UPS, 0.05),
            (Perspective.SERVICE, HealthMeasure.OVERDUE_FOLLOW_UPS, 0.10),
            (Perspective.RELATIONSHIP, HealthMeasure.RELATIONSHIP_STAGE, 0.15),
        ),
    ),
)


def ensure_score_models() -> None:
    """Add the shipped indicators and models that are missing, in the caller's
    transaction (flushed, not committed). Safe to call from concurrent processes:
    a row another process added first is taken as it is."""
    have = set(db.session.scalars(select(Indicator.code)))
    for spec in INDICATORS:
        if spec.code not in have:
            _add_once(
                Indicator(
                    code=spec.code,
                    label_zh=spec.zh,
                    label_en=spec.en,
                    unit=spec.unit,
                    higher_is_better=spec.higher_is_better,
                )
            )
    models = set(db.session.scalars(select(ScoreModel.code)))
    for model_spec in MODELS:
        if model_spec.code not in models:
            _add_model(model_spec)


def _add_once(row: object) -> bool:
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return False
    return True


def _add_model(spec: ModelSpec) -> None:
    """The model, its first version and weights in one savepoint: all or nothing.

    (On SQLite a savepoint opened outside a transaction is the transaction, and its
    release commits: a model must never be stored without its version.)"""
    try:
        with db.session.begin_nested():
            model = ScoreModel(
                code=spec.code,
                kind=spec.kind.value,
                label_zh=spec.zh,
                label_en=spec.en,
                tiering=spec.tiering,
            )
            db.session.add(model)
            db.session.flush()
            version = ScoreModelVersion(
                model_id=model.id,
                version=1,
                band_limits=json.dumps(spec.band_limits, sort_keys=True),
                note="shipped default",
                weights=[
                    ScoreModelWeight(
                        measure=str(measure),
                        perspective=str(perspective),
                        weight=weight,
                        position=i,
                    )
                    for i, (perspective, measure, weight) in enumerate(spec.weights)
                ],
            )
            db.session.add(version)
            db.session.flush()
            model.current_version_id = version.id
            db.session.flush()
    except IntegrityError:
        return  # another process added it first
