"""Closing the loop: follow-up cases opened by dissatisfied answers, their owners,
why they were opened, escalation and outcome (with its root cause).

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.follow_ups.cases import (
    DEFAULT_FOLLOW_UP_DAYS,
    FOLLOW_UP_STATUSES,
    MAX_NOTE_LENGTH,
    SETTABLE_STATUSES,
    RootCauseRequiredError,
    follow_up_conditions,
    is_overdue,
    needs_follow_up,
    open_follow_up,
    update_follow_up,
)
from survey.follow_ups.escalation import (
    DEFAULT_ESCALATE_AFTER_DAYS,
    Escalated,
    EscalationReport,
    escalate_overdue,
)
from survey.follow_ups.listing import (
    CaseNote,
    FollowUpCase,
    FollowUpRow,
    follow_up_owners,
    get_follow_up_case,
    list_follow_ups,
)
from survey.follow_ups.lookups import (
    follow_up_page,
    follow_up_with_notes,
    unresolved_follow_ups_of_account,
)
from survey.follow_ups.notices import KIND_ESCALATION, KIND_FOLLOW_UP
from survey.follow_ups.why import (
    CaseWhy,
    Complaint,
    WhyAspect,
    WhyReason,
    complaints_of_responses,
    why_for_cases,
)

__all__ = [
    "DEFAULT_ESCALATE_AFTER_DAYS",
    "DEFAULT_FOLLOW_UP_DAYS",
    "FOLLOW_UP_STATUSES",
    "KIND_ESCALATION",
    "KIND_FOLLOW_UP",
    "MAX_NOTE_LENGTH",
    "SETTABLE_STATUSES",
    "CaseNote",
    "CaseWhy",
    "Complaint",
    "Escalated",
    "EscalationReport",
    "FollowUpCase",
    "FollowUpRow",
    "RootCauseRequiredError",
    "WhyAspect",
    "WhyReason",
    "complaints_of_responses",
    "escalate_overdue",
    "follow_up_conditions",
    "follow_up_owners",
    "follow_up_page",
    "follow_up_with_notes",
    "get_follow_up_case",
    "is_overdue",
    "list_follow_ups",
    "needs_follow_up",
    "open_follow_up",
    "unresolved_follow_ups_of_account",
    "update_follow_up",
    "why_for_cases",
]
