"""What every field of the API costs: one table, one entry per field of every type.

The unit is about 0.1 ms of server time on the benchmark's data set (100,000
answers, 100,000 accounts, SQLite, benchmarks/): one object the API builds and
resolves (a row: an account, a response, an answer; a group; a drill-down node)
costs 1; scalars and value objects computed with their parent (intervals,
distributions, page info) cost 0; an aggregate over the answers matching a filter
costs SCAN. The figures below were measured there (`python -m benchmarks.costliest`
times the dearest requests the default cap lets through).

A field's weight prices one occurrence of it under one parent item (`Price`):
`own` once, then `items` results of `each` apiece, and its selection runs
`items` times. A field under a list is paid once per item of the list, so
nesting multiplies: responses(first: 50) { answers } pays 50 times 8 answers.

Sizes the schema cannot know from the query are realistic upper figures for one
installation, fixed here: a dimension's cardinality (CARDINALITY), the aspects of
the questionnaire, the reasons of the vocabulary, the campaigns an account answers.

`tests/test_graphql_cost.py` fails when a field of the schema has no entry here, or
an entry names a field the schema does not have.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from survey import analysis, scale

Args = Mapping[str, Any]

#: Every operation, before its fields: authentication, parsing, the JSON answer
#: (about 3 ms measured; a flood of tiny requests is still paid for).
REQUEST = 10
#: One aggregate statement over the answers (or accounts) matching a filter:
#: 45-150 ms on the benchmark's 100,000 answers.
SCAN = 1_000
#: Weighting by ACCOUNTS or REVENUE first finds each account's latest campaign and
#: weighs its respondents (measured with its latest response: 750-1,000 ms there).
LATEST_PER_ACCOUNT = 8_000
#: A drill-down adds up every finest cell in Python (counts, reasons, texts).
CELL = 4
#: Defections are few (2% of the accounts): aggregating them is cheap.
DEFECTION_SCAN = 100
#: A page of rows fetched by keyset (LIMIT first + 1 on an index).
STATEMENT = 1
#: A COUNT of every row matching a connection's filter (totalCount).
COUNT = 50
#: Page sizes the API accepts at most (GRAPHQL_MAX_PAGE_SIZE); a larger `first` is
#: refused by the resolver before any SQL, so it is priced at this size.
MAX_PAGE = 200

#: How many groups a dimension realistically has in one installation: closed
#: vocabularies by their size, open ones by a generous estimate (seven regions of
#: China plus one; 50 account managers; three years of quarterly campaigns and of months).
CARDINALITY: dict[str, int] = {
    analysis.Dimension.ASPECT.name: len(scale.DEFAULT_ASPECTS),
    analysis.Dimension.TIER.name: len(scale.TIER_LABELS),
    analysis.Dimension.VALUE_TYPE.name: len(scale.ValueType),
    analysis.Dimension.RELATIONSHIP_STAGE.name: len(scale.RelationshipStage),
    analysis.Dimension.REGION.name: 8,
    analysis.Dimension.ACCOUNT_MANAGER.name: 50,
    analysis.Dimension.CAMPAIGN.name: 12,
    analysis.Dimension.MONTH.name: 36,
    analysis.Dimension.CONTACT_ROLE.name: len(scale.ContactRole),
}
ASPECTS = len(scale.DEFAULT_ASPECTS)
REASONS = len(scale.ReasonCode)
#: Responses per account: at most one per campaign, CAMPAIGN's cardinality.
ACCOUNT_RESPONSES = CARDINALITY[analysis.Dimension.CAMPAIGN.name]
#: An account's timeline: ten indexed SELECTs under one UNION ALL, a page of events.
TIMELINE = 10
#: Our people around one account besides its manager (sponsor, service lead, ...).
TEAM = 5
#: Contacts per account: a buying centre of a few people (decision maker, purchaser,
#: users); loaded for the whole page at once.
ACCOUNT_CONTACTS = 5
#: API tokens listed for an admin (a few per staff member).
TOKENS = 50
#: Schedules in one installation (a few plans), and the cycles one of them has run
#: (three years of quarters); a schedule's campaigns are listed with it.
SCHEDULES = 10
SCHEDULE_CYCLES = 12

#: Launching draws a sample from the whole registry and writes its invitations and
#: e-mails (1.9 s for 5,000 of 100,000 accounts): priced under the cap, as a
#: manager's deliberate act must go through, but dear. Reminders write an e-mail per
#: unanswered invitation; the other mutations write a row or two and an audit entry.
LAUNCH = 5_000
REMIND = 2_000
WRITE = 100
#: __schema / __type (development only): a fixed price, whatever is selected.
INTROSPECTION = 10


@dataclass(frozen=True, slots=True)
class Scope:
    """What a field's children need to know about the fields above them."""

    #: The page size of the connection whose edges are below.
    page: int = 0
    #: Node counts per drill-down level below the current one.
    levels: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Price:
    """One occurrence of a field under one parent item: `own + items × each`, and its
    selection is priced `items` times (with `scope`, or the parent's when None)."""

    own: int = 0
    items: int = 1
    each: int = 0
    scope: Scope | None = None


