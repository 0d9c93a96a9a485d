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

from schema.cost.units import (
    ACCOUNT_CONTACTS,
    ACCOUNT_RESPONSES,
    ASPECTS,
    CONNECTION,
    DEFECTION_SCAN,
    EDGE,
    FREE,
    LATEST_PER_ACCOUNT,
    LAUNCH,
    ONE,
    REASONS,
    REMIND,
    SCAN,
    SCHEDULE_CYCLES,
    SCHEDULES,
    TEAM,
    TOKENS,
    WRITE,
    Weight,
    connection,
    first_list,
    fixed,
    free,
    groups,
    listed,
    price_accounts,
    price_children,
    price_drilldown,
    price_edges,
    price_nodes,
    price_summary,
    price_timeline,
)
from survey import scale

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
        "accounts": price_accounts,
        "account": ONE,
        "campaigns": connection(50),
        "campaign": ONE,
        "responses": connection(50),
        "satisfactionSummary": price_summary,
        "dissatisfactionDrilldown": price_drilldown,
        # One statement over the texts, then each text split into words: jieba takes
        # about 0.26 ms per text not seen before (a process remembers 50,000 texts'
        # terms, and the analysis cache the result); a pass over the answers plus that.
        "commentThemes": first_list(10, 3 * SCAN),
        # Staff-recorded reasons and exit-survey answers, over the few defections.
        "defectionReasons": groups(DEFECTION_SCAN),
        # Every account's latest response, its complaints' defection rates: 560-690 ms.
        "atRiskAccounts": first_list(20, 6 * SCAN),
        "me": ONE,
        "staffTokens": listed(TOKENS),
        "auditLog": connection(50),
        # Read from what admission already knows.
        "rateLimit": FREE,
        # A setting read from the app's config.
        "currency": FREE,
        # A few schedules and their campaigns: two small queries.
        "schedules": listed(SCHEDULES),
        # The schedule's campaigns, then one design-weighted aggregate over their
        # overall answers (the latest-per-account pass of a weighted summary).
        "scheduleTrend": fixed(SCAN + LATEST_PER_ACCOUNT, items=SCHEDULE_CYCLES, each=1),
        # One pivot of the answers matching the filter per response (or account), a
        # CASE per aspect, then numpy on the rows: 0.9-1.5 s at 100,000 answers on 2
        # cores at load 10-12 (`python -m benchmarks --only drivers`), about 3 SCANs.
        "keyDrivers": fixed(3 * SCAN, each=1),
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
        "timeline": price_timeline,
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
        "children": price_children,
        # Strings cut from the texts the drill-down already ranked.
        "comments": FREE,
    },
    # Examples are cut from the texts the themes already kept.
    "CommentTheme": free("term count dissatisfiedShare examples"),
    "ExclusionCount": free("reason count"),
    "KeyDriver": free(
        "aspect label n importance importanceLow importanceHigh pValue relativeWeight "
        "performance satisfiedShare satisfiedShareLow satisfiedShareHigh quadrant lowSample"
    ),
    # The drivers are computed with the analysis: one object per aspect.
    "KeyDriverAnalysis": {**free("n r2 lowSample"), "drivers": listed(ASPECTS)},
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
    "ThemeExample": free("text responseId score"),
    "TimelineConnection": {"edges": price_edges, "nodes": price_nodes, "pageInfo": FREE},
    "TimelineEdge": EDGE,
    "TimelineEvent": free("at kind label detail campaignId responseId followUpId"),
    "TrendPoint": free("campaignId campaignName opensAt mean answers"),
    "WhyAspect": free("aspect label score scoreLabel reasons reasonText"),
    "WhyReason": free("code label"),
}

# Webhooks (schema/webhooks): a few endpoints with their counts (two queries), the
# delivery log by keyset, writes that commit once; upsertAccounts writes up to 500
# accounts in one transaction (the CSV import's batched statements).
WEIGHTS["Query"].update({"webhooks": listed(20), "webhookDeliveries": connection(50)})
WEIGHTS["Mutation"].update(
    createWebhook=fixed(WRITE, each=1),
    deleteWebhook=fixed(WRITE),
    redeliverWebhook=fixed(WRITE, each=1),
    upsertAccounts=fixed(10 * WRITE, each=1),
)
WEIGHTS.update(
    Webhook={
        **free("id url description events active createdAt createdBy failingSince disabledAt"),
        **free("disabledReason deliveries"),
    },
    WebhookDeliveryCounts=free("queued sending delivered failed"),
    CreatedWebhook={"webhook": ONE, "secret": FREE},
    WebhookDelivery=free(
        "id webhookId eventId event status attempts createdAt nextAttemptAt lastAttemptAt "
        "deliveredAt lastError responseStatus responseMs responseBody"
    ),
    WebhookDeliveryConnection=CONNECTION,
    WebhookDeliveryEdge=EDGE,
    UpsertAccountsResult=free("created updated unchanged"),
)
