"""Mutation root: managers launch and close campaigns and record lost accounts.

Resolvers call the same services as the CLI (survey.campaigns, survey.accounts),
which validate, write and commit in one transaction. A refused role never reaches
the resolver (permissions), and a service error rolls back, so bad input changes
nothing. Service field names are translated to this API's input names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

import strawberry
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from survey import analysis
from survey import models as m
from survey.answers import AnswerInput, ExitAnswers, record_exit_response, record_response
from survey.campaigns import (
    ALL_STRATUM,
    DEFAULT_DEFECTED_WITHIN_DAYS,
    CampaignRequest,
    close_campaign,
    launch_campaign,
)
from survey.clock import utcnow
from survey.db import db
from survey.delivery import MailSettings, queue_reminders
from survey.errors import DomainError, NotFoundError
from survey.registry import record_defection
from survey.scale import Channel

from .context import Info
from .errors import bad_input
from .insights import FollowUpMutation
from .permissions import IsManager
from .types import (
    BigInt,
    Campaign,
    CampaignKind,
    Defection,
    Dimension,
    ReasonCode,
    Response,
    WouldReturn,
    build_accounts,
    build_campaigns,
    build_defection,
    build_responses,
    domain_dimension,
    parse_id,
)

#: The dimensions a sample can be stratified by, and the service's names for them.
STRATIFY_BY = {
    analysis.Dimension.TIER: "tier",
    analysis.Dimension.VALUE_TYPE: "value_type",
    analysis.Dimension.RELATIONSHIP_STAGE: "relationship_stage",
    analysis.Dimension.REGION: "region",
}

LAUNCH_FIELDS = {
    "size": "sampleSize",
    "fraction": "sampleFraction",
    "stratify_by": "stratifyBy",
    "exclude_days": "excludeSurveyedWithinDays",
    "closes_at": "closesAt",
    "closes_in_days": "closesInDays",
    "campaign_id": "id",
    "kind": "kind",
    "defected_within_days": "defectedWithinDays",
    "target_margin": "targetMarginOfError",
    "expected_response_rate": "expectedResponseRate",
}
REMIND_FIELDS = {"campaign_id": "campaignId", "after_days": "afterDays"}
PHONE_FIELDS = {
    "invitation_id": "invitationId",
    "comment": "comment",
    "main_reason": "exit.mainReason",
    "other_reasons": "exit.otherReasons",
    "what_would_have_kept": "exit.whatWouldHaveKept",
    "would_return": "exit.wouldReturn",
}
DEFECTION_FIELDS = {
    "account": "accountId",
    "account_id": "accountId",
    "external_id": "accountId",
    "defected_on": "defectedOn",
    "reasons": "primaryReason",
    "lost_annual_revenue": "lostAnnualRevenue",
}


@contextmanager
def _service_errors(fields: dict[str, str]) -> Iterator[None]:
    """Roll back on any failure; name fields as the API does; an unknown id given
    as input is the caller's mistake (BAD_USER_INPUT), as the contract says."""
    try:
        yield
    except DomainError as exc:
        db.session.rollback()
        field = fields.get(exc.field or "", exc.field)
        if isinstance(exc, NotFoundError):
            raise bad_input(exc.message, field) from exc
        exc.field = field
        raise
    except BaseException:
        db.session.rollback()
        raise


