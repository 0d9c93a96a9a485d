"""Reading value scores: one account's (or a page of accounts'), and the pyramid.

A read is one indexed query of AccountScore (by account and model) with the model
and version beside it; indicator labels come from the small indicators table.
The pyramid's figures are aggregates in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, func, select

from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    UNIT_MONEY,
    AccountMetric,
    AccountScore,
    Indicator,
    KeyAccount,
    ScoreModel,
    ScoreModelVersion,
)
from survey.scale import FLAG_LABELS, TIER_LABELS, TIERS, Perspective, ScoreKind
from survey.scoring.defaults import REVENUE
from survey.scoring.versions import ModelVersion, list_models, load_model, tiering_model


@dataclass(frozen=True, slots=True)
class ValuePart:
    """One indicator's part in a value score. `value`/`percentile` are None when the
    account has no value; `weight` is the renormalised weight (0 then)."""

    perspective: str
    perspective_zh: str
    perspective_en: str
    indicator: str
    label_zh: str
    label_en: str
    value: float | None
    percentile: float | None
    weight: float
    contribution: float
    #: The indicator's unit (survey.scale UNIT_*): money is shown with the currency.
    unit: str = ""

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh

    @property
    def is_money(self) -> bool:
        return self.unit == UNIT_MONEY

    def perspective_label(self, locale: str | None) -> str:
        return self.perspective_en if locale == "en" else self.perspective_zh


@dataclass(frozen=True, slots=True)
class AccountValue:
    """An account's value under one model. `score`/`band` None: insufficient data."""

    account_id: int
    model: str
    model_zh: str
    model_en: str
    version: int
    period: str | None
    score: float | None
    band: str | None
    suggested_tier: str | None
    flags: tuple[str, ...]
    parts: tuple[ValuePart, ...]
    computed_at: datetime

    def model_label(self, locale: str | None) -> str:
        return self.model_en if locale == "en" else self.model_zh

    def flag_labels(self, locale: str | None) -> list[str]:
        index = 1 if locale == "en" else 0
        return [FLAG_LABELS.get(f, (f, f))[index] for f in self.flags]


def _model(model: str | None) -> ModelVersion:
    chosen = tiering_model() if model is None else load_model(model)
    if chosen.kind != ScoreKind.VALUE:
        raise InvalidInputError(f"{chosen.code!r} is not a value model", field="model")
    return chosen


class IndicatorLabel(NamedTuple):
    zh: str
    en: str
    unit: str


def indicator_labels() -> dict[str, IndicatorLabel]:
    """Each indicator's labels and unit, by code."""
    return {
        code: IndicatorLabel(zh, en, unit)
        for code, zh, en, unit in db.session.execute(
            select(Indicator.code, Indicator.label_zh, Indicator.label_en, Indicator.unit)
        )
    }


def _perspective(code: str) -> tuple[str, str]:
    try:
        member = Perspective(code)
    except ValueError:
        return code, code
    return member.zh, member.en


def decode_parts(text: str, labels: dict[str, IndicatorLabel]) -> tuple[ValuePart, ...]:
    """The parts JSON of an AccountScore as ValueParts with labels."""
    parts = []
    for item in json.loads(text or "[]"):
        code = item["measure"]
        zh, en, unit = labels.get(code) or IndicatorLabel(code, code, "")
        p_zh, p_en = _perspective(item["perspective"])
        parts.append(
            ValuePart(
                perspective=item["perspective"],
                perspective_zh=p_zh,
                perspective_en=p_en,
                indicator=code,
                label_zh=zh,
                label_en=en,
                value=item.get("value"),
                percentile=item.get("percentile"),
                weight=float(item.get("weight") or 0.0),
                contribution=float(item.get("contribution") or 0.0),
                unit=unit,
            )
        )
    return tuple(parts)


def account_values(account_ids: Iterable[int], model: str | None = None) -> dict[int, AccountValue]:
    """The value of each of these accounts under `model` (default: the tiering model);
    accounts without a score row are left out. One statement for the scores (with the
    model and version), one for the indicators' labels when there are scores.
    NotFoundError / InvalidInputError for a model that is not a value model."""
    ids = sorted(set(account_ids))
    query = (
        select(AccountScore, ScoreModel, ScoreModelVersion.version)
        .join(ScoreModel, ScoreModel.id == AccountScore.model_id)
        .join(ScoreModelVersion, ScoreModelVersion.id == AccountScore.version_id)
        .where(ScoreModel.kind == ScoreKind.VALUE.value, AccountScore.account_id.in_(ids))
    )
    query = query.where(ScoreModel.tiering if model is None else ScoreModel.code == model)
    rows = db.session.execute(query).all() if ids else []
    if not rows and model is not None:
        _model(model)  # says why there is nothing: no such model, or not a value model
    labels = indicator_labels() if rows else {}
    found: dict[int, AccountValue] = {}
    for score, chosen, version in rows:
        found[score.account_id] = AccountValue(
            account_id=score.account_id,
            model=chosen.code,
            model_zh=chosen.label_zh,
            model_en=chosen.label_en,
            version=version,
            period=score.period,
            score=score.score,
            band=score.band,
            suggested_tier=score.band if chosen.tiering else None,
            flags=tuple(f for f in score.flags.split(",") if f),
            parts=decode_parts(score.parts, labels),
            computed_at=score.computed_at,
        )
    return found


