"""Opening a personal survey link and recording the answers, atomically.

No HTTP here: `web/survey_pages.py` turns the domain errors raised below into
pages (404, 410, 409, 422). Every function reads or writes only what it needs,
in as few statements as possible: opening the survey page costs three queries
(invitation, questionnaire aspects, the opened-at update).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import Label

from survey.answers.response_rows import (
    insert_answers,
    insert_reasons,
    insert_response,
    mark_responded,
)
from survey.answers.webhook_events import emit_response_submitted
from survey.clock import utcnow
from survey.data_version import mark_changed
from survey.db import db
from survey.delivery import MailSettings
from survey.errors import AlreadyRespondedError, InvalidInputError, NotFoundError, SurveyClosedError
from survey.follow_ups import DEFAULT_FOLLOW_UP_DAYS, needs_follow_up, open_follow_up
from survey.models import (
    CAMPAIGN_OPEN,
    INVITATION_EXPIRED,
    INVITATION_OPENED,
    INVITATION_PENDING,
    INVITATION_SENT,
    Aspect,
    Campaign,
    Invitation,
    KeyAccount,
    QuestionnaireItem,
    Response,
)
from survey.scale import DISSATISFIED_MAX, Channel, ReasonCode, Satisfaction, normalise_locale
from survey.text import clean_text
from survey.tokens import hash_token, looks_like_token

#: Limits on free text, in characters after stripping surrounding white space.
MAX_COMMENT_LENGTH = 2000
MAX_REASON_TEXT_LENGTH = 500
MAX_ENTERED_BY_LENGTH = 120  # responses.entered_by

_REASON_CODES = frozenset(ReasonCode.codes())
_SCORES = frozenset(int(s) for s in Satisfaction)
_CHANNELS = frozenset(Channel.codes())
# Tab, line feed and carriage return are ordinary typing; other control characters
# are not, and PostgreSQL refuses NUL in text outright.


@dataclass(frozen=True, slots=True)
class InvitationContext:
    """What the survey page needs to know about one personal link."""

    invitation_id: int
    status: str
    locale: str
    account_name: str
    campaign_id: int
    campaign_name: str
    campaign_status: str
    closes_at: datetime
    questionnaire_id: int
    responded: bool
    campaign_kind: str = "satisfaction"  # or "exit": the exit questionnaire


@dataclass(frozen=True, slots=True)
class AspectQuestion:
    """One question of a questionnaire, in both languages."""

    id: int
    code: str
    label_zh: str
    label_en: str
    question_zh: str
    question_en: str

    def label(self, locale: str | None) -> str:
        return self.label_en if normalise_locale(locale) == "en" else self.label_zh

    def question(self, locale: str | None) -> str:
        return self.question_en if normalise_locale(locale) == "en" else self.question_zh


@dataclass(frozen=True, slots=True)
class AnswerInput:
    """A contact's answer to one aspect: the score and, when unhappy, why."""

    score: int
    reasons: Sequence[str] = ()
    reason_text: str | None = None


def invitation_context_columns() -> tuple[Any, ...]:
    """The columns of an `InvitationContext`, in its fields' order: the invitation
    joined with its account (name) and campaign. Callers join KeyAccount and Campaign."""
    return (
        Invitation.id,
        Invitation.status,
        Invitation.locale,
        KeyAccount.name,
        Campaign.id,
        Campaign.name,
        Campaign.status,
        Campaign.closes_at,
        Campaign.questionnaire_id,
        _has_response(),
        Campaign.kind,
    )


