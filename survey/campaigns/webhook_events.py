"""The campaigns' webhook events: `campaign.launched` and `campaign.closed`, emitted in
the transaction that launches or closes. A campaign's events share the order key
`campaign:<id>`, so an endpoint hears its launch before its close."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from survey.db import db
from survey.events import CAMPAIGN_CLOSED, CAMPAIGN_LAUNCHED, emit
from survey.models import Campaign, Invitation, Response


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def campaign_payload(campaign_id: int) -> dict[str, Any]:
    """The campaign with its invitation and response counts (three small queries)."""
    c = db.session.execute(
        select(
            Campaign.id,
            Campaign.name,
            Campaign.kind,
            Campaign.status,
            Campaign.opens_at,
            Campaign.closes_at,
            Campaign.closed_at,
            Campaign.sample_size,
            Campaign.created_by,
        ).where(Campaign.id == campaign_id)
    ).one()
    invitations = db.session.scalar(
        select(func.count()).select_from(Invitation).where(Invitation.campaign_id == campaign_id)
    )
    responses = db.session.scalar(
        select(func.count()).select_from(Response).where(Response.campaign_id == campaign_id)
    )
    return {
        "campaign": {
            "id": c.id,
            "name": c.name,
            "kind": c.kind,
            "status": c.status,
            "opens_at": _iso(c.opens_at),
            "closes_at": _iso(c.closes_at),
            "closed_at": _iso(c.closed_at),
            "sample_size": c.sample_size,
            "created_by": c.created_by,
            "invitations": int(invitations or 0),
            "responses": int(responses or 0),
        }
    }


def emit_campaign_launched(campaign_id: int) -> str | None:
    return emit(
        CAMPAIGN_LAUNCHED,
        lambda: campaign_payload(campaign_id),
        order_key=f"campaign:{campaign_id}",
    )


def emit_campaign_closed(campaign_id: int, *, expired: int) -> str | None:
    return emit(
        CAMPAIGN_CLOSED,
        lambda: campaign_payload(campaign_id) | {"expired_invitations": expired},
        order_key=f"campaign:{campaign_id}",
    )


__all__ = ["campaign_payload", "emit_campaign_closed", "emit_campaign_launched"]
