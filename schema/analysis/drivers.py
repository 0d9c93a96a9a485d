"""Key drivers: which aspect moves overall satisfaction most, and how we do on it
(survey.analysis.key_drivers holds every definition)."""

from __future__ import annotations

from enum import Enum

import strawberry

from survey import analysis

from ..context import Info
from .types import ResponseFilter, min_group_size, response_filter

DriverUnit = strawberry.enum(
    Enum("DriverUnit", [(u.name, u.value) for u in analysis.DriverUnit]),  # type: ignore[misc]
    description="What one observation is. RESPONSE: each response that answered the aspect "
    "and `overall`. ACCOUNT: each account, with the mean of its responses' scores in the "
    "filter (an account heard twice counts once).",
)
DriverWeight = strawberry.enum(
    Enum("DriverWeight", [(w.name, w.value) for w in analysis.DriverWeight]),  # type: ignore[misc]
    description="How much an observation counts. ANSWERS: once. REVENUE: its account's annual "
    "revenue (weighted Pearson r; intervals and p-values use Kish's effective n = "
    "(Σw)²/Σw²; observations of accounts without revenue weigh nothing).",
)
DriverQuadrant = strawberry.enum(
    Enum("DriverQuadrant", [(q.name, q.value) for q in analysis.Quadrant]),  # type: ignore[misc]
    description="Where an aspect sits against the medians across aspects of importance and "
    "performance. FIX_FIRST: importance above the median (and its interval above zero), "
    "performance below the median. KEEP_UP: importance above, performance at or above. "
    "SECONDARY: importance at or below (or its interval reaching zero), performance below. "
    "POSSIBLE_OVERKILL: importance at or below, performance at or above.",
)


@strawberry.type(
    description="One aspect against overall satisfaction; figures are null when "
    "they cannot be estimated (too few observations, a score that never varies)."
)
class KeyDriver:
    aspect: str = strawberry.field(description="The aspect's code.")
    label: str
    n: int = strawberry.field(
        description="Observations (responses or accounts) that answered the aspect and overall."
    )
    importance: float | None = strawberry.field(
        description="Pearson's r between the aspect's score and the overall score over the "
        "observations, weighted by annual revenue under REVENUE; null with fewer than 4 "
        "observations or when either score never varies."
    )
    importance_low: float | None = strawberry.field(
        description="Lower end of the 95% interval of importance by Fisher's z: "
        "tanh(atanh(r) − 1.96/√(n−3)), n the observations (Kish's effective n under REVENUE)."
    )
    importance_high: float | None = strawberry.field(
        description="Upper end: tanh(atanh(r) + 1.96/√(n−3))."
    )
    p_value: float | None = strawberry.field(
        description="Two-sided p-value of r ≠ 0: t = r·√((n−2)/(1−r²)) on n−2 degrees of "
        "freedom (the same n as the interval)."
    )
    relative_weight: float | None = strawberry.field(
        description="Johnson's relative weight: the aspect's share of R² in the regression of "
        "overall on every aspect (shares sum to 1 across the aspects), over the observations "
        "that answered every aspect; null when r2 is."
    )
    performance: float | None = strawberry.field(
        description="Mean score (1-5) over the same observations as importance (weighted "
        "under REVENUE)."
    )
    satisfied_share: float | None = strawberry.field(
        description="Share of satisfied scores (4-5) over those observations; of an account, "
        "the share of its responses."
    )
    satisfied_share_low: float | None = strawberry.field(
        description="95% Wilson interval of satisfiedShare, low end (Kish's n when weighted)."
    )
    satisfied_share_high: float | None = strawberry.field(
        description="95% Wilson interval of satisfiedShare, high end."
    )
    quadrant: DriverQuadrant | None = strawberry.field(  # type: ignore[valid-type]
        description="Importance × performance against the medians across aspects; null "
        "without importance."
    )
    low_sample: bool = strawberry.field(
        description="Fewer observations than MIN_GROUP_SIZE (at least 4), no interval, or an "
        "importance interval that reaches zero: not shown to matter, never FIX_FIRST."
    )


@strawberry.type(description="Which aspects drive overall satisfaction (key-driver analysis).")
class KeyDriverAnalysis:
    n: int = strawberry.field(
        description="Observations that answered every aspect and overall (the regression's)."
    )
    r2: float | None = strawberry.field(
        description="R² of the regression of overall on every aspect over those observations "
        "(weighted least squares under REVENUE); null when an aspect never varies, aspects "
        "move in lockstep or there are fewer observations than aspects + 2."
    )
    low_sample: bool = strawberry.field(
        description="r2 is null, or fewer than 10 complete observations per aspect "
        "(and than MIN_GROUP_SIZE)."
    )
    drivers: list[KeyDriver] = strawberry.field(description="Every aspect, in questionnaire order.")


def build_analysis(result: analysis.KeyDriverAnalysis, locale: str) -> KeyDriverAnalysis:
    return KeyDriverAnalysis(
        n=result.n,
        r2=result.r2,
        low_sample=result.low_sample,
        drivers=[
            KeyDriver(
                aspect=d.aspect,
                label=d.label(locale),
                n=d.n,
                importance=d.importance,
                importance_low=d.importance_low,
                importance_high=d.importance_high,
                p_value=d.p_value,
                relative_weight=d.relative_weight,
                performance=d.performance,
                satisfied_share=d.satisfied_share,
                satisfied_share_low=d.satisfied_share_interval[0]
                if d.satisfied_share_interval
                else None,
                satisfied_share_high=d.satisfied_share_interval[1]
                if d.satisfied_share_interval
                else None,
                quadrant=DriverQuadrant[d.quadrant.name] if d.quadrant else None,
                low_sample=d.low_sample,
            )
            for d in result.drivers
        ],
    )


@strawberry.type
class DriverQuery:
    @strawberry.field(
        description="Key drivers: per aspect, how strongly its score goes with the overall "
        "score (Pearson's r with a Fisher interval and p-value), its share of the R² of "
        "overall regressed on every aspect (Johnson's relative weights), how well we do on it "
        "(mean, satisfied share with Wilson interval) and its importance × performance "
        "quadrant. The responses counted are those `filter` selects."
    )
    def key_drivers(
        self,
        info: Info,
        filter: ResponseFilter | None = None,
        unit: DriverUnit = DriverUnit.RESPONSE,  # type: ignore[valid-type,attr-defined]
        weight: DriverWeight = DriverWeight.ANSWERS,  # type: ignore[valid-type,attr-defined]
    ) -> KeyDriverAnalysis:
        result = analysis.key_drivers(
            response_filter(filter),
            analysis.DriverUnit(unit.value),
            analysis.DriverWeight(weight.value),
            min_group_size=min_group_size(),
        )
        return build_analysis(result, info.context.locale)