Weight = Callable[[Args, Scope], Price]


def fixed(own: int = 0, *, items: int = 1, each: int = 0) -> Weight:
    price = Price(own, items, each)
    return lambda _args, _scope: price


#: A scalar, or a value object computed with its parent.
FREE = fixed()
#: An object: a row or group, looked up by key or batched with its siblings.
ONE = fixed(each=1)


def listed(n: int) -> Weight:
    """A list of `n` objects (the realistic most), loaded for the whole page at once."""
    return fixed(items=n, each=1)


def first_of(args: Args, default: int, maximum: int = MAX_PAGE) -> int:
    """The `first` argument as the resolver reads it: null is the default, and sizes
    outside 0..maximum are refused before any SQL (priced at the nearest bound)."""
    first = args.get("first")
    if first is None:
        return default
    return min(max(int(first), 0), maximum)


def connection(default: int) -> Weight:
    """A keyset page: one statement; its `edges` hold `first` nodes."""

    def weight(args: Args, scope: Scope) -> Price:
        return Price(own=STATEMENT, scope=replace(scope, page=first_of(args, default)))

    return weight


#: `accounts(search:)` matches part of every account's name and external id (a LIKE
#: '%…%' no index serves): a pass over the registry, 52-57 ms over 100,000 accounts
#: on SQLite (a page or its count), about half an answers SCAN.
ACCOUNT_SEARCH = SCAN // 2


def _accounts(args: Args, scope: Scope) -> Price:
    """The accounts page; dearer with a search, which reads every account."""
    price = connection(50)(args, scope)
    return replace(price, own=price.own + ACCOUNT_SEARCH) if args.get("search") else price


def _edges(_args: Args, scope: Scope) -> Price:
    return Price(items=scope.page)


def first_list(default: int, own: int) -> Weight:
    """A list of objects sized by `first`, after `own` work (an aggregate, say)."""
    return lambda args, _scope: Price(own=own, items=first_of(args, default), each=1)


def _timeline(args: Args, scope: Scope) -> Price:
    """An account's timeline: one SELECT per kind of event on the account's indexes,
    joined in one statement (shared by the accounts of a page); `first` events."""
    page = first_of(args, 50)
    return Price(own=TIMELINE, scope=replace(scope, page=page))


def _nodes(_args: Args, scope: Scope) -> Price:
    return Price(items=scope.page, each=1)


def cardinality(dimension: Any) -> int:
    name = dimension.name if isinstance(dimension, Enum) else str(dimension)
    return CARDINALITY[name]


def groups(own: int, *, arg: str = "groupBy", ungrouped: int = 1) -> Weight:
    """One group per key of the `groupBy` dimension (`ungrouped` without one)."""

    def weight(args: Args, _scope: Scope) -> Price:
        dimension = args.get(arg)
        return Price(
            own=own,
            items=cardinality(dimension) if dimension is not None else ungrouped,
            each=1,
        )

    return weight


def _summary(args: Args, scope: Scope) -> Price:
    weight = args.get("weight")
    by_answers = weight is None or getattr(weight, "name", weight) == "ANSWERS"
    return groups(SCAN if by_answers else SCAN + LATEST_PER_ACCOUNT)(args, scope)


