"""The registry's webhook events and the account block every event's payload shares.

`account_block` is what receivers match accounts by (our id and their external id);
`emit_tier_changed` and `emit_health_changed` are the calls the services that change
a tier or a health band make, in their own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from survey.db import db
from survey.events import (
    ACCOUNT_HEALTH_CHANGED,
    ACCOUNT_TIER_CHANGED,
    DEFECTION_RECORDED,
    emit,
    subscribers,
)
from survey.models import Defection, DefectionReason, KeyAccount


def account_blocks(account_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """{account id: {"id", "external_id", "name", "tier", "account_manager"}} in one query."""
    ids = list(set(account_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(
            KeyAccount.id,
            KeyAccount.external_id,
            KeyAccount.name,
            KeyAccount.tier,
            KeyAccount.account_manager,
        ).where(KeyAccount.id.in_(ids))
    )
    return {
        r.id: {
            "id": r.id,
            "external_id": r.external_id,
            "name": r.name,
            "tier": r.tier,
            "account_manager": r.account_manager,
        }
        for r in rows
    }


def account_block(account_id: int) -> dict[str, Any]:
    return account_blocks([account_id]).get(account_id, {"id": account_id})


def emit_defection_recorded(defection_id: int, account_id: int) -> str | None:
    """`defection.recorded`: when, why (primary reason first), to whom, what it cost."""

    def payload() -> dict[str, Any]:
        defection = db.session.execute(
            select(
                Defection.id,
                Defection.defected_on,
                Defection.competitor,
                Defection.lost_annual_revenue,
                Defection.source,
            ).where(Defection.id == defection_id)
        ).one()
        reasons = db.session.scalars(
            select(DefectionReason.reason)
            .where(DefectionReason.defection_id == defection_id)
            .order_by(DefectionReason.is_primary.desc(), DefectionReason.reason)
        ).all()
        return {
            "account": account_block(account_id),
            "defection": {
                "id": defection.id,
                "defected_on": defection.defected_on.isoformat(),
                "reasons": list(reasons),
                "competitor": defection.competitor,
                "lost_annual_revenue": defection.lost_annual_revenue,
                "source": defection.source,
            },
        }

    return emit(DEFECTION_RECORDED, payload, account_id=account_id)


def emit_tier_changed(changes: Iterable[tuple[int, str, str]], *, source: str) -> list[str | None]:
    """`account.tier_changed` for each (account id, old tier, new tier), in the caller's
    transaction; `source` says what changed it ("import", "api", "suggestion"...).
    One query for all the accounts (none when nobody subscribes)."""
    changes = [c for c in changes if c[1] != c[2]]
    if not changes or not subscribers(ACCOUNT_TIER_CHANGED):
        return []
    blocks = account_blocks(account_id for account_id, _, _ in changes)
    return [
        emit(
            ACCOUNT_TIER_CHANGED,
            {
                "account": blocks.get(account_id, {"id": account_id}),
                "old_tier": old,
                "new_tier": new,
                "source": source,
            },
            account_id=account_id,
        )
        for account_id, old, new in changes
    ]


def emit_health_changes(
    changes: Iterable[tuple[int, str | None, str, float | None]], *, model_version: int | None
) -> list[str | None]:
    """`account.health_changed` for each (account id, old band, new band, score) whose
    band changed, in the caller's transaction (a recompute of every account's
    health): one query for all the accounts' blocks, none when nobody subscribes."""
    changes = [c for c in changes if c[1] != c[2]]
    if not changes or not subscribers(ACCOUNT_HEALTH_CHANGED):
        return []
    blocks = account_blocks(account_id for account_id, _, _, _ in changes)
    return [
        emit(
            ACCOUNT_HEALTH_CHANGED,
            {
                "account": blocks.get(account_id, {"id": account_id}),
                "old_band": old,
                "new_band": new,
                "score": score,
                "model_version": model_version,
            },
            account_id=account_id,
        )
        for account_id, old, new, score in changes
    ]


def emit_health_changed(
    account_id: int,
    *,
    old_band: str | None,
    new_band: str,
    score: float | None = None,
    model_version: int | None = None,
) -> str | None:
    """`account.health_changed` when an account's health band changes (the health
    score's service calls this in its own transaction; nothing when the band stays)."""
    if old_band == new_band:
        return None
    return emit(
        ACCOUNT_HEALTH_CHANGED,
        lambda: {
            "account": account_block(account_id),
            "old_band": old_band,
            "new_band": new_band,
            "score": score,
            "model_version": model_version,
        },
        account_id=account_id,
    )


__all__ = [
    "account_block",
    "account_blocks",
    "emit_defection_recorded",
    "emit_health_changed",
    "emit_health_changes",
    "emit_tier_changed",
]
