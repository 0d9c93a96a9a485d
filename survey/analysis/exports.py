"""A campaign's responses for a spreadsheet: each response with its account and
its answers by aspect, in four queries whatever the number of responses."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from survey.analysis.briefs import BRIEF_COLUMNS, AccountBrief
from survey.analysis.filters import Dimension, group_column
from survey.db import db
from survey.errors import NotFoundError
from survey.models import (
    Answer,
    AnswerReason,
    Aspect,
    Campaign,
    Contact,
    Invitation,
    KeyAccount,
    QuestionnaireItem,
    Response,
)
from survey.scale import ContactRole


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
    #: The respondent's role (ContactRole code; "other" for a response without contact),
    #: as Dimension.CONTACT_ROLE groups it.
    contact_role: str = ContactRole.OTHER.value
    #: The inclusion probability π its invitation recorded (Weight.DESIGN weighs 1/π).
    inclusion_probability: float | None = None


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
            *BRIEF_COLUMNS,
            group_column(Dimension.CONTACT_ROLE),
            Invitation.inclusion_probability,
        )
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(Response.campaign_id == campaign_id)
        .order_by(Response.submitted_at, Response.id)
    ):
        responses[row[0]] = ExportResponse(
            *row[:6],
            account=AccountBrief(*row[6:-2]),
            contact_role=row[-2],
            inclusion_probability=row[-1],
        )
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
