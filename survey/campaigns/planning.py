"""Planning a campaign: the request, its validation, and the sample it draws.

A plan draws the sample from the frame with a recorded seed (simple or stratified)
and says what margin of error to expect, without writing anything: a preview, a
dry run and a launch all start from it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select

from survey.campaigns.frames import (
    DEFAULT_DEFECTED_WITHIN_DAYS,
    STRATIFY_DIMENSIONS,
    Frame,
    build_exit_frame,
    build_frame,
)
from survey.campaigns.invitees import (
    ContactChoice,
    Invitee,
    contact_choice,
    invitable_contacts,
)
from survey.campaigns.sampling import simple_sample, size_from_fraction, stratified_sample
from survey.clock import utcnow
from survey.db import db
from survey.errors import ConflictError, InvalidInputError
from survey.models import (
    CAMPAIGN_CLOSED,
    CONTACTS_PRIMARY,
    KIND_EXIT,
    KIND_SATISFACTION,
    Campaign,
    Invitation,
    Response,
)
from survey.scale import TIERS
from survey.statistics import expected_margin, required_sample_size

METHOD_SIMPLE = "simple"
METHOD_STRATIFIED = "stratified"
KINDS: tuple[str, ...] = (KIND_SATISFACTION, KIND_EXIT)

#: The allocation key of a sample that is not stratified.
ALL_STRATUM = "all"

NAME_MAX_LENGTH = 200
CREATED_BY_MAX_LENGTH = 120
# Generous bounds that keep date arithmetic and the BigInteger seed column safe.
MAX_EXCLUDE_DAYS = 3660
MAX_CLOSES_IN_DAYS = 366
MAX_SEED = 2**63 - 1
#: The longest coverage goal (ten years).
MAX_COVER_WITHIN_DAYS = 3650
#: The response rate a plan expects when no campaign has been closed yet.
DEFAULT_RESPONSE_RATE = 0.3


@dataclass
class CampaignRequest:
    """What a manager asks for: who (the frame), how many, how drawn, until when."""

    name: str
    size: int | None = None
    fraction: float | None = None
    stratify_by: str | None = None
    seed: int | None = None
    exclude_days: int = 90
    closes_at: datetime | None = None
    closes_in_days: int = 14
    kind: str = KIND_SATISFACTION
    created_by: str | None = None
    #: Exit surveys: sample accounts lost within this many days.
    defected_within_days: int = DEFAULT_DEFECTED_WITHIN_DAYS
    #: Or: the smallest sample whose expected margin of error reaches this (e.g. 0.05).
    target_margin: float | None = None
    #: The share of invited accounts expected to answer; default: past campaigns' mean.
    expected_response_rate: float | None = None
    #: Whom of each sampled account to invite: "primary" (its primary contact) or
    #: "all" (every contact), narrowed to these roles (codes or labels) when given.
    contacts: str = CONTACTS_PRIMARY
    contact_roles: tuple[str, ...] = ()
    #: The panel design. Tiers surveyed in full (census; the certainty stratum).
    census_tiers: tuple[str, ...] = ()
    #: The coverage goal: accounts that would otherwise go longer than this many days
    #: without an invitation by the campaign's close join the certainty stratum.
    cover_within_days: int | None = None
    #: Keep accounts with an open, contacted or escalated follow-up in the frame.
    include_open_cases: bool = False
    #: The schedule and cycle launching it (survey.campaigns.schedule_runs), if any.
    schedule_id: int | None = None
    cycle: str | None = None


@dataclass(frozen=True)
class StratumAllocation:
    key: str
    frame: int
    size: int
    #: How many contacts of the sampled accounts of this stratum are invited.
    contacts: int = 0


@dataclass(frozen=True)
class CampaignPlan:
    """The sample a request draws, before (or without) writing anything."""

    frame_size: int
    excluded: dict[str, int]
    allocation: list[StratumAllocation]
    seed: int
    sample: list[int]  # account ids, in external_id order
    method: str
    name: str = ""
    stratify_by: str | None = None
    exclude_days: int = 90
    closes_at: datetime | None = None
    #: The response rate the plan assumes, and the worst-case 95% margin of error of
    #: the overall satisfied share it can then expect (finite population corrected).
    expected_response_rate: float | None = None
    expected_margin: float | None = None
    #: Whom of each sampled account it invites (survey.campaigns.invitees).
    choice: ContactChoice = field(default_factory=ContactChoice)
    #: The contacts invited, by sampled account id, primary contact first.
    invitees: dict[int, list[Invitee]] = field(default_factory=dict)

    @property
    def sample_size(self) -> int:
        return len(self.sample)

    @property
    def contact_count(self) -> int:
        """How many contacts the sample invites (one invitation each)."""
        return sum(len(v) for v in self.invitees.values())


@dataclass(frozen=True)
class _Validated:
    name: str
    closes_at: datetime
    seed: int
    created_by: str | None
    choice: ContactChoice
    census_tiers: tuple[str, ...] = ()


def census_tiers_of(tiers: Iterable[str] | None) -> tuple[str, ...]:
    """Validated census tier codes (case ignored), sorted and without repeats.
    InvalidInputError (field "census_tiers") for an unknown tier."""
    codes: set[str] = set()
    for raw in tiers or ():
        code = (raw or "").strip().upper()
        if code not in TIERS:
            raise InvalidInputError(
                f"Unknown tier {raw!r} for a census: use {', '.join(TIERS)}.",
                field="census_tiers",
            )
        codes.add(code)
    return tuple(sorted(codes))


def _validate(request: CampaignRequest, now: datetime) -> _Validated:
    name = (request.name or "").strip()
    if not name:
        raise InvalidInputError("The campaign needs a name.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInputError(
            f"The campaign name is {len(name)} characters long; "
            f"at most {NAME_MAX_LENGTH} are allowed.",
            field="name",
        )
    if request.kind not in KINDS:
        raise InvalidInputError(
            f"Unknown campaign kind {request.kind!r}: use {' or '.join(map(repr, KINDS))}.",
            field="kind",
        )
    if request.kind == KIND_EXIT and not 1 <= request.defected_within_days <= MAX_EXCLUDE_DAYS:
        raise InvalidInputError(
            f"The defection window must be between 1 and {MAX_EXCLUDE_DAYS} days, "
            f"got {request.defected_within_days}.",
            field="defected_within_days",
        )
    chosen = [v for v in (request.size, request.fraction, request.target_margin) if v is not None]
    if len(chosen) != 1:
        raise InvalidInputError(
            "Give either a sample size or a fraction of the frame (or a target margin of "
            "error), not both or neither.",
            field="size",
        )
    if request.target_margin is not None and not 0 < request.target_margin < 1:
        raise InvalidInputError(
            "The target margin of error must be greater than 0 and less than 1 "
            f"(e.g. 0.05 for ±5 points), got {request.target_margin}.",
            field="target_margin",
        )
    rate = request.expected_response_rate
    if rate is not None and not 0 < rate <= 1:
        raise InvalidInputError(
            f"The expected response rate must be greater than 0 and at most 1, got {rate}.",
            field="expected_response_rate",
        )
    if request.size is not None and request.size < 1:
        raise InvalidInputError(
            f"The sample size must be at least 1, got {request.size}.", field="size"
        )
    if request.fraction is not None and not 0 < request.fraction <= 1:
        raise InvalidInputError(
            f"The fraction must be greater than 0 and at most 1 (e.g. 0.2 for 20%), "
            f"got {request.fraction}.",
            field="fraction",
        )
    if request.stratify_by is not None and request.stratify_by not in STRATIFY_DIMENSIONS:
        raise InvalidInputError(
            f"Unknown stratification {request.stratify_by!r}: use one of "
            f"{', '.join(STRATIFY_DIMENSIONS)}.",
            field="stratify_by",
        )
    if not 0 <= request.exclude_days <= MAX_EXCLUDE_DAYS:
        raise InvalidInputError(
            f"The exclusion window must be between 0 and {MAX_EXCLUDE_DAYS} days, "
            f"got {request.exclude_days}.",
            field="exclude_days",
        )
    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidInputError(
            f"The seed must be a whole number between 0 and {MAX_SEED}.", field="seed"
        )
    choice = contact_choice(request.contacts, request.contact_roles)
    census = census_tiers_of(request.census_tiers)
    days = request.cover_within_days
    if days is not None and not 1 <= days <= MAX_COVER_WITHIN_DAYS:
        raise InvalidInputError(
            f"The coverage goal must be between 1 and {MAX_COVER_WITHIN_DAYS} days, got {days}.",
            field="cover_within_days",
        )
    created_by = (request.created_by or "").strip() or None
    if created_by is not None and len(created_by) > CREATED_BY_MAX_LENGTH:
        raise InvalidInputError(
            f"created_by is longer than {CREATED_BY_MAX_LENGTH} characters.",
            field="created_by",
        )

    if request.closes_at is not None:
        if request.closes_at.tzinfo is None:
            # A naive time is ambiguous (UTC? Shanghai?): refuse rather than guess.
            raise InvalidInputError(
                "The closing time needs a time zone (e.g. 2026-12-31T18:00:00+08:00).",
                field="closes_at",
            )
        if request.closes_at <= now:
            raise InvalidInputError("The closing time must be in the future.", field="closes_at")
        closes_at = request.closes_at
    else:
        if not 1 <= request.closes_in_days <= MAX_CLOSES_IN_DAYS:
            raise InvalidInputError(
                f"The campaign must stay open between 1 and {MAX_CLOSES_IN_DAYS} days, "
                f"got {request.closes_in_days}.",
                field="closes_in_days",
            )
        closes_at = now + timedelta(days=request.closes_in_days)

    taken = db.session.scalar(select(Campaign.id).where(Campaign.name == name))
    if taken is not None:
        raise ConflictError(
            f"A campaign named {name!r} already exists (ID {taken}); choose another name.",
            field="name",
        )
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    return _Validated(
        name=name,
        closes_at=closes_at,
        seed=seed,
        created_by=created_by,
        choice=choice,
        census_tiers=census,
    )


def _excluded_text(excluded: dict[str, int]) -> str:
    return ", ".join(f"{count} {reason.replace('_', ' ')}" for reason, count in excluded.items())


def draw_plan(request: CampaignRequest, now: datetime) -> tuple[CampaignPlan, Frame, _Validated]:
    valid = _validate(request, now)
    if request.kind == KIND_EXIT:
        frame = build_exit_frame(
            defected_within_days=request.defected_within_days,
            stratify_by=request.stratify_by,
            now=now,
            choice=valid.choice,
        )
        if frame.size == 0:
            raise InvalidInputError(
                "The exit-survey frame is empty: no account lost in the last "
                f"{request.defected_within_days} days with an e-mail or phone that has not "
                f"opted out or been asked already (excluded: {_excluded_text(frame.excluded)}).",
                field="defected_within_days",
            )
    else:
        frame = build_frame(
            exclude_days=request.exclude_days,
            stratify_by=request.stratify_by,
            now=now,
            choice=valid.choice,
        )
    if frame.size == 0:
        raise InvalidInputError(
            "The sampling frame is empty: no active account with an e-mail or phone "
            "that has not opted out and was not surveyed in the last "
            f"{request.exclude_days} days (excluded: {_excluded_text(frame.excluded)}).",
        )
    if request.size is not None:
        size = request.size
        if size > frame.size:
            raise InvalidInputError(
                f"The sample size {size} is larger than the sampling frame: only "
                f"{frame.size} accounts are eligible.",
                field="size",
            )
    elif request.fraction is not None:
        size = size_from_fraction(frame.size, request.fraction)
    rate = request.expected_response_rate or past_response_rate() or DEFAULT_RESPONSE_RATE
    if request.target_margin is not None:
        size = required_sample_size(request.target_margin, frame.size, rate)

    ids_by_external = {m.external_id: m.account_id for m in frame.members}
    if request.stratify_by:
        strata = frame.strata()
        allocated, drawn = stratified_sample(strata, size, valid.seed)
        allocation = [StratumAllocation(k, len(strata[k]), allocated[k]) for k in strata]
        method = METHOD_STRATIFIED
    else:
        drawn = simple_sample(list(ids_by_external), size, valid.seed)
        allocation = [StratumAllocation(ALL_STRATUM, frame.size, size)]
        method = METHOD_SIMPLE
    sample = [ids_by_external[e] for e in drawn]
    # Each sampled account's contacts to invite; the frame holds only accounts with one.
    exit_kind = request.kind == KIND_EXIT
    cutoff = (
        now - timedelta(days=request.exclude_days)
        if not exit_kind and request.exclude_days > 0
        else None
    )
    invitees = invitable_contacts(sample, valid.choice, cutoff)
    stratum_of = (
        {m.account_id: m.stratum or "" for m in frame.members} if request.stratify_by else {}
    )
    per_stratum: dict[str, int] = {}
    for account_id in sample:
        key = stratum_of.get(account_id, ALL_STRATUM)
        per_stratum[key] = per_stratum.get(key, 0) + len(invitees.get(account_id, []))
    allocation = [replace(a, contacts=per_stratum.get(a.key, 0)) for a in allocation]
    plan = CampaignPlan(
        frame_size=frame.size,
        excluded=frame.excluded,
        allocation=allocation,
        seed=valid.seed,
        sample=sample,
        method=method,
        name=valid.name,
        stratify_by=request.stratify_by,
        # The exit frame has no "recently surveyed" rule (it excludes anyone asked before).
        exclude_days=0 if request.kind == KIND_EXIT else request.exclude_days,
        closes_at=valid.closes_at,
        expected_response_rate=rate,
        expected_margin=expected_margin(size, frame.size, rate),
        choice=valid.choice,
        invitees=invitees,
    )
    return plan, frame, valid


def past_response_rate() -> float | None:
    """The mean response rate of closed satisfaction campaigns (each campaign counts
    once), or None before the first one closes. One query."""
    per_campaign = (
        select((func.count(Response.id) * 1.0 / func.count(Invitation.id)).label("rate"))
        .select_from(Invitation)
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(Campaign.status == CAMPAIGN_CLOSED, Campaign.kind == KIND_SATISFACTION)
        .group_by(Invitation.campaign_id)
        .subquery()
    )
    rate = db.session.scalar(select(func.avg(per_campaign.c.rate)))
    return float(rate) if rate else None


def plan_campaign(request: CampaignRequest, *, now: datetime | None = None) -> CampaignPlan:
    """Validate a request and draw its sample without writing anything.

    Raises InvalidInputError (with `field`) for a bad request or an empty or too
    small frame, ConflictError when the name is taken.
    """
    plan, _frame, _valid = draw_plan(request, now or utcnow())
    return plan


__all__ = [
    "ALL_STRATUM",
    "KINDS",
    "MAX_COVER_WITHIN_DAYS",
    "MAX_EXCLUDE_DAYS",
    "MAX_SEED",
    "NAME_MAX_LENGTH",
    "CampaignPlan",
    "CampaignRequest",
    "StratumAllocation",
    "census_tiers_of",
    "draw_plan",
    "past_response_rate",
    "plan_campaign",
]
