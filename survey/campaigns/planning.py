"""Planning a campaign: the sample a request draws (survey.campaigns.requests holds the
request and its validation).

A plan draws the sample from the frame with a recorded seed (simple or stratified)
and says what margin of error to expect, without writing anything: a preview, a
dry run and a launch all start from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import func, select

from survey.campaigns.frames import Frame, build_exit_frame, build_frame
from survey.campaigns.invitees import ContactChoice, Invitee, invitable_contacts
from survey.campaigns.requests import (
    KINDS,
    MAX_CLOSES_IN_DAYS,
    MAX_COVER_WITHIN_DAYS,
    MAX_EXCLUDE_DAYS,
    MAX_SEED,
    NAME_MAX_LENGTH,
    CampaignRequest,
    ValidRequest,
    census_tiers_of,
    validate_request,
)
from survey.campaigns.sampling import simple_sample, size_from_fraction, stratified_sample
from survey.clock import utcnow
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    CAMPAIGN_CLOSED,
    KIND_EXIT,
    KIND_SATISFACTION,
    SELECTION_CENSUS,
    SELECTION_COVERAGE,
    SELECTION_RANDOM,
    Campaign,
    Invitation,
    Response,
)
from survey.statistics import expected_margin, required_sample_size

METHOD_SIMPLE = "simple"
METHOD_STRATIFIED = "stratified"

#: The allocation key of a sample that is not stratified.
ALL_STRATUM = "all"

#: The response rate a plan expects when no campaign has been closed yet.
DEFAULT_RESPONSE_RATE = 0.3


@dataclass(frozen=True)
class StratumAllocation:
    """One stratum of a plan: its accounts in the frame and those sampled (`size`: by
    census, by the coverage goal and at random together)."""

    key: str
    frame: int
    size: int
    #: How many contacts of the sampled accounts of this stratum are invited.
    contacts: int = 0
    #: Of `size`, the accounts taken in full (census tier) and for the coverage goal.
    census: int = 0
    coverage: int = 0

    @property
    def certain(self) -> int:
        return self.census + self.coverage

    @property
    def random(self) -> int:
        """Accounts drawn at random: n_h."""
        return self.size - self.certain

    @property
    def random_frame(self) -> int:
        """Accounts the random part was drawn from: N_h, without the certainty ones."""
        return self.frame - self.certain

    @property
    def inclusion_probability(self) -> float | None:
        """π = n_h / N_h of an account drawn at random here (None: nothing to draw)."""
        return self.random / self.random_frame if self.random_frame else None


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
    #: The panel design: census tiers, coverage goal (days) and the instant an account
    #: must have been invited since (else it is due), whether open cases stayed in.
    census_tiers: tuple[str, ...] = ()
    cover_within_days: int | None = None
    coverage_before: datetime | None = None
    include_open_cases: bool = False
    #: How each sampled account came in (SELECTIONS), by account id.
    selection: dict[int, str] = field(default_factory=dict)
    #: The random part asked for (size, fraction or target margin) and drawn: fewer
    #: when the certainty stratum leaves less to draw from.
    random_requested: int = 0
    #: External ids of the accounts left out for an open case.
    open_cases: tuple[str, ...] = ()

    @property
    def sample_size(self) -> int:
        return len(self.sample)

    @property
    def census_count(self) -> int:
        return sum(a.census for a in self.allocation)

    @property
    def coverage_count(self) -> int:
        return sum(a.coverage for a in self.allocation)

    @property
    def random_count(self) -> int:
        return sum(a.random for a in self.allocation)

    def inclusion_probability(self, account_id: int, key: str) -> float:
        """π of a sampled account in stratum `key`: 1 for certainty accounts."""
        if self.selection.get(account_id, SELECTION_RANDOM) != SELECTION_RANDOM:
            return 1.0
        return self._random_probability[key]

    @cached_property
    def _random_probability(self) -> dict[str, float]:
        """π of an account drawn at random, by stratum key (a launch asks 1,000s of times)."""
        return {a.key: a.inclusion_probability or 1.0 for a in self.allocation}

    @property
    def contact_count(self) -> int:
        """How many contacts the sample invites (one invitation each)."""
        return sum(len(v) for v in self.invitees.values())


def _excluded_text(excluded: dict[str, int]) -> str:
    return ", ".join(f"{count} {reason.replace('_', ' ')}" for reason, count in excluded.items())


def draw_plan(request: CampaignRequest, now: datetime) -> tuple[CampaignPlan, Frame, ValidRequest]:
    valid = validate_request(request, now)
    # The panel design applies to satisfaction surveys; an exit survey asks every lost
    # account once, so census tiers and a coverage goal mean nothing there.
    exit_kind = request.kind == KIND_EXIT
    coverage_before: datetime | None = None
    if exit_kind:
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
        coverage_before = (
            valid.closes_at - timedelta(days=request.cover_within_days)
            if request.cover_within_days is not None
            else None
        )
        frame = build_frame(
            exclude_days=request.exclude_days,
            stratify_by=request.stratify_by,
            now=now,
            choice=valid.choice,
            include_open_cases=request.include_open_cases,
            census_tiers=valid.census_tiers,
            coverage_before=coverage_before,
        )
    if frame.size == 0:
        raise InvalidInputError(
            "The sampling frame is empty: no active account with an e-mail or phone "
            "that has not opted out and was not surveyed in the last "
            f"{request.exclude_days} days (excluded: {_excluded_text(frame.excluded)}).",
        )
    # The certainty stratum (census tiers, the coverage goal) is taken whole; the
    # random part is drawn from the rest exactly as a sample without it would be.
    selection = {m.account_id: m.certainty for m in frame.members if m.certainty}
    rest = [m for m in frame.members if not m.certainty]
    if request.size is not None:
        size = request.size
        if size > frame.size:
            raise InvalidInputError(
                f"The sample size {size} is larger than the sampling frame: only "
                f"{frame.size} accounts are eligible.",
                field="size",
            )
    elif request.fraction is not None:
        size = size_from_fraction(len(rest), request.fraction)
    rate = request.expected_response_rate or past_response_rate() or DEFAULT_RESPONSE_RATE
    if request.target_margin is not None:
        size = required_sample_size(request.target_margin, len(rest), rate) if rest else 0
    requested = size
    size = min(size, len(rest))  # the certainty stratum may leave less to draw from

    ids_by_external = {m.external_id: m.account_id for m in rest}
    key_of = (lambda m: m.stratum or "") if request.stratify_by else (lambda m: ALL_STRATUM)
    if request.stratify_by:
        strata: dict[str, list[str]] = {}
        for m in rest:
            strata.setdefault(m.stratum or "", []).append(m.external_id)
        _allocated, drawn = stratified_sample(strata, size, valid.seed)
        method = METHOD_STRATIFIED
    else:
        drawn = simple_sample(list(ids_by_external), size, valid.seed)
        method = METHOD_SIMPLE
    chosen = {ids_by_external[e] for e in drawn} | selection.keys()
    # In external_id order: the drawn ones and the certainty ones, sorted together.
    certain_ids = {m.external_id: m.account_id for m in frame.members if m.certainty}
    ids_by_external.update(certain_ids)
    sample = [ids_by_external[e] for e in sorted([*drawn, *certain_ids])]
    # Each sampled account's contacts to invite; the frame holds only accounts with one.
    cutoff = (
        now - timedelta(days=request.exclude_days)
        if not exit_kind and request.exclude_days > 0
        else None
    )
    invitees = invitable_contacts(sample, valid.choice, cutoff)
    counts: dict[str, list[int]] = {}  # key: frame, sampled, contacts, census, coverage
    for m in frame.members:
        row = counts.setdefault(key_of(m), [0, 0, 0, 0, 0])
        row[0] += 1
        if m.account_id in chosen:
            row[1] += 1
            row[2] += len(invitees.get(m.account_id, []))
            if m.certainty == SELECTION_CENSUS:
                row[3] += 1
            elif m.certainty == SELECTION_COVERAGE:
                row[4] += 1
    allocation = [StratumAllocation(k, *counts[k]) for k in sorted(counts)]
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
        expected_margin=expected_margin(len(sample), frame.size, rate),
        choice=valid.choice,
        invitees=invitees,
        census_tiers=() if exit_kind else valid.census_tiers,
        cover_within_days=None if exit_kind else request.cover_within_days,
        coverage_before=coverage_before,
        # An exit frame leaves nobody out for an open case.
        include_open_cases=exit_kind or request.include_open_cases,
        selection=selection,
        random_requested=requested,
        open_cases=frame.open_cases,
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
    "MAX_CLOSES_IN_DAYS",
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
