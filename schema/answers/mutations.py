"""Managers enter the answers an account gave on the phone.

The services (survey.answers) validate, write and commit in one transaction; a
service error rolls back, so bad input changes nothing.
"""

from __future__ import annotations

import strawberry
from flask import current_app

from survey import models as m
from survey.answers import (
    AnswerInput,
    ExitAnswers,
    record_exit_response,
    record_response,
    response_by_id,
)
from survey.campaigns import campaign_kind, invitation_by_id
from survey.delivery import MailSettings
from survey.scale import Channel

from ..context import Info
from ..errors import bad_input, service_errors
from ..permissions import IsManager
from ..scalars import ReasonCode, parse_id
from .types import Response, WouldReturn, build_responses

PHONE_FIELDS = {
    "invitation_id": "invitationId",
    "comment": "comment",
    "main_reason": "exit.mainReason",
    "other_reasons": "exit.otherReasons",
    "what_would_have_kept": "exit.whatWouldHaveKept",
    "would_return": "exit.wouldReturn",
}


@strawberry.input(description="One aspect's answer given on the phone.")
class PhoneAnswerInput:
    aspect: str = strawberry.field(description='The aspect code, e.g. "delivery".')
    score: int = strawberry.field(description="1 (very dissatisfied) to 5 (very satisfied).")
    reasons: list[ReasonCode] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="Why, for scores 1-2."
    )
    reason_text: str | None = None


@strawberry.input(description="An exit-survey answer given on the phone.")
class PhoneExitInput:
    main_reason: ReasonCode  # type: ignore[valid-type]
    other_reasons: list[ReasonCode] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list
    )
    what_would_have_kept: str | None = None
    would_return: WouldReturn | None = None


@strawberry.input(
    description="A phone interview: `answers` for a satisfaction survey, `exit` for an exit survey."
)
class RecordPhoneResponseInput:
    invitation_id: strawberry.ID
    answers: list[PhoneAnswerInput] = strawberry.field(default_factory=list)
    exit: PhoneExitInput | None = None
    comment: str | None = None


@strawberry.type
class PhoneResponseMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Store the answers an account gave on the phone (channel PHONE, entered "
        "by you; manager or admin).",
    )
    def record_phone_response(self, info: Info, input: RecordPhoneResponseInput) -> Response:
        invitation_id = parse_id(input.invitation_id, "invitationId")
        invitation = invitation_by_id(invitation_id)
        if invitation is None:
            raise bad_input(f"There is no invitation with ID {invitation_id}.", "invitationId")
        kind = campaign_kind(invitation.campaign_id)
        with service_errors(PHONE_FIELDS):
            if kind == m.KIND_EXIT:
                if input.exit is None or input.answers:
                    raise bad_input("An exit survey takes `exit`, not `answers`.", "exit")
                response_id = record_exit_response(
                    invitation_id,
                    ExitAnswers(
                        main_reason=input.exit.main_reason.value,
                        other_reasons=[r.value for r in input.exit.other_reasons],
                        what_would_have_kept=input.exit.what_would_have_kept,
                        would_return=input.exit.would_return.value
                        if input.exit.would_return is not None
                        else None,
                        comment=input.comment,
                    ),
                    locale=invitation.locale,
                    channel=Channel.PHONE.value,
                    entered_by=info.context.staff_name,
                )
            else:
                if input.exit is not None:
                    raise bad_input("A satisfaction survey takes `answers`, not `exit`.", "exit")
                codes = [a.aspect for a in input.answers]
                if len(set(codes)) != len(codes):
                    raise bad_input("Each aspect may be answered once.", "answers")
                response_id = record_response(
                    invitation_id,
                    {
                        a.aspect: AnswerInput(
                            score=a.score,
                            reasons=tuple(r.value for r in a.reasons),
                            reason_text=a.reason_text,
                        )
                        for a in input.answers
                    },
                    comment=input.comment,
                    locale=invitation.locale,
                    channel=Channel.PHONE.value,
                    entered_by=info.context.staff_name,
                    follow_up_days=current_app.config["FOLLOW_UP_DAYS"],
                    mail=MailSettings.from_config(current_app.config),
                )
        return build_responses([response_by_id(response_id)], info.context.locale)[0]