@strawberry.input
class LaunchCampaignInput:
    name: str
    sample_size: int | None = strawberry.field(
        default=None, description="How many accounts to draw; or give sampleFraction."
    )
    sample_fraction: float | None = strawberry.field(
        default=None, description="Share of the frame to draw, in (0, 1]; or sampleSize."
    )
    stratify_by: Dimension | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="TIER, VALUE_TYPE, RELATIONSHIP_STAGE or REGION."
    )
    seed: BigInt | None = strawberry.field(
        default=None, description="Fix it to draw the same sample again."
    )
    exclude_surveyed_within_days: int = strawberry.field(
        default=90, description="Leave out accounts invited this many days back."
    )
    closes_at: datetime | None = strawberry.field(
        default=None, description="With a time zone; default closesInDays from now."
    )
    closes_in_days: int = 14
    dry_run: bool = strawberry.field(
        default=False, description="Draw and report the sample without writing anything."
    )
    kind: CampaignKind = strawberry.field(
        default=CampaignKind.SATISFACTION,
        description="EXIT samples accounts lost within defectedWithinDays and asks why they left.",
    )
    defected_within_days: int = strawberry.field(
        default=DEFAULT_DEFECTED_WITHIN_DAYS, description="EXIT campaigns: the defection window."
    )
    target_margin_of_error: float | None = strawberry.field(
        default=None,
        description="Or: draw the fewest accounts whose expected 95% margin of error reaches "
        "this (e.g. 0.05), at most the whole frame.",
    )
    expected_response_rate: float | None = strawberry.field(
        default=None,
        description="Share of invited accounts expected to answer, (0, 1]; default: the mean "
        "of closed campaigns, else 0.3.",
    )


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
class SampleAllocation:
    key: str
    label: str
    frame: int
    size: int


@strawberry.type
class ExclusionCount:
    reason: str
    count: int


@strawberry.type
class LaunchCampaignPayload:
    campaign: Campaign | None = strawberry.field(description="Null on a dry run.")
    sampled: int
    frame_size: int
    seed: BigInt
    method: str
    allocation: list[SampleAllocation]
    excluded: list[ExclusionCount] = strawberry.field(
        description="Accounts left out of the frame, by why."
    )
    emails_queued: int = strawberry.field(
        default=0, description="Invitation e-mails written to the outbox (0 on a dry run)."
    )
    expected_response_rate: float | None = strawberry.field(
        default=None, description="The response rate the plan assumes."
    )
    expected_margin_of_error: float | None = strawberry.field(
        default=None,
        description="Worst-case 95% margin of error of the overall satisfied share at that "
        "rate, finite population corrected; null when no answer is expected.",
    )


@strawberry.input
class RecordDefectionInput:
    account_id: strawberry.ID
    defected_on: date
    primary_reason: ReasonCode  # type: ignore[valid-type]
    other_reasons: list[ReasonCode] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list
    )
    competitor: str | None = None
    lost_annual_revenue: BigInt | None = None
    note: str | None = None


def _stratify(value: Dimension | None) -> str | None:  # type: ignore[valid-type]
    if value is None:
        return None
    dimension = domain_dimension(value)
    if dimension not in STRATIFY_BY:
        allowed = ", ".join(d.name for d in STRATIFY_BY)
        raise bad_input(f"A sample can be stratified by {allowed} only.", "stratifyBy")
    return STRATIFY_BY[dimension]


