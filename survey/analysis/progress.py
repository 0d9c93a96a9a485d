"""How far campaigns have got: invitations sent and answered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from survey.db import db
from survey.models import Invitation, Response


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    sampled: int
    responded: int

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.sampled if self.sampled else None


def campaign_progress(campaign_ids: Sequence[int]) -> dict[int, CampaignProgress]:
    """Invitations and responses per campaign (one query); missing ids get zeros."""
    result = {cid: CampaignProgress(0, 0) for cid in campaign_ids}
    if not campaign_ids:
        return result
    for campaign_id, sampled, responded in db.session.execute(
        select(Invitation.campaign_id, func.count(Invitation.id), func.count(Response.id))
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .where(Invitation.campaign_id.in_(campaign_ids))
        .group_by(Invitation.campaign_id)
    ):
        result[campaign_id] = CampaignProgress(int(sampled), int(responded))
    return result
