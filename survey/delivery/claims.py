"""Claiming due rows of a work queue (the mail outbox, webhook deliveries) for one
worker: pick them (on PostgreSQL with FOR UPDATE SKIP LOCKED, so workers skip each
other's locked rows instead of queueing behind them), mark them claimed, commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update

from survey.db import db


def claim_due(
    model: Any,
    due: ColumnElement[bool],
    order_by: Sequence[Any],
    *,
    status: str,
    worker_id: str,
    batch_size: int,
    now: datetime,
) -> list[int]:
    """Claim up to `batch_size` rows of `model` matching `due`, in `order_by` order:
    set `status`, `claimed_by` and `claimed_at`, and commit. Returns the ids claimed,
    ascending. `due` is checked again by the UPDATE: on SQLite (no row locks) another
    worker may have claimed some between the SELECT and it; RETURNING says which are
    ours."""
    pick = select(model.id).where(due).order_by(*order_by).limit(batch_size)
    if db.session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    try:
        ids = list(db.session.scalars(pick))
        if not ids:
            db.session.commit()
            return []
        claimed = list(
            db.session.scalars(
                update(model)
                .where(model.id.in_(ids), due)
                .values(status=status, claimed_by=worker_id, claimed_at=now)
                .returning(model.id)
                .execution_options(synchronize_session=False)
            )
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return sorted(claimed)


__all__ = ["claim_due"]
