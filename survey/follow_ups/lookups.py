"""Reading follow-up cases for the API: keyset pages and one case, with their notes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from survey.db import db
from survey.follow_ups.cases import follow_up_conditions
from survey.models import FOLLOW_UP_RESOLVED, FollowUp
from survey.paging import Page, keyset_page


def follow_up_page(
    *,
    first: int,
    after_id: int | None = None,
    status: str | None = None,
    owner: str | None = None,
    overdue: bool | None = None,
    tier: str | None = None,
) -> Page[FollowUp]:
    """Cases in id order with their notes; `overdue` keeps (or leaves out) late ones.

    InvalidInputError for an unknown status.
    """
    conditions = follow_up_conditions(status, owner, overdue, tier=tier)
    return keyset_page(
        select(FollowUp).where(*conditions).options(selectinload(FollowUp.notes)),
        FollowUp.id,
        first=first,
        after_id=after_id,
        count_stmt=select(func.count()).select_from(FollowUp).where(*conditions),
    )


def follow_up_with_notes(follow_up_id: int) -> FollowUp:
    """One case with its notes loaded (NoResultFound if none)."""
    return db.session.scalars(
        select(FollowUp).where(FollowUp.id == follow_up_id).options(selectinload(FollowUp.notes))
    ).one()


def unresolved_follow_ups_of_account(account_id: int) -> list[FollowUp]:
    """The account's cases not resolved yet (open, contacted or escalated), the
    earliest due first (one query; their notes are not loaded)."""
    return list(
        db.session.scalars(
            select(FollowUp)
            .where(FollowUp.account_id == account_id, FollowUp.status != FOLLOW_UP_RESOLVED)
            .order_by(FollowUp.due_at, FollowUp.id)
        )
    )
