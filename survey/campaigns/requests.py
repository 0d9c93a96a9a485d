"""A campaign request: what a manager asks for, and its validation.

The request is the one way into planning and launching (CLI, GraphQL, the console
and schedules build it); `validate_request` checks it before anything is drawn.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from survey.campaigns.frames import DEFAULT_DEFECTED_WITHIN_DAYS, STRATIFY_DIMENSIONS
from survey.campaigns.invitees import ContactChoice, contact_choice
from survey.db import db
from survey.errors import ConflictError, InvalidInputError
from survey.models import CONTACTS_PRIMARY, KIND_EXIT, KIND_SATISFACTION, Campaign
from survey.scale import TIERS

KINDS: tuple[str, ...] = (KIND_SATISFACTION, KIND_EXIT)

NAME_MAX_LENGTH = 200
CREATED_BY_MAX_LENGTH = 120
# Generous bounds that keep date arithmetic and the BigInteger seed column safe.
MAX_EXCLUDE_DAYS = 3660
MAX_CLOSES_IN_DAYS = 366
MAX_SEED = 2**63 - 1
#: The longest coverage goal (ten years).
MAX_COVER_WITHIN_DAYS = 3650


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
class ValidRequest:
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


def validate_request(request: CampaignRequest, now: datetime) -> ValidRequest:
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
    return ValidRequest(
        name=name,
        closes_at=closes_at,
        seed=seed,
        created_by=created_by,
        choice=choice,
        census_tiers=census,
    )


__all__ = [
    "CREATED_BY_MAX_LENGTH",
    "KINDS",
    "MAX_CLOSES_IN_DAYS",
    "MAX_COVER_WITHIN_DAYS",
    "MAX_EXCLUDE_DAYS",
    "MAX_SEED",
    "NAME_MAX_LENGTH",
    "CampaignRequest",
    "ValidRequest",
    "census_tiers_of",
    "validate_request",
]
