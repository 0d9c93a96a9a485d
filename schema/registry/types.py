"""Key accounts, their defections (and what they complained of before) and staff.

An account's responses are schema.answers' types, and that area builds accounts in
turn: it sits above this one (a response refers to its account), so Account.responses
names its type lazily (strawberry.lazy) and uses the builder answers provides on
import (schema.root imports every area), keeping the areas' imports acyclic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

import strawberry

from survey import analysis, scale
from survey import models as m
from survey.registry import (
    accounts_by_ids,
    contacts_by_ids,
    contacts_of_accounts,
    defections_of_accounts,
    get_active_staff,
)
from survey.scale import DEFAULT_LOCALE

from ..context import Info
from ..loaders import Batch
from ..permissions import IsManager
from ..scalars import BigInt, ReasonCode, reason_enum
from ..scoring.health import AccountHealth, resolve_health
from ..scoring.value import AccountValue, provide_accounts, resolve_value
from .team import TeamMember, resolve_team
from .timeline import TimelineConnection, resolve_timeline

#: Builds the responses (schema.answers.types.Response) of a batch of accounts, by
#: account id, in a locale: set by provide_responses.
ResponsesBuilder = Callable[[list[int], str], dict[int, list[Any]]]
_responses_builder: list[ResponsesBuilder] = []


def provide_responses(build: ResponsesBuilder) -> None:
    """How Account.responses builds a batch's responses (schema.answers calls this)."""
    _responses_builder[:] = [build]


@strawberry.type(description="An aspect the lost account rated 1-2 before it left.")
class Complaint:
    aspect: str
    aspect_label: str
    score: int
    reasons: list[ReasonCode]  # type: ignore[valid-type]
    reason_text: str | None


@strawberry.type(description="A lost account's last satisfaction response before it left.")
class DefectionPrecursor:
    response_id: strawberry.ID
    submitted_at: datetime
    lead_days: int = strawberry.field(description="Days from that response to the defection.")
    complaints: list[Complaint] = strawberry.field(description="Aspects it rated 1-2.")
    comment: str | None
    matching_reasons: list[ReasonCode] = strawberry.field(  # type: ignore[valid-type]
        description="Recorded defection reasons that speak of an aspect it complained about."
    )
    reasons_match: bool = strawberry.field(
        description="Whether any recorded defection reason matches its complaints."
    )
    fixed_root_causes: list[ReasonCode] = strawberry.field(  # type: ignore[valid-type]
        description="Root causes of its follow-up cases resolved before it left."
    )


def build_precursor(p: analysis.Precursor, locale: str) -> DefectionPrecursor:
    return DefectionPrecursor(
        response_id=strawberry.ID(str(p.response_id)),
        submitted_at=p.submitted_at,
        lead_days=p.lead_days,
        complaints=[
            Complaint(
                aspect=c.aspect,
                aspect_label=c.label(locale),
                score=c.score,
                reasons=[reason_enum(r) for r in c.reasons],
                reason_text=c.reason_text,
            )
            for c in p.complaints
        ],
        comment=p.comment,
        matching_reasons=[reason_enum(r) for r in p.matching_reasons],
        reasons_match=p.reasons_match,
        fixed_root_causes=[reason_enum(r) for r in p.fixed_root_causes],
    )


@strawberry.type(description="A person at a key account we ask: one of its buying centre.")
class Contact:
    id: strawberry.ID
    name: str
    role: str = strawberry.field(description="decision_maker, purchaser, user, technical, ...")
    locale: str = strawberry.field(description="The language they are asked in: zh or en.")
    is_primary: bool
    opted_out: bool = strawberry.field(description="Whether they asked not to be surveyed.")
    mail: strawberry.Private[str | None]
    telephone: strawberry.Private[str | None]

    @strawberry.field(description="The role's label in the request language.")
    def role_label(self, info: Info) -> str:
        try:
            return scale.ContactRole(self.role).label(info.context.locale)
        except ValueError:
            return self.role

    @strawberry.field(permission_classes=[IsManager], description="Manager and admin only.")
    def email(self) -> str | None:
        return self.mail

    @strawberry.field(permission_classes=[IsManager], description="Manager and admin only.")
    def phone(self) -> str | None:
        return self.telephone


