"""How far campaigns have got: accounts sampled and heard per campaign (batched over
many campaigns), one campaign's funnel of links (sent, opened, answered, bounced,
expired) and its response rate per stratum. SQL does the counting.

A campaign that invites several people of an account (`--contacts all`) samples the
account once: `sampled` and `responded` count accounts, and an account is heard
when any of its people answered. The funnel counts links, one per person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, or_, select

from survey.db import db
from survey.errors import NotFoundError
from survey.models import (
    INVITATION_BOUNCED,
    INVITATION_EXPIRED,
    Campaign,
    CampaignStratum,
    Invitation,
    Response,
)


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """Accounts sampled, and accounts of which at least one person answered."""

    sampled: int
    responded: int

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.sampled if self.sampled else None


def campaign_progress(campaign_ids: Sequence[int]) -> dict[int, CampaignProgress]:
    """Accounts sampled and heard per campaign (one query); missing ids get zeros."""
    result = {cid: CampaignProgress(0, 0) for cid in campaign_ids}
    if not campaign_ids:
        return result
    for campaign_id, sampled, responded in db.session.execute(
        select(Invitation.campaign_id, *_accounts_sampled_and_heard())
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(Invitation.campaign_id.in_(campaign_ids))
        .group_by(Invitation.campaign_id)
    ):
        result[campaign_id] = CampaignProgress(int(sampled), int(responded))
    return result


def _accounts_sampled_and_heard() -> list[object]:
    return [
        func.count(func.distinct(Invitation.account_id)),
        func.count(func.distinct(Response.account_id)),
    ]


@dataclass(frozen=True, slots=True)
class Funnel:
    """How far a campaign's invitations got. Each stage counts the invitations that
    reached it or a later one (an answered link was also sent and opened), so the
    numbers never grow down the funnel; `bounced` and `expired` stand apart."""

    sampled: int
    sent: int
    opened: int
    responded: int
    bounced: int
    expired: int

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.sampled if self.sampled else None


def _funnel_columns() -> list[object]:
    responded = Response.id.is_not(None)
    opened = or_(Invitation.opened_at.is_not(None), responded)
    sent = or_(Invitation.sent_at.is_not(None), opened)
    return [
        func.count(Invitation.id),
        func.coalesce(func.sum(case((sent, 1), else_=0)), 0),
        func.coalesce(func.sum(case((opened, 1), else_=0)), 0),
        func.count(Response.id),
        func.coalesce(func.sum(case((Invitation.status == INVITATION_BOUNCED, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Invitation.status == INVITATION_EXPIRED, 1), else_=0)), 0),
    ]


def campaign_funnel(campaign_id: int) -> Funnel:
    """The funnel of one campaign (one query); NotFoundError if there is no such campaign."""
    row = db.session.execute(
        select(Campaign.id, *_funnel_columns())
        .select_from(Campaign)
        .outerjoin(Invitation, Invitation.campaign_id == Campaign.id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(Campaign.id == campaign_id)
        .group_by(Campaign.id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"There is no campaign with ID {campaign_id}.", field="campaign_id")
    return Funnel(*(int(v) for v in row[1:]))


@dataclass(frozen=True, slots=True)
class StratumProgress:
    """One stratum of a campaign: its frame and allocation at launch, and how many of
    the sampled accounts have answered."""

    key: str
    frame: int
    allocated: int
    sampled: int
    responded: int

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.sampled if self.sampled else None


def stratum_progress(campaign_id: int) -> list[StratumProgress]:
    """Accounts' response rate per stratum, in stratum key order (two queries: the
    allocation recorded at launch, and accounts invited and heard GROUP BY stratum)."""
    allocation = db.session.execute(
        select(CampaignStratum.key, CampaignStratum.frame, CampaignStratum.size)
        .where(CampaignStratum.campaign_id == campaign_id)
        .order_by(CampaignStratum.key)
    ).all()
    counts = {
        (key or ""): (int(sampled), int(responded))
        for key, sampled, responded in db.session.execute(
            select(Invitation.stratum, *_accounts_sampled_and_heard())
            .outerjoin(Response, Response.invitation_id == Invitation.id)
            .where(Invitation.campaign_id == campaign_id)
            .group_by(Invitation.stratum)
        )
    }
    result: list[StratumProgress] = []
    seen: set[str] = set()
    for key, frame, size in allocation:
        # A simple sample has one allocation row ("all") and invitations without stratum.
        stratum = key if key in counts else ("" if len(allocation) == 1 else key)
        sampled, responded = counts.get(stratum, (0, 0))
        seen.add(stratum)
        result.append(StratumProgress(key, int(frame), int(size), sampled, responded))
    for key in sorted(set(counts) - seen):  # invitations added outside the allocation
        sampled, responded = counts[key]
        result.append(StratumProgress(key, 0, 0, sampled, responded))
    return result
