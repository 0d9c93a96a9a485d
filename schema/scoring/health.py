"""Account.health: an account's health score, its parts, history and why it moved.

The accounts resolved together load their health with two statements
(survey.scoring.health_of_accounts): the stored scores, and the newest snapshots
ranked per account, up to `HISTORY_MAX` each; `history(first:)` slices them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from survey import scale, scoring
from survey.scoring.health_reads import HISTORY_MAX

from ..context import Info
from ..loaders import Batch

HealthBand = strawberry.enum(
    Enum("HealthBand", [(b.name, b.value) for b in scale.HealthBand]),  # type: ignore[misc]
    description="Bands of the health score, best first (limits per model version).",
)
HealthMeasure = strawberry.enum(
    Enum("HealthMeasure", [(m.name, m.value) for m in scale.HealthMeasure]),  # type: ignore[misc]
    description="What an account's health is made of (see README, Health).",
)


def _band(code: str | None) -> Enum | None:
    return None if code is None else HealthBand(code)  # type: ignore[no-any-return]


@strawberry.type(description="One measure's part in a health score.")
class HealthPart:
    measure: HealthMeasure  # type: ignore[valid-type]
    label: str = strawberry.field(description="The measure in the request's language.")
    perspective: str
    value: float | None = strawberry.field(description="The raw value; null: none.")
    percentile: float | None = strawberry.field(
        description="Mid-rank percentile among active accounts (100 is healthiest)."
    )
    weight: float = strawberry.field(description="Renormalised weight; 0 when missing.")
    contribution: float | None = strawberry.field(
        description="weight × percentile; the parts add up to the score (to 0.01)."
    )


@strawberry.type(description="An account's health on one day (a daily snapshot).")
class HealthPoint:
    at: date
    score: float | None
    band: HealthBand | None  # type: ignore[valid-type]


@strawberry.type(description="One measure's share of a move between two snapshots.")
class HealthMovePart:
    measure: HealthMeasure  # type: ignore[valid-type]
    label: str
    before: float = strawberry.field(description="Its contribution on the earlier day.")
    after: float = strawberry.field(description="Its contribution on the later day.")
    change: float = strawberry.field(description="after − before, points of the score.")
    value_before: float | None
    value_after: float | None


@strawberry.type(description="Why the score moved between the two newest snapshots.")
class HealthMove:
    since: date
    until: date
    score_before: float | None
    score_after: float | None
    change: float | None
    text: str = strawberry.field(description="One sentence in the request's language.")
    parts: list[HealthMovePart] = strawberry.field(
        description="Measures whose contribution moved, largest first."
    )


@strawberry.type(description="An account's health score (null score: insufficient data).")
class AccountHealth:
    score: float | None
    band: HealthBand | None  # type: ignore[valid-type]
    version: int = strawberry.field(description="The health model version that made it.")
    as_of: datetime
    change: float | None = strawberry.field(
        description="The newest snapshot's score minus the one before it."
    )
    parts: list[HealthPart]
    why_moved: HealthMove | None
    points: strawberry.Private[tuple[scoring.HealthPoint, ...]]

    @strawberry.field(description=f"Daily snapshots, newest first (`first` at most {HISTORY_MAX}).")
    def history(self, first: int | None = 12) -> list[HealthPoint]:
        n = 12 if first is None else max(0, min(int(first), HISTORY_MAX))
        return [HealthPoint(at=p.day, score=p.score, band=_band(p.band)) for p in self.points[:n]]


def _move(moved: scoring.WhyMoved | None, locale: str) -> HealthMove | None:
    if moved is None:
        return None
    return HealthMove(
        since=moved.since,
        until=moved.until,
        score_before=moved.score_before,
        score_after=moved.score_after,
        change=moved.change,
        text=moved.text(locale),
        parts=[
            HealthMovePart(
                measure=HealthMeasure(p.measure),
                label=p.label(locale),
                before=p.before,
                after=p.after,
                change=p.delta,
                value_before=p.value_before,
                value_after=p.value_after,
            )
            for p in moved.parts
        ],
    )


def build_health(health: scoring.AccountHealth, locale: str) -> AccountHealth:
    return AccountHealth(
        score=health.score,
        band=_band(health.band),
        version=health.version,
        as_of=health.as_of,
        change=health.change,
        parts=[
            HealthPart(
                measure=HealthMeasure(p.measure),
                label=p.label(locale),
                perspective=p.perspective,
                value=p.value,
                percentile=p.percentile,
                weight=p.weight,
                contribution=p.contribution,
            )
            for p in health.parts
        ],
        why_moved=_move(health.why_moved, locale),
        points=health.history,
    )


def _load(ids: list[int]) -> dict[int, scoring.AccountHealth]:
    return scoring.health_of_accounts(ids, HISTORY_MAX)


def resolve_health(info: Info, batch: Batch, account_id: int) -> AccountHealth | None:
    health = batch.get("health", _load).get(account_id)
    return None if health is None else build_health(health, info.context.locale)