def load_invitation(token: str) -> InvitationContext | None:
    """The invitation a link token opens, with its account and campaign, or None.

    Malformed tokens are turned away before touching the database; every unknown
    token gives the same None, so callers cannot tell one from another.
    """
    if not looks_like_token(token):
        return None
    row = db.session.execute(
        select(*invitation_context_columns())
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        .where(Invitation.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        return None
    return InvitationContext(*row)


def _has_response() -> Label[bool]:
    """A correlated EXISTS: has this invitation's response been stored?"""
    return (
        exists()
        .where(Response.invitation_id == Invitation.id)
        .correlate(Invitation)
        .label("responded")
    )


def is_open(ctx: InvitationContext, now: datetime | None = None) -> bool:
    """Whether the link still accepts answers: campaign open, before its closing time,
    and the invitation itself not expired."""
    now = now or utcnow()
    return (
        ctx.campaign_status == CAMPAIGN_OPEN
        and now < ctx.closes_at
        and ctx.status != INVITATION_EXPIRED
    )


#: A questionnaire's questions in order (AspectQuestion's fields), for the bound
#: `questionnaire_id`.
QUESTIONS_OF = (
    select(
        Aspect.id,
        Aspect.code,
        Aspect.label_zh,
        Aspect.label_en,
        Aspect.question_zh,
        Aspect.question_en,
    )
    .join(QuestionnaireItem, QuestionnaireItem.aspect_id == Aspect.id)
    .where(QuestionnaireItem.questionnaire_id == bindparam("questionnaire_id"))
    .order_by(QuestionnaireItem.position, Aspect.id)
)


def questionnaire_questions(questionnaire_id: int) -> list[AspectQuestion]:
    """The questions of a questionnaire in order, as plain values (one query)."""
    rows = db.session.execute(QUESTIONS_OF, {"questionnaire_id": questionnaire_id})
    return [AspectQuestion(*row) for row in rows]


def mark_opened(invitation_id: int, now: datetime | None = None) -> bool:
    """Record the first view of a survey link; later views change nothing.

    One conditional UPDATE, so it is cheap and safe to call on every page view.
    The status moves to "opened" only from pending or sent: a bounced or already
    responded invitation keeps its status. Returns whether this was the first view.
    """
    now = now or utcnow()
    result = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.opened_at.is_(None))
        .values(
            opened_at=now,
            status=case(
                (
                    Invitation.status.in_((INVITATION_PENDING, INVITATION_SENT)),
                    INVITATION_OPENED,
                ),
                else_=Invitation.status,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _CleanAnswer:
    aspect_id: int
    score: int
    reasons: tuple[str, ...]
    reason_text: str | None


def _clean_answers(
    answers: Mapping[str, AnswerInput], aspect_ids: Mapping[str, int]
) -> list[_CleanAnswer]:
    unknown = sorted(set(answers) - set(aspect_ids))
    if unknown:
        raise InvalidInputError(f"unknown aspect: {', '.join(unknown)}", field=unknown[0])
    cleaned: list[_CleanAnswer] = []
    for code, aspect_id in aspect_ids.items():
        answer = answers.get(code)
        if answer is None:
            raise InvalidInputError(f"{code}: a score is required", field=f"{code}.score")
        score = answer.score
        if isinstance(score, bool) or not isinstance(score, int) or score not in _SCORES:
            raise InvalidInputError(f"{code}: the score must be 1 to 5", field=f"{code}.score")
        if score > DISSATISFIED_MAX:
            # "Why" is asked only of dissatisfied answers; anything sent along with a
            # satisfied one (a box ticked before changing the score) is dropped.
            cleaned.append(_CleanAnswer(aspect_id, score, (), None))
            continue
        reasons = tuple(dict.fromkeys(answer.reasons))  # de-duplicated, order kept
        bad = [r for r in reasons if r not in _REASON_CODES]
        if bad:
            raise InvalidInputError(
                f"{code}: unknown reason {', '.join(map(repr, bad))}", field=f"{code}.reasons"
            )
        text = clean_text(
            answer.reason_text, limit=MAX_REASON_TEXT_LENGTH, field=f"{code}.reason_text"
        )
        cleaned.append(_CleanAnswer(aspect_id, score, reasons, text))
    return cleaned


def _aspect_ids(questionnaire_id: int) -> dict[str, int]:
    """The questionnaire's aspect ids by code, in question order (one query)."""
    rows = db.session.execute(
        select(Aspect.code, Aspect.id)
        .join(QuestionnaireItem, QuestionnaireItem.aspect_id == Aspect.id)
        .where(QuestionnaireItem.questionnaire_id == questionnaire_id)
        .order_by(QuestionnaireItem.position, Aspect.id)
    )
    return {code: aspect_id for code, aspect_id in rows}


def response_exists(invitation_id: int) -> bool:
    """Whether the invitation already has a response (one indexed look-up)."""
    return bool(db.session.scalar(select(exists().where(Response.invitation_id == invitation_id))))


@contextmanager
def storing_response(invitation_id: int, now: datetime) -> Iterator[None]:
    """The transaction that stores a response: the writes inside, then the invitation
    marked responded and one commit. The unique constraint on
    `responses.invitation_id` turns a concurrent second response into
    AlreadyRespondedError, with nothing of it stored."""
    try:
        yield
        # The invitation's life cycle changes no figure (survey.data_version.WATCHED).
        mark_responded(db.session.connection(), invitation_id, now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if response_exists(invitation_id):
            raise AlreadyRespondedError("this invitation already has a response") from None
        raise


@dataclass(frozen=True, slots=True)
class AnswerTarget:
    """The campaign an invitation's answers go to."""

    account_id: int
    campaign_id: int
    campaign_kind: str
    questionnaire_id: int
    #: Who at the account the invitation was for; the response is theirs.
    contact_id: int | None = None


def answerable_invitation(invitation_id: int, now: datetime) -> AnswerTarget:
    """Where an invitation's answers go, if it can still be answered.

    NotFoundError for an unknown invitation, SurveyClosedError when the campaign is
    closed or past its closing time (or the invitation expired), and
    AlreadyRespondedError when a response exists: a cheap early answer for the
    common replay; the unique constraint on `responses.invitation_id` decides races.
    """
    row = db.session.execute(
        select(
            Invitation.status,
            Invitation.account_id,
            Campaign.id,
            Campaign.kind,
            Campaign.status,
            Campaign.closes_at,
            Campaign.questionnaire_id,
            Invitation.contact_id,
        )
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        .where(Invitation.id == invitation_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"invitation {invitation_id} does not exist", field="invitation_id")
    (
        status,
        account_id,
        campaign_id,
        kind,
        campaign_status,
        closes_at,
        questionnaire_id,
        contact_id,
    ) = row
    if campaign_status != CAMPAIGN_OPEN or now >= closes_at or status == INVITATION_EXPIRED:
        raise SurveyClosedError("this survey is closed")
    if response_exists(invitation_id):
        raise AlreadyRespondedError("this invitation already has a response")
    return AnswerTarget(account_id, campaign_id, kind, questionnaire_id, contact_id)


def record_response(
    invitation_id: int,
    answers: Mapping[str, AnswerInput],
    *,
    comment: str | None,
    locale: str,
    channel: str = "web",
    entered_by: str | None = None,
    now: datetime | None = None,
    follow_up_days: int = DEFAULT_FOLLOW_UP_DAYS,
    mail: MailSettings | None = None,
) -> int:
    """Store a complete response to an invitation in one transaction; return its id.

    Overall 1-2 or any aspect at 1 also opens a follow-up for the account manager in
    the same transaction (survey.follow_ups), e-mailed through the outbox with `mail`.

    Every aspect of the campaign's questionnaire needs a score from 1 to 5; reasons
    and reason text are kept for scores 1-2 only. Raises NotFoundError for an
    unknown invitation, SurveyClosedError when the campaign no longer accepts
    answers, InvalidInputError for bad input and AlreadyRespondedError when the
    invitation already has a response. The unique constraint on
    `responses.invitation_id` is the real guard: of two concurrent submissions
    exactly one is stored, the other gets AlreadyRespondedError.
    """
    now = now or utcnow()
    target = answerable_invitation(invitation_id, now)
    return store_response(
        invitation_id,
        target,
        answers,
        lambda: _aspect_ids(target.questionnaire_id),
        comment=comment,
        locale=locale,
        channel=channel,
        entered_by=entered_by,
        now=now,
        follow_up_days=follow_up_days,
        mail=mail,
    )


def checked_locale(locale: str, channel: str) -> str:
    """A response's language, normalised; InvalidInputError for an unsupported
    language or an unknown channel."""
    chosen = normalise_locale(locale)
    if chosen is None:
        raise InvalidInputError(f"unsupported locale {locale!r}", field="locale")
    if channel not in _CHANNELS:
        raise InvalidInputError(f"unknown channel {channel!r}", field="channel")
    return chosen


def write_response_row(
    connection: Connection,
    invitation_id: int,
    target: AnswerTarget,
    *,
    now: datetime,
    channel: str,
    locale: str,
    comment: str | None,
    entered_by: str | None,
) -> int:
    """The response's own row, on `connection` inside `storing_response`; its id. The
    row is written past the ORM, so the session is marked as changing the figures
    (survey.data_version bumps the version before COMMIT)."""
    mark_changed(db.session())
    return insert_response(
        connection,
        invitation_id=invitation_id,
        campaign_id=target.campaign_id,
        account_id=target.account_id,
        contact_id=target.contact_id,
        submitted_at=now,
        channel=channel,
        locale=locale,
        comment=comment,
        entered_by=entered_by,
    )


def store_response(
    invitation_id: int,
    target: AnswerTarget,
    answers: Mapping[str, AnswerInput],
    aspect_ids_of: Callable[[], dict[str, int]],
    *,
    comment: str | None,
    locale: str,
    channel: str,
    entered_by: str | None,
    now: datetime,
    follow_up_days: int,
    mail: MailSettings | None,
) -> int:
    """Check the input and write the response, its answers (one multi-row INSERT)
    and their reasons (another) in one transaction; `record_response` without
    finding the invitation, for a caller that has just read it (`target`).

    `aspect_ids_of` gives the questionnaire's aspect ids by code in question order;
    it is called after the locale and channel are checked, so the errors come in
    the same order whatever the caller knew before. Without a follow-up the
    transaction is five statements: the response, answers, reasons, the
    invitation marked responded, the data version; then COMMIT.
    """
    account_id = target.account_id
    chosen_locale = checked_locale(locale, channel)
    aspect_ids = aspect_ids_of()
    if not aspect_ids:
        raise InvalidInputError("this questionnaire has no questions", field="questionnaire")
    cleaned = _clean_answers(answers, aspect_ids)
    comment_text = clean_text(comment, limit=MAX_COMMENT_LENGTH, field="comment")
    staff_name = clean_text(entered_by, limit=MAX_ENTERED_BY_LENGTH, field="entered_by")

    with storing_response(invitation_id, now):
        # On the session's connection and transaction.
        connection = db.session.connection()
        response_id = write_response_row(
            connection,
            invitation_id,
            target,
            now=now,
            channel=channel,
            locale=chosen_locale,
            comment=comment_text,
            entered_by=staff_name,
        )
        # One INSERT with a VALUES row per answer, in questionnaire order, and one
        # with the reasons.
        answer_ids = insert_answers(
            connection,
            [(response_id, a.aspect_id, a.score, a.reason_text) for a in cleaned],
        )
        insert_reasons(
            connection, [(answer_ids[a.aspect_id], reason) for a in cleaned for reason in a.reasons]
        )
        emit_response_submitted(response_id, account_id)  # webhooks, same transaction
        # `cleaned` is in questionnaire order, as `aspect_ids` is.
        if needs_follow_up(dict(zip(aspect_ids, (a.score for a in cleaned), strict=True))):
            open_follow_up(response_id, now=now, follow_up_days=follow_up_days, mail=mail)
    return response_id
