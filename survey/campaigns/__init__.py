"""Survey campaigns: questionnaires, the sampling frame, samples, planning and
launch, personal links, listing and closing, and the audit of a sample.

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.campaigns.cycles import Cycle, cycle_containing, cycle_label
from survey.campaigns.frames import (
    DEFAULT_DEFECTED_WITHIN_DAYS,
    EXCLUSION_REASONS,
    EXIT_EXCLUSION_REASONS,
    STRATIFY_DIMENSIONS,
    Frame,
    build_exit_frame,
    build_frame,
)
from survey.campaigns.invitees import ContactChoice, contact_choice
from survey.campaigns.launch import launch_campaign
from survey.campaigns.lifecycle import close_campaign, get_campaign_summary, list_campaigns
from survey.campaigns.links import InvitationLink, campaign_links
from survey.campaigns.lookups import (
    campaign_by_id,
    campaign_kind,
    campaign_page,
    invitation_by_id,
    invitation_counts,
    invitations_of_campaigns,
)
from survey.campaigns.planning import (
    ALL_STRATUM,
    KINDS,
    MAX_COVER_WITHIN_DAYS,
    MAX_EXCLUDE_DAYS,
    MAX_SEED,
    NAME_MAX_LENGTH,
    CampaignPlan,
    CampaignRequest,
    census_tiers_of,
    plan_campaign,
)
from survey.campaigns.sample_audit import (
    sampling_records,
    verify_campaign,
)
from survey.campaigns.schedule_runs import (
    CycleLaunch,
    CycleProblem,
    ScheduleRunReport,
    campaign_name,
    run_schedules,
)
from survey.campaigns.schedules import (
    ScheduledCampaign,
    ScheduleInputError,
    ScheduleSpec,
    ScheduleView,
    create_schedule,
    list_schedules,
    pause_schedule,
    resume_schedule,
    schedule_by_id,
)

__all__ = [
    "ALL_STRATUM",
    "DEFAULT_DEFECTED_WITHIN_DAYS",
    "EXCLUSION_REASONS",
    "EXIT_EXCLUSION_REASONS",
    "KINDS",
    "MAX_COVER_WITHIN_DAYS",
    "MAX_EXCLUDE_DAYS",
    "MAX_SEED",
    "NAME_MAX_LENGTH",
    "STRATIFY_DIMENSIONS",
    "CampaignPlan",
    "CampaignRequest",
    "ContactChoice",
    "Cycle",
    "CycleLaunch",
    "CycleProblem",
    "Frame",
    "InvitationLink",
    "ScheduleInputError",
    "ScheduleRunReport",
    "ScheduleSpec",
    "ScheduleView",
    "ScheduledCampaign",
    "build_exit_frame",
    "build_frame",
    "campaign_by_id",
    "campaign_kind",
    "campaign_links",
    "campaign_name",
    "campaign_page",
    "census_tiers_of",
    "close_campaign",
    "contact_choice",
    "create_schedule",
    "cycle_containing",
    "cycle_label",
    "get_campaign_summary",
    "invitation_by_id",
    "invitation_counts",
    "invitations_of_campaigns",
    "launch_campaign",
    "list_campaigns",
    "list_schedules",
    "pause_schedule",
    "plan_campaign",
    "resume_schedule",
    "run_schedules",
    "sampling_records",
    "schedule_by_id",
    "verify_campaign",
]
