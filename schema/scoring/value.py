"""Account.value, the value pyramid, tier suggestions and score models: the types.

The accounts resolved together load their value with one statement
(survey.scoring.value_reads.account_values, by ids). This area sits below the
registry's (Account.value is resolved here, called from schema.registry), so a tier
suggestion's account is built with the builder the registry provides on import
(`provide_accounts`), and its type is named lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry

from survey.errors import DomainError
from survey.scale import HealthMeasure, Perspective
from survey.scoring.tiers import TierChange as TierChangeView
from survey.scoring.tiers import TierSuggestion as TierSuggestionView
from survey.scoring.value_reads import AccountValue as AccountValueView
from survey.scoring.value_reads import PyramidBand as PyramidBandView
from survey.scoring.value_reads import ValuePart as ValuePartView
from survey.scoring.value_reads import account_values, indicator_labels
from survey.scoring.versions import ModelVersion

from ..context import Info
from ..errors import domain_errors
from ..loaders import Batch
from ..scalars import BigInt

#: Builds Account types from account ids (set by schema.registry.types on import).
AccountsBuilder = Callable[[list[int]], dict[int, Any]]
_accounts_builder: list[AccountsBuilder] = []


def provide_accounts(build: AccountsBuilder) -> None:
    """How tier suggestions build their accounts (schema.registry calls this)."""
    _accounts_builder[:] = [build]


def accounts_by_id(ids: list[int]) -> dict[int, Any]:
    return _accounts_builder[0](ids)


@strawberry.type(description="One indicator's part in a value score.")
class ValuePart:
    perspective: str = strawberry.field(description="financial, sales, customer, service, value.")
    perspective_label: str
    indicator: str
    label: str = strawberry.field(description="The indicator's name in the request language.")
    value: float | None = strawberry.field(description="The raw value; null when missing.")
    percentile: float | None = strawberry.field(
        description="Mid-rank percentile among the active accounts with a value (reversed "
        "where lower is better); null when missing."
    )
    weight: float = strawberry.field(description="Renormalised weight (0 when missing).")
    contribution: float = strawberry.field(
        description="weight × percentile: the contributions add up to the score."
    )


def build_part(part: ValuePartView, locale: str) -> ValuePart:
    return ValuePart(
        perspective=part.perspective,
        perspective_label=part.perspective_label(locale),
        indicator=part.indicator,
        label=part.label(locale),
        value=part.value,
        percentile=part.percentile,
        weight=part.weight,
        contribution=part.contribution,
    )


@strawberry.type(description="An account's value under one value model.")
class AccountValue:
    model: str
    model_label: str
    version: int = strawberry.field(description="The model version that made the score.")
    period: str | None = strawberry.field(description="The indicators' period (2026-Q3, ...).")
    score: float | None = strawberry.field(
        description="0-100; null for insufficient data (under half the weight present)."
    )
    band: str | None = strawberry.field(description="A, B or C; null without a score.")
    suggested_tier: str | None = strawberry.field(
        description="The band, for the model that suggests tiers; null for the others."
    )
    flags: list[str] = strawberry.field(description="one_off: high revenue from few orders.")
    flag_labels: list[str]
    parts: list[ValuePart]
    computed_at: datetime


def build_value(view: AccountValueView, locale: str) -> AccountValue:
    return AccountValue(
        model=view.model,
        model_label=view.model_label(locale),
        version=view.version,
        period=view.period,
        score=view.score,
        band=view.band,
        suggested_tier=view.suggested_tier,
        flags=list(view.flags),
        flag_labels=view.flag_labels(locale),
        parts=[build_part(p, locale) for p in view.parts],
        computed_at=view.computed_at,
    )


def resolve_value(info: Info, batch: Batch, pk: int, model: str | None) -> AccountValue | None:
    """Account.value: loaded for every account of the batch at once (one statement)."""
    found = batch.get(("value", model), lambda ids: _values_or_error(ids, model))
    if isinstance(found, DomainError):
        with domain_errors():
            raise found  # the same error for every account of the page, found once
    view = found.get(pk)
    return build_value(view, info.context.locale) if view is not None else None


def _values_or_error(ids: list[int], model: str | None) -> dict[int, Any] | DomainError:
    try:
        return account_values(ids, model)
    except DomainError as exc:
        return exc


@strawberry.type(description="One band of the value pyramid.")
class PyramidBand:
    band: str = strawberry.field(description="A, B or C (top first).")
    label: str
    accounts: int
    revenue: BigInt = strawberry.field(description="The accounts' annual revenue (registry).")
    period_revenue: float = strawberry.field(
        description="Their revenue indicator in the scored period."
    )
    value_share: float = strawberry.field(description="Share of the total value score, in %.")


def build_band(band: PyramidBandView, locale: str) -> PyramidBand:
    return PyramidBand(
        band=band.band,
        label=band.label(locale),
        accounts=band.accounts,
        revenue=BigInt(band.revenue),
        period_revenue=band.period_revenue,
        value_share=band.value_share,
    )


@strawberry.type(description="An account whose tier differs from its value band.")
class TierSuggestion:
    current_tier: str
    suggested_tier: str
    score: float
    flags: list[str]
    parts: list[ValuePart] = strawberry.field(
        description="The parts of its value score, largest contribution first."
    )
    built_account: strawberry.Private[Any]

    @strawberry.field
    def account(
        self,
    ) -> Annotated[Account, strawberry.lazy("schema.registry.types")]:  # noqa: F821
        return self.built_account


def build_suggestions(views: list[TierSuggestionView], locale: str) -> list[TierSuggestion]:
    accounts = accounts_by_id([v.account_id for v in views])
    return [
        TierSuggestion(
            current_tier=view.current_tier,
            suggested_tier=view.suggested_tier,
            score=view.score,
            flags=list(view.flags),
            parts=[
                build_part(p, locale) for p in sorted(view.parts, key=lambda p: -p.contribution)
            ],
            built_account=accounts[view.account_id],
        )
        for view in views
    ]


@strawberry.type(description="A tier changed to its suggestion.")
class TierChange:
    account_id: strawberry.ID
    external_id: str
    old_tier: str
    new_tier: str


def build_change(change: TierChangeView) -> TierChange:
    return TierChange(
        account_id=strawberry.ID(str(change.account_id)),
        external_id=change.external_id,
        old_tier=change.old,
        new_tier=change.new,
    )


@strawberry.type(description="One measure's weight in a score model.")
class ModelWeight:
    measure: str
    label: str
    perspective: str
    perspective_label: str
    weight: float


@strawberry.type(
    description="A band's limit: value bands by cumulative % of total value, "
    "health bands by lowest score."
)
class BandLimit:
    band: str
    limit: float


@strawberry.type(description="A score model at its current version.")
class ScoreModel:
    code: str
    kind: str = strawberry.field(description="value or health.")
    label: str
    version: int
    tiering: bool = strawberry.field(description="Whether its bands suggest tiers.")
    band_limits: list[BandLimit]
    weights: list[ModelWeight]
    computed_at: datetime | None


def build_model(
    model: ModelVersion, computed_at: datetime | None, labels: dict[str, str], locale: str
) -> ScoreModel:
    def perspective_label(code: str) -> str:
        try:
            return Perspective(code).label(locale)
        except ValueError:
            return code

    return ScoreModel(
        code=model.code,
        kind=model.kind,
        label=model.label(locale),
        version=model.version,
        tiering=model.tiering,
        band_limits=[BandLimit(band=b, limit=v) for b, v in model.band_limits.items()],
        weights=[
            ModelWeight(
                measure=w.measure,
                label=labels.get(w.measure, w.measure),
                perspective=w.perspective,
                perspective_label=perspective_label(w.perspective),
                weight=w.weight,
            )
            for w in model.weights
        ],
        computed_at=computed_at,
    )


def measure_labels(locale: str) -> dict[str, str]:
    """Indicator and health measure labels in `locale`."""
    labels = {m.value: m.label(locale) for m in HealthMeasure}
    index = 1 if locale == "en" else 0
    labels.update({code: pair[index] for code, pair in indicator_labels().items()})
    return labels
