"""The priority matrix (value × health), the accounts behind a cell, and the check of
health against defection with the weights a regression suggests (survey.scoring)."""

from __future__ import annotations

from datetime import date

import strawberry

from survey.scale import HealthMeasure
from survey.scoring.priority import NO_SCORE, priority_accounts, priority_matrix
from survey.scoring.suggested_weights import suggested_health_weights
from survey.scoring.validation import health_validation

from ..context import Info
from ..errors import domain_errors
from ..pagination import Connection, check_first, decode_cursor, make_connection
from ..scalars import BigInt

_BANDS_NOTE = (
    'Value band A, B or C, health band poor, watch or good; "none" for active accounts '
    "without that score (insufficient data or not computed)."
)


@strawberry.type(description="One cell of the priority matrix: " + _BANDS_NOTE)
class PriorityCell:
    value_band: str
    health_band: str
    accounts: int = strawberry.field(description="Active accounts in the cell.")
    revenue: BigInt = strawberry.field(description="Their summed annual revenue.")
    high_value_poor_health: bool = strawberry.field(
        description="The cell to act on first: value A, health poor."
    )


@strawberry.type(description="Active accounts by value band × health band.")
class PriorityMatrix:
    value_model: str = strawberry.field(
        description="The value model whose bands make the rows (the one that suggests tiers)."
    )
    cells: list[PriorityCell] = strawberry.field(
        description="Every cell, empty ones too: value A→C→none, within each health "
        "poor→watch→good→none, so value A with poor health comes first."
    )


@strawberry.type(description="An active account of a priority matrix cell.")
class PriorityAccount:
    id: strawberry.ID = strawberry.field(description="The account's id (as Query.account takes).")
    external_id: str
    name: str
    tier: str
    account_manager: str
    annual_revenue: BigInt
    value_score: float | None = strawberry.field(description="Under the tiering value model.")
    health_score: float | None


@strawberry.type(description="One fifth of the judged accounts by health (1: least healthy).")
class HealthQuintile:
    quintile: int
    accounts: int
    defections: int
    rate: float | None = strawberry.field(
        description="Share of the quintile's accounts that defected; null when it is empty."
    )


@strawberry.type(
    description="Health at a cut-off (today − horizon) against defection within the horizon "
    "after it. AUC: P(a defector's health < a stayer's) + ½ P(tie); 0.5 is a coin toss, 1.0 "
    "ranks every defector below every stayer; interval by Hanley & McNeil (1982)."
)
class HealthValidation:
    cutoff: date
    horizon_days: int
    auc: float | None = strawberry.field(
        description="Null when no judged account defected, or none stayed."
    )
    auc_low: float | None
    auc_high: float | None
    accounts: int = strawberry.field(description="Accounts active at the cut-off with a score.")
    defections: int = strawberry.field(description="Of them, the ones that defected.")
    unscored: int = strawberry.field(
        description="Accounts active at the cut-off left out for insufficient data."
    )
    low_sample: bool = strawberry.field(description="Fewer than 10 defections (or no AUC).")
    quintiles: list[HealthQuintile]


@strawberry.type(description="One health measure's coefficient in the defection regression.")
class SuggestedHealthCoefficient:
    measure: str
    label: str
    coefficient: float | None = strawberry.field(
        description="Log-odds of defecting per standard deviation more of the measure; null "
        "when the measure was left out (no variation, or repeating others) or nothing was fitted."
    )
    low: float | None
    high: float | None
    p_value: float | None
    proposed_weight: float | None = strawberry.field(
        description="The measure's share of the protective effects (sums to 1 over measures)."
    )


@strawberry.type(
    description="A logistic regression of defection on the standardised health measures "
    "(same accounts and horizon as healthValidation), for an admin to adopt with "
    "`flask scorecard set health ...` or not. Nothing is applied."
)
class SuggestedHealthWeights:
    auc: float | None = strawberry.field(description="In-sample AUC of the fitted predictor.")
    accounts: int
    defections: int
    low_sample: bool
    message: str | None = strawberry.field(
        description="Why there are no coefficients, or how to read them; in your language."
    )
    coefficients: list[SuggestedHealthCoefficient]


def _measure_label(code: str, locale: str) -> str:
    try:
        return HealthMeasure(code).label(locale)
    except ValueError:
        return code


@strawberry.type
class PriorityQuery:
    @strawberry.field(description="Active accounts and their revenue by value × health band.")
    def priority_matrix(self) -> PriorityMatrix:
        with domain_errors():
            matrix = priority_matrix()
        return PriorityMatrix(
            value_model=matrix.value_model,
            cells=[
                PriorityCell(
                    value_band=c.value_band,
                    health_band=c.health_band,
                    accounts=c.accounts,
                    revenue=BigInt(c.revenue),
                    high_value_poor_health=c.high_value_poor_health,
                )
                for c in matrix.cells
            ],
        )

    @strawberry.field(
        description="The active accounts of one matrix cell, in id order. " + _BANDS_NOTE
    )
    def priority_accounts(
        self,
        info: Info,
        value_band: str,
        health_band: str,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[PriorityAccount]:
        size = check_first(first, info.context.max_page_size, default=50)
        with domain_errors():
            page = priority_accounts(
                value_band, health_band, first=size, after_id=decode_cursor(after)
            )
        nodes = [
            PriorityAccount(
                id=strawberry.ID(str(a.id)),
                external_id=a.external_id,
                name=a.name,
                tier=a.tier,
                account_manager=a.account_manager,
                annual_revenue=BigInt(a.annual_revenue),
                value_score=a.value_score,
                health_score=a.health_score,
            )
            for a in page.rows
        ]
        return make_connection(nodes, [a.id for a in page.rows], page.has_next, page.count)

    @strawberry.field(description="Does health predict defection? See HealthValidation.")
    def health_validation(self, horizon_days: int = 365) -> HealthValidation:
        with domain_errors():
            v = health_validation(horizon_days)
        return HealthValidation(
            cutoff=v.cutoff,
            horizon_days=v.horizon_days,
            auc=v.auc,
            auc_low=v.auc_low,
            auc_high=v.auc_high,
            accounts=v.accounts,
            defections=v.defections,
            unscored=v.unscored,
            low_sample=v.low_sample,
            quintiles=[
                HealthQuintile(
                    quintile=q.quintile, accounts=q.accounts, defections=q.defections, rate=q.rate
                )
                for q in v.quintiles
            ],
        )

    @strawberry.field(description="Health weights a defection regression suggests.")
    def suggested_health_weights(
        self, info: Info, horizon_days: int = 365
    ) -> SuggestedHealthWeights:
        locale = info.context.locale
        with domain_errors():
            s = suggested_health_weights(horizon_days)
        return SuggestedHealthWeights(
            auc=s.auc,
            accounts=s.accounts,
            defections=s.defections,
            low_sample=s.low_sample,
            message=s.note.label(locale) if s.note else None,
            coefficients=[
                SuggestedHealthCoefficient(
                    measure=c.measure,
                    label=_measure_label(c.measure, locale),
                    coefficient=c.coefficient,
                    low=c.low,
                    high=c.high,
                    p_value=c.p_value,
                    proposed_weight=c.proposed_weight,
                )
                for c in s.coefficients
            ],
        )


__all__ = ["NO_SCORE", "PriorityQuery"]