def _drilldown(args: Args, scope: Scope) -> Price:
    """Three statements over the finest cells (counts, reasons, newest texts), Python
    adding up every cell the `by` list can produce, then one node per group per level."""
    sizes = [cardinality(d) for d in args.get("by") or ()]
    cells = math.prod(sizes) if sizes else 0
    weight = args.get("weight")
    by_answers = weight is None or getattr(weight, "name", weight) == "ANSWERS"
    # Weighted: one more statement weighing each account's latest campaign once per
    # level (a UNION ALL): 385-445 ms a level at 100,000 answers (`python -m
    # benchmarks.design`: [TIER] 585-755 ms weighted, 200-310 ms not), about 0.1 ms a unit.
    weighted = 0 if by_answers else len(sizes) * LATEST_PER_ACCOUNT // 2
    return Price(
        own=3 * SCAN + CELL * cells + weighted,
        items=sizes[0] if sizes else 0,
        each=1,
        scope=replace(scope, levels=tuple(sizes[1:])),
    )


def _children(_args: Args, scope: Scope) -> Price:
    # Below the last level of `by` there are no children.
    if not scope.levels:
        return Price(items=0)
    return Price(items=scope.levels[0], each=1, scope=replace(scope, levels=scope.levels[1:]))


def free(names: str) -> dict[str, Weight]:
    """Entries for fields that cost nothing: scalars and value objects."""
    return dict.fromkeys(names.split(), FREE)


CONNECTION: dict[str, Weight] = {"edges": _edges, "pageInfo": FREE, "totalCount": fixed(COUNT)}
EDGE: dict[str, Weight] = {"cursor": FREE, "node": ONE}

