"""Typed SQLAlchemy 2.0 models, one module per part of the business.

Relationships are `lazy="raise"`: code must say what it loads (selectinload,
joinedload), so an accidental query per row fails in tests instead of in
production. Import models from this package (`from survey.models import
KeyAccount`); the modules are how the file is organised, not an API.
"""

from survey.data_version import DataVersion
from survey.models.answers import Answer, AnswerReason, ExitFeedback, Response
from survey.models.audit import AuditEntry
from survey.models.campaigns import (
    CAMPAIGN_CLOSED,
    CAMPAIGN_OPEN,
    CONTACT_CHOICES,
    CONTACTS_ALL,
    CONTACTS_PRIMARY,
    INVITATION_BOUNCED,
    INVITATION_EXPIRED,
    INVITATION_OPENED,
    INVITATION_PENDING,
    INVITATION_RESPONDED,
    INVITATION_SENT,
    INVITATION_STATUSES,
    KIND_EXIT,
    KIND_SATISFACTION,
    Aspect,
    Campaign,
    CampaignFrameMember,
    CampaignStratum,
    Invitation,
    Questionnaire,
    QuestionnaireItem,
)
from survey.models.follow_ups import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    FollowUp,
    FollowUpNote,
)
from survey.models.outbox import (
    OUTBOX_BOUNCED,
    OUTBOX_FAILED,
    OUTBOX_QUEUED,
    OUTBOX_SENDING,
    OUTBOX_SENT,
    OutboxMessage,
)
from survey.models.registry import (
    ROLE_ADMIN,
    ROLE_MANAGER,
    ROLE_VIEWER,
    ROLES,
    SOURCE_EXIT_SURVEY,
    SOURCE_STAFF,
    AccountTeamMember,
    ApiToken,
    Contact,
    Defection,
    DefectionReason,
    KeyAccount,
    StaffMember,
)

# survey.data_version comes with the models: its table, and the session events that
# give the data a new token with every write the figures read, so no process that
# writes runs without them.

__all__ = [
    "CAMPAIGN_CLOSED",
    "CAMPAIGN_OPEN",
    "CONTACTS_ALL",
    "CONTACTS_PRIMARY",
    "CONTACT_CHOICES",
    "FOLLOW_UP_CONTACTED",
    "FOLLOW_UP_ESCALATED",
    "FOLLOW_UP_OPEN",
    "FOLLOW_UP_RESOLVED",
    "INVITATION_BOUNCED",
    "INVITATION_EXPIRED",
    "INVITATION_OPENED",
    "INVITATION_PENDING",
    "INVITATION_RESPONDED",
    "INVITATION_SENT",
    "INVITATION_STATUSES",
    "KIND_EXIT",
    "KIND_SATISFACTION",
    "OUTBOX_BOUNCED",
    "OUTBOX_FAILED",
    "OUTBOX_QUEUED",
    "OUTBOX_SENDING",
    "OUTBOX_SENT",
    "ROLES",
    "ROLE_ADMIN",
    "ROLE_MANAGER",
    "ROLE_VIEWER",
    "SOURCE_EXIT_SURVEY",
    "SOURCE_STAFF",
    "AccountTeamMember",
    "Answer",
    "AnswerReason",
    "ApiToken",
    "Aspect",
    "AuditEntry",
    "Campaign",
    "CampaignFrameMember",
    "CampaignStratum",
    "Contact",
    "DataVersion",
    "Defection",
    "DefectionReason",
    "ExitFeedback",
    "FollowUp",
    "FollowUpNote",
    "Invitation",
    "KeyAccount",
    "OutboxMessage",
    "Questionnaire",
    "QuestionnaireItem",
    "Response",
    "StaffMember",
]
