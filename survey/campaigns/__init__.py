"""Survey campaigns: questionnaires, sampling frames and samples, launch, links,
closing, and the audit of a sample.

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.campaigns.launch import (
    ALL_STRATUM,
    DEFAULT_DEFECTED_WITHIN_DAYS,
    EXCLUSION_REASONS,
    EXIT_EXCLUSION_REASONS,
    KINDS,
    MAX_EXCLUDE_DAYS,
    MAX_SEED,
    NAME_MAX_LENGTH,
    STRATIFY_DIMENSIONS,
    CampaignPlan,
    CampaignRequest,
    Frame,
    InvitationLink,
    build_exit_frame,
    build_frame,
    campaign_links,
    close_campaign,
    get_campaign_summary,
    launch_campaign,
    list_campaigns,
    plan_campaign,
)
from survey.campaigns.lookups import (
    campaign_by_id,
    campaign_kind,
    campaign_page,
    invitation_by_id,
    invitation_counts,
    invitations_of_campaigns,
)
from survey.campaigns.sample_audit import (
    sampling_records,
    verify_campaign,
)

__all__ = [
    "ALL_STRATUM",
    "DEFAULT_DEFECTED_WITHIN_DAYS",
    "EXCLUSION_REASONS",
    "EXIT_EXCLUSION_REASONS",
    "KINDS",
    "MAX_EXCLUDE_DAYS",
    "MAX_SEED",
    "NAME_MAX_LENGTH",
    "STRATIFY_DIMENSIONS",
    "CampaignPlan",
    "CampaignRequest",
    "Frame",
    "InvitationLink",
    "build_exit_frame",
    "build_frame",
    "campaign_by_id",
    "campaign_kind",
    "campaign_links",
    "campaign_page",
    "close_campaign",
    "get_campaign_summary",
    "invitation_by_id",
    "invitation_counts",
    "invitations_of_campaigns",
    "launch_campaign",
    "list_campaigns",
    "plan_campaign",
    "sampling_records",
    "verify_campaign",
]
