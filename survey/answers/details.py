"""One response as the console shows it: who answered (account, campaign, the
respondent's role), when and how, every answer with its reasons, and the comment.
Three statements, whatever the number of answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from survey.answers.lookups import answers_of_responses
from survey.db import db
from survey.errors import NotFoundError
from survey.models import Campaign, Contact, KeyAccount, Response

#: Ids are positive BIGINTs: anything else cannot name a response.
_MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class AnswerDetail:
    aspect: str
    aspect_label_zh: str
    aspect_label_en: str
    score: int
    #: Reason codes (ReasonCode), in code order.
    reasons: tuple[str, ...]
    reason_text: str | None

    def aspect_label(self, locale: str) -> str:
        return self.aspect_label_en if locale == "en" else self.aspect_label_zh


@dataclass(frozen=True, slots=True)
class ResponseDetails:
    id: int
    submitted_at: datetime
    channel: str
    locale: str
    comment: str | None
    #: Who typed a phone response in (None for the customer's own web response).
    entered_by: str | None
    account_id: int
    account_external_id: str
    account_name: str
    campaign_id: int
    campaign_name: str
    campaign_kind: str
    #: The respondent's role (ContactRole code), None when the response has no contact.
    contact_role: str | None
    #: In questionnaire order.
    answers: tuple[AnswerDetail, ...]


def get_response_details(response_id: int) -> ResponseDetails:
    """The response with this id; NotFoundError when there is none."""
    row = None
    if 0 < response_id <= _MAX_ID:
        row = db.session.execute(
            select(
                Response.id,
                Response.submitted_at,
                Response.channel,
                Response.locale,
                Response.comment,
                Response.entered_by,
                KeyAccount.id,
                KeyAccount.external_id,
                KeyAccount.name,
                Campaign.id,
                Campaign.name,
                Campaign.kind,
                Contact.role,
            )
            .join(KeyAccount, KeyAccount.id == Response.account_id)
            .join(Campaign, Campaign.id == Response.campaign_id)
            .outerjoin(Contact, Contact.id == Response.contact_id)
            .where(Response.id == response_id)
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"There is no response with ID {response_id}.", field="id")
    answers = tuple(
        AnswerDetail(
            aspect=answer.aspect,
            aspect_label_zh=answer.label_zh,
            aspect_label_en=answer.label_en,
            score=answer.score,
            reasons=tuple(answer.reasons),
            reason_text=answer.reason_text,
        )
        for answer in answers_of_responses([response_id]).get(response_id, [])
    )
    return ResponseDetails(*row, answers=answers)
