"""Sample survey campaigns: the sampling frame, planning, launch, close and links.

"Draw a random sample from the existing key accounts": the frame is every active
account we may ask (a contact, not opted out, not surveyed too recently); the
sample is drawn from it with a recorded seed, and the frame as it was at launch
is stored with the campaign, so the draw can be audited and repeated.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    not_,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from survey.audit import CAMPAIGN_CLOSE, CAMPAIGN_LAUNCH, record_audit
from survey.campaigns.questionnaires import ensure_default_questionnaire, ensure_exit_questionnaire
from survey.campaigns.sample_audit import frame_digest
from survey.campaigns.sampling import simple_sample, size_from_fraction, stratified_sample
from survey.clock import utcnow
from survey.db import db
from survey.delivery import KIND_INVITATION, MailSettings, queue_mail
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.models import (
    CAMPAIGN_CLOSED,
    CAMPAIGN_OPEN,
    INVITATION_EXPIRED,
    INVITATION_OPENED,
    INVITATION_PENDING,
    INVITATION_SENT,
    KIND_EXIT,
    KIND_SATISFACTION,
    Campaign,
    CampaignFrameMember,
    CampaignStratum,
    Defection,
    Invitation,
    KeyAccount,
    Response,
)
from survey.scale import DEFAULT_LOCALE, normalise_locale
from survey.statistics import expected_margin, required_sample_size
from survey.tokens import derive_token, hash_token, new_nonce

#: Account attributes a sample can be stratified by.
STRATIFY_DIMENSIONS: tuple[str, ...] = ("tier", "value_type", "relationship_stage", "region")

#: Why an account is not in the frame, in the order they are checked: an account
#: counts once, under the first reason that applies.
EXCLUSION_REASONS: tuple[str, ...] = ("inactive", "no_contact", "opted_out", "recently_surveyed")

METHOD_SIMPLE = "simple"
METHOD_STRATIFIED = "stratified"
#: Why a recently lost account is not in an exit-survey frame (first that applies).
EXIT_EXCLUSION_REASONS: tuple[str, ...] = ("no_contact", "opted_out", "already_asked")
KINDS: tuple[str, ...] = (KIND_SATISFACTION, KIND_EXIT)
DEFAULT_DEFECTED_WITHIN_DAYS = 180

#: The allocation key of a sample that is not stratified.
ALL_STRATUM = "all"

#: Invitations still waiting for an answer; closing a campaign expires them.
OPEN_INVITATION_STATUSES: tuple[str, ...] = (
    INVITATION_PENDING,
    INVITATION_SENT,
    INVITATION_OPENED,
)

NAME_MAX_LENGTH = 200
CREATED_BY_MAX_LENGTH = 120
# Generous bounds that keep date arithmetic and the BigInteger seed column safe.
MAX_EXCLUDE_DAYS = 3660
MAX_CLOSES_IN_DAYS = 366
MAX_SEED = 2**63 - 1
#: The response rate a plan expects when no campaign has been closed yet.
DEFAULT_RESPONSE_RATE = 0.3


# --- the frame -------------------------------------------------------------------------


class FrameMember(NamedTuple):
    """An account in the sampling frame. `external_id` is the sort key of the draw,
    so the sample does not depend on database ids. (A tuple: frames hold 100,000s.)"""

    account_id: int
    external_id: str
    stratum: str | None
    locale: str


@dataclass(frozen=True)
class Frame:
    """The accounts a campaign may sample, and how many were left out and why."""

    members: list[FrameMember]
    excluded: dict[str, int]
    stratify_by: str | None = None
    #: The query that selected the members (account_id, external_id, stratum), so a
    #: launch can store the frame server-side with one INSERT ... SELECT.
    source: Select[Any] | None = None

    @property
    def size(self) -> int:
        return len(self.members)

    def strata(self) -> dict[str, list[str]]:
        """External ids by stratum value, strata sorted by key."""
        grouped: dict[str, list[str]] = {}
        for member in self.members:
            grouped.setdefault(member.stratum or "", []).append(member.external_id)
        return dict(sorted(grouped.items()))


def _exclusion_reason(cutoff: datetime | None) -> ColumnElement[Any]:
    """A SQL CASE naming the first reason an account is left out, NULL if it is in."""
    defected = exists().where(Defection.account_id == KeyAccount.id)
    no_email = func.coalesce(func.trim(KeyAccount.contact_email), "") == ""
    no_phone = func.coalesce(func.trim(KeyAccount.contact_phone), "") == ""
    whens: list[tuple[ColumnElement[bool], str]] = [
        (or_(not_(KeyAccount.active), defected), "inactive"),
        (and_(no_email, no_phone), "no_contact"),
        (KeyAccount.opted_out_at.is_not(None), "opted_out"),
    ]
    if cutoff is not None:
        recently_invited = exists().where(
            Invitation.account_id == KeyAccount.id, Invitation.created_at >= cutoff
        )
        whens.append((recently_invited, "recently_surveyed"))
    return case(*whens, else_=None)


def build_frame(
    *, exclude_days: int = 90, stratify_by: str | None = None, now: datetime | None = None
) -> Frame:
    """The sampling frame: active accounts (not defected) with an e-mail or phone,
    not opted out, and not invited to any campaign in the last `exclude_days` days
    (`exclude_days=0` excludes nobody for that reason).

    Two queries: the members, and the excluded counts by reason (GROUP BY).
    """
    if stratify_by is not None and stratify_by not in STRATIFY_DIMENSIONS:
        raise InvalidInputError(
            f"Unknown stratification {stratify_by!r}: use one of {', '.join(STRATIFY_DIMENSIONS)}.",
            field="stratify_by",
        )
    now = now or utcnow()
    cutoff = now - timedelta(days=exclude_days) if exclude_days > 0 else None
    reason = _exclusion_reason(cutoff)

    stratum = getattr(KeyAccount, stratify_by) if stratify_by else null()
    rows = db.session.execute(
        select(KeyAccount.id, KeyAccount.external_id, stratum, KeyAccount.locale).where(
            reason.is_(None)
        )
    )
    members = list(map(FrameMember._make, rows))
    source = select(
        KeyAccount.id.label("account_id"),
        KeyAccount.external_id.label("external_id"),
        (stratum if stratify_by else literal(None, String)).label("stratum"),
    ).where(reason.is_(None))

    reasons = select(reason.label("reason")).subquery()
    counted = db.session.execute(
        select(reasons.c.reason, func.count())
        .where(reasons.c.reason.is_not(None))
        .group_by(reasons.c.reason)
    ).all()
    excluded = dict.fromkeys(EXCLUSION_REASONS, 0)
    excluded.update({r: c for r, c in counted})
    return Frame(members=members, excluded=excluded, stratify_by=stratify_by, source=source)


def build_exit_frame(
    *,
    defected_within_days: int = DEFAULT_DEFECTED_WITHIN_DAYS,
    stratify_by: str | None = None,
    now: datetime | None = None,
) -> Frame:
    """The frame of an exit survey: accounts that defected in the last
    `defected_within_days` days (today included), with an e-mail or phone, not opted
    out and not already invited to an exit survey. Two queries, as `build_frame`.
    """
    if stratify_by is not None and stratify_by not in STRATIFY_DIMENSIONS:
        raise InvalidInputError(
            f"Unknown stratification {stratify_by!r}: use one of {', '.join(STRATIFY_DIMENSIONS)}.",
            field="stratify_by",
        )
    now = now or utcnow()
    since = now.date() - timedelta(days=defected_within_days)
    no_email = func.coalesce(func.trim(KeyAccount.contact_email), "") == ""
    no_phone = func.coalesce(func.trim(KeyAccount.contact_phone), "") == ""
    asked = exists().where(
        Invitation.account_id == KeyAccount.id,
        Invitation.campaign_id.in_(select(Campaign.id).where(Campaign.kind == KIND_EXIT)),
    )
    reason = case(
        (and_(no_email, no_phone), "no_contact"),
        (KeyAccount.opted_out_at.is_not(None), "opted_out"),
        (asked, "already_asked"),
        else_=None,
    )
    lost = exists().where(
        Defection.account_id == KeyAccount.id,
        Defection.defected_on >= since,
        Defection.defected_on <= now.date(),
    )
    stratum = getattr(KeyAccount, stratify_by) if stratify_by else null()
    rows = db.session.execute(
        select(KeyAccount.id, KeyAccount.external_id, stratum, KeyAccount.locale).where(
            lost, reason.is_(None)
        )
    )
    members = list(map(FrameMember._make, rows))
    reasons = select(reason.label("reason")).where(lost).subquery()
    counted = db.session.execute(
        select(reasons.c.reason, func.count())
        .where(reasons.c.reason.is_not(None))
        .group_by(reasons.c.reason)
    ).all()
    excluded = dict.fromkeys(EXIT_EXCLUSION_REASONS, 0)
    excluded.update({r: c for r, c in counted})
    return Frame(members=members, excluded=excluded, stratify_by=stratify_by)


# --- planning --------------------------------------------------------------------------


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


@dataclass(frozen=True)
class StratumAllocation:
    key: str
    frame: int
    size: int


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

    @property
    def sample_size(self) -> int:
        return len(self.sample)


@dataclass(frozen=True)
class LaunchResult:
    campaign_id: int | None  # None for a dry run
    plan: CampaignPlan
    emails_queued: int = 0  # invitation e-mails written to the outbox


@dataclass(frozen=True)
class _Validated:
    name: str
    closes_at: datetime
    seed: int
    created_by: str | None


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
    return _Validated(name=name, closes_at=closes_at, seed=seed, created_by=created_by)


def _excluded_text(excluded: dict[str, int]) -> str:
    return ", ".join(f"{count} {reason.replace('_', ' ')}" for reason, count in excluded.items())


def _plan(request: CampaignRequest, now: datetime) -> tuple[CampaignPlan, Frame, _Validated]:
    valid = _validate(request, now)
    if request.kind == KIND_EXIT:
        frame = build_exit_frame(
            defected_within_days=request.defected_within_days,
            stratify_by=request.stratify_by,
            now=now,
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
            exclude_days=request.exclude_days, stratify_by=request.stratify_by, now=now
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
    plan = CampaignPlan(
        frame_size=frame.size,
        excluded=frame.excluded,
        allocation=allocation,
        seed=valid.seed,
        sample=[ids_by_external[e] for e in drawn],
        method=method,
        name=valid.name,
        stratify_by=request.stratify_by,
        # The exit frame has no "recently surveyed" rule (it excludes anyone asked before).
        exclude_days=0 if request.kind == KIND_EXIT else request.exclude_days,
        closes_at=valid.closes_at,
        expected_response_rate=rate,
        expected_margin=expected_margin(size, frame.size, rate),
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
    plan, _frame, _valid = _plan(request, now or utcnow())
    return plan


#: Any fixed number: PostgreSQL's advisory lock that serialises campaign launches.
LAUNCH_LOCK_KEY = 0x4B50_4C41  # "KPLA"


def _serialise_launches() -> None:
    """Hold the launch lock until this transaction ends, so that a launch running at
    the same time draws its frame only after this one's invitations are committed:
    "recently surveyed" then excludes them, and no account is invited by two
    campaigns launched together."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(LAUNCH_LOCK_KEY)))
    elif dialect == "sqlite":
        # A write statement (even one that matches no row) takes SQLite's single
        # write lock for the rest of the transaction; others wait (busy timeout).
        db.session.execute(update(Campaign).where(literal(False)).values(status=Campaign.status))