def _business_today() -> date:
    """Today where the business is (a date "in the future" is judged there)."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")
    return utcnow().astimezone(zone).date()


@strawberry.type
class Mutation(FollowUpMutation):
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Draw a sample and open a campaign (manager or admin).",
    )
    def launch_campaign(self, info: Info, input: LaunchCampaignInput) -> LaunchCampaignPayload:
        stratify_by = _stratify(input.stratify_by)
        request = CampaignRequest(
            name=input.name,
            size=input.sample_size,
            fraction=input.sample_fraction,
            stratify_by=stratify_by,
            seed=input.seed,
            exclude_days=input.exclude_surveyed_within_days,
            closes_at=input.closes_at,
            closes_in_days=input.closes_in_days,
            created_by=info.context.staff_name,
            kind=input.kind.value,
            defected_within_days=input.defected_within_days,
            target_margin=input.target_margin_of_error,
            expected_response_rate=input.expected_response_rate,
        )
        with _service_errors(LAUNCH_FIELDS):
            result = launch_campaign(
                request,
                secret_key=current_app.config["SECRET_KEY"],
                dry_run=input.dry_run,
                mail=MailSettings.from_config(current_app.config),
            )
        plan = result.plan
        dimension = next((d for d, name in STRATIFY_BY.items() if name == stratify_by), None)
        keys = [a.key for a in plan.allocation]
        labels = (
            analysis.dimension_labels(dimension, keys, info.context.locale)
            if dimension is not None
            else {ALL_STRATUM: "All" if info.context.locale == "en" else "全部"}
        )
        campaign = None
        if result.campaign_id is not None:
            row = db.session.get(m.Campaign, result.campaign_id)
            campaign = build_campaigns([row])[0] if row is not None else None
        return LaunchCampaignPayload(
            campaign=campaign,
            sampled=plan.sample_size,
            frame_size=plan.frame_size,
            seed=BigInt(plan.seed),
            method=plan.method,
            allocation=[
                SampleAllocation(
                    key=a.key, label=labels.get(a.key, a.key), frame=a.frame, size=a.size
                )
                for a in plan.allocation
            ],
            excluded=[ExclusionCount(reason=k, count=v) for k, v in plan.excluded.items()],
            emails_queued=result.emails_queued,
            expected_response_rate=plan.expected_response_rate,
            expected_margin_of_error=plan.expected_margin,
        )

    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Queue a reminder e-mail for invitations sent at least afterDays ago, "
        "not answered, not bounced, reminded fewer than 2 times; returns how many "
        "(manager or admin).",
    )
    def send_reminders(self, info: Info, campaign_id: strawberry.ID, after_days: int = 5) -> int:
        parsed = parse_id(campaign_id, "campaignId")
        with _service_errors(REMIND_FIELDS):
            return queue_reminders(
                parsed,
                MailSettings.from_config(current_app.config),
                after_days=after_days,
                actor=info.context.staff_name,
            )

    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Store the answers an account gave on the phone (channel PHONE, entered "
        "by you; manager or admin).",
    )
    def record_phone_response(self, info: Info, input: RecordPhoneResponseInput) -> Response:
        invitation_id = parse_id(input.invitation_id, "invitationId")
        invitation = db.session.get(m.Invitation, invitation_id)
        if invitation is None:
            raise bad_input(f"There is no invitation with ID {invitation_id}.", "invitationId")
        kind = db.session.scalar(
            select(m.Campaign.kind).where(m.Campaign.id == invitation.campaign_id)
        )
        with _service_errors(PHONE_FIELDS):
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
        row = db.session.scalars(
            select(m.Response)
            .where(m.Response.id == response_id)
            .options(joinedload(m.Response.account), joinedload(m.Response.campaign))
        ).one()
        return build_responses([row], info.context.locale)[0]

    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Close a campaign: no more answers (manager or admin).",
    )
    def close_campaign(self, info: Info, id: strawberry.ID) -> Campaign:
        campaign_id = parse_id(id)
        with _service_errors(LAUNCH_FIELDS):
            row = close_campaign(campaign_id, actor=info.context.staff_name)
        return build_campaigns([row])[0]

    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Record that a key account left, when and why (manager or admin).",
    )
    def record_defection(self, info: Info, input: RecordDefectionInput) -> Defection:
        account_id = parse_id(input.account_id, "accountId")
        reasons = [input.primary_reason.value, *(r.value for r in input.other_reasons)]
        with _service_errors(DEFECTION_FIELDS):
            defection = record_defection(
                account_id=account_id,
                defected_on=input.defected_on,
                reasons=reasons,
                competitor=input.competitor,
                lost_annual_revenue=input.lost_annual_revenue,
                note=input.note,
                recorded_by=info.context.staff_name,
                today=_business_today(),
            )
        row = db.session.scalars(
            select(m.Defection)
            .where(m.Defection.id == defection.id)
            .options(selectinload(m.Defection.reasons), selectinload(m.Defection.account))
        ).one()
        return build_defection(row, build_accounts([row.account])[0])
