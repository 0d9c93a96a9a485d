"""The root types, assembled from each area's queries and mutations.

Strawberry lists inherited fields base by base, in the order the bases are given:
that order is the schema's field order (schema.graphql, checked by a test).
"""

from __future__ import annotations

import strawberry

from .analysis.drivers import DriverQuery
from .analysis.insights import InsightsQuery
from .analysis.queries import AnalysisQuery
from .answers.mutations import PhoneResponseMutation
from .answers.queries import ResponseQuery
from .audit import AuditQuery
from .campaigns.mutations import CampaignCloseMutation, CampaignMutation
from .campaigns.queries import CampaignQuery
from .cost.types import RateLimitQuery
from .follow_ups.mutations import FollowUpMutation
from .follow_ups.queries import FollowUpQuery
from .registry.mutations import DefectionMutation
from .registry.queries import AccountQuery, StaffQuery
from .registry.sync import AccountSyncMutation
from .schedules.mutations import ScheduleMutation
from .schedules.queries import ScheduleQuery
from .scoring.mutations import ScoringMutation
from .scoring.priority import PriorityQuery
from .scoring.queries import ScoringQuery
from .settings import SettingsQuery
from .webhooks.mutations import WebhookMutation
from .webhooks.queries import WebhookQuery


@strawberry.type
class Query(
    InsightsQuery,
    FollowUpQuery,
    AccountQuery,
    CampaignQuery,
    ResponseQuery,
    AnalysisQuery,
    DriverQuery,
    StaffQuery,
    AuditQuery,
    ScheduleQuery,
    ScoringQuery,
    WebhookQuery,
    PriorityQuery,
    RateLimitQuery,
    SettingsQuery,
):
    """Lists (keyset pages), single rows and the analysis."""


@strawberry.type
class Mutation(
    FollowUpMutation,
    CampaignMutation,
    PhoneResponseMutation,
    CampaignCloseMutation,
    DefectionMutation,
    ScheduleMutation,
    ScoringMutation,
    WebhookMutation,
    AccountSyncMutation,
):
    """Managers launch and close campaigns, record lost accounts and phone answers,
    and move follow-up cases along."""
