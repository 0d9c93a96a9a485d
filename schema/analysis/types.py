"""Filters and results of the analysis: summaries, drill-downs, defection reasons, risk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum

import strawberry
from flask import current_app

from survey import analysis
from survey import statistics as stats
from survey.analysis import MAX_NODE_COMMENTS, MAX_THEME_EXAMPLES, SourcedBreakdown

from ..pagination import check_first
from ..registry.types import Account
from ..scalars import BigInt, Channel, Dimension, ReasonCode, ReasonSource, parse_id, reason_enum

Weight = strawberry.enum(
    Enum("Weight", [(w.name, w.value) for w in analysis.Weight]),  # type: ignore[misc]
    description="How much each answer counts: ANSWERS each answer once; ACCOUNTS each "
    "responding account once, through its latest campaign in the filter, as the mean of "
    "the people who answered there (each of k respondents to an aspect weighs 1/k); "
    "REVENUE the same, each account weighted by its annual revenue; DESIGN the same, each "
    "account weighted by 1/π, the inverse of the inclusion probability its invitation "
    "recorded (1 for census and coverage accounts, n_h/N_h for accounts drawn at random in "
    "stratum h; none recorded counts as 1): the Hájek estimate for the whole frame when "
    "strata were sampled at different rates. Weighted intervals use Kish's effective "
    "sample size (Σw)²/Σw².",
)


# ---------------------------------------------------------------------------
# Inputs


@strawberry.input(description="Narrows the answers (or responses) counted. Dates are UTC days.")
class ResponseFilter:
    campaign_id: strawberry.ID | None = None
    aspect: str | None = strawberry.field(
        default=None, description='An aspect code, e.g. "overall" or "delivery".'
    )
    tier: str | None = None
    value_type: str | None = None
    relationship_stage: str | None = None
    region: str | None = None
    account_manager: str | None = None
    since: date | None = None
    until: date | None = None
    score_at_most: int | None = None
    score_at_least: int | None = None
    channel: Channel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only responses collected this way (WEB or PHONE)."
    )

    def to_domain(self) -> analysis.ResponseFilter:
        return analysis.ResponseFilter(
            campaign_id=parse_id(self.campaign_id, "campaignId")
            if self.campaign_id is not None
            else None,
            aspect=self.aspect,
            tier=self.tier,
            value_type=self.value_type,
            relationship_stage=self.relationship_stage,
            region=self.region,
            account_manager=self.account_manager,
            since=self.since,
            until=self.until,
            score_at_most=self.score_at_most,
            score_at_least=self.score_at_least,
            channel=self.channel.value if self.channel is not None else None,
        )


@strawberry.input(description="Narrows the defections counted. Dates are days of defection.")
class DefectionFilter:
    since: date | None = None
    until: date | None = None
    tier: str | None = None
    value_type: str | None = None
    relationship_stage: str | None = None
    region: str | None = None
    account_manager: str | None = None
    source: ReasonSource | None = strawberry.field(
        default=None, description="Only reasons from STAFF records or from EXIT_SURVEY answers."
    )

    def to_domain(self) -> analysis.DefectionFilter:
        return analysis.DefectionFilter(
            since=self.since,
            until=self.until,
            tier=self.tier,
            value_type=self.value_type,
            relationship_stage=self.relationship_stage,
            region=self.region,
            account_manager=self.account_manager,
        )


def response_filter(f: ResponseFilter | None) -> analysis.ResponseFilter:
    """The domain filter, its vocabulary checked (an unknown tier is a typo)."""
    domain = f.to_domain() if f is not None else analysis.ResponseFilter()
    analysis.validate_response_filter(domain)
    return domain


# ---------------------------------------------------------------------------
# Results


@strawberry.type(description="A 95% interval: a Wilson score interval for a share.")
class ShareInterval:
    low: float
    high: float


def share_interval(value: tuple[float, float] | None) -> ShareInterval | None:
    return ShareInterval(low=value[0], high=value[1]) if value is not None else None


def min_group_size() -> int:
    """Groups with fewer answers (or accounts, or defections) are flagged lowSample."""
    return int(current_app.config.get("MIN_GROUP_SIZE", analysis.DEFAULT_MIN_GROUP_SIZE))


@strawberry.type
class ScoreDistribution:
    very_dissatisfied: int
    somewhat_dissatisfied: int
    no_opinion: int
    satisfied: int
    very_satisfied: int


@strawberry.type(description="Answers in one group; mean and shares are null with no answers.")
class SatisfactionGroup:
    key: str
    label: str
    answers: int
    distribution: ScoreDistribution
    mean: float | None
    satisfied_share: float | None = strawberry.field(description="Share of scores 4-5 (0..1).")
    dissatisfied_share: float | None = strawberry.field(description="Share of scores 1-2 (0..1).")
    satisfied_share_interval: ShareInterval | None = strawberry.field(
        default=None, description="95% Wilson interval of satisfiedShare; null with no answers."
    )
    dissatisfied_share_interval: ShareInterval | None = strawberry.field(
        default=None, description="95% Wilson interval of dissatisfiedShare."
    )
    accounts: int | None = strawberry.field(
        default=None, description="Accounts counted under the ACCOUNTS, REVENUE or DESIGN weight."
    )

    @strawberry.field(
        description="Fewer answers (accounts, when weighted) than MIN_GROUP_SIZE: too few to "
        "act on."
    )
    def low_sample(self) -> bool:
        n = self.accounts if self.accounts is not None else self.answers
        return n < min_group_size()


@strawberry.type(description="How often a reason was given; share of the group (0..1).")
class ReasonCount:
    reason: ReasonCode  # type: ignore[valid-type]
    count: int
    share: float
    of: strawberry.Private[int] = 0

    @strawberry.field(description="95% Wilson interval of share.")
    def share_interval(self) -> ShareInterval | None:
        if self.of < self.count or self.of == 0:
            return None
        return share_interval(stats.wilson_interval(self.count, self.of))

    source: ReasonSource | None = strawberry.field(
        default=None,
        description="Defection reasons: STAFF (recorded with the defection; share of the "
        "group's defections) or EXIT_SURVEY (share of its exit-survey answers).",
    )


@strawberry.type(description="A group of dissatisfied answers (scores 1-2), split further below.")
class DrilldownNode:
    dimension: Dimension  # type: ignore[valid-type]
    key: str
    label: str
    answers: int = strawberry.field(description="All answers in the node matching the filter.")
    dissatisfied: int
    dissatisfied_share: float | None = strawberry.field(
        description="dissatisfied / answers; under a weight the weighted share of the node's "
        "accounts (null when none of them counts through this node)."
    )
    top_reasons: list[ReasonCount]
    children: list[DrilldownNode]
    all_comments: strawberry.Private[list[str]]
    interval: strawberry.Private[tuple[float, float] | None] = None
    accounts: int | None = strawberry.field(
        default=None, description="Accounts counted under the ACCOUNTS, REVENUE or DESIGN weight."
    )

    @strawberry.field(
        description="95% Wilson interval of dissatisfiedShare (Kish's effective n, weighted)."
    )
    def dissatisfied_share_interval(self) -> ShareInterval | None:
        return share_interval(self.interval)

    @strawberry.field(
        description="Fewer answers (accounts, when weighted) than MIN_GROUP_SIZE: returned, "
        "but flagged."
    )
    def low_sample(self) -> bool:
        n = self.accounts if self.accounts is not None else self.answers
        return n < min_group_size()

    @strawberry.field(
        description="Reason texts and comments of its dissatisfied answers, newest first."
    )
    def comments(self, first: int | None = 5) -> list[str]:
        return self.all_comments[: check_first(first, MAX_NODE_COMMENTS, default=5)]


@strawberry.type(description="Defections in one group, with every reason given.")
class ReasonBreakdown:
    key: str
    label: str
    defections: int
    lost_revenue: BigInt
    reasons: list[ReasonCount]
    exit_survey_responses: int = strawberry.field(
        default=0, description="Lost accounts in the group that answered an exit survey."
    )

    @strawberry.field(description="Fewer defections than MIN_GROUP_SIZE.")
    def low_sample(self) -> bool:
        return self.defections < min_group_size()


@strawberry.type(description="An active account whose latest response has a score of 1-2.")
class AtRiskAccount:
    account: Account
    last_response_at: datetime
    dissatisfied_aspects: list[str] = strawberry.field(description="Aspect codes.")
    annual_revenue: BigInt
    risk_score: float | None = strawberry.field(
        default=None,
        description="0..1: the highest, over the aspects it rated 1-2, of (a + 5b) / (n + 5), "
        "where a of the n surveyed accounts with that complaint defected within a year and b "
        "is the baseline defection rate (README: Reading the numbers).",
    )
    expected_lost_revenue: BigInt | None = strawberry.field(
        default=None, description="riskScore × annualRevenue: the list's sort order."
    )


@strawberry.type(description="A text holding a theme's term, with the score it comes with.")
class ThemeExample:
    text: str
    response_id: strawberry.ID = strawberry.field(description="The response the text is part of.")
    score: int = strawberry.field(
        description="1-5: for an answer's reason text, that answer's score; for a response's "
        "comment, the response's overall score, or with `aspect` that aspect's score."
    )


@strawberry.type(
    description="A term (a word) or a phrase (two adjacent words) of the comments and reason "
    "texts. Chinese is segmented with jieba, English lower-cased with punctuation and stop "
    "words (lists kept in the repository) removed. Only terms in at least 3 texts are themes."
)
class CommentTheme:
    term: str
    count: int = strawberry.field(
        description="Texts holding the term (a text is one reason text or one comment; a term "
        "counts once per text)."
    )
    dissatisfied_share: float = strawberry.field(
        description="Share (0..1) of those texts that come with a score of 1-2: a reason text "
        "with its answer's score, a comment with the response's overall score (with `aspect`: "
        "that aspect's score)."
    )
    all_examples: strawberry.Private[list[ThemeExample]]

    @strawberry.field(description="Texts holding the term, newest first (at most 10).")
    def examples(self, first: int | None = 3) -> list[ThemeExample]:
        return self.all_examples[: check_first(first, MAX_THEME_EXAMPLES, default=3)]


# ---------------------------------------------------------------------------
# Builders


def build_group(g: analysis.SatisfactionGroup) -> SatisfactionGroup:
    d = g.distribution
    return SatisfactionGroup(
        key=g.key,
        label=g.label,
        answers=g.answers,
        distribution=ScoreDistribution(
            very_dissatisfied=d.very_dissatisfied,
            somewhat_dissatisfied=d.somewhat_dissatisfied,
            no_opinion=d.no_opinion,
            satisfied=d.satisfied,
            very_satisfied=d.very_satisfied,
        ),
        mean=g.mean,
        satisfied_share=g.satisfied_share,
        dissatisfied_share=g.dissatisfied_share,
        satisfied_share_interval=share_interval(g.satisfied_share_interval),
        dissatisfied_share_interval=share_interval(g.dissatisfied_share_interval),
        accounts=g.accounts,
    )


def build_reasons(shares: Sequence[analysis.ReasonShare]) -> list[ReasonCount]:
    return [
        ReasonCount(reason=reason_enum(s.reason), count=s.count, share=s.share, of=s.of)
        for s in shares
    ]


def build_node(node: analysis.DrilldownNode) -> DrilldownNode:
    return DrilldownNode(
        dimension=Dimension(node.dimension.value),
        key=node.key,
        label=node.label,
        answers=node.answers,
        dissatisfied=node.dissatisfied,
        dissatisfied_share=node.dissatisfied_share,
        top_reasons=build_reasons(node.top_reasons),
        children=[build_node(c) for c in node.children],
        all_comments=list(node.comments),
        interval=node.dissatisfied_share_interval,
        accounts=node.accounts,
    )


def build_breakdown(b: analysis.ReasonBreakdown) -> ReasonBreakdown:
    return ReasonBreakdown(
        key=b.key,
        label=b.label,
        defections=b.defections,
        lost_revenue=BigInt(b.lost_revenue),
        reasons=build_reasons(b.reasons),
    )


def build_sourced_breakdown(b: SourcedBreakdown) -> ReasonBreakdown:
    """A defection-reason group with staff and exit-survey reasons, each marked."""
    return ReasonBreakdown(
        key=b.key,
        label=b.label,
        defections=b.defections,
        lost_revenue=BigInt(b.lost_revenue),
        reasons=[
            ReasonCount(
                reason=reason_enum(r.reason),
                count=r.count,
                share=r.share,
                source=ReasonSource(r.source),
                of=b.defections,
            )
            for r in b.reasons
        ],
        exit_survey_responses=b.exit_responses,
    )


def build_theme(theme: analysis.CommentTheme) -> CommentTheme:
    return CommentTheme(
        term=theme.term,
        count=theme.count,
        dissatisfied_share=theme.dissatisfied_share,
        all_examples=[
            ThemeExample(text=e.text, response_id=strawberry.ID(str(e.response_id)), score=e.score)
            for e in theme.examples
        ],
    )
