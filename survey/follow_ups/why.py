"""Why a follow-up case was opened: the aspects its response scored 1-2 (with score,
reasons and reason text), the response's comment and who answered, for any number of
cases in two queries. `complaints_of_responses` reads the 1-2 answers of any
responses (the defection precursors read a lost account's last ones through it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from survey.db import db
from survey.models import (
    Answer,
    AnswerReason,
    Aspect,
    Contact,
    FollowUp,
    KeyAccount,
    Response,
)
from survey.scale import DISSATISFIED_MAX, ContactRole, ReasonCode, Satisfaction


@dataclass(frozen=True, slots=True)
class WhyReason:
    """A reason code the customer chose, with its label in the request's language."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class WhyAspect:
    """One aspect scored 1-2 in the response that opened the case."""

    aspect: str
    label: str
    score: int
    score_label: str
    reasons: tuple[WhyReason, ...]
    reason_text: str | None


@dataclass(frozen=True, slots=True)
class CaseWhy:
    """Why a case was opened, and where it came from (response, account)."""

    follow_up_id: int
    response_id: int
    account_id: int
    account_name: str
    external_id: str
    aspects: tuple[WhyAspect, ...]
    comment: str | None
    #: The respondent's role (survey.scale.ContactRole); None for old responses.
    respondent_role: str | None
    respondent_role_label: str | None


def reason_label(code: str, locale: str) -> str:
    try:
        return ReasonCode(code).label(locale)
    except ValueError:
        return code


def role_label(code: str | None, locale: str) -> str | None:
    if code is None:
        return None
    try:
        return ContactRole(code).label(locale)
    except ValueError:
        return code


@dataclass(frozen=True, slots=True)
class Complaint:
    """An aspect a response rated 1-2, with the reasons ticked and the text written."""

    aspect: str
    label_zh: str
    label_en: str
    score: int
    reasons: list[str]
    reason_text: str | None

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh


def complaints_of_responses(response_ids: Iterable[int]) -> dict[int, list[Complaint]]:
    """The answers scored 1-2 of each response, in questionnaire order, with their
    reason codes in code order. One query; responses without any are left out."""
    ids = list(dict.fromkeys(response_ids))
    found: dict[int, list[Complaint]] = defaultdict(list)
    if not ids:
        return found
    for response_id, code, zh, en, score, text, reason in db.session.execute(
        select(
            Answer.response_id,
            Aspect.code,
            Aspect.label_zh,
            Aspect.label_en,
            Answer.score,
            Answer.reason_text,
            AnswerReason.reason,
        )
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .outerjoin(AnswerReason, AnswerReason.answer_id == Answer.id)
        .where(Answer.response_id.in_(ids), Answer.score <= DISSATISFIED_MAX)
        .order_by(Answer.response_id, Aspect.position, Aspect.code, AnswerReason.reason)
    ):
        rows = found[response_id]
        if not rows or rows[-1].aspect != code:
            rows.append(Complaint(code, zh, en, int(score), [], text))
        if reason is not None:
            rows[-1].reasons.append(reason)
    return found


def complaints_by_response(
    response_ids: Iterable[int], locale: str
) -> dict[int, tuple[WhyAspect, ...]]:
    """The answers scored 1-2 of each response, in questionnaire order, with their
    reasons; labels in `locale`. One query."""
    return {
        response_id: tuple(
            WhyAspect(
                aspect=c.aspect,
                label=c.label(locale),
                score=c.score,
                score_label=Satisfaction(c.score).label(locale),
                reasons=tuple(WhyReason(r, reason_label(r, locale)) for r in c.reasons),
                reason_text=c.reason_text,
            )
            for c in complaints
        )
        for response_id, complaints in complaints_of_responses(response_ids).items()
    }


def why_for_cases(follow_up_ids: Iterable[int], locale: str) -> dict[int, CaseWhy]:
    """Why each case was opened, by case id (unknown ids are left out); labels in
    `locale`. Two queries whatever the number of cases."""
    ids = list(dict.fromkeys(follow_up_ids))
    if not ids:
        return {}
    heads = db.session.execute(
        select(
            FollowUp.id,
            FollowUp.response_id,
            FollowUp.account_id,
            KeyAccount.name,
            KeyAccount.external_id,
            Response.comment,
            Contact.role,
        )
        .join(Response, Response.id == FollowUp.response_id)
        .join(KeyAccount, KeyAccount.id == FollowUp.account_id)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(FollowUp.id.in_(ids))
    ).all()
    complaints = complaints_by_response((h.response_id for h in heads), locale)
    return {
        h.id: CaseWhy(
            follow_up_id=h.id,
            response_id=h.response_id,
            account_id=h.account_id,
            account_name=h.name,
            external_id=h.external_id,
            aspects=complaints.get(h.response_id, ()),
            comment=h.comment,
            respondent_role=h.role,
            respondent_role_label=role_label(h.role, locale),
        )
        for h in heads
    }


__all__ = [
    "CaseWhy",
    "Complaint",
    "WhyAspect",
    "WhyReason",
    "complaints_by_response",
    "complaints_of_responses",
    "reason_label",
    "role_label",
    "why_for_cases",
]
