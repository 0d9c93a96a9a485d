"""GraphQL object types, enums and inputs.

Types are plain strawberry dataclasses built from rows by the `build_*` functions
below; relations of a list are loaded for the whole list at once (schema.loaders).
The enums mirror survey.scale and survey.analytics, so their names and values have
one source of truth.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import NewType

import strawberry
from flask import current_app

from survey import analysis, campaigns, scale
from survey import models as m
from survey import statistics as stats
from survey.analysis import MAX_NODE_COMMENTS, SourcedBreakdown
from survey.delivery import invitation_status_counts

from . import loaders
from .context import Info
from .errors import bad_input
from .loaders import Batch
from .pagination import Connection, check_first, decode_cursor, make_connection
from .permissions import IsManager

#: Revenue in the company's currency units: GraphQL's Int stops at 2^31 - 1.
BigInt = NewType("BigInt", int)

Satisfaction = strawberry.enum(
    Enum("Satisfaction", [(s.name, s.value) for s in scale.SCALE]),  # type: ignore[misc]
    description="The five-point scale: 5 very satisfied ... 1 very dissatisfied.",
)
Dimension = strawberry.enum(
    Enum("Dimension", [(d.name, d.value) for d in analysis.Dimension]),  # type: ignore[misc]
    description="What answers, drill-down nodes or defections are grouped by.",
)
ReasonCode = strawberry.enum(
    Enum("ReasonCode", [(r.name, r.value) for r in scale.ReasonCode]),  # type: ignore[misc]
    description="Why an account is dissatisfied or left: one vocabulary for both.",
)


Channel = strawberry.enum(
    Enum("Channel", [(c.name, c.value) for c in scale.Channel]),  # type: ignore[misc]
    description="How a response was collected: WEB (the contact) or PHONE (staff).",
)


@strawberry.enum(description="Who gave a defection reason.")
class ReasonSource(Enum):
    STAFF = m.SOURCE_STAFF
    EXIT_SURVEY = m.SOURCE_EXIT_SURVEY


@strawberry.enum(description="Would a lost account consider working with us again?")
class WouldReturn(Enum):
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


@strawberry.enum(description="SATISFACTION: active accounts; EXIT: accounts lost recently.")
class CampaignKind(Enum):
    SATISFACTION = m.KIND_SATISFACTION
    EXIT = m.KIND_EXIT


@strawberry.enum
class CampaignStatus(Enum):
    OPEN = m.CAMPAIGN_OPEN
    CLOSED = m.CAMPAIGN_CLOSED


def reason_enum(code: str) -> Enum:
    """A stored reason code as the enum; a code outside the vocabulary reads as OTHER."""
    try:
        return ReasonCode(code)  # type: ignore[no-any-return]
    except ValueError:
        return ReasonCode.OTHER  # type: ignore[attr-defined,no-any-return]


def domain_dimension(value: Enum) -> analysis.Dimension:
    return analysis.Dimension(value.value)


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


def parse_id(value: strawberry.ID | str, field: str = "id") -> int:
    try:
        parsed = int(str(value))
    except ValueError:
        raise bad_input(f"{value!r} is not an id.", field) from None
    if parsed <= 0:
        raise bad_input(f"{value!r} is not an id.", field)
    return parsed


# ---------------------------------------------------------------------------
# Accounts, responses, answers, defections


@strawberry.type(description="A 95% interval: a Wilson score interval for a share.")
class ShareInterval:
    low: float
    high: float


def share_interval(value: tuple[float, float] | None) -> ShareInterval | None:
    return ShareInterval(low=value[0], high=value[1]) if value is not None else None


def min_group_size() -> int:
    """Groups with fewer answers (or accounts, or defections) are flagged lowSample."""
    return int(current_app.config.get("MIN_GROUP_SIZE", analysis.DEFAULT_MIN_GROUP_SIZE))


@strawberry.type(description="An aspect the lost account rated 1-2 before it left.")
class Complaint:
    aspect: str
    aspect_label: str
    score: int
    reasons: list[ReasonCode]  # type: ignore[valid-type]
    reason_text: str | None


@strawberry.type(description="A lost account's last satisfaction response before it left.")
class DefectionPrecursor:
    response_id: strawberry.ID
    submitted_at: datetime
    lead_days: int = strawberry.field(description="Days from that response to the defection.")
    complaints: list[Complaint] = strawberry.field(description="Aspects it rated 1-2.")
    comment: str | None
    matching_reasons: list[ReasonCode] = strawberry.field(  # type: ignore[valid-type]
        description="Recorded defection reasons that speak of an aspect it complained about."
    )
    reasons_match: bool = strawberry.field(
        description="Whether any recorded defection reason matches its complaints."
    )


def build_precursor(p: analysis.Precursor, locale: str) -> DefectionPrecursor:
    return DefectionPrecursor(
        response_id=strawberry.ID(str(p.response_id)),
        submitted_at=p.submitted_at,
        lead_days=p.lead_days,
        complaints=[
            Complaint(
                aspect=c.aspect,
                aspect_label=c.label(locale),
                score=c.score,
                reasons=[reason_enum(r) for r in c.reasons],
                reason_text=c.reason_text,
            )
            for c in p.complaints
        ],
        comment=p.comment,
        matching_reasons=[reason_enum(r) for r in p.matching_reasons],
        reasons_match=p.reasons_match,
    )


@strawberry.type(description="One stratum of a recorded sample: its frame and sample size.")
class SamplingStratum:
    key: str
    label: str
    frame: int
    size: int


@strawberry.type(description="How a campaign's sample was drawn, as recorded at launch.")
class CampaignSampling:
    method: str
    stratify_by: str | None
    seed: BigInt
    frame_size: int
    sample_size: int
    frame_digest: str | None = strawberry.field(
        description="SHA-256 of the recorded frame's sorted account ids (one per line)."
    )
    allocation: list[SamplingStratum]


def _sampling_of(ids: list[int], locale: str) -> dict[int, CampaignSampling]:
    records = campaigns.sampling_records(ids)
    result = {}
    for cid, r in records.items():
        dimension = analysis.Dimension(r.stratify_by) if r.stratify_by else None
        keys = [a.key for a in r.allocation]
        labels = (
            analysis.dimension_labels(dimension, keys, locale)
            if dimension is not None
            else {k: ("All" if locale == "en" else "全部") for k in keys}
        )
        result[cid] = CampaignSampling(
            method=r.method,
            stratify_by=r.stratify_by,
            seed=BigInt(r.seed),
            frame_size=r.frame_size,
            sample_size=r.sample_size,
            frame_digest=r.frame_digest,
            allocation=[
                SamplingStratum(
                    key=a.key, label=labels.get(a.key, a.key), frame=a.frame, size=a.size
                )
                for a in r.allocation
            ],
        )
    return result


@strawberry.type(description="A key account (大客户) in the registry.")
class Account:
    id: strawberry.ID
    external_id: str
    name: str
    tier: str
    value_type: str
    relationship_stage: str
    region: str
    annual_revenue: BigInt
    account_manager: str
    contact_name: str
    locale: str
    active: bool
    opted_out_at: datetime | None
    created_at: datetime
    pk: strawberry.Private[int]
    email: strawberry.Private[str | None]
    phone: strawberry.Private[str | None]
    batch: strawberry.Private[Batch]

    @strawberry.field(permission_classes=[IsManager], description="Manager and admin only.")
    def contact_email(self) -> str | None:
        return self.email

    @strawberry.field(permission_classes=[IsManager], description="Manager and admin only.")
    def contact_phone(self) -> str | None:
        return self.phone

    @strawberry.field(description="The tier's label in the request language.")
    def tier_label(self, info: Info) -> str:
        labels = scale.TIER_LABELS.get(self.tier)
        return labels[1 if info.context.locale == "en" else 0] if labels else self.tier

    @strawberry.field
    def value_type_label(self, info: Info) -> str:
        return _enum_label(scale.ValueType, self.value_type, info.context.locale)

    @strawberry.field
    def relationship_stage_label(self, info: Info) -> str:
        return _enum_label(scale.RelationshipStage, self.relationship_stage, info.context.locale)

    @strawberry.field(description="The account's responses, newest first.")
    def responses(self, info: Info) -> list[Response]:
        built = self.batch.get(
            ("responses", info.context.locale),
            lambda ids: _responses_by_account(ids, info.context.locale),
        )
        return built.get(self.pk, [])

    @strawberry.field(description="Why and when it left; null while it is a customer.")
    def defection(self) -> Defection | None:
        rows = self.batch.get("defections", loaders.defections_of_accounts)
        row = rows.get(self.pk)
        return build_defection(row, self) if row is not None else None

    @strawberry.field(description="Mean overall score per campaign, oldest campaign first.")
    def satisfaction_trend(self) -> list[TrendPoint]:
        trends = self.batch.get("trend", analysis.satisfaction_trends)
        return [
            TrendPoint(
                campaign_id=strawberry.ID(str(p.campaign_id)),
                campaign_name=p.campaign_name,
                opens_at=p.opens_at,
                mean=p.mean,
                answers=p.answers,
            )
            for p in trends.get(self.pk, [])
        ]


def _enum_label(
    enum: type[scale.ValueType | scale.RelationshipStage], code: str, locale: str
) -> str:
    try:
        return enum(code).label(locale)
    except ValueError:
        return code


@strawberry.type
class TrendPoint:
    campaign_id: strawberry.ID
    campaign_name: str
    opens_at: datetime
    mean: float
    answers: int


@strawberry.type(description="One (response, aspect) score.")
class Answer:
    aspect: str = strawberry.field(description="The aspect code.")
    aspect_label: str
    score: int
    satisfaction: Satisfaction  # type: ignore[valid-type]
    reasons: list[ReasonCode]  # type: ignore[valid-type]
    reason_text: str | None


@strawberry.type(description="A submitted questionnaire.")
class Response:
    id: strawberry.ID
    submitted_at: datetime
    channel: str
    locale: str
    comment: str | None
    account: Account
    campaign: Campaign
    pk: strawberry.Private[int]
    batch: strawberry.Private[Batch]
    answer_locale: strawberry.Private[str]

    @strawberry.field(description="Scores in questionnaire order.")
    def answers(self) -> list[Answer]:
        built = self.batch.get("answers", lambda ids: _answers_by_response(ids, self.answer_locale))
        return built.get(self.pk, [])


@strawberry.type(description="A lost key account: when it left and why.")
class Defection:
    id: strawberry.ID
    account: Account
    defected_on: date
    primary_reason: ReasonCode | None  # type: ignore[valid-type]
    other_reasons: list[ReasonCode]  # type: ignore[valid-type]
    competitor: str | None
    lost_annual_revenue: BigInt | None
    note: str | None
    source: str
    recorded_at: datetime
    recorded_by: str | None

    @strawberry.field(
        description="The account's last satisfaction response before it left; null if it "
        "was never surveyed before."
    )
    def precursors(self, info: Info) -> DefectionPrecursor | None:
        found = self.account.batch.get("precursors", analysis.defection_precursors)
        precursor = found.get(self.account.pk)
        return build_precursor(precursor, info.context.locale) if precursor else None


# ---------------------------------------------------------------------------
# Campaigns and invitations


@strawberry.type(description="One sampled account's invitation to a campaign.")
class Invitation:
    id: strawberry.ID
    status: str
    locale: str
    stratum: str | None
    created_at: datetime
    sent_at: datetime | None
    opened_at: datetime | None
    responded_at: datetime | None
    reminders_sent: int
    bounce_reason: str | None = strawberry.field(
        description="Why the e-mail bounced (the server's reply), when it did."
    )
    account: Account


@strawberry.type(description="A sample survey campaign.")
class Campaign:
    id: strawberry.ID
    name: str
    kind: str
    status: CampaignStatus
    opens_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    created_at: datetime
    created_by: str | None
    method: str
    stratify_by: str | None
    seed: BigInt
    frame_size: int
    sample_size: int
    exclude_days: int
    pk: strawberry.Private[int]
    batch: strawberry.Private[Batch]

    def _progress(self) -> analysis.CampaignProgress:
        return self.batch.get("progress", analysis.campaign_progress)[self.pk]

    @strawberry.field(description="Accounts invited.")
    def sampled(self) -> int:
        return self._progress().sampled

    @strawberry.field(description="Invited accounts that answered.")
    def responded(self) -> int:
        return self._progress().responded

    @strawberry.field(description="Invitations per life-cycle status.")
    def invitation_counts(self) -> InvitationCounts:
        counts = self.batch.get("status_counts", invitation_status_counts)[self.pk]
        return InvitationCounts(**counts)

    @strawberry.field(description="responded / sampled (0..1); null with no invitations.")
    def response_rate(self) -> float | None:
        return self._progress().response_rate

    @strawberry.field(description="Invitations in id order.")
    def invitations(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Invitation]:
        size = check_first(first, info.context.max_page_size, default=50)
        after_id = decode_cursor(after)
        pages = self.batch.get(
            ("invitations", size, after_id),
            lambda ids: _invitation_pages(ids, size, after_id, self.batch),
        )
        return pages[self.pk]

    @strawberry.field(
        description="95% margin of error of the overall satisfied share for the responses "
        "received, with the finite population correction for the frame; null without any."
    )
    def margin_of_error(self) -> float | None:
        return self.batch.get("margins", analysis.campaign_margins).get(self.pk)

    @strawberry.field(description="How the sample was drawn, recorded at launch (auditable).")
    def sampling(self, info: Info) -> CampaignSampling | None:
        locale = info.context.locale
        records = self.batch.get(("sampling", locale), lambda ids: _sampling_of(ids, locale))
        return records.get(self.pk)

    @strawberry.field(description="This campaign's answers grouped by `groupBy`.")
    def summary(
        self,
        info: Info,
        group_by: Dimension = Dimension.ASPECT,  # type: ignore[valid-type,attr-defined]
    ) -> list[SatisfactionGroup]:
        dimension = domain_dimension(group_by)
        locale = info.context.locale
        summaries = self.batch.get(
            ("summary", dimension, locale),
            lambda ids: analysis.satisfaction_summaries(dimension, campaign_ids=ids, locale=locale),
        )
        return [build_group(g) for g in summaries[self.pk]]


@strawberry.type(
    description="Invitations per status: pending (not e-mailed yet, or phone only), sent, "
    "opened (first page view), responded, bounced, expired (campaign closed)."
)
class InvitationCounts:
    pending: int
    sent: int
    opened: int
    responded: int
    bounced: int
    expired: int


# ---------------------------------------------------------------------------
# Analytics results


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
        default=None, description="Accounts counted under the ACCOUNTS or REVENUE weight."
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
    dissatisfied_share: float
    top_reasons: list[ReasonCount]
    children: list[DrilldownNode]
    all_comments: strawberry.Private[list[str]]

    @strawberry.field(description="95% Wilson interval of dissatisfiedShare.")
    def dissatisfied_share_interval(self) -> ShareInterval | None:
        return share_interval(stats.wilson_interval(self.dissatisfied, self.answers))

    @strawberry.field(description="Fewer answers than MIN_GROUP_SIZE: returned, but flagged.")
    def low_sample(self) -> bool:
        return self.answers < min_group_size()

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


@strawberry.type(description="Who is asking.")
class Me:
    name: str
    role: str
    locale: str


@strawberry.type(description="An API token's metadata (never the token).")
class ApiTokenInfo:
    id: strawberry.ID
    staff_name: str
    staff_role: str
    staff_active: bool
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


# ---------------------------------------------------------------------------
# Builders


def build_accounts(rows: list[m.KeyAccount]) -> list[Account]:
    """Account types sharing one batch, so their relations load together."""
    batch = Batch(r.id for r in rows)
    return [
        Account(
            id=strawberry.ID(str(r.id)),
            external_id=r.external_id,
            name=r.name,
            tier=r.tier,
            value_type=r.value_type,
            relationship_stage=r.relationship_stage,
            region=r.region,
            annual_revenue=BigInt(r.annual_revenue),
            account_manager=r.account_manager,
            contact_name=r.contact_name,
            locale=r.locale,
            active=r.active,
            opted_out_at=r.opted_out_at,
            created_at=r.created_at,
            pk=r.id,
            email=r.contact_email,
            phone=r.contact_phone,
            batch=batch,
        )
        for r in rows
    ]


def build_campaigns(rows: list[m.Campaign]) -> list[Campaign]:
    batch = Batch(r.id for r in rows)
    return [
        Campaign(
            id=strawberry.ID(str(r.id)),
            name=r.name,
            kind=r.kind,
            status=CampaignStatus(r.status),
            opens_at=r.opens_at,
            closes_at=r.closes_at,
            closed_at=r.closed_at,
            created_at=r.created_at,
            created_by=r.created_by,
            method=r.method,
            stratify_by=r.stratify_by,
            seed=BigInt(r.seed),
            frame_size=r.frame_size,
            sample_size=r.sample_size,
            exclude_days=r.exclude_days,
            pk=r.id,
            batch=batch,
        )
        for r in rows
    ]


def _unique(rows: list[m.KeyAccount] | list[m.Campaign]) -> list:  # type: ignore[type-arg]
    return list({r.id: r for r in rows}.values())


def build_responses(rows: list[m.Response], locale: str) -> list[Response]:
    """Response types; their accounts and campaigns (joined in by the query) are built
    once each and share batches too."""
    accounts = {a.pk: a for a in build_accounts(_unique([r.account for r in rows]))}
    campaigns = {c.pk: c for c in build_campaigns(_unique([r.campaign for r in rows]))}
    batch = Batch(r.id for r in rows)
    return [
        Response(
            id=strawberry.ID(str(r.id)),
            submitted_at=r.submitted_at,
            channel=r.channel,
            locale=r.locale,
            comment=r.comment,
            account=accounts[r.account_id],
            campaign=campaigns[r.campaign_id],
            pk=r.id,
            batch=batch,
            answer_locale=locale,
        )
        for r in rows
    ]


def _responses_by_account(account_ids: list[int], locale: str) -> dict[int, list[Response]]:
    rows = loaders.responses_of_accounts(account_ids)
    built = build_responses([r for group in rows.values() for r in group], locale)
    by_account: dict[int, list[Response]] = {}
    for response in built:
        by_account.setdefault(response.account.pk, []).append(response)
    return by_account


def _answers_by_response(response_ids: list[int], locale: str) -> dict[int, list[Answer]]:
    rows = loaders.answers_of_responses(response_ids)
    return {
        response_id: [
            Answer(
                aspect=a.aspect.code,
                aspect_label=a.aspect.label(locale),
                score=a.score,
                satisfaction=Satisfaction(a.score),
                reasons=[reason_enum(r) for r in reasons],
                reason_text=a.reason_text,
            )
            for a, reasons in answers
        ]
        for response_id, answers in rows.items()
    }


def _invitation_pages(
    campaign_ids: list[int], first: int, after_id: int | None, campaigns: Batch
) -> dict[int, Connection[Invitation]]:
    rows = loaders.invitations_of_campaigns(campaign_ids, first + 1, after_id)
    all_rows = [r for group in rows.values() for r in group]
    accounts = {a.pk: a for a in build_accounts(_unique([r.account for r in all_rows]))}

    def count_for(campaign_id: int) -> int:
        return campaigns.get("invitation_counts", loaders.invitation_counts).get(campaign_id, 0)

    pages: dict[int, Connection[Invitation]] = {}
    for campaign_id in campaign_ids:
        group = rows.get(campaign_id, [])
        nodes = [
            Invitation(
                id=strawberry.ID(str(r.id)),
                status=r.status,
                locale=r.locale,
                stratum=r.stratum,
                created_at=r.created_at,
                sent_at=r.sent_at,
                opened_at=r.opened_at,
                responded_at=r.responded_at,
                reminders_sent=r.reminders_sent,
                bounce_reason=r.bounce_reason,
                account=accounts[r.account_id],
            )
            for r in group
        ]
        pages[campaign_id] = make_connection(
            nodes,
            [r.id for r in group],
            first,
            lambda campaign_id=campaign_id: count_for(campaign_id),  # type: ignore[misc]
        )
    return pages


def build_defection(row: m.Defection, account: Account) -> Defection:
    primary = next((r.reason for r in row.reasons if r.is_primary), None)
    return Defection(
        id=strawberry.ID(str(row.id)),
        account=account,
        defected_on=row.defected_on,
        primary_reason=reason_enum(primary) if primary else None,
        other_reasons=[reason_enum(r.reason) for r in row.reasons if not r.is_primary],
        competitor=row.competitor,
        lost_annual_revenue=BigInt(row.lost_annual_revenue)
        if row.lost_annual_revenue is not None
        else None,
        note=row.note,
        source=row.source,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
    )


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


def build_reasons(shares: list[analysis.ReasonShare]) -> list[ReasonCount]:
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
        all_comments=node.comments,
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