def account_value(account_id: int, model: str | None = None) -> AccountValue | None:
    """One account's value under `model` (default: the tiering model); None if unscored."""
    return account_values([account_id], model).get(account_id)


@dataclass(frozen=True, slots=True)
class PyramidBand:
    """One band of the pyramid: how many accounts, their revenue, their share of value.

    `revenue` sums the accounts' annual revenue in the registry, `period_revenue`
    their revenue indicator in the scored period; `value_share` is the band's share
    of the total value score, in percent."""

    band: str
    label_zh: str
    label_en: str
    accounts: int
    revenue: int
    period_revenue: float
    value_share: float

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh


@dataclass(frozen=True, slots=True)
class ValuePyramid:
    """A value model's pyramid: bands A, B, C top first, and the accounts left out."""

    model: str
    model_zh: str
    model_en: str
    version: int
    tiering: bool
    band_limits: dict[str, float]
    period: str | None
    computed_at: datetime | None
    bands: tuple[PyramidBand, ...]
    insufficient: int

    def model_label(self, locale: str | None) -> str:
        return self.model_en if locale == "en" else self.model_zh

    @property
    def accounts(self) -> int:
        return sum(b.accounts for b in self.bands)


def value_pyramid(model: str | None = None) -> ValuePyramid:
    """The bands of a value model (default: the tiering model), aggregated in SQL."""
    chosen = _model(model)
    revenue_metric = AccountMetric.__table__.alias("revenue_metric")
    rows = db.session.execute(
        select(
            AccountScore.band,
            func.count(),
            func.coalesce(func.sum(AccountScore.score), 0.0),
            func.coalesce(func.sum(KeyAccount.annual_revenue), 0),
            func.coalesce(func.sum(revenue_metric.c.value), 0.0),
            func.max(AccountScore.period),
        )
        .join(KeyAccount, KeyAccount.id == AccountScore.account_id)
        .outerjoin(
            revenue_metric,
            and_(
                revenue_metric.c.account_id == AccountScore.account_id,
                revenue_metric.c.period == AccountScore.period,
                revenue_metric.c.indicator == REVENUE,
            ),
        )
        .where(AccountScore.model_id == chosen.model_id)
        .group_by(AccountScore.band)
    ).all()
    by_band = {
        band: (n, value, revenue, period_revenue)
        for band, n, value, revenue, period_revenue, _ in rows
    }
    period = next((r[5] for r in rows if r[5] is not None), None)
    total_value = sum(float(v[1]) for band, v in by_band.items() if band is not None)
    bands = []
    for band in TIERS:
        n, value, revenue, period_revenue = by_band.get(band, (0, 0.0, 0, 0.0))
        zh, en = TIER_LABELS[band]
        bands.append(
            PyramidBand(
                band=band,
                label_zh=zh,
                label_en=en,
                accounts=int(n),
                revenue=int(revenue),
                period_revenue=float(period_revenue),
                value_share=round(100.0 * float(value) / total_value, 2) if total_value else 0.0,
            )
        )
    computed_at = db.session.scalar(
        select(ScoreModel.computed_at).where(ScoreModel.id == chosen.model_id)
    )
    return ValuePyramid(
        model=chosen.code,
        model_zh=chosen.label_zh,
        model_en=chosen.label_en,
        version=chosen.version,
        tiering=chosen.tiering,
        band_limits=chosen.band_limits,
        period=period,
        computed_at=computed_at,
        bands=tuple(bands),
        insufficient=int(by_band.get(None, (0,))[0]),
    )


def computed_times() -> dict[str, datetime | None]:
    """When each score model's scores were last computed, by code."""
    return {
        code: at for code, at in db.session.execute(select(ScoreModel.code, ScoreModel.computed_at))
    }


def value_model_choices() -> list[ModelVersion]:
    """The value models, for a chooser."""
    return list_models(ScoreKind.VALUE)


__all__ = [
    "AccountValue",
    "PyramidBand",
    "ValuePart",
    "ValuePyramid",
    "account_value",
    "account_values",
    "computed_times",
    "decode_parts",
    "indicator_labels",
    "value_model_choices",
    "value_pyramid",
]
