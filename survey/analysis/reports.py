"""Figures for the manager console that the API does not already have: a campaign's
funnel, its response rate per stratum, the rows of its responses export, and the
names behind account ids.

Summaries, drill-downs, defection reasons and at-risk accounts live in
`survey.analytics` and are reused as they are; SQL does the counting here too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, or_, select

from survey.db import db
from survey.errors import NotFoundError
from survey.models import (
    INVITATION_BOUNCED,
    INVITATION_EXPIRED,
    Answer,
    AnswerReason,
    Aspect,
    Campaign,
    CampaignStratum,
    Invitation,
    KeyAccount,
    QuestionnaireItem,
    Response,
)


@dataclass(frozen=True, slots=True)
class Funnel:
    """How far a campaign's invitations got. Each stage counts the invitations that
    reached it or a later one (an answered link was also sent and opened), so the
    numbers never grow down the funnel; `bounced` and `expired` stand apart."""

    sampled: int
    sent: int
    opened: int
    responded: int
    bounced: int
    expired: int

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.sampled if self.sampled else None


def _funnel_columns() -> list[object]:
    responded = Response.id.is_not(None)
    opened = or_(Invitation.opened_at.is_not(None), responded)
    sent = or_(Invitation.sent_at.is_not(None), opened)
    return [
        func.count(Invitation.id),
        func.coalesce(func.sum(case((sent, 1), else_=0)), 0),
        func.coalesce(func.sum(case((opened, 1), else_=0)), 0),
        func.count(Response.id),
        func.coalesce(func.sum(case((Invitation.status == INVITATION_BOUNCED, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Invitation.status == INVITATION_EXPIRED, 1), else_=0)), 0),
    ]


def campaign_funnel(campaign_id: int) -> Funnel:
    """The funnel of one campaign (one query); NotFoundError if there is no such campaign."""
    row = db.session.execute(
        select(Campaign.id, *_funnel_columns())
        .select_from(Campaign)
        .outerjoin(Invitation, Invitation.campaign_id == Campaign.id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(Campaign.id == campaign_id)
        .group_by(Campaign.id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    return Funnel(*(int(v) for v in row[1:]))


@dataclass(frozen=True, slots=True)
class StratumProgress:
    """One stratum of a campaign: its frame and allocation at launch, and how many of
    the sampled accounts have answered."""

    key: str
    frame: int
    allocated: int
    sampled: int
    responded: int

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.sampled if self.sampled else None


def stratum_progress(campaign_id: int) -> list[StratumProgress]:
    """Response rate per stratum, in stratum key order (two queries: the allocation
    recorded at launch, and invitations with responses GROUP BY stratum)."""
    allocation = db.session.execute(
        select(CampaignStratum.key, CampaignStratum.frame, CampaignStratum.size)
        .where(CampaignStratum.campaign_id == campaign_id)
        .order_by(CampaignStratum.key)
    ).all()
    counts = {
        (key or ""): (int(sampled), int(responded))
        for key, sampled, responded in db.session.execute(
            select(Invitation.stratum, func.count(Invitation.id), func.count(Response.id))
            .outerjoin(Response, Response.invitation_id == Invitation.id)
            .where(Invitation.campaign_id == campaign_id)
            .group_by(Invitation.stratum)
        )
    }
    result: list[StratumProgress] = []
    seen: set[str] = set()
    for key, frame, size in allocation:
        # A simple sample has one allocation row ("all") and invitations without stratum.
        stratum = key if key in counts else ("" if len(allocation) == 1 else key)
        sampled, responded = counts.get(stratum, (0, 0))
        seen.add(stratum)
        result.append(StratumProgress(key, int(frame), int(size), sampled, responded))
    for key in sorted(set(counts) - seen):  # invitations added outside the allocation
        sampled, responded = counts[key]
        result.append(StratumProgress(key, 0, 0, sampled, responded))
    return result


@dataclass(frozen=True, slots=True)
class AccountBrief:
    id: int
    external_id: str
    name: str
    tier: str
    value_type: str
    region: str
    account_manager: str
    annual_revenue: int | None = None


def account_briefs(account_ids: Sequence[int]) -> dict[int, AccountBrief]:
    """Names and kinds of the given accounts by id (one query)."""
    if not account_ids:
        return {}
    rows = db.session.execute(
        select(
            KeyAccount.id,
            KeyAccount.external_id,
            KeyAccount.name,
            KeyAccount.tier,
            KeyAccount.value_type,
            KeyAccount.region,
            KeyAccount.account_manager,
            KeyAccount.annual_revenue,
        ).where(KeyAccount.id.in_(list(account_ids)))
    ).all()
    return {row[0]: AccountBrief(*row) for row in rows}


@dataclass(frozen=True, slots=True)
class ExportAnswer:
    score: int
    reasons: list[str]
    reason_text: str | None


@dataclass(slots=True)
class ExportResponse:
    """One response with its account and its answers by aspect code."""

    response_id: int
    submitted_at: datetime
    channel: str
    locale: str
    entered_by: str | None
    comment: str | None
    account: AccountBrief
    answers: dict[str, ExportAnswer] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResponsesExport:
    """Every response of a campaign; `aspects` are (code, zh, en) in questionnaire order."""

    aspects: list[tuple[str, str, str]]
    responses: list[ExportResponse]


def campaign_responses(campaign_id: int) -> ResponsesExport:
    """The responses of a campaign for a spreadsheet, oldest first (four queries,
    whatever the number of responses). NotFoundError if there is no such campaign."""
    questionnaire_id = db.session.scalar(
        select(Campaign.questionnaire_id).where(Campaign.id == campaign_id)
    )
    if questionnaire_id is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    aspects = [
        (code, zh, en)
        for code, zh, en in db.session.execute(
            select(Aspect.code, Aspect.label_zh, Aspect.label_en)
            .join(QuestionnaireItem, QuestionnaireItem.aspect_id == Aspect.id)
            .where(QuestionnaireItem.questionnaire_id == questionnaire_id)
            .order_by(QuestionnaireItem.position, Aspect.position)
        )
    ]
    responses: dict[int, ExportResponse] = {}
    for row in db.session.execute(
        select(
            Response.id,
            Response.submitted_at,
            Response.channel,
            Response.locale,
            Response.entered_by,
            Response.comment,
            KeyAccount.id,
            KeyAccount.external_id,
            KeyAccount.name,
            KeyAccount.tier,
            KeyAccount.value_type,
            KeyAccount.region,
            KeyAccount.account_manager,
        )
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .where(Response.campaign_id == campaign_id)
        .order_by(Response.submitted_at, Response.id)
    ):
        responses[row[0]] = ExportResponse(*row[:6], account=AccountBrief(*row[6:]))
    if responses:
        in_campaign = Response.campaign_id == campaign_id
        reasons: dict[int, list[str]] = defaultdict(list)
        for answer_id, reason in db.session.execute(
            select(AnswerReason.answer_id, AnswerReason.reason)
            .join(Answer, Answer.id == AnswerReason.answer_id)
            .join(Response, Response.id == Answer.response_id)
            .where(in_campaign)
            .order_by(AnswerReason.answer_id, AnswerReason.reason)
        ):
            reasons[answer_id].append(reason)
        for answer_id, response_id, code, score, text in db.session.execute(
            select(Answer.id, Answer.response_id, Aspect.code, Answer.score, Answer.reason_text)
            .join(Response, Response.id == Answer.response_id)
            .join(Aspect, Aspect.id == Answer.aspect_id)
            .where(in_campaign)
        ):
            responses[response_id].answers[code] = ExportAnswer(
                int(score), reasons.get(answer_id, []), text
            )
    return ResponsesExport(aspects=aspects, responses=list(responses.values()))
