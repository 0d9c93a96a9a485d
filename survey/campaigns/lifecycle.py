"""A campaign after its launch: listing campaigns with their counts, and closing one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update

from survey.audit import CAMPAIGN_CLOSE, record_audit
from survey.campaigns.webhook_events import emit_campaign_closed
from survey.clock import utcnow
from survey.db import db
from survey.errors import NotFoundError
from survey.models import (
    CAMPAIGN_CLOSED,
    INVITATION_EXPIRED,
    INVITATION_OPENED,
    INVITATION_PENDING,
    INVITATION_SENT,
    Campaign,
    Invitation,
    Response,
)

#: Invitations still waiting for an answer; closing a campaign expires them.
OPEN_INVITATION_STATUSES: tuple[str, ...] = (
    INVITATION_PENDING,
    INVITATION_SENT,
    INVITATION_OPENED,
)


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
    emit_campaign_closed(campaign_id, expired=expired)
    db.session.commit()
    return campaign


__all__ = [
    "CampaignSummary",
    "close_campaign",
    "get_campaign_summary",
    "list_campaigns",
]
