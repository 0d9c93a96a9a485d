"""Reading campaigns and invitations for the API: keyset pages, rows by id, and the
invitations of many campaigns at once (one query whatever their number).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from survey.db import db
from survey.models import Campaign, Invitation
from survey.paging import Page, keyset_page


def campaign_page(*, first: int, after_id: int | None = None) -> Page[Campaign]:
    """Campaigns in id order (oldest first)."""
    return keyset_page(select(Campaign), Campaign.id, first=first, after_id=after_id)


def campaign_by_id(campaign_id: int) -> Campaign | None:
    return db.session.get(Campaign, campaign_id)


def campaign_kind(campaign_id: int) -> str | None:
    """A campaign's kind (satisfaction or exit), without loading the campaign."""
    return db.session.scalar(select(Campaign.kind).where(Campaign.id == campaign_id))


def invitation_by_id(invitation_id: int) -> Invitation | None:
    return db.session.get(Invitation, invitation_id)


def invitations_of_campaigns(
    campaign_ids: Sequence[int], limit: int, after_id: int | None
) -> dict[int, list[Invitation]]:
    """Up to `limit` invitations per campaign after `after_id`, in id order, with
    their account: one query for all campaigns (a window numbers each campaign's)."""
    conditions = [Invitation.campaign_id.in_(campaign_ids)]
    if after_id is not None:
        conditions.append(Invitation.id > after_id)
    ranked = (
        select(
            Invitation.id.label("id"),
            func.row_number()
            .over(partition_by=Invitation.campaign_id, order_by=Invitation.id)
            .label("rn"),
        )
        .where(*conditions)
        .subquery()
    )
    rows = db.session.scalars(
        select(Invitation)
        .join(ranked, ranked.c.id == Invitation.id)
        .where(ranked.c.rn <= limit)
        .options(joinedload(Invitation.account))
        .order_by(Invitation.campaign_id, Invitation.id)
    )
    result: dict[int, list[Invitation]] = defaultdict(list)
    for row in rows:
        result[row.campaign_id].append(row)
    return result


def invitation_counts(campaign_ids: Sequence[int]) -> dict[int, int]:
    """How many invitations each campaign has (campaigns without any are left out)."""
    rows = db.session.execute(
        select(Invitation.campaign_id, func.count(Invitation.id))
        .where(Invitation.campaign_id.in_(campaign_ids))
        .group_by(Invitation.campaign_id)
    )
    return {campaign_id: int(n) for campaign_id, n in rows}
