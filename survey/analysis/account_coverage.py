"""Which key accounts we have heard from: active accounts per group that responded
within a window, with the share of revenue they hold, and the largest accounts
nobody has heard from (the blind spots).

Active means not marked inactive and not defected. One GROUP BY per figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select

from survey.analysis.filters import (
    ACCOUNT_DIMENSIONS,
    ALL_KEY,
    DEFAULT_WINDOW_DAYS,
    ORDERED_DIMENSIONS,
    Dimension,
    Interval,
    check_window,
    group_column,
    group_key,
    group_label,
    key_infos,
    resolve_locale,
)
from survey.clock import utcnow
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import Defection, KeyAccount, Response
from survey.statistics import wilson_interval


@dataclass(frozen=True, slots=True)
class CoverageGroup:
    """Active accounts in one group, and those that responded within the window."""

    key: str
    label: str
    active_accounts: int
    heard_from: int
    active_revenue: int
    heard_revenue: int

    @property
    def heard_share(self) -> float | None:
        return self.heard_from / self.active_accounts if self.active_accounts else None

    @property
    def heard_share_interval(self) -> Interval:
        # Not a sample estimate: the registry is complete. The interval is there for
        # groups read as "how likely is an account like these to answer".
        return wilson_interval(self.heard_from, self.active_accounts)

    @property
    def revenue_share(self) -> float | None:
        """The share of the group's annual revenue held by accounts heard from."""
        return self.heard_revenue / self.active_revenue if self.active_revenue else None


def _active() -> ColumnElement[bool]:
    return and_(KeyAccount.active.is_(True), ~exists().where(Defection.account_id == KeyAccount.id))


def _heard(since: datetime) -> ColumnElement[bool]:
    return exists().where(Response.account_id == KeyAccount.id, Response.submitted_at >= since)


def _check_account_dimension(group_by: Dimension | None) -> None:
    if group_by is not None and group_by not in ACCOUNT_DIMENSIONS:
        allowed = ", ".join(d.name for d in ACCOUNT_DIMENSIONS)
        raise InvalidInputError(f"Coverage can be grouped by {allowed} only.", field="groupBy")


def coverage(
    group_by: Dimension | None = None,
    *,
    within_days: int = DEFAULT_WINDOW_DAYS,
    locale: str | None = None,
    now: datetime | None = None,
) -> list[CoverageGroup]:
    """Per group: active key accounts (not defected), how many responded to any survey
    within `within_days`, and the share of annual revenue those hold. Key accounts
    nobody asked are a blind spot. Without `group_by` one group "all". One GROUP BY
    (plus labels). Groups of an ordered dimension (tier, value type, relationship
    stage) come in its order (tier A, B, C); others with the lowest revenue share first."""
    _check_account_dimension(group_by)
    check_window(within_days)
    locale = resolve_locale(locale)
    since = (now or utcnow()) - timedelta(days=within_days)
    heard = _heard(since)
    keys = [group_column(group_by)] if group_by is not None else []
    revenue = func.coalesce(func.sum(KeyAccount.annual_revenue), 0)
    rows = db.session.execute(
        select(
            *keys,
            func.count(KeyAccount.id),
            func.sum(case((heard, 1), else_=0)),
            revenue,
            func.coalesce(func.sum(case((heard, KeyAccount.annual_revenue), else_=0)), 0),
        )
        .where(_active())
        .group_by(*keys)
    ).all()
    offset = len(keys)
    infos = key_infos(group_by, [group_key(r[0]) for r in rows], locale) if group_by else {}
    groups = []
    for row in rows:
        if not row[offset]:
            continue  # no GROUP BY over no rows still yields one row of zeros
        k = group_key(row[0]) if group_by is not None else ALL_KEY
        label = group_label(k, infos, locale)
        groups.append(
            CoverageGroup(
                key=k,
                label=label,
                active_accounts=int(row[offset]),
                heard_from=int(row[offset + 1] or 0),
                active_revenue=int(row[offset + 2] or 0),
                heard_revenue=int(row[offset + 3] or 0),
            )
        )

    def order(g: CoverageGroup) -> tuple[Any, ...]:
        if group_by in ORDERED_DIMENSIONS:
            return infos[g.key].order if g.key in infos else ()
        share = g.revenue_share
        return (share if share is not None else 2.0, infos[g.key].order if g.key in infos else ())

    return sorted(groups, key=order)


def unheard_accounts(
    *, within_days: int = DEFAULT_WINDOW_DAYS, first: int = 10, now: datetime | None = None
) -> list[int]:
    """Ids of the active accounts with the highest annual revenue that have not
    responded within `within_days`: the largest blind spots first. One query."""
    check_window(within_days)
    if first < 0:
        raise InvalidInputError("`first` must not be negative.", field="first")
    since = (now or utcnow()) - timedelta(days=within_days)
    return list(
        db.session.scalars(
            select(KeyAccount.id)
            .where(_active(), ~_heard(since))
            .order_by(KeyAccount.annual_revenue.desc(), KeyAccount.id)
            .limit(first)
        )
    )
