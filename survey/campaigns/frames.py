"""The sampling frame: which accounts a campaign may ask, and why the others may not.

A satisfaction survey's frame is every active account with at least one chosen
contact we may ask (an e-mail or phone, not opted out, not invited too recently:
survey.campaigns.invitees); an exit survey's frame is every account lost recently
that we may ask why. Each left-out account counts once, under the first reason
that applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    null,
    or_,
    select,
)

from survey.campaigns.invitees import ContactChoice, exclusion_whens
from survey.clock import utcnow
from survey.db import db, read_rows
from survey.errors import InvalidInputError
from survey.models import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_OPEN,
    KIND_EXIT,
    SELECTION_CENSUS,
    SELECTION_COVERAGE,
    Campaign,
    Defection,
    FollowUp,
    Invitation,
    KeyAccount,
)

#: Account attributes a sample can be stratified by.
STRATIFY_DIMENSIONS: tuple[str, ...] = ("tier", "value_type", "relationship_stage", "region")

#: Why an account is not in the frame, in the order they are checked: an account
#: counts once, under the first reason that applies. `open_case` (an open, contacted or
#: escalated follow-up: no survey while we still owe an answer) comes last, so it counts
#: exactly the accounts that would be in the frame but for their case.
EXCLUSION_REASONS: tuple[str, ...] = (
    "inactive",
    "no_contact",
    "opted_out",
    "recently_surveyed",
    "open_case",
)
#: Follow-up statuses that leave an account out of the frame (all but resolved).
OPEN_CASE_STATUSES: tuple[str, ...] = (FOLLOW_UP_OPEN, FOLLOW_UP_CONTACTED, FOLLOW_UP_ESCALATED)

#: Why a recently lost account is not in an exit-survey frame (first that applies).
EXIT_EXCLUSION_REASONS: tuple[str, ...] = ("no_contact", "opted_out", "already_asked")
DEFAULT_DEFECTED_WITHIN_DAYS = 180


class FrameMember(NamedTuple):
    """An account in the sampling frame. `external_id` is the sort key of the draw,
    so the sample does not depend on database ids. (A tuple: frames hold 100,000s.)"""

    account_id: int
    external_id: str
    stratum: str | None
    locale: str
    #: How the account is certain to be sampled (SELECTION_CENSUS: its tier is surveyed
    #: in full; SELECTION_COVERAGE: the coverage goal), None when only by chance.
    certainty: str | None = None


@dataclass(frozen=True)
class Frame:
    """The accounts a campaign may sample, and how many were left out and why."""

    members: list[FrameMember]
    excluded: dict[str, int]
    stratify_by: str | None = None
    #: The query that selected the members (account_id, external_id, stratum), so a
    #: launch can store the frame server-side with one INSERT ... SELECT.
    source: Select[Any] | None = None
    #: External ids of the accounts left out for an open case, sorted.
    open_cases: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.members)

    def strata(self) -> dict[str, list[str]]:
        """External ids by stratum value, strata sorted by key."""
        grouped: dict[str, list[str]] = {}
        for member in self.members:
            grouped.setdefault(member.stratum or "", []).append(member.external_id)
        return dict(sorted(grouped.items()))


def _exclusion_reason(
    cutoff: datetime | None, choice: ContactChoice, include_open_cases: bool = False
) -> ColumnElement[Any]:
    """A SQL CASE naming the first reason an account is left out, NULL if it is in."""
    defected = exists().where(Defection.account_id == KeyAccount.id)
    whens: list[tuple[ColumnElement[bool], str]] = [
        (or_(not_(KeyAccount.active), defected), "inactive"),
        *exclusion_whens(choice, cutoff),
    ]
    if not include_open_cases:
        # IN (not a correlated EXISTS): PostgreSQL hashes the subquery once instead of
        # probing it for each of 100,000 accounts inside the CASE.
        open_case = KeyAccount.id.in_(
            select(FollowUp.account_id).where(FollowUp.status.in_(OPEN_CASE_STATUSES))
        )
        whens.append((open_case, "open_case"))
    return case(*whens, else_=None)


def coverage_due(before: datetime) -> ColumnElement[bool]:
    """SQL: the account has not been invited to any campaign since `before` and was in
    the registry before it, i.e. its last invitation (or, never invited, the day it
    entered the registry) is older than `before`."""
    invited_since = select(Invitation.account_id).where(Invitation.created_at >= before)
    return and_(KeyAccount.created_at < before, KeyAccount.id.not_in(invited_since))


def _certainty(
    census_tiers: tuple[str, ...], coverage_before: datetime | None
) -> ColumnElement[Any]:
    """A SQL CASE: SELECTION_CENSUS for an account of a census tier, else
    SELECTION_COVERAGE when the coverage goal is due, else NULL. A census account that is
    also due counts as census."""
    whens: list[tuple[ColumnElement[bool], str]] = []
    if census_tiers:
        whens.append((KeyAccount.tier.in_(census_tiers), SELECTION_CENSUS))
    if coverage_before is not None:
        whens.append((coverage_due(coverage_before), SELECTION_COVERAGE))
    if not whens:
        return null()
    return case(*whens, else_=None)


def _without_jit() -> None:
    """On PostgreSQL, no JIT compilation for the rest of the transaction. The frame's
    CASE over hashed subplans is estimated at millions of cost units though it reads
    the registry once (0.3 s at 100,000 accounts), so PostgreSQL compiled it for half a
    second, at the draw and again at the launch's INSERT ... SELECT of the frame."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # On the DBAPI cursor, as survey.db sets its time limit: a setting, not a query.
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("SET LOCAL jit = off")
        finally:
            cursor.close()


