"""Follow-up cases, why they were opened, their notes, and the recovery they bring."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from survey import analysis, follow_ups, scale
from survey import models as m
from survey.answers import responses_by_ids
from survey.clock import utcnow
from survey.registry import accounts_by_ids

from ..answers.types import Response, build_responses
from ..context import Info
from ..loaders import Batch
from ..registry.types import Account, build_accounts
from ..scalars import ReasonCode, reason_enum


@strawberry.enum(description="Where a follow-up case stands.")
class FollowUpStatus(Enum):
    OPEN = m.FOLLOW_UP_OPEN
    CONTACTED = m.FOLLOW_UP_CONTACTED
    ESCALATED = m.FOLLOW_UP_ESCALATED
    RESOLVED = m.FOLLOW_UP_RESOLVED


@strawberry.type(description="A change of a follow-up case: who, when, which status, what.")
class FollowUpNote:
    at: datetime
    author: str | None
    status: FollowUpStatus | None
    text: str | None


@strawberry.type(description="A reason the customer chose, with its label.")
class WhyReason:
    code: ReasonCode  # type: ignore[valid-type]
    label: str


@strawberry.type(description="An aspect the response that opened the case scored 1-2.")
class WhyAspect:
    aspect: str
    label: str
    score: int
    score_label: str
    reasons: list[WhyReason]
    reason_text: str | None


@strawberry.type(description="Why a follow-up case was opened.")
class FollowUpWhy:
    aspects: list[WhyAspect]
    comment: str | None
    respondent_role: str | None = strawberry.field(
        description="The respondent's role at the account (decision_maker, purchaser, user, "
        "technical, finance, other); null for responses without a contact."
    )
    respondent_role_label: str | None
    response_id: strawberry.ID
    account_id: strawberry.ID
    account_external_id: str


def build_why(why: follow_ups.CaseWhy) -> FollowUpWhy:
    return FollowUpWhy(
        aspects=[
            WhyAspect(
                aspect=a.aspect,
                label=a.label,
                score=a.score,
                score_label=a.score_label,
                reasons=[WhyReason(code=reason_enum(r.code), label=r.label) for r in a.reasons],
                reason_text=a.reason_text,
            )
            for a in why.aspects
        ],
        comment=why.comment,
        respondent_role=why.respondent_role,
        respondent_role_label=why.respondent_role_label,
        response_id=strawberry.ID(str(why.response_id)),
        account_id=strawberry.ID(str(why.account_id)),
        account_external_id=why.external_id,
    )


@strawberry.type(description="A case for the account manager after a very dissatisfied answer.")
class FollowUp:
    id: strawberry.ID
    account: Account
    response: Response
    owner: str
    status: FollowUpStatus
    opened_at: datetime
    due_at: datetime
    contacted_at: datetime | None
    resolved_at: datetime | None
    overdue: bool = strawberry.field(description="Not resolved and past its due date.")
    escalated_at: datetime | None = strawberry.field(
        description="When the case was escalated (still unresolved ESCALATE_AFTER_DAYS "
        "after its due date); an escalated case is never escalated again."
    )
    escalated_to: str | None = strawberry.field(
        description="Who it was escalated to: the executive sponsor, or the administrators."
    )
    root_cause: ReasonCode | None = strawberry.field(  # type: ignore[valid-type]
        description="Why it happened, given when the case was resolved."
    )
    root_cause_note: str | None
    notes: list[FollowUpNote]
    pk: strawberry.Private[int]
    batch: strawberry.Private[Batch]

    @strawberry.field(description="Why the case was opened (loaded for the whole page at once).")
    def why(self, info: Info) -> FollowUpWhy | None:
        locale = info.context.locale
        found = self.batch.get(("why", locale), lambda ids: follow_ups.why_for_cases(ids, locale))
        why = found.get(self.pk)
        return build_why(why) if why is not None else None


@strawberry.type(description="Resolved cases with one root cause, and what became of them.")
class RootCauseOutcome:
    root_cause: ReasonCode  # type: ignore[valid-type]
    label: str
    cases: int
    accounts: int
    defected: int = strawberry.field(
        description="Accounts that left on or after the day their case was resolved."
    )
    answered_again: int
    recovered: int = strawberry.field(
        description="Accounts whose next overall score was better than at the response "
        "that opened the case."
    )


@strawberry.type(
    description="Accounts with a resolved follow-up and a later response: how their overall "
    "score moved from the response that opened the case to the next one."
)
class Recovery:
    accounts: int
    improved: int
    unchanged: int
    worse: int
    mean_change: float | None

    @strawberry.field(description="Resolved cases by root cause, most cases first.")
    def by_root_cause(self, info: Info) -> list[RootCauseOutcome]:
        return [
            RootCauseOutcome(
                root_cause=reason_enum(r.root_cause),
                label=_reason_label(r.root_cause, info.context.locale),
                cases=r.cases,
                accounts=r.accounts,
                defected=r.defected,
                answered_again=r.answered_again,
                recovered=r.recovered,
            )
            for r in analysis.root_cause_breakdown()
        ]


def _reason_label(code: str, locale: str) -> str:
    try:
        return scale.ReasonCode(code).label(locale)
    except ValueError:
        return code


def build_follow_ups(rows: list[m.FollowUp], locale: str) -> list[FollowUp]:
    """Follow-up types for rows whose notes are loaded: two queries for their accounts
    and responses (with the responses' accounts and campaigns joined)."""
    if not rows:
        return []
    account_rows = accounts_by_ids({r.account_id for r in rows})
    accounts = {a.pk: a for a in build_accounts(list(account_rows.values()))}
    response_rows = responses_by_ids({r.response_id for r in rows})
    responses = {r.pk: r for r in build_responses(response_rows, locale)}
    now = utcnow()
    batch = Batch(r.id for r in rows)
    return [
        FollowUp(
            id=strawberry.ID(str(r.id)),
            account=accounts[r.account_id],
            response=responses[r.response_id],
            owner=r.owner,
            status=FollowUpStatus(r.status),
            opened_at=r.opened_at,
            due_at=r.due_at,
            contacted_at=r.contacted_at,
            resolved_at=r.resolved_at,
            overdue=follow_ups.is_overdue(r.status, r.due_at, now),
            escalated_at=r.escalated_at,
            escalated_to=r.escalated_to,
            root_cause=reason_enum(r.root_cause) if r.root_cause else None,
            root_cause_note=r.root_cause_note,
            notes=[
                FollowUpNote(
                    at=n.at,
                    author=n.author,
                    status=FollowUpStatus(n.status) if n.status else None,
                    text=n.text,
                )
                for n in r.notes
            ],
            pk=r.id,
            batch=batch,
        )
        for r in rows
    ]
