"""Closing the loop: follow-up cases opened by dissatisfied answers, their owners
and outcome.

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.follow_ups.cases import (
    DEFAULT_FOLLOW_UP_DAYS,
    FOLLOW_UP_STATUSES,
    MAX_NOTE_LENGTH,
    follow_up_conditions,
    is_overdue,
    list_follow_ups,
    needs_follow_up,
    open_follow_up,
    update_follow_up,
)
from survey.follow_ups.lookups import (
    follow_up_page,
    follow_up_with_notes,
    unresolved_follow_ups_of_account,
)

__all__ = [
    "DEFAULT_FOLLOW_UP_DAYS",
    "FOLLOW_UP_STATUSES",
    "MAX_NOTE_LENGTH",
    "follow_up_conditions",
    "follow_up_page",
    "follow_up_with_notes",
    "is_overdue",
    "list_follow_ups",
    "needs_follow_up",
    "open_follow_up",
    "unresolved_follow_ups_of_account",
    "update_follow_up",
]
