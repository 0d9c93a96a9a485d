"""Managers launch campaigns, remind the invited, and close campaigns.

Resolvers call the same services as the CLI (survey.campaigns, survey.delivery),
which validate, write and commit in one transaction. A refused role never reaches
the resolver (permissions), and a service error rolls back, so bad input changes
nothing. Service field names are translated to this API's input names.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from flask import current_app

from survey import analysis
from survey.campaigns import (
    ALL_STRATUM,
    DEFAULT_DEFECTED_WITHIN_DAYS,
    MAX_COVER_WITHIN_DAYS,
    CampaignRequest,
    campaign_by_id,
    census_tiers_of,
    close_campaign,
    launch_campaign,
)
from survey.delivery import MailSettings, queue_reminders
from survey.errors import InvalidInputError
from survey.scale import TIERS, ContactRole

from ..context import Info
from ..errors import InputError, bad_input, service_errors, shown
from ..permissions import IsManager
from ..scalars import BigInt, Dimension, domain_dimension, parse_id
from .types import Campaign, CampaignKind, InvitedContacts, build_campaigns

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
    "contacts": "contacts",
    "contact_roles": "contactRoles",
    "census_tiers": "censusTiers",
    "cover_within_days": "coverWithinDays",
}
REMIND_FIELDS = {"campaign_id": "campaignId", "after_days": "afterDays"}


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
    contacts: InvitedContacts = strawberry.field(
        default=InvitedContacts.PRIMARY,
        description="PRIMARY: each sampled account's primary contact; ALL: all its contacts. "
        "One invitation, with its own link, per invited contact.",
    )
    contact_roles: list[str] | None = strawberry.field(
        default=None,
        description="Only contacts in these roles: codes (decision_maker, purchaser, user, "
        "technical, finance, other) or their Chinese or English labels.",
    )
    census_tiers: list[str] | None = strawberry.field(
        default=None,
        description="Tiers (A, B, C) surveyed in full on top of the random sample (π = 1).",
    )
    cover_within_days: int | None = strawberry.field(
        default=None,
        description="Coverage goal, 1-3650: also take every account that would otherwise go "
        "longer than this many days (by the closing date) without an invitation (π = 1).",
    )
    include_open_cases: bool = strawberry.field(
        default=False,
        description="Keep accounts with an open, contacted or escalated follow-up in the "
        "frame (left out by default: no survey while we still owe an answer).",
    )


@strawberry.type
class SampleAllocation:
    key: str
    label: str
    frame: int
    size: int
    contacts: int = strawberry.field(
        default=0, description="Contacts of the stratum's sampled accounts invited."
    )
    census: int = strawberry.field(default=0, description="Sampled in full: a census tier.")
    coverage: int = strawberry.field(default=0, description="Sampled for the coverage goal.")
    random: int = strawberry.field(default=0, description="Drawn at random (n_h).")
    inclusion_probability: float | None = strawberry.field(
        default=None,
        description="π = n_h / N_h of an account drawn at random here (N_h without the "
        "census and coverage accounts); null when nothing was left to draw from.",
    )


@strawberry.type
class ExclusionCount:
    reason: str
    count: int


@strawberry.type
class LaunchCampaignPayload:
    campaign: Campaign | None = strawberry.field(description="Null on a dry run.")
    sampled: int
    invited: int = strawberry.field(description="Contacts invited: one invitation each.")
    frame_size: int
    seed: BigInt
    method: str
    allocation: list[SampleAllocation]
    excluded: list[ExclusionCount] = strawberry.field(
        description="Accounts left out of the frame, by why."
    )
    census: int = strawberry.field(default=0, description="Accounts sampled by census.")
    coverage: int = strawberry.field(
        default=0, description="Accounts sampled for the coverage goal."
    )
    random: int = strawberry.field(
        default=0, description="Accounts drawn at random (sampleSize or sampleFraction)."
    )
    open_cases: list[str] = strawberry.field(
        default_factory=list,
        description="External ids of the accounts left out for an open case.",
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


def _stratify(value: Dimension | None) -> str | None:  # type: ignore[valid-type]
    if value is None:
        return None
    dimension = domain_dimension(value)
    if dimension not in STRATIFY_BY:
        allowed = ", ".join(d.name for d in STRATIFY_BY)
        raise bad_input(f"A sample can be stratified by {allowed} only.", "stratifyBy")
    return STRATIFY_BY[dimension]


def _contact_roles(values: list[str] | None) -> tuple[str, ...]:
    """Role codes from codes or labels; an unknown one is said in the caller's language."""
    codes: list[str] = []
    for value in values or ():
        try:
            codes.append(str(ContactRole.parse(value).value))
        except ValueError:
            allowed = ", ".join(ContactRole.codes())
            raise InputError(
                {
                    "en": f"{shown(value)} is not a contact role: use {allowed} "
                    "(or the Chinese or English label).",
                    "zh": f"{shown(value)} 不是联系人角色：请用 {allowed}（或中文、英文名称，"
                    "如 决策者、采购、使用者）。",
                },
                field="contactRoles",
            ) from None
    return tuple(codes)