def contact_of(batch: Batch, contact_id: int | None) -> Contact | None:
    """The contact `contact_id`, loaded with every contact of `batch` (one IN query)."""
    if contact_id is None:
        return None
    row = batch.get("contacts", contacts_by_ids).get(contact_id)
    return build_contact(row) if row is not None else None


def build_contact(row: m.Contact) -> Contact:
    return Contact(
        id=strawberry.ID(str(row.id)),
        name=row.name,
        role=row.role,
        locale=row.locale,
        is_primary=row.is_primary,
        opted_out=row.opted_out_at is not None,
        mail=row.email,
        telephone=row.phone,
    )


@strawberry.type(description="A key account (大客户) in the registry.")
class Account:
    id: strawberry.ID
    external_id: str
    name: str
    tier: str
    value_type: str
    relationship_stage: str
    region: str
    annual_revenue: BigInt
    account_manager: str
    locale: str
    active: bool
    created_at: datetime
    pk: strawberry.Private[int]
    batch: strawberry.Private[Batch]

    def _contacts(self) -> list[m.Contact]:
        # Loaded once for the whole page of accounts (one IN query), primary first.
        return self.batch.get("contacts", contacts_of_accounts).get(self.pk, [])

    def _primary(self) -> m.Contact | None:
        return next((c for c in self._contacts() if c.is_primary), None)

    @strawberry.field(description="The people we ask there, the primary contact first.")
    def contacts(self) -> list[Contact]:
        return [build_contact(c) for c in self._contacts()]

    # The contact person is a contact detail, like their e-mail and phone.
    @strawberry.field(
        permission_classes=[IsManager],
        description="The primary contact's name. Manager and admin only.",
    )
    def contact_name(self) -> str | None:
        primary = self._primary()
        return primary.name if primary is not None else ""

    @strawberry.field(
        permission_classes=[IsManager],
        description="The primary contact's e-mail. Manager and admin only.",
    )
    def contact_email(self) -> str | None:
        primary = self._primary()
        return primary.email if primary is not None else None

    @strawberry.field(
        permission_classes=[IsManager],
        description="The primary contact's phone. Manager and admin only.",
    )
    def contact_phone(self) -> str | None:
        primary = self._primary()
        return primary.phone if primary is not None else None

    @strawberry.field(description="When the primary contact opted out of surveys, if they did.")
    def opted_out_at(self) -> datetime | None:
        primary = self._primary()
        return primary.opted_out_at if primary is not None else None

    @strawberry.field(description="The tier's label in the request language.")
    def tier_label(self, info: Info) -> str:
        labels = scale.TIER_LABELS.get(self.tier)
        return labels[1 if info.context.locale == "en" else 0] if labels else self.tier

    @strawberry.field
    def value_type_label(self, info: Info) -> str:
        return _enum_label(scale.ValueType, self.value_type, info.context.locale)

    @strawberry.field
    def relationship_stage_label(self, info: Info) -> str:
        return _enum_label(scale.RelationshipStage, self.relationship_stage, info.context.locale)

    @strawberry.field(description="The account's responses, newest first.")
    def responses(
        self, info: Info
    ) -> list[Annotated[Response, strawberry.lazy("schema.answers.types")]]:  # noqa: F821
        build = _responses_builder[0]
        built = self.batch.get(
            ("responses", info.context.locale),
            lambda ids: build(ids, info.context.locale),
        )
        return built.get(self.pk, [])

    @strawberry.field(description="Why and when it left; null while it is a customer.")
    def defection(self) -> Defection | None:
        rows = self.batch.get("defections", defections_of_accounts)
        row = rows.get(self.pk)
        return build_defection(row, self) if row is not None else None

    @strawberry.field(description="Mean overall score per campaign, oldest campaign first.")
    def satisfaction_trend(self) -> list[TrendPoint]:
        trends = self.batch.get("trend", analysis.satisfaction_trends)
        return [
            TrendPoint(
                campaign_id=strawberry.ID(str(p.campaign_id)),
                campaign_name=p.campaign_name,
                opens_at=p.opens_at,
                mean=p.mean,
                answers=p.answers,
            )
            for p in trends.get(self.pk, [])
        ]

    @strawberry.field(
        description="Our team around the account besides its account manager "
        "(accountManager): the team is the account manager plus these members."
    )
    def team(self, info: Info) -> list[TeamMember]:
        return resolve_team(info, self.batch, self.pk)

    @strawberry.field(
        description="What happened with the account, newest first: invitations, responses, "
        "follow-up cases and their notes, defection, tier changes, contacts opting out. "
        "`first` is at most 200."
    )
    def timeline(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> TimelineConnection:
        return resolve_timeline(info, self.batch, self.pk, first, after)

    @strawberry.field(
        description="The account's health score, parts, history and why it moved; null "
        "before health was computed or when the account is no longer active."
    )
    def health(self, info: Info) -> AccountHealth | None:
        return resolve_health(info, self.batch, self.pk)

    @strawberry.field(
        description="The account's value under a value model (default: the one that "
        "suggests tiers): score, band, suggested tier, flags and the parts that made it; "
        "null before its indicators were scored."
    )
    def value(self, info: Info, model: str | None = None) -> AccountValue | None:
        return resolve_value(info, self.batch, self.pk, model)


def _enum_label(
    enum: type[scale.ValueType | scale.RelationshipStage], code: str, locale: str
) -> str:
    try:
        return enum(code).label(locale)
    except ValueError:
        return code


@strawberry.type
class TrendPoint:
    campaign_id: strawberry.ID
    campaign_name: str
    opens_at: datetime
    mean: float
    answers: int


@strawberry.type(description="A lost key account: when it left and why.")
class Defection:
    id: strawberry.ID
    account: Account
    defected_on: date
    primary_reason: ReasonCode | None  # type: ignore[valid-type]
    other_reasons: list[ReasonCode]  # type: ignore[valid-type]
    competitor: str | None
    lost_annual_revenue: BigInt | None
    note: str | None
    source: str
    recorded_at: datetime
    recorded_by: str | None

    @strawberry.field(
        description="The account's last satisfaction response before it left; null if it "
        "was never surveyed before."
    )
    def precursors(self, info: Info) -> DefectionPrecursor | None:
        found = self.account.batch.get("precursors", analysis.defection_precursors)
        precursor = found.get(self.account.pk)
        return build_precursor(precursor, info.context.locale) if precursor else None


@strawberry.type(description="Who is asking.")
class Me:
    name: str
    role: str
    locale: str = strawberry.field(description="The language of this request (Accept-Language).")

    @strawberry.field(
        description="The language (zh or en) of every e-mail this staff member receives: "
        'their own setting (console "My settings", `flask staff set-locale`).'
    )
    def email_locale(self, info: Info) -> str:
        member = get_active_staff(info.context.staff_id)
        return member.locale if member is not None else DEFAULT_LOCALE


@strawberry.type(description="An API token's metadata (never the token).")
class ApiTokenInfo:
    id: strawberry.ID
    staff_name: str
    staff_role: str
    staff_active: bool
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def build_accounts(rows: list[m.KeyAccount]) -> list[Account]:
    """Account types sharing one batch, so their relations load together."""
    batch = Batch(r.id for r in rows)
    return [
        Account(
            id=strawberry.ID(str(r.id)),
            external_id=r.external_id,
            name=r.name,
            tier=r.tier,
            value_type=r.value_type,
            relationship_stage=r.relationship_stage,
            region=r.region,
            annual_revenue=BigInt(r.annual_revenue),
            account_manager=r.account_manager,
            locale=r.locale,
            active=r.active,
            created_at=r.created_at,
            pk=r.id,
            batch=batch,
        )
        for r in rows
    ]


def build_defection(row: m.Defection, account: Account) -> Defection:
    primary = next((r.reason for r in row.reasons if r.is_primary), None)
    return Defection(
        id=strawberry.ID(str(row.id)),
        account=account,
        defected_on=row.defected_on,
        primary_reason=reason_enum(primary) if primary else None,
        other_reasons=[reason_enum(r.reason) for r in row.reasons if not r.is_primary],
        competitor=row.competitor,
        lost_annual_revenue=BigInt(row.lost_annual_revenue)
        if row.lost_annual_revenue is not None
        else None,
        note=row.note,
        source=row.source,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
    )


def _accounts_by_id(ids: list[int]) -> dict[int, Account]:
    return {a.pk: a for a in build_accounts(list(accounts_by_ids(ids).values()))}


provide_accounts(_accounts_by_id)
