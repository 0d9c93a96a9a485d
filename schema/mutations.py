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
from sqlalchemy.orm import selectinload

from survey import analytics
from survey import models as m
from survey.accounts import record_defection
from survey.campaigns import ALL_STRATUM, CampaignRequest, close_campaign, launch_campaign
from survey.db import db, utcnow
from survey.errors import DomainError, NotFoundError

from .context import Info
from .errors import bad_input
from .permissions import IsManager
from .types import (
    BigInt,
    Campaign,
    Defection,
    Dimension,
    ReasonCode,
    build_accounts,
    build_campaigns,
    build_defection,
    domain_dimension,
    parse_id,
)

#: The dimensions a sample can be stratified by, and the service's names for them.
STRATIFY_BY = {
    analytics.Dimension.TIER: "tier",
    analytics.Dimension.VALUE_TYPE: "value_type",
    analytics.Dimension.RELATIONSHIP_STAGE: "relationship_stage",
    analytics.Dimension.REGION: "region",
}

LAUNCH_FIELDS = {
    "size": "sampleSize",
    "fraction": "sampleFraction",
    "stratify_by": "stratifyBy",
    "exclude_days": "excludeSurveyedWithinDays",
    "closes_at": "closesAt",
    "closes_in_days": "closesInDays",
    "campaign_id": "id",
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
class Mutation:
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
        )
        with _service_errors(LAUNCH_FIELDS):
            result = launch_campaign(
                request, secret_key=current_app.config["SECRET_KEY"], dry_run=input.dry_run
            )
        plan = result.plan
        dimension = next((d for d, name in STRATIFY_BY.items() if name == stratify_by), None)
        keys = [a.key for a in plan.allocation]
        labels = (
            analytics.dimension_labels(dimension, keys, info.context.locale)
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
        )

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