def build_frame(
    *,
    exclude_days: int = 90,
    stratify_by: str | None = None,
    now: datetime | None = None,
    choice: ContactChoice | None = None,
    include_open_cases: bool = False,
    census_tiers: tuple[str, ...] = (),
    coverage_before: datetime | None = None,
) -> Frame:
    """The sampling frame: active accounts (not defected) with at least one chosen
    contact (`choice`: the primary contact by default) that has an e-mail or phone,
    has not opted out and was not invited to any campaign in the last
    `exclude_days` days (`exclude_days=0` excludes nobody for that reason), and,
    unless `include_open_cases`, without an open, contacted or escalated follow-up.

    Each member says whether it is certain to be sampled: its tier is one of
    `census_tiers`, or it was last invited (or, never invited, entered the registry)
    before `coverage_before` (the coverage goal; None: no goal).

    One query: every account with the first reason it is left out, if any, and how
    certain it is to be sampled.
    """
    if stratify_by is not None and stratify_by not in STRATIFY_DIMENSIONS:
        raise InvalidInputError(
            f"Unknown stratification {stratify_by!r}: use one of {', '.join(STRATIFY_DIMENSIONS)}.",
            field="stratify_by",
        )
    now = now or utcnow()
    cutoff = now - timedelta(days=exclude_days) if exclude_days > 0 else None
    reason = _exclusion_reason(cutoff, choice or ContactChoice(), include_open_cases)
    certainty = _certainty(tuple(census_tiers), coverage_before)

    stratum = getattr(KeyAccount, stratify_by) if stratify_by else null()
    _without_jit()
    # One pass over the registry: each account with the reason it is left out (NULL
    # when it is in); the members and the counts by reason are read from the same rows.
    members: list[FrameMember] = []
    excluded = dict.fromkeys(EXCLUSION_REASONS, 0)
    open_cases: list[str] = []
    # Past the ORM's result handling (read_rows): 100,000 rows at launch.
    for account_id, external_id, value, locale, why, sure in read_rows(
        select(KeyAccount.id, KeyAccount.external_id, stratum, KeyAccount.locale, reason, certainty)
    ):
        if why is None:
            members.append(FrameMember(account_id, external_id, value, locale, sure))
        else:
            excluded[why] = excluded.get(why, 0) + 1
            if why == "open_case":
                open_cases.append(external_id)
    source = select(
        KeyAccount.id.label("account_id"),
        KeyAccount.external_id.label("external_id"),
        (stratum if stratify_by else literal(None, String)).label("stratum"),
    ).where(reason.is_(None))
    return Frame(
        members=members,
        excluded=excluded,
        stratify_by=stratify_by,
        source=source,
        open_cases=tuple(sorted(open_cases)),
    )


def build_exit_frame(
    *,
    defected_within_days: int = DEFAULT_DEFECTED_WITHIN_DAYS,
    stratify_by: str | None = None,
    now: datetime | None = None,
    choice: ContactChoice | None = None,
) -> Frame:
    """The frame of an exit survey: accounts that defected in the last
    `defected_within_days` days (today included), with a chosen contact that has an
    e-mail or phone and has not opted out, and not already invited to an exit
    survey. Two queries, as `build_frame`.
    """
    if stratify_by is not None and stratify_by not in STRATIFY_DIMENSIONS:
        raise InvalidInputError(
            f"Unknown stratification {stratify_by!r}: use one of {', '.join(STRATIFY_DIMENSIONS)}.",
            field="stratify_by",
        )
    now = now or utcnow()
    since = now.date() - timedelta(days=defected_within_days)
    asked = exists().where(
        Invitation.account_id == KeyAccount.id,
        Invitation.campaign_id.in_(select(Campaign.id).where(Campaign.kind == KIND_EXIT)),
    )
    reason = case(
        *exclusion_whens(choice or ContactChoice(), None),
        (asked, "already_asked"),
        else_=None,
    )
    lost = exists().where(
        Defection.account_id == KeyAccount.id,
        Defection.defected_on >= since,
        Defection.defected_on <= now.date(),
    )
    stratum = getattr(KeyAccount, stratify_by) if stratify_by else null()
    _without_jit()
    rows = db.session.execute(
        select(KeyAccount.id, KeyAccount.external_id, stratum, KeyAccount.locale).where(
            lost, reason.is_(None)
        )
    )
    members = [FrameMember(*row) for row in rows]
    reasons = select(reason.label("reason")).select_from(KeyAccount).where(lost).subquery()
    counted = db.session.execute(
        select(reasons.c.reason, func.count())
        .where(reasons.c.reason.is_not(None))
        .group_by(reasons.c.reason)
    ).all()
    excluded = dict.fromkeys(EXIT_EXCLUSION_REASONS, 0)
    excluded.update({r: c for r, c in counted})
    return Frame(members=members, excluded=excluded, stratify_by=stratify_by)


__all__ = [
    "DEFAULT_DEFECTED_WITHIN_DAYS",
    "EXCLUSION_REASONS",
    "EXIT_EXCLUSION_REASONS",
    "OPEN_CASE_STATUSES",
    "STRATIFY_DIMENSIONS",
    "Frame",
    "FrameMember",
    "build_exit_frame",
    "build_frame",
    "coverage_due",
]
