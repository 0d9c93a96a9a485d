"""The audit log: who launched, closed or reminded a campaign, recorded a defection or
changed an API token, and when.

`record_audit` adds its row to the caller's transaction and never commits: the entry
is stored exactly when the action it describes is, and vanishes with it on rollback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from survey.clock import utcnow
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import AuditEntry

# The actions the services record (stable codes: API clients filter on them).
CAMPAIGN_LAUNCH = "campaign.launch"
CAMPAIGN_CLOSE = "campaign.close"
CAMPAIGN_REMIND = "campaign.remind"
DEFECTION_RECORD = "defection.record"
#: An account import changed an existing account's tier (details: old, new).
ACCOUNT_TIER_CHANGE = "account.tier_change"
#: Account teams imported from CSV (details: created, updated, unchanged, skipped).
ACCOUNT_TEAM_IMPORT = "account.team_import"
STAFF_ADD = "staff.add"
STAFF_TOKEN_ISSUE = "staff.token_issue"  # noqa: S105 (an action name, not a secret)
STAFF_REVOKE = "staff.revoke"
STAFF_LOCALE = "staff.locale"
FOLLOW_UP_UPDATE = "follow_up.update"
FOLLOW_UP_RESOLVE = "follow_up.resolve"
FOLLOW_UP_ESCALATE = "follow_up.escalate"
#: Schedules (survey.campaigns.schedules): created, paused, resumed.
SCHEDULE_CREATE = "schedule.create"
SCHEDULE_PAUSE = "schedule.pause"
SCHEDULE_RESUME = "schedule.resume"
#: A score model's weights or band limits changed: a new version (details: model,
#: version, the weights and limits before and after).
SCORE_MODEL_CHANGE = "score_model.change"
#: Account indicators imported from CSV (details: file, rows, periods, indicators).
METRICS_IMPORT = "account.metrics_import"
#: Webhook endpoints (survey.delivery.webhook_admin): added, deleted, a delivery sent again.
WEBHOOK_CREATE = "webhook.create"
WEBHOOK_DELETE = "webhook.delete"
WEBHOOK_REDELIVER = "webhook.redeliver"
ACTIONS: tuple[str, ...] = (
    CAMPAIGN_LAUNCH,
    CAMPAIGN_CLOSE,
    CAMPAIGN_REMIND,
    DEFECTION_RECORD,
    ACCOUNT_TIER_CHANGE,
    ACCOUNT_TEAM_IMPORT,
    STAFF_ADD,
    STAFF_TOKEN_ISSUE,
    STAFF_REVOKE,
    STAFF_LOCALE,
    FOLLOW_UP_UPDATE,
    FOLLOW_UP_RESOLVE,
    FOLLOW_UP_ESCALATE,
    SCHEDULE_CREATE,
    SCHEDULE_PAUSE,
    SCHEDULE_RESUME,
    SCORE_MODEL_CHANGE,
    METRICS_IMPORT,
    WEBHOOK_CREATE,
    WEBHOOK_DELETE,
    WEBHOOK_REDELIVER,
)

ACTOR_MAX_LENGTH = 120  # audit_log.actor
MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit entry as plain values; `details` decoded from its JSON."""

    id: int
    at: datetime
    actor: str | None
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: list[AuditRecord]
    has_next: bool


def record_audit(
    actor: str | None,
    action: str,
    target_type: str | None,
    target_id: int | str | None,
    details: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction (flushes, never commits).

    `actor` is the staff name or a CLI marker such as "cli"; None when unknown.
    `details` must be JSON-serialisable (dates as ISO text).
    """
    entry = AuditEntry(**_entry_values(actor, action, target_type, target_id, details, at))
    db.session.add(entry)
    db.session.flush()
    return entry


def record_audits(
    actor: str | None,
    action: str,
    target_type: str | None,
    targets: Sequence[tuple[int | str | None, dict[str, Any] | None]],
    *,
    at: datetime | None = None,
) -> int:
    """Add one entry per (target_id, details) to the current transaction, with one
    INSERT for all of them (a bulk import's changes); never commits. Returns how many."""
    if not targets:
        return 0
    when = at or utcnow()
    rows = [
        _entry_values(actor, action, target_type, target_id, details, when)
        for target_id, details in targets
    ]
    db.session.execute(insert(AuditEntry), rows)
    return len(rows)


def _entry_values(
    actor: str | None,
    action: str,
    target_type: str | None,
    target_id: int | str | None,
    details: dict[str, Any] | None,
    at: datetime | None,
) -> dict[str, Any]:
    if action not in ACTIONS:
        # A typo here would hide the entry from every filter: fail loudly in tests.
        raise ValueError(f"unknown audit action {action!r}")
    return {
        "at": at or utcnow(),
        "actor": actor[:ACTOR_MAX_LENGTH] if actor else None,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "details": json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
        if details
        else None,
    }


def list_audit(
    *, first: int = 50, before_id: int | None = None, action: str | None = None
) -> AuditPage:
    """Audit entries newest first (keyset: ids below `before_id`), optionally one action.

    Raises InvalidInputError for an unknown action or a page size outside 0..200.
    """
    if action is not None and action not in ACTIONS:
        raise InvalidInputError(
            f"Unknown audit action {action!r}: use one of {', '.join(ACTIONS)}.", field="action"
        )
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"first must be 0 to {MAX_PAGE_SIZE}.", field="first")
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(first + 1)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    rows = list(db.session.scalars(stmt))
    records = [
        AuditRecord(
            id=r.id,
            at=r.at,
            actor=r.actor,
            action=r.action,
            target_type=r.target_type,
            target_id=r.target_id,
            details=json.loads(r.details) if r.details else {},
        )
        for r in rows[:first]
    ]
    return AuditPage(records=records, has_next=len(rows) > first)


def count_audit(*, action: str | None = None) -> int:
    """How many audit entries there are (of one action, when given)."""
    stmt = select(func.count()).select_from(AuditEntry)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    return int(db.session.scalar(stmt) or 0)
