"""`response.submitted`: the payload of a stored response, for webhooks.

`record_response` makes one call, `emit_response_submitted(response_id, account_id)`,
inside its transaction, before a follow-up case is opened (so an endpoint hears the
response first, then `follow_up.opened` with its `response_id`); the payload is built
(four small queries) only when an endpoint subscribes. Exit-survey responses
(`record_exit_response`) send the same event with an `exit` block."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from survey.db import db
from survey.events import RESPONSE_SUBMITTED, emit
from survey.models import (
    KIND_EXIT,
    Answer,
    AnswerReason,
    Aspect,
    Campaign,
    Contact,
    ExitFeedback,
    QuestionnaireItem,
    Response,
)
from survey.registry import account_block
from survey.scale import OVERALL, Satisfaction


def response_payload(response_id: int) -> dict[str, Any]:
    """The response: account, contact role, campaign, overall and every aspect's score
    (questionnaire order), the dissatisfied aspects (1-2) with their reasons."""
    head = db.session.execute(
        select(
            Response.id,
            Response.account_id,
            Response.submitted_at,
            Response.channel,
            Response.locale,
            Response.comment,
            Campaign.id.label("campaign_id"),
            Campaign.name.label("campaign_name"),
            Campaign.kind.label("campaign_kind"),
            Campaign.questionnaire_id,
            Contact.id.label("contact_id"),
            Contact.role.label("contact_role"),
        )
        .join(Campaign, Campaign.id == Response.campaign_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(Response.id == response_id)
    ).one()
    answers = db.session.execute(
        select(Answer.id, Aspect.code, Answer.score, Answer.reason_text)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .outerjoin(
            QuestionnaireItem,
            (QuestionnaireItem.aspect_id == Aspect.id)
            & (QuestionnaireItem.questionnaire_id == head.questionnaire_id),
        )
        .where(Answer.response_id == response_id)
        .order_by(QuestionnaireItem.position, Aspect.id)
    ).all()
    reasons: dict[int, list[str]] = {}
    for answer_id, reason in db.session.execute(
        select(AnswerReason.answer_id, AnswerReason.reason)
        .where(AnswerReason.answer_id.in_([a.id for a in answers]))
        .order_by(AnswerReason.answer_id, AnswerReason.reason)
    ):
        reasons.setdefault(answer_id, []).append(reason)
    scores = {a.code: a.score for a in answers}
    payload: dict[str, Any] = {
        "account": account_block(head.account_id),
        "contact": {"id": head.contact_id, "role": head.contact_role},
        "campaign": {
            "id": head.campaign_id,
            "name": head.campaign_name,
            "kind": head.campaign_kind,
        },
        "response": {
            "id": head.id,
            "submitted_at": head.submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channel": head.channel,
            "locale": head.locale,
            "comment": head.comment,
            "overall": scores.get(OVERALL),
            "scores": scores,
            "dissatisfied": [
                {
                    "aspect": a.code,
                    "score": a.score,
                    "reasons": reasons.get(a.id, []),
                    "reason_text": a.reason_text,
                }
                for a in answers
                if a.score <= Satisfaction.SOMEWHAT_DISSATISFIED
            ],
        },
    }
    if head.campaign_kind == KIND_EXIT:
        payload["exit"] = _exit_answers(response_id)
    return payload


def _exit_answers(response_id: int) -> dict[str, Any] | None:
    """A lost account's exit-survey answers: why it left, what would have kept it."""
    row = db.session.execute(
        select(
            ExitFeedback.main_reason,
            ExitFeedback.other_reasons,
            ExitFeedback.what_would_have_kept,
            ExitFeedback.would_return,
        ).where(ExitFeedback.response_id == response_id)
    ).one_or_none()
    if row is None:
        return None
    return {
        "main_reason": row.main_reason,
        "other_reasons": [r for r in (row.other_reasons or "").split(",") if r],
        "what_would_have_kept": row.what_would_have_kept,
        "would_return": row.would_return,
    }


def emit_response_submitted(response_id: int, account_id: int) -> str | None:
    """`response.submitted` in the caller's transaction (nothing when nobody listens)."""
    return emit(RESPONSE_SUBMITTED, lambda: response_payload(response_id), account_id=account_id)


__all__ = ["emit_response_submitted", "response_payload"]
