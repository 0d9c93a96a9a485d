"""Summaries, drill-downs, defection reasons and the accounts at risk."""

from __future__ import annotations

import strawberry

from survey import analysis
from survey.analysis import defection_reasons_by_source
from survey.registry import accounts_by_ids

from ..context import Info
from ..pagination import check_first
from ..registry.types import build_accounts
from ..scalars import BigInt, Dimension, domain_dimension
from .types import (
    AtRiskAccount,
    CommentTheme,
    DefectionFilter,
    DrilldownNode,
    ReasonBreakdown,
    ResponseFilter,
    SatisfactionGroup,
    Weight,
    build_group,
    build_node,
    build_sourced_breakdown,
    build_theme,
    response_filter,
)


@strawberry.type
class AnalysisQuery:
    @strawberry.field(description="Answers matching the filter, grouped by `groupBy`.")
    def satisfaction_summary(
        self,
        info: Info,
        group_by: Dimension,  # type: ignore[valid-type]
        filter: ResponseFilter | None = None,
        weight: Weight = Weight.ANSWERS,  # type: ignore[valid-type,attr-defined]
    ) -> list[SatisfactionGroup]:
        groups = analysis.satisfaction_summary(
            domain_dimension(group_by),
            response_filter(filter),
            locale=info.context.locale,
            weight=analysis.Weight(weight.value),
        )
        return [build_group(g) for g in groups]

    @strawberry.field(
        description="Dissatisfied answers split by `by[0]`, each node by `by[1]`, ..."
    )
    def dissatisfaction_drilldown(
        self,
        info: Info,
        by: list[Dimension],  # type: ignore[valid-type]
        filter: ResponseFilter | None = None,
        weight: Weight = Weight.ANSWERS,  # type: ignore[valid-type,attr-defined]
    ) -> list[DrilldownNode]:
        nodes = analysis.dissatisfaction_drilldown(
            [domain_dimension(d) for d in by],
            response_filter(filter),
            locale=info.context.locale,
            weight=analysis.Weight(weight.value),
        )
        return [build_node(n) for n in nodes]

    @strawberry.field(
        description="Why accounts left, which kind and when: TIER, VALUE_TYPE, "
        "RELATIONSHIP_STAGE, REGION, ACCOUNT_MANAGER or MONTH; none = one group 'all'. "
        "TIER, VALUE_TYPE, RELATIONSHIP_STAGE and MONTH groups in their order (tier A, B, C; "
        "months in calendar order), REGION and ACCOUNT_MANAGER with the most defections first."
    )
    def defection_reasons(
        self,
        info: Info,
        group_by: Dimension | None = None,  # type: ignore[valid-type]
        filter: DefectionFilter | None = None,
    ) -> list[ReasonBreakdown]:
        # Staff-recorded reasons and exit-survey answers, each reason row marked by source.
        groups = defection_reasons_by_source(
            domain_dimension(group_by) if group_by is not None else None,
            filter.to_domain() if filter is not None else None,
            locale=info.context.locale,
            source=filter.source.value if filter is not None and filter.source else None,
        )
        return [build_sourced_breakdown(g) for g in groups]

    @strawberry.field(
        description="Active accounts whose latest response has a score of 1-2, largest "
        "expected lost revenue (riskScore × annual revenue) first."
    )
    def at_risk_accounts(self, info: Info, first: int | None = 20) -> list[AtRiskAccount]:
        size = check_first(first, info.context.max_page_size, default=20)
        risky = analysis.at_risk_by_expected_loss(size)
        rows = accounts_by_ids([r.account_id for r in risky])
        accounts = {a.pk: a for a in build_accounts(list(rows.values()))}
        return [
            AtRiskAccount(
                account=accounts[r.account_id],
                last_response_at=r.last_response_at,
                dissatisfied_aspects=r.dissatisfied_aspects,
                annual_revenue=BigInt(r.annual_revenue),
                risk_score=r.risk_score,
                expected_lost_revenue=BigInt(round(r.expected_lost_revenue)),
            )
            for r in risky
        ]

    @strawberry.field(
        description="What the comments say: the terms and two-word phrases in the most texts "
        "(answers' reason texts and responses' comments) matching the filter, most texts "
        "first. With `aspect`: only that aspect's reason texts, and comments scored by that "
        "aspect (a comment of a response that did not rate it is left out). Terms in fewer "
        "than 3 texts are left out. `first`: 1-50."
    )
    def comment_themes(
        self,
        filter: ResponseFilter | None = None,
        aspect: str | None = None,
        first: int | None = 10,
    ) -> list[CommentTheme]:
        size = 10 if first is None else first
        themes = analysis.comment_themes(response_filter(filter), aspect, size)
        return [build_theme(t) for t in themes]
