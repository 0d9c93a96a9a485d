"""The account list: key accounts matching a filter and a search, each with its
latest overall score, sorted by annual revenue or by that score (worst first), a
page at a time.

The latest overall score is the "overall" answer of the account's newest response
that has one, found by a window function in the page's own query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select

from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    MODEL_HEALTH,
    AccountScore,
    Answer,
    Aspect,
    Defection,
    KeyAccount,
    Response,
    ScoreModel,
)
from survey.registry import AccountFilter, account_conditions
from survey.scale import OVERALL

SORT_REVENUE = "revenue"
SORT_SCORE = "score"
#: Annual revenue, largest first; or the latest overall score, worst first (accounts
#: never heard from last).
ACCOUNT_SORTS: tuple[str, ...] = (SORT_REVENUE, SORT_SCORE)
ACCOUNT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class AccountListRow:
    """One account as the list shows it."""

    id: int
    external_id: str
    name: str
    tier: str
    region: str
    account_manager: str
    relationship_stage: str
    annual_revenue: int
    active: bool
    defected_on: date | None
    #: The overall score (1-5) of its newest response with one; None if never heard.
    latest_overall: int | None
    latest_at: datetime | None
    #: Its stored health score and band (survey.scoring.health); None: none yet, or
    #: insufficient data (score None with a row).
    health_score: float | None = None
    health_band: str | None = None


@dataclass(frozen=True, slots=True)
class AccountListPage:
    """Page `page` (from 1) of `total` matching accounts, `page_size` a page."""

    rows: tuple[AccountListRow, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        """The position (from 1) of the page's first row in the whole list."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.page_size + len(self.rows)


def latest_overall_scores() -> Any:
    """A subquery: each account's newest overall score (columns account_id, score,
    submitted_at), newest by submission time, then response id."""
    ranked = (
        select(
            Response.account_id.label("account_id"),
            Answer.score.label("score"),
            Response.submitted_at.label("submitted_at"),
            func.row_number()
            .over(
                partition_by=Response.account_id,
                order_by=(Response.submitted_at.desc(), Response.id.desc()),
            )
            .label("rn"),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Aspect.code == OVERALL)
        .subquery()
    )
    return (
        select(ranked.c.account_id, ranked.c.score, ranked.c.submitted_at)
        .where(ranked.c.rn == 1)
        .subquery()
    )


def account_list(
    f: AccountFilter | None = None,
    *,
    sort: str = SORT_REVENUE,
    page: int = 1,
    page_size: int = ACCOUNT_PAGE_SIZE,
) -> AccountListPage:
    """One page of the accounts matching `f` (two queries: the count and the page).

    A page past the last gives the last page. InvalidInputError for an unknown sort
    or a search that is too long.
    """
    if sort not in ACCOUNT_SORTS:
        raise InvalidInputError(f"Sort by one of {', '.join(ACCOUNT_SORTS)}.", field="sort")
    conditions = account_conditions(f or AccountFilter())
    total = int(
        db.session.scalar(select(func.count()).select_from(KeyAccount).where(*conditions)) or 0
    )
    pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), pages)
    latest = latest_overall_scores()
    if sort == SORT_SCORE:
        order: tuple[Any, ...] = (
            case((latest.c.score.is_(None), 1), else_=0),
            latest.c.score,
            KeyAccount.annual_revenue.desc(),
            KeyAccount.external_id,
        )
    else:
        order = (KeyAccount.annual_revenue.desc(), KeyAccount.external_id)
    health = (
        select(AccountScore.account_id, AccountScore.score, AccountScore.band)
        .join(ScoreModel, ScoreModel.id == AccountScore.model_id)
        .where(ScoreModel.code == MODEL_HEALTH)
        .subquery()
    )
    rows = db.session.execute(
        select(
            KeyAccount.id,
            KeyAccount.external_id,
            KeyAccount.name,
            KeyAccount.tier,
            KeyAccount.region,
            KeyAccount.account_manager,
            KeyAccount.relationship_stage,
            KeyAccount.annual_revenue,
            KeyAccount.active,
            Defection.defected_on,
            latest.c.score,
            latest.c.submitted_at,
            health.c.score,
            health.c.band,
        )
        .outerjoin(Defection, Defection.account_id == KeyAccount.id)
        .outerjoin(latest, latest.c.account_id == KeyAccount.id)
        .outerjoin(health, health.c.account_id == KeyAccount.id)
        .where(*conditions)
        .order_by(*order)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return AccountListPage(
        rows=tuple(
            AccountListRow(
                *row[:7],
                annual_revenue=int(row[7] or 0),
                active=bool(row[8]),
                defected_on=row[9],
                latest_overall=int(row[10]) if row[10] is not None else None,
                latest_at=row[11],
                health_score=row[12],
                health_band=row[13],
            )
            for row in rows
        ),
        total=total,
        page=page,
        page_size=page_size,
    )
