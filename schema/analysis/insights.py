"""Insights: comparing campaigns, coverage, and complaints that predict defection.

The figures come from survey.analysis (SQL GROUP BY, fixed statement counts).
"""

from __future__ import annotations

import strawberry

from survey import analysis
from survey.registry import accounts_by_ids

from ..context import Info
from ..errors import domain_errors
from ..pagination import check_first
from ..registry.types import Account, build_accounts
from ..scalars import BigInt, Dimension, domain_dimension, parse_id
from .types import ShareInterval, min_group_size, share_interval


@strawberry.type(description="One campaign's satisfied share on an aspect.")
class CampaignShare:
    campaign_id: strawberry.ID
    name: str
    answers: int
    satisfied: int = strawberry.field(description="Answers scored 4-5.")
    satisfied_share: float | None
    satisfied_share_interval: ShareInterval | None
    margin_of_error: float | None = strawberry.field(
        description="95%, finite population corrected for the campaign's frame."
    )


@strawberry.type(description="Campaign b against campaign a: a real change, or noise?")
class CampaignComparison:
    aspect: str
    a: CampaignShare
    b: CampaignShare
    difference: float | None = strawberry.field(description="b's satisfied share minus a's.")
    z: float | None
    p_value: float | None = strawberry.field(
        description="Pooled two-proportion z-test, two-sided; null when a side has no answers."
    )
    significant: bool = strawberry.field(description="pValue < 0.05.")


@strawberry.type(description="Active key accounts in a group, and those heard from.")
class CoverageGroup:
    key: str
    label: str
    active_accounts: int
    heard_from: int = strawberry.field(description="Responded to any survey in the window.")
    heard_share: float | None
    heard_share_interval: ShareInterval | None
    active_revenue: BigInt
    heard_revenue: BigInt
    revenue_share: float | None = strawberry.field(
        description="Share of the group's annual revenue held by the accounts heard from."
    )


@strawberry.type(
    description="Accounts that rated an aspect 1-2 against those that rated it 4-5 (their "
    "latest response), and how many of each defected within the window after it."
)
class AspectDefectionRisk:
    aspect: str
    label: str
    dissatisfied_accounts: int
    dissatisfied_defected: int
    satisfied_accounts: int
    satisfied_defected: int
    dissatisfied_defection_rate: float | None
    satisfied_defection_rate: float | None
    risk_ratio: float | None = strawberry.field(
        description="Defection rate of the dissatisfied over the satisfied's; null without a "
        "defection among the satisfied (no baseline)."
    )
    risk_ratio_interval: ShareInterval | None = strawberry.field(
        description="95% interval by the log method; null with no defection on either side."
    )
    median_lead_days: float | None = strawberry.field(
        description="Median days from the dissatisfied response to the defection."
    )
    low_sample: bool = strawberry.field(description="A side has fewer than MIN_GROUP_SIZE.")


def _share(s: analysis.CampaignShare) -> CampaignShare:
    return CampaignShare(
        campaign_id=strawberry.ID(str(s.campaign_id)),
        name=s.name,
        answers=s.answers,
        satisfied=s.satisfied,
        satisfied_share=s.satisfied_share,
        satisfied_share_interval=share_interval(s.satisfied_share_interval),
        margin_of_error=s.margin_of_error,
    )


@strawberry.type
class InsightsQuery:
    @strawberry.field(
        description="Campaign b's satisfied share (scores 4-5) on `aspect` against a's, with "
        "a pooled two-proportion z-test: tell a real change from noise."
    )
    def compare_campaigns(
        self, a: strawberry.ID, b: strawberry.ID, aspect: str = "overall"
    ) -> CampaignComparison:
        with domain_errors():
            result = analysis.compare_campaigns(parse_id(a, "a"), parse_id(b, "b"), aspect)
        return CampaignComparison(
            aspect=result.aspect,
            a=_share(result.a),
            b=_share(result.b),
            difference=result.difference,
            z=result.z,
            p_value=result.p_value,
            significant=result.significant,
        )

    @strawberry.field(
        description="Per group (TIER, VALUE_TYPE, RELATIONSHIP_STAGE, REGION or "
        "ACCOUNT_MANAGER; none = 'all'): active accounts, those heard from within `withinDays`, "
        "and the revenue they hold. TIER, VALUE_TYPE and RELATIONSHIP_STAGE groups in their "
        "order (tier A, B, C), REGION and ACCOUNT_MANAGER with the lowest revenue share first."
    )
    def coverage(
        self,
        info: Info,
        group_by: Dimension | None = None,  # type: ignore[valid-type]
        within_days: int = analysis.DEFAULT_WINDOW_DAYS,
    ) -> list[CoverageGroup]:
        groups = analysis.coverage(
            domain_dimension(group_by) if group_by is not None else None,
            within_days=within_days,
            locale=info.context.locale,
        )
        return [
            CoverageGroup(
                key=g.key,
                label=g.label,
                active_accounts=g.active_accounts,
                heard_from=g.heard_from,
                heard_share=g.heard_share,
                heard_share_interval=share_interval(g.heard_share_interval),
                active_revenue=BigInt(g.active_revenue),
                heard_revenue=BigInt(g.heard_revenue),
                revenue_share=g.revenue_share,
            )
            for g in groups
        ]

    @strawberry.field(
        description="The active accounts with the most annual revenue that have not "
        "responded within `withinDays`: the largest blind spots."
    )
    def unheard_accounts(
        self, info: Info, within_days: int = analysis.DEFAULT_WINDOW_DAYS, first: int | None = 10
    ) -> list[Account]:
        size = check_first(first, info.context.max_page_size, default=10)
        ids = analysis.unheard_accounts(within_days=within_days, first=size)
        rows = accounts_by_ids(ids)
        return build_accounts([rows[i] for i in ids if i in rows])

    @strawberry.field(
        description="Which complaints predict losses: per aspect, the defection rate within "
        "`withinDays` of accounts that rated it 1-2 against those that rated it 4-5."
    )
    def aspect_defection_risk(
        self, info: Info, within_days: int = analysis.DEFAULT_WINDOW_DAYS
    ) -> list[AspectDefectionRisk]:
        risks = analysis.aspect_defection_risk(
            within_days=within_days, locale=info.context.locale, min_group_size=min_group_size()
        )
        return [
            AspectDefectionRisk(
                aspect=r.aspect,
                label=r.label,
                dissatisfied_accounts=r.dissatisfied_accounts,
                dissatisfied_defected=r.dissatisfied_defected,
                satisfied_accounts=r.satisfied_accounts,
                satisfied_defected=r.satisfied_defected,
                dissatisfied_defection_rate=r.dissatisfied_defection_rate,
                satisfied_defection_rate=r.satisfied_defection_rate,
                risk_ratio=r.risk_ratio,
                risk_ratio_interval=share_interval(r.risk_ratio_interval),
                median_lead_days=r.median_lead_days,
                low_sample=r.low_sample,
            )
            for r in risks
        ]
