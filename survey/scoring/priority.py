"""The priority matrix: value band × health band, "high value, poor health" first.

Rows are the tiering value model's bands (A, B, C), columns the health bands (poor,
watch, good), each with a `none` row or column for active accounts without a score
there (insufficient data, or not computed yet). Each cell counts the active accounts
and sums their annual revenue (`KeyAccount.annual_revenue`), all in one GROUP BY
over the accounts joined twice to `account_scores` (once per model). Cells come in
the order a manager should read them: value A→C→none, and within a value band health
poor→watch→good→none, so "A, poor" (high value, poor health) is first.

`priority_accounts` lists the accounts behind one cell, a keyset page in id order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.orm import aliased

from survey.db import db
from survey.errors import InvalidInputError
from survey.models import MODEL_HEALTH, AccountScore, KeyAccount
from survey.paging import Page
from survey.scale import HealthBand
from survey.scoring.versions import load_model, tiering_model

#: The band of an account without a score under a model ("insufficient data").
NO_SCORE = "none"
VALUE_BANDS: tuple[str, ...] = ("A", "B", "C", NO_SCORE)
#: Worst first: the order a manager reads the health columns in.
HEALTH_BANDS: tuple[str, ...] = (
    HealthBand.POOR.value,
    HealthBand.WATCH.value,
    HealthBand.GOOD.value,
    NO_SCORE,
)
#: The cell every list leads with: high value, poor health.
FIRST_CELL: tuple[str, str] = ("A", HealthBand.POOR.value)


@dataclass(frozen=True, slots=True)
class PriorityCell:
    value_band: str
    health_band: str
    accounts: int
    revenue: int

    @property
    def high_value_poor_health(self) -> bool:
        return (self.value_band, self.health_band) == FIRST_CELL


@dataclass(frozen=True, slots=True)
class PriorityMatrix:
    #: The value model whose bands make the rows (the tiering model).
    value_model: str
    cells: list[PriorityCell]

    def cell(self, value_band: str, health_band: str) -> PriorityCell:
        return next(
            c for c in self.cells if (c.value_band, c.health_band) == (value_band, health_band)
        )

    @property
    def accounts(self) -> int:
        return sum(c.accounts for c in self.cells)

    @property
    def revenue(self) -> int:
        return sum(c.revenue for c in self.cells)


@dataclass(frozen=True, slots=True)
class _Joined:
    """Active accounts joined to their value and health scores (`none` without one)."""

    stmt: Select[Any]
    value: Any
    health: Any
    value_band: ColumnElement[str]
    health_band: ColumnElement[str]
    model: str


def _joined() -> _Joined:
    value_model = tiering_model()
    health_model = load_model(MODEL_HEALTH)
    value = aliased(AccountScore)
    health = aliased(AccountScore)
    stmt = (
        select(KeyAccount.id)
        .outerjoin(
            value,
            (value.account_id == KeyAccount.id) & (value.model_id == value_model.model_id),
        )
        .outerjoin(
            health,
            (health.account_id == KeyAccount.id) & (health.model_id == health_model.model_id),
        )
        .where(KeyAccount.active.is_(True))
    )
    return _Joined(
        stmt,
        value,
        health,
        func.coalesce(value.band, literal(NO_SCORE)),
        func.coalesce(health.band, literal(NO_SCORE)),
        value_model.code,
    )


def priority_matrix() -> PriorityMatrix:
    """Every cell of the matrix (empty ones too), "A, poor" first."""
    j = _joined()
    grouped = j.stmt.with_only_columns(
        j.value_band.label("value_band"),
        j.health_band.label("health_band"),
        func.count(KeyAccount.id),
        func.coalesce(func.sum(KeyAccount.annual_revenue), 0),
    ).group_by(j.value_band, j.health_band)
    found = {(v, h): (int(n), int(r)) for v, h, n, r in db.session.execute(grouped)}
    cells = [
        PriorityCell(v, h, *found.get((v, h), (0, 0))) for v in VALUE_BANDS for h in HEALTH_BANDS
    ]
    return PriorityMatrix(j.model, cells)


@dataclass(frozen=True, slots=True)
class PriorityAccount:
    id: int
    external_id: str
    name: str
    tier: str
    account_manager: str
    annual_revenue: int
    value_score: float | None
    health_score: float | None


def check_cell(value_band: str, health_band: str) -> tuple[str, str]:
    """The cell's bands as the matrix names them; InvalidInputError otherwise."""
    v = value_band.strip().upper() if value_band.strip().lower() != NO_SCORE else NO_SCORE
    h = health_band.strip().lower()
    if v not in VALUE_BANDS:
        raise InvalidInputError(
            f"value band {value_band!r}: one of {', '.join(VALUE_BANDS)}", field="valueBand"
        )
    if h not in HEALTH_BANDS:
        raise InvalidInputError(
            f"health band {health_band!r}: one of {', '.join(HEALTH_BANDS)}", field="healthBand"
        )
    return v, h


def priority_accounts(
    value_band: str, health_band: str, *, first: int = 50, after_id: int | None = None
) -> Page[PriorityAccount]:
    """The active accounts of one cell, at most `first` in id order after `after_id`."""
    v, h = check_cell(value_band, health_band)
    j = _joined()
    cell = j.stmt.where(j.value_band == v, j.health_band == h)
    count_stmt = cell.with_only_columns(func.count(KeyAccount.id))
    rows_stmt = cell.with_only_columns(
        KeyAccount.id,
        KeyAccount.external_id,
        KeyAccount.name,
        KeyAccount.tier,
        KeyAccount.account_manager,
        KeyAccount.annual_revenue,
        j.value.score,
        j.health.score,
    )
    if after_id is not None:
        rows_stmt = rows_stmt.where(KeyAccount.id > after_id)
    rows = db.session.execute(rows_stmt.order_by(KeyAccount.id).limit(first + 1)).all()
    accounts = [
        PriorityAccount(
            id=r[0],
            external_id=r[1],
            name=r[2],
            tier=r[3],
            account_manager=r[4],
            annual_revenue=int(r[5] or 0),
            value_score=r[6],
            health_score=r[7],
        )
        for r in rows[:first]
    ]

    def count() -> int:
        return int(db.session.scalar(count_stmt) or 0)

    return Page(rows=accounts, has_next=len(rows) > first, count=count)


__all__ = [
    "FIRST_CELL",
    "HEALTH_BANDS",
    "NO_SCORE",
    "VALUE_BANDS",
    "PriorityAccount",
    "PriorityCell",
    "PriorityMatrix",
    "check_cell",
    "priority_accounts",
    "priority_matrix",
]
