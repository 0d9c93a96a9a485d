"""Questions asked of the data, one module per question: satisfaction (summaries,
trends), drilldown (where dissatisfaction sits), defections (why accounts left),
risk (which complaints come before defection), account_coverage (whom we have heard
from), comparisons (is a change real), follow_up_recovery (does following up work),
progress (how far campaigns have got), timeline (what happened with one account),
briefs and exports; all built on filters
(what is counted and how it is grouped) and reasons (reason shares). SQL does the
counting; plain dataclasses out.

The summaries, drill-downs and defection reasons exported here go through `cache`
(keyed by arguments and the data version, see survey.data_version); their modules'
own functions are the uncached originals.

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.analysis import comment_themes as _comment_themes
from survey.analysis import defections as _defections
from survey.analysis import drilldown as _drilldown
from survey.analysis import satisfaction as _satisfaction
from survey.analysis.account_coverage import coverage, unheard_accounts
from survey.analysis.account_history import (
    AspectScore,
    CampaignAspects,
    account_aspect_history,
)
from survey.analysis.account_list import (
    ACCOUNT_PAGE_SIZE,
    ACCOUNT_SORTS,
    SORT_REVENUE,
    SORT_SCORE,
    AccountListPage,
    AccountListRow,
    account_list,
)
from survey.analysis.briefs import account_briefs
from survey.analysis.cache import AnalysisCache, LRUStorage, Storage, cached, install_cache
from survey.analysis.comment_themes import (
    MAX_THEME_EXAMPLES,
    MAX_THEMES,
    MIN_THEME_TEXTS,
    CommentTheme,
    ThemeExample,
)
from survey.analysis.comparisons import CampaignShare, campaign_margins, compare_campaigns
from survey.analysis.defections import MonthReasons, ReasonBreakdown, SourcedBreakdown
from survey.analysis.drilldown import MAX_DRILLDOWN_LEVELS, MAX_NODE_COMMENTS, DrilldownNode
from survey.analysis.exports import campaign_responses
from survey.analysis.filters import (
    ACCOUNT_DIMENSIONS,
    DEFAULT_MIN_GROUP_SIZE,
    DEFAULT_WINDOW_DAYS,
    DefectionFilter,
    Dimension,
    ResponseFilter,
    Weight,
    dimension_labels,
    response_conditions,
    validate_defection_filter,
    validate_response_filter,
)
from survey.analysis.follow_up_recovery import RootCauseOutcome, recovery, root_cause_breakdown
from survey.analysis.key_drivers import (
    DriverUnit,
    DriverWeight,
    KeyDriver,
    KeyDriverAnalysis,
    Quadrant,
    key_drivers,
)
from survey.analysis.listing import response_page
from survey.analysis.progress import (
    CampaignProgress,
    campaign_funnel,
    campaign_progress,
    stratum_progress,
)
from survey.analysis.reasons import ReasonShare
from survey.analysis.risk import (
    Precursor,
    aspect_defection_risk,
    at_risk_by_expected_loss,
    defection_precursors,
)
from survey.analysis.satisfaction import SatisfactionGroup, satisfaction_trends
from survey.analysis.schedule_trend import (
    ScheduleTrendPoint,
    schedule_trend,
    schedule_trends,
)
from survey.analysis.timeline import (
    TIMELINE_MAX_PAGE_SIZE,
    TIMELINE_PAGE_SIZE,
    TimelineEvent,
    TimelineKind,
    TimelinePage,
    account_timeline,
    account_timelines,
)

# Repeated analytics are cheap: the figures the API and the console ask for again
# and again, cached until a write changes what they count.
satisfaction_summary = cached(_satisfaction.satisfaction_summary)
satisfaction_summaries = cached(_satisfaction.satisfaction_summaries)
dissatisfaction_drilldown = cached(_drilldown.dissatisfaction_drilldown)
defection_reasons = cached(_defections.defection_reasons)
defection_reasons_by_source = cached(_defections.defection_reasons_by_source)
defections_by_month_and_main_reason = cached(_defections.defections_by_month_and_main_reason)
answered_responses = cached(_satisfaction.answered_responses)
# What the comments say: one statement, then every text split into words.
comment_themes = cached(_comment_themes.comment_themes)
comment_themes_by_aspect = cached(_comment_themes.comment_themes_by_aspect)

__all__ = [
    "ACCOUNT_DIMENSIONS",
    "ACCOUNT_PAGE_SIZE",
    "ACCOUNT_SORTS",
    "DEFAULT_MIN_GROUP_SIZE",
    "DEFAULT_WINDOW_DAYS",
    "MAX_DRILLDOWN_LEVELS",
    "MAX_NODE_COMMENTS",
    "MAX_THEMES",
    "MAX_THEME_EXAMPLES",
    "MIN_THEME_TEXTS",
    "SORT_REVENUE",
    "SORT_SCORE",
    "TIMELINE_MAX_PAGE_SIZE",
    "TIMELINE_PAGE_SIZE",
    "AccountListPage",
    "AccountListRow",
    "AnalysisCache",
    "AspectScore",
    "CampaignAspects",
    "CampaignProgress",
    "CampaignShare",
    "CommentTheme",
    "DefectionFilter",
    "Dimension",
    "DrilldownNode",
    "DriverUnit",
    "DriverWeight",
    "KeyDriver",
    "KeyDriverAnalysis",
    "LRUStorage",
    "MonthReasons",
    "Precursor",
    "Quadrant",
    "ReasonBreakdown",
    "ReasonShare",
    "ResponseFilter",
    "RootCauseOutcome",
    "SatisfactionGroup",
    "ScheduleTrendPoint",
    "SourcedBreakdown",
    "Storage",
    "ThemeExample",
    "TimelineEvent",
    "TimelineKind",
    "TimelinePage",
    "Weight",
    "account_aspect_history",
    "account_briefs",
    "account_list",
    "account_timeline",
    "account_timelines",
    "answered_responses",
    "aspect_defection_risk",
    "at_risk_by_expected_loss",
    "campaign_funnel",
    "campaign_margins",
    "campaign_progress",
    "campaign_responses",
    "comment_themes",
    "comment_themes_by_aspect",
    "compare_campaigns",
    "coverage",
    "defection_precursors",
    "defection_reasons",
    "defection_reasons_by_source",
    "defections_by_month_and_main_reason",
    "dimension_labels",
    "dissatisfaction_drilldown",
    "install_cache",
    "key_drivers",
    "recovery",
    "response_conditions",
    "response_page",
    "root_cause_breakdown",
    "satisfaction_summaries",
    "satisfaction_summary",
    "satisfaction_trends",
    "schedule_trend",
    "schedule_trends",
    "stratum_progress",
    "unheard_accounts",
    "validate_defection_filter",
    "validate_response_filter",
]