def launch_campaign(
    request: CampaignRequest,
    *,
    secret_key: str,
    dry_run: bool = False,
    now: datetime | None = None,
    mail: MailSettings | None = None,
) -> LaunchResult:
    """Draw the sample and write the campaign in one transaction: the campaign, its
    allocation, the frame at launch, and one pending invitation per sampled account
    (only the hash of each link token is stored; `campaign_links` re-derives links).
    With `mail` settings, one invitation e-mail per sampled account with an e-mail
    address is written to the outbox in the same transaction.

    With `dry_run` nothing is written and `campaign_id` is None. A name taken by a
    concurrent launch raises ConflictError after rolling back.
    """
    if not secret_key:
        raise ValueError("secret_key is required to make survey links")
    now = now or utcnow()
    if dry_run:
        return LaunchResult(campaign_id=None, plan=_plan(request, now)[0])
    _serialise_launches()
    try:
        plan, frame, valid = _plan(request, now)
    except Exception:
        db.session.rollback()  # let go of the launch lock
        raise

    sampled = set(plan.sample)
    try:
        questionnaire = (
            ensure_exit_questionnaire()
            if request.kind == KIND_EXIT
            else ensure_default_questionnaire()
        )
        campaign = Campaign(
            name=plan.name,
            kind=request.kind,
            status=CAMPAIGN_OPEN,
            questionnaire_id=questionnaire.id,
            opens_at=now,
            closes_at=valid.closes_at,
            created_at=now,
            created_by=valid.created_by,
            method=plan.method,
            stratify_by=plan.stratify_by,
            seed=plan.seed,
            frame_size=plan.frame_size,
            sample_size=plan.sample_size,
            exclude_days=plan.exclude_days,
        )
        db.session.add(campaign)
        db.session.flush()
        # Core bulk inserts (one executemany each): a 100,000-account frame must not go
        # through the ORM's per-row bookkeeping, which costs about twice the time.
        db.session.execute(
            insert(CampaignStratum.__table__),
            [
                {"campaign_id": campaign.id, "key": a.key, "frame": a.frame, "size": a.size}
                for a in plan.allocation
            ],
        )
        _store_frame(campaign.id, frame)
        invitations = []
        for member in frame.members:
            if member.account_id not in sampled:
                continue
            nonce = new_nonce()
            invitations.append(
                {
                    "campaign_id": campaign.id,
                    "account_id": member.account_id,
                    "token_nonce": nonce,
                    "token_hash": hash_token(derive_token(secret_key, nonce)),
                    "locale": normalise_locale(member.locale) or DEFAULT_LOCALE,
                    "stratum": member.stratum,
                    "status": INVITATION_PENDING,
                    "created_at": now,
                    "reminders_sent": 0,
                }
            )
        db.session.execute(insert(Invitation.__table__), invitations)
        # The invitation e-mails go into the outbox in this same transaction (delivered
        # later by `flask outbox send`); without mail settings links are handed out by hand.
        emails_queued = (
            queue_mail(KIND_INVITATION, mail, campaign_id=campaign.id, now=now)
            if mail is not None
            else 0
        )
        record_audit(
            valid.created_by,
            CAMPAIGN_LAUNCH,
            "campaign",
            campaign.id,
            at=now,
            details={
                "name": plan.name,
                "method": plan.method,
                "stratify_by": plan.stratify_by,
                "seed": plan.seed,
                "frame_size": plan.frame_size,
                "sample_size": plan.sample_size,
                "exclude_days": plan.exclude_days,
                "kind": request.kind,
                # The frame as drawn from, to check the stored frame later (verify).
                "frame_digest": frame_digest(m.account_id for m in frame.members),
                **(
                    {"defected_within_days": request.defected_within_days}
                    if request.kind == KIND_EXIT
                    else {}
                ),
            },
        )
        campaign_id = campaign.id  # read before commit expires the object
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if db.session.scalar(select(Campaign.id).where(Campaign.name == plan.name)) is not None:
            raise ConflictError(
                f"A campaign named {plan.name!r} was launched at the same time; "
                "choose another name.",
                field="name",
            ) from exc
        # Otherwise the registry changed under the draw (e.g. an account was removed).
        raise ConflictError(
            "The key-account registry changed while the campaign was being launched; "
            "nothing was saved. Please try again."
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    return LaunchResult(campaign_id=campaign_id, plan=plan, emails_queued=emails_queued)


def _store_frame(campaign_id: int, frame: Frame) -> None:
    """Write the frame as it was at launch, in the caller's transaction.

    With the frame's own query this is one INSERT ... SELECT: 100,000 parameter sets
    cost seconds on PostgreSQL's executemany (benchmarks/: 8.9 s for a launch). The
    query runs again, so a registry change since the draw would store another frame:
    the count and id sum check turns that into the conflict the caller reports.
    """
    table = CampaignFrameMember.__table__
    if frame.source is None:
        db.session.execute(
            insert(table),
            [
                {
                    "campaign_id": campaign_id,
                    "account_id": m.account_id,
                    "external_id": m.external_id,
                    "stratum": m.stratum,
                }
                for m in frame.members
            ],
        )
        return
    members = frame.source.subquery()
    db.session.execute(
        insert(table).from_select(
            ["campaign_id", "account_id", "external_id", "stratum"],
            select(
                literal(campaign_id, Integer),
                members.c.account_id,
                members.c.external_id,
                members.c.stratum,
            ),
        )
    )
    stored = db.session.execute(
        select(func.count(), func.coalesce(func.sum(table.c.account_id), 0)).where(
            table.c.campaign_id == campaign_id
        )
    ).one()
    expected = (frame.size, sum(m.account_id for m in frame.members))
    if (int(stored[0]), int(stored[1])) != expected:
        raise ConflictError(
            "The key-account registry changed while the campaign was being launched; "
            "nothing was saved. Please try again."
        )


# --- closing ---------------------------------------------------------------------------


def close_campaign(
    campaign_id: int, *, now: datetime | None = None, actor: str | None = None
) -> Campaign:
    """Close a campaign: no more answers; invitations not answered become expired.

    Closing a closed campaign changes nothing and returns it. NotFoundError if
    there is no such campaign.
    """
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    if campaign.status == CAMPAIGN_CLOSED:
        return campaign
    now = now or utcnow()
    campaign.status = CAMPAIGN_CLOSED
    campaign.closed_at = now
    expired = db.session.execute(
        update(Invitation)
        .where(
            Invitation.campaign_id == campaign_id,
            Invitation.status.in_(OPEN_INVITATION_STATUSES),
        )
        .values(status=INVITATION_EXPIRED)
        .execution_options(synchronize_session=False)
    ).rowcount
    record_audit(actor, CAMPAIGN_CLOSE, "campaign", campaign_id, {"expired": expired}, at=now)
    db.session.commit()
    return campaign


# --- links -----------------------------------------------------------------------------


def survey_url(base_url: str, token: str) -> str:
    """The personal survey link for a token."""
    return f"{base_url.rstrip('/')}/s/{token}"


@dataclass(frozen=True, slots=True)
class InvitationLink:
    external_id: str
    account_name: str
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    locale: str
    url: str
    status: str


def campaign_links(campaign_id: int, *, secret_key: str, base_url: str) -> list[InvitationLink]:
    """Every invitation's personal link, re-derived from its nonce with the secret
    key, with whom to send it to; ordered by external id. One query."""
    rows = db.session.execute(
        select(
            Invitation.token_nonce,
            Invitation.locale,
            Invitation.status,
            KeyAccount.external_id,
            KeyAccount.name,
            KeyAccount.contact_name,
            KeyAccount.contact_email,
            KeyAccount.contact_phone,
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .where(Invitation.campaign_id == campaign_id)
        .order_by(KeyAccount.external_id)
    ).all()
    if not rows and db.session.get(Campaign, campaign_id) is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    return [
        InvitationLink(
            external_id=row.external_id,
            account_name=row.name,
            contact_name=row.contact_name,
            contact_email=row.contact_email,
            contact_phone=row.contact_phone,
            locale=row.locale,
            url=survey_url(base_url, derive_token(secret_key, row.token_nonce)),
            status=row.status,
        )
        for row in rows
    ]


# --- listing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignSummary:
    id: int
    name: str
    kind: str
    status: str
    method: str
    stratify_by: str | None
    seed: int
    frame_size: int
    sample_size: int
    created_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    sampled: int
    responded: int

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.sampled if self.sampled else None


def _summaries(where: ColumnElement[bool] | None = None) -> list[CampaignSummary]:
    query = (
        select(
            Campaign.id,
            Campaign.name,
            Campaign.kind,
            Campaign.status,
            Campaign.method,
            Campaign.stratify_by,
            Campaign.seed,
            Campaign.frame_size,
            Campaign.sample_size,
            Campaign.created_at,
            Campaign.closes_at,
            Campaign.closed_at,
            func.count(Invitation.id).label("sampled"),
            func.count(Response.id).label("responded"),
        )
        .outerjoin(Invitation, Invitation.campaign_id == Campaign.id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .group_by(Campaign.id)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
    )
    if where is not None:
        query = query.where(where)
    return [CampaignSummary(**row._asdict()) for row in db.session.execute(query)]


def list_campaigns() -> list[CampaignSummary]:
    """Every campaign, newest first, with how many were sampled and have responded
    (one GROUP BY query)."""
    return _summaries()


def get_campaign_summary(campaign_id: int) -> CampaignSummary:
    """One campaign with its counts; NotFoundError if there is none."""
    found = _summaries(Campaign.id == campaign_id)
    if not found:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    return found[0]


__all__ = [
    "ALL_STRATUM",
    "EXCLUSION_REASONS",
    "STRATIFY_DIMENSIONS",
    "CampaignPlan",
    "CampaignRequest",
    "CampaignSummary",
    "Frame",
    "FrameMember",
    "InvitationLink",
    "LaunchResult",
    "StratumAllocation",
    "build_exit_frame",
    "build_frame",
    "campaign_links",
    "close_campaign",
    "get_campaign_summary",
    "launch_campaign",
    "list_campaigns",
    "plan_campaign",
    "survey_url",
]
