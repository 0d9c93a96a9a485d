"""Scores of accounts: business indicators, value and health models, scores and history.

An *indicator* is a business figure per account and period that the company imports
(revenue, orders, days sales outstanding, ...); its label and direction are data,
declared here, not code. A *score model* (the value pyramid, the value scorecard,
health) weighs measures, grouped into perspectives. Every change of a model's
weights or band limits makes a new immutable *version*; each score says which
version made it. `AccountScore` holds every account's latest score per model (its
parts as JSON, read in one row); `HealthSnapshot` keeps one health score per
account and day, the history that "why did it move" compares.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.db import UTCDateTime, db

#: Units an indicator may be measured in (labels in the console's catalog).
UNIT_MONEY = "money"
UNIT_COUNT = "count"
UNIT_DAYS = "days"
UNIT_RATING = "rating"
UNITS: tuple[str, ...] = (UNIT_MONEY, UNIT_COUNT, UNIT_DAYS, UNIT_RATING)

#: The shipped score models' codes.
MODEL_PYRAMID = "pyramid"
MODEL_SCORECARD = "scorecard"
MODEL_HEALTH = "health"


class Indicator(db.Model):
    """A business indicator the company imports per account and period."""

    __tablename__ = "indicators"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(16))
    #: False for indicators where less is better (days sales outstanding, service cost).
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh


class AccountMetric(db.Model):
    """One indicator's value for one account in one period.

    `period` is `YYYY`, `YYYY-Qn` or `YYYY-MM`; `period_end` is its last day, so
    periods of any length order by time.
    """

    __tablename__ = "account_metrics"
    __table_args__ = (
        UniqueConstraint("account_id", "period", "indicator", name="uq_account_metrics"),
        Index("ix_account_metrics_indicator_period", "indicator", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("key_accounts.id", ondelete="CASCADE"), index=True
    )
    period: Mapped[str] = mapped_column(String(7))
    period_end: Mapped[date] = mapped_column(Date, index=True)
    indicator: Mapped[str] = mapped_column(ForeignKey("indicators.code"))
    value: Mapped[float] = mapped_column(Float)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScoreModel(db.Model):
    """A way of scoring accounts: `kind` value (tiering) or health."""

    __tablename__ = "score_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    label_zh: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    #: The value model whose bands suggest tiers (exactly one value model has it).
    tiering: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The version new scores are made with.
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "score_model_versions.id",
            use_alter=True,
            name="fk_score_models_version",
            ondelete="SET NULL",
        )
    )
    #: When the scores were last computed, and from which data version's inputs.
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    inputs_version: Mapped[str | None] = mapped_column(String(64))

    versions: Mapped[list[ScoreModelVersion]] = relationship(
        back_populates="model",
        lazy="raise",
        foreign_keys="ScoreModelVersion.model_id",
        order_by="ScoreModelVersion.version",
    )

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh


class ScoreModelVersion(db.Model):
    """One immutable set of weights and band limits of a score model.

    `band_limits` is JSON: for a value model the cumulative shares of total value
    that close bands A and B (`{"A": 50, "B": 80}`); for health the lowest score of
    each band (`{"good": 70, "watch": 40}`, the rest poor).
    """

    __tablename__ = "score_model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_score_model_versions"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("score_models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    band_limits: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)

    model: Mapped[ScoreModel] = relationship(
        back_populates="versions", lazy="raise", foreign_keys=[model_id]
    )
    weights: Mapped[list[ScoreModelWeight]] = relationship(
        back_populates="version",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="ScoreModelWeight.position",
    )


class ScoreModelWeight(db.Model):
    """One measure's weight in one version: an indicator code or a health measure."""

    __tablename__ = "score_model_weights"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("score_model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    measure: Mapped[str] = mapped_column(String(40), primary_key=True)
    perspective: Mapped[str] = mapped_column(String(16))
    weight: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)

    version: Mapped[ScoreModelVersion] = relationship(back_populates="weights", lazy="raise")


class AccountScore(db.Model):
    """An account's latest score under one model, with the parts that made it.

    `score` and `band` are NULL when fewer than half of the weight had data
    ("insufficient data", never a zero). `parts` is a JSON list, one object per
    measure: measure, perspective, value, percentile, weight (renormalised),
    contribution. `flags` is a comma-separated list of flag codes.
    """

    __tablename__ = "account_scores"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("key_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[int] = mapped_column(
        ForeignKey("score_models.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int] = mapped_column(ForeignKey("score_model_versions.id"))
    #: The indicators' period a value score was computed for (NULL for health).
    period: Mapped[str | None] = mapped_column(String(7))
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(16), index=True)
    flags: Mapped[str] = mapped_column(String(200), default="")
    parts: Mapped[str] = mapped_column(Text, default="[]")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HealthSnapshot(db.Model):
    """An account's health on one day: the history of its health score."""

    __tablename__ = "health_snapshots"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("key_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("score_model_versions.id"))
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(16))
    parts: Mapped[str] = mapped_column(Text, default="[]")
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