WEIGHTS: dict[str, dict[str, Weight]] = {
    "Query": {
        # Two campaigns' answers, through the campaign index: 13 ms measured.
        "compareCampaigns": fixed(SCAN // 5, each=1),
        # Active accounts, and those heard from: 160-430 ms.
        "coverage": groups(3 * SCAN),
        "unheardAccounts": first_list(10, 3 * SCAN // 2),
        # Latest responses per account against defections: 290 ms.
        "aspectDefectionRisk": fixed(3 * SCAN, items=ASPECTS, each=1),
        "followUps": connection(50),
        # Resolved follow-up cases and the next response: few rows.
        "recovery": fixed(DEFECTION_SCAN, each=1),
        "accounts": _accounts,
        "account": ONE,
        "campaigns": connection(50),
        "campaign": ONE,
        "responses": connection(50),
        "satisfactionSummary": _summary,
        "dissatisfactionDrilldown": _drilldown,
        # Staff-recorded reasons and exit-survey answers, over the few defections.
        "defectionReasons": groups(DEFECTION_SCAN),
        # Every account's latest response, its complaints' defection rates: 560-690 ms.
        "atRiskAccounts": first_list(20, 6 * SCAN),
        "me": ONE,
        "staffTokens": listed(TOKENS),
        "auditLog": connection(50),
        # Read from what admission already knows.
        "rateLimit": FREE,
        # A few schedules and their campaigns: two small queries.
        "schedules": listed(SCHEDULES),
        # The schedule's campaigns, then one design-weighted aggregate over their
        # overall answers (the latest-per-account pass of a weighted summary).
        "scheduleTrend": fixed(SCAN + LATEST_PER_ACCOUNT, items=SCHEDULE_CYCLES, each=1),
    },
    "Mutation": {
        "updateFollowUp": fixed(WRITE, each=1),
        "launchCampaign": fixed(LAUNCH, each=1),
        "sendReminders": fixed(REMIND),
        "recordPhoneResponse": fixed(WRITE, each=1),
        "closeCampaign": fixed(WRITE, each=1),
        "recordDefection": fixed(WRITE, each=1),
        "createSchedule": fixed(WRITE, each=1),
        "pauseSchedule": fixed(WRITE, each=1),
        "resumeSchedule": fixed(WRITE, each=1),
    },
    "Account": {
        **free(
            "id externalId name tier valueType relationshipStage region annualRevenue "
            "accountManager contactName locale active optedOutAt createdAt contactEmail "
            "contactPhone tierLabel valueTypeLabel relationshipStageLabel"
        ),
        "responses": listed(ACCOUNT_RESPONSES),
        "defection": ONE,
        "satisfactionTrend": listed(ACCOUNT_RESPONSES),
        "timeline": _timeline,
        # Loaded for the whole page with one query: a few people per account.
        "team": listed(TEAM),
        "contacts": listed(ACCOUNT_CONTACTS),
        # Two statements for the whole page (scores, ranked snapshots).
        "health": ONE,
    },
    # Health (schema/scoring/health.py): value objects read with the account's score.
    "AccountHealth": {
        **free("score band version asOf change"),
        "parts": listed(len(scale.HealthMeasure)),
        "history": first_list(12, 0),
        "whyMoved": ONE,
    },
    "HealthPart": free("measure label perspective value percentile weight contribution"),
    "HealthPoint": free("at score band"),
    "HealthMove": {
        **free("since until scoreBefore scoreAfter change text"),
        "parts": listed(len(scale.HealthMeasure)),
    },
    "HealthMovePart": free("measure label before after change valueBefore valueAfter"),
    "AccountConnection": CONNECTION,
    "AccountEdge": EDGE,
    "Answer": free("aspect aspectLabel score satisfaction reasons reasonText"),
    "ApiTokenInfo": free("id staffName staffRole staffActive createdAt revokedAt lastUsedAt"),
    "AspectDefectionRisk": free(
        "aspect label dissatisfiedAccounts dissatisfiedDefected satisfiedAccounts "
        "satisfiedDefected dissatisfiedDefectionRate satisfiedDefectionRate riskRatio "
        "riskRatioInterval medianLeadDays lowSample"
    ),
    "AtRiskAccount": {
        **free("lastResponseAt dissatisfiedAspects annualRevenue riskScore expectedLostRevenue"),
        "account": ONE,
    },
    "AuditLogEntry": free("id at actor action targetType targetId details"),
    "AuditLogEntryConnection": CONNECTION,
    "AuditLogEntryEdge": EDGE,
    "Campaign": {
        **free(
            "id name kind status opensAt closesAt closedAt createdAt createdBy method "
            "stratifyBy seed frameSize sampleSize excludeDays invitedContacts contactRoles"
        ),
        # Counted for the whole page in one statement each; 1 per campaign.
        "sampled": fixed(1),
        "responded": fixed(1),
        "invitationCounts": ONE,
        "responseRate": fixed(1),
        "invitations": connection(50),
        "marginOfError": fixed(1),
        "sampling": ONE,
        # One aggregate over the answers of the page's campaigns (at most 50 of them,
        # together about one SCAN): each pays its share and its groups.
        "summary": groups(SCAN // 50),
    },
    "CampaignComparison": free("aspect a b difference z pValue significant"),
    "CampaignConnection": CONNECTION,
    "CampaignEdge": EDGE,
    "CampaignSampling": free("method stratifyBy seed frameSize sampleSize frameDigest allocation"),
    "CampaignShare": free(
        "campaignId name answers satisfied satisfiedShare satisfiedShareInterval marginOfError"
    ),
    "Complaint": free("aspect aspectLabel score reasons reasonText"),
    "Contact": free("id name role roleLabel locale isPrimary optedOut email phone"),
    "CoverageGroup": free(
        "key label activeAccounts heardFrom heardShare heardShareInterval activeRevenue "
        "heardRevenue revenueShare"
    ),
    "Defection": {
        **free(
            "id defectedOn primaryReason otherReasons competitor lostAnnualRevenue note "
            "source recordedAt recordedBy"
        ),
        "account": ONE,
        "precursors": ONE,
    },
    "DefectionPrecursor": free(
        "responseId submittedAt leadDays complaints comment matchingReasons reasonsMatch "
        "fixedRootCauses"
    ),
    "DrilldownNode": {
        **free(
            "dimension key label answers dissatisfied dissatisfiedShare "
            "dissatisfiedShareInterval lowSample accounts"
        ),
        "topReasons": listed(REASONS),
        "children": _children,
        # Strings cut from the texts the drill-down already ranked.
        "comments": FREE,
    },
    "ExclusionCount": free("reason count"),
    "FollowUp": {
        **free(
            "id owner status openedAt dueAt contactedAt resolvedAt overdue notes escalatedAt "
            "escalatedTo rootCause rootCauseNote"
        ),
        "account": ONE,
        "response": ONE,
        # Two queries for the whole page (the cases' responses, their answers 1-2).
        "why": ONE,
    },
    "FollowUpConnection": CONNECTION,
    "FollowUpEdge": EDGE,
    "FollowUpNote": free("at author status text"),
    "FollowUpWhy": {
        **free("comment respondentRole respondentRoleLabel responseId accountId accountExternalId"),
        "aspects": listed(ASPECTS),
    },
    "Invitation": {
        **free(
            "id status locale stratum createdAt sentAt openedAt respondedAt remindersSent "
            "bounceReason"
        ),
        "account": ONE,
        "contact": ONE,
    },
    # Only ever below a campaign: its count comes from one GROUP BY for the page.
    "InvitationConnection": {**CONNECTION, "totalCount": fixed(1)},
    "InvitationCounts": free("pending sent opened responded bounced expired"),
    "InvitationEdge": EDGE,
    "LaunchCampaignPayload": {
        **free(
            "sampled invited frameSize seed method allocation excluded emailsQueued "
            "expectedResponseRate expectedMarginOfError census coverage random openCases"
        ),
        "campaign": ONE,
    },
    "Me": {**free("name role locale"), "emailLocale": fixed(1)},
    "PageInfo": free("hasNextPage endCursor"),
    "RateLimit": free("cost limit remaining resetAt"),
    "ReasonBreakdown": {
        **free("key label defections lostRevenue exitSurveyResponses lowSample"),
        # Each reason once per source (staff records, exit surveys).
        "reasons": listed(2 * REASONS),
    },
    "ReasonCount": free("reason count share source shareInterval"),
    "Recovery": {
        **free("accounts improved unchanged worse meanChange"),
        # Resolved cases with a root cause, their defections and later scores: few rows.
        "byRootCause": fixed(DEFECTION_SCAN, items=REASONS, each=1),
    },
    "RootCauseOutcome": free("rootCause label cases accounts defected answeredAgain recovered"),
    "Response": {
        **free("id submittedAt channel locale comment"),
        "account": ONE,
        "campaign": ONE,
        "answers": listed(ASPECTS),
        "contact": ONE,
    },
    "ResponseConnection": CONNECTION,
    "ResponseEdge": EDGE,
    "SampleAllocation": free(
        "key label frame size contacts census coverage random inclusionProbability"
    ),
    "SamplingStratum": free("key label frame size"),
    "SatisfactionGroup": free(
        "key label answers distribution mean satisfiedShare dissatisfiedShare "
        "satisfiedShareInterval dissatisfiedShareInterval accounts lowSample"
    ),
    "Schedule": {
        **free(
            "id name every startsOn kind sampleSize sampleFraction stratifyBy censusTiers "
            "coverWithinDays includeOpenCases contacts contactRoles closesAfterDays "
            "excludeDays paused pausedAt createdAt createdBy nextRun nextCycle nextCycleLabel"
        ),
        # Loaded with the schedules in one query.
        "campaigns": listed(SCHEDULE_CYCLES),
    },
    "ScheduleTrendPoint": free(
        "campaignId campaignName cycle opensAt answers accounts satisfiedShare "
        "satisfiedShareInterval lowSample"
    ),
    "ScheduledCampaign": free("id name cycle cycleLabel opensAt status"),
    "ScoreDistribution": free(
        "veryDissatisfied somewhatDissatisfied noOpinion satisfied verySatisfied"
    ),
    "ShareInterval": free("low high"),
    "TeamMember": free("name role roleLabel email"),
    "TimelineConnection": {"edges": _edges, "nodes": _nodes, "pageInfo": FREE},
    "TimelineEdge": EDGE,
    "TimelineEvent": free("at kind label detail campaignId responseId followUpId"),
    "TrendPoint": free("campaignId campaignName opensAt mean answers"),
    "WhyAspect": free("aspect label score scoreLabel reasons reasonText"),
    "WhyReason": free("code label"),
}