def _census_tiers(values: list[str] | None) -> tuple[str, ...]:
    """Tier codes; an unknown one is said in the caller's language."""
    try:
        return census_tiers_of(values)
    except InvalidInputError:
        bad = next(v for v in values or () if (v or "").strip().upper() not in TIERS)
        allowed = ", ".join(TIERS)
        raise InputError(
            {
                "en": f"{shown(bad)} is not a tier: use {allowed}.",
                "zh": f"{shown(bad)} 不是客户等级：请用 {allowed}。",
            },
            field="censusTiers",
        ) from None


def _cover_within_days(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_COVER_WITHIN_DAYS:
        raise InputError(
            {
                "en": f"The coverage goal must be between 1 and {MAX_COVER_WITHIN_DAYS} days, "
                f"got {value}.",
                "zh": f"覆盖目标须在 1 到 {MAX_COVER_WITHIN_DAYS} 天之间，收到的是 {value}。",
            },
            field="coverWithinDays",
        )
    return value


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Draw a sample and open a campaign (manager or admin).",
    )
    def launch_campaign(self, info: Info, input: LaunchCampaignInput) -> LaunchCampaignPayload:
        stratify_by = _stratify(input.stratify_by)
        roles = _contact_roles(input.contact_roles)
        census_tiers = _census_tiers(input.census_tiers)
        cover_within_days = _cover_within_days(input.cover_within_days)
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
            contacts=input.contacts.value,
            contact_roles=roles,
            census_tiers=census_tiers,
            cover_within_days=cover_within_days,
            include_open_cases=input.include_open_cases,
        )
        with service_errors(LAUNCH_FIELDS):
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
            row = campaign_by_id(result.campaign_id)
            campaign = build_campaigns([row])[0] if row is not None else None
        return LaunchCampaignPayload(
            campaign=campaign,
            sampled=plan.sample_size,
            invited=plan.contact_count,
            frame_size=plan.frame_size,
            seed=BigInt(plan.seed),
            method=plan.method,
            allocation=[
                SampleAllocation(
                    key=a.key,
                    label=labels.get(a.key, a.key),
                    frame=a.frame,
                    size=a.size,
                    contacts=a.contacts,
                    census=a.census,
                    coverage=a.coverage,
                    random=a.random,
                    inclusion_probability=a.inclusion_probability,
                )
                for a in plan.allocation
            ],
            excluded=[ExclusionCount(reason=k, count=v) for k, v in plan.excluded.items()],
            census=plan.census_count,
            coverage=plan.coverage_count,
            random=plan.random_count,
            open_cases=list(plan.open_cases),
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
        with service_errors(REMIND_FIELDS):
            return queue_reminders(
                parsed,
                MailSettings.from_config(current_app.config),
                after_days=after_days,
                actor=info.context.staff_name,
            )


# closeCampaign follows recordPhoneResponse in the schema (field order is part of the
# SDL), so it has a class of its own.
@strawberry.type
class CampaignCloseMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Close a campaign: no more answers (manager or admin).",
    )
    def close_campaign(self, info: Info, id: strawberry.ID) -> Campaign:
        campaign_id = parse_id(id)
        with service_errors(LAUNCH_FIELDS):
            row = close_campaign(campaign_id, actor=info.context.staff_name)
        return build_campaigns([row])[0]
