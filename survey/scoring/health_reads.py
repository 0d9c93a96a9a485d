"""Reading health: an account's score, its parts, its history and why it moved.

`health_of_accounts(ids)` reads a page of accounts in two statements (their stored
scores; their newest snapshots, ranked per account), so a list never costs one
query per account. "Why did it move" compares the two newest snapshots part by
part: each measure's contribution after minus before (they add up to the change of
the score when both days had one), largest first, with the raw values behind them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select

from survey.db import db
from survey.models import (
    MODEL_HEALTH,
    AccountScore,
    HealthSnapshot,
    ScoreModel,
    ScoreModelVersion,
)
from survey.scale import HealthMeasure, RelationshipStage

#: The most snapshots read per account (the history's `first` is capped there).
HISTORY_MAX = 60
#: Contributions that moved less than this are not "why" (points of the score).
MOVED_MIN = 0.005
#: How many parts the sentence names.
SENTENCE_PARTS = 3


def measure_label(measure: str, locale: str | None) -> str:
    try:
        return HealthMeasure(measure).label(locale)
    except ValueError:
        return measure


def format_measure(measure: str, value: float | None, locale: str | None) -> str:
    """A raw measure as a person reads it: 67 %, 74 days, yes, Partner, +1."""
    en = locale == "en"
    if value is None:
        return "—"
    if measure == HealthMeasure.DISSATISFIED_SHARE:
        return f"{100 * value:.0f}%"
    if measure == HealthMeasure.DAYS_SINCE_ANSWER:
        return f"{value:.0f} days" if en else f"{value:.0f} 天"
    if measure == HealthMeasure.ANSWERED_LAST_INVITATION:
        return ("yes" if en else "是") if value >= 1 else ("no" if en else "否")
    if measure == HealthMeasure.RELATIONSHIP_STAGE:
        stages = list(RelationshipStage)
        index = round(value) - 1
        return stages[index].label(locale) if 0 <= index < len(stages) else f"{value:g}"
    if measure == HealthMeasure.SCORE_CHANGE:
        return f"{value:+g}"
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class HealthPart:
    measure: str
    perspective: str
    value: float | None
    percentile: float | None
    weight: float
    contribution: float | None

    def label(self, locale: str | None) -> str:
        return measure_label(self.measure, locale)

    def shown(self, locale: str | None) -> str:
        return format_measure(self.measure, self.value, locale)


@dataclass(frozen=True, slots=True)
class HealthPoint:
    day: date
    score: float | None
    band: str | None


@dataclass(frozen=True, slots=True)
class MovedPart:
    """One measure's share of the move between two snapshots."""

    measure: str
    before: float
    after: float
    value_before: float | None
    value_after: float | None

    @property
    def delta(self) -> float:
        return round(self.after - self.before, 2)

    def label(self, locale: str | None) -> str:
        return measure_label(self.measure, locale)

    def values(self, locale: str | None) -> str:
        """ "136 days → 142 days"; an unchanged value says the others moved (the
        percentile is relative to the other accounts)."""
        after = format_measure(self.measure, self.value_after, locale)
        if self.value_before == self.value_after:
            return (
                f"{after} unchanged, others moved"
                if locale == "en"
                else f"{after} 未变，其他客户有变化"
            )
        return f"{format_measure(self.measure, self.value_before, locale)} → {after}"


@dataclass(frozen=True, slots=True)
class WhyMoved:
    since: date
    until: date
    score_before: float | None
    score_after: float | None
    parts: tuple[MovedPart, ...]
    text_zh: str
    text_en: str

    @property
    def change(self) -> float | None:
        if self.score_before is None or self.score_after is None:
            return None
        return round(self.score_after - self.score_before, 2)

    def text(self, locale: str | None) -> str:
        return self.text_en if locale == "en" else self.text_zh


@dataclass(frozen=True, slots=True)
class AccountHealth:
    account_id: int
    score: float | None
    band: str | None
    version: int
    as_of: datetime
    #: The lowest score of each band under that version ({"good": 70, "watch": 40}).
    band_limits: dict[str, float]
    parts: tuple[HealthPart, ...]
    history: tuple[HealthPoint, ...]
    why_moved: WhyMoved | None

    @property
    def change(self) -> float | None:
        """The newest snapshot's score minus the one before it."""
        return self.why_moved.change if self.why_moved is not None else None


def _parts(text: str | None) -> tuple[HealthPart, ...]:
    return tuple(
        HealthPart(
            measure=p["measure"],
            perspective=p.get("perspective", ""),
            value=p.get("value"),
            percentile=p.get("percentile"),
            weight=float(p.get("weight") or 0.0),
            contribution=p.get("contribution"),
        )
        for p in json.loads(text or "[]")
    )


def why_moved(
    since: date,
    before_score: float | None,
    before_parts: Sequence[HealthPart],
    until: date,
    after_score: float | None,
    after_parts: Sequence[HealthPart],
) -> WhyMoved:
    """Compare two snapshots part by part (see the module's text)."""
    old = {p.measure: p for p in before_parts}
    new = {p.measure: p for p in after_parts}
    order = [*new, *(m for m in old if m not in new)]
    moved = []
    for measure in order:
        b, a = old.get(measure), new.get(measure)
        part = MovedPart(
            measure=measure,
            before=(b.contribution or 0.0) if b else 0.0,
            after=(a.contribution or 0.0) if a else 0.0,
            value_before=b.value if b else None,
            value_after=a.value if a else None,
        )
        if abs(part.after - part.before) >= MOVED_MIN:
            moved.append(part)
    moved.sort(key=lambda p: -abs(p.after - p.before))
    zh, en = _sentences(since, before_score, until, after_score, moved)
    return WhyMoved(since, until, before_score, after_score, tuple(moved), zh, en)


def _sentences(
    since: date,
    before: float | None,
    until: date,
    after: float | None,
    moved: Sequence[MovedPart],
) -> tuple[str, str]:
    if before is None or after is None:
        return (
            f"{since} 或 {until} 的数据不足，无法比较健康度。",
            f"Not enough data on {since} or {until} to compare health.",
        )
    change = round(after - before, 1)
    if change == 0:
        return (
            f"自 {since} 至 {until}，健康度没有变化（{after:.1f}）。",
            f"Health did not change between {since} and {until} ({after:.1f}).",
        )
    top = moved[:SENTENCE_PARTS]
    zh_parts = "、".join(f"{p.label('zh')}（{p.delta:+.1f}；{p.values('zh')}）" for p in top)
    en_parts = "; ".join(f"{p.label('en')} ({p.delta:+.1f}; {p.values('en')})" for p in top)
    verb_zh = "上升" if change > 0 else "下降"
    verb_en = "rose" if change > 0 else "fell"
    return (
        f"自 {since} 至 {until}，健康度{verb_zh} {abs(change):.1f} 分"
        f"（{before:.1f} → {after:.1f}），主要因为：{zh_parts}。",
        f"Health {verb_en} {abs(change):.1f} points between {since} and {until} "
        f"({before:.1f} → {after:.1f}), mostly: {en_parts}.",
    )


def health_of_accounts(
    account_ids: Iterable[int], history_first: int = 12
) -> dict[int, AccountHealth]:
    """The stored health of these accounts (those that have a score), with up to
    `history_first` snapshots each, newest first: two statements in all."""
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        return {}
    first = max(2, min(int(history_first), HISTORY_MAX))
    scores = db.session.execute(
        select(
            AccountScore.account_id,
            AccountScore.score,
            AccountScore.band,
            AccountScore.parts,
            AccountScore.computed_at,
            ScoreModelVersion.version,
            ScoreModelVersion.band_limits,
        )
        .join(ScoreModel, ScoreModel.id == AccountScore.model_id)
        .join(ScoreModelVersion, ScoreModelVersion.id == AccountScore.version_id)
        .where(ScoreModel.code == MODEL_HEALTH, AccountScore.account_id.in_(ids))
    ).all()
    if not scores:
        return {}
    rank = (
        func.row_number()
        .over(partition_by=HealthSnapshot.account_id, order_by=HealthSnapshot.day.desc())
        .label("rn")
    )
    ranked = (
        select(
            HealthSnapshot.account_id,
            HealthSnapshot.day,
            HealthSnapshot.score,
            HealthSnapshot.band,
            HealthSnapshot.parts,
            rank,
        )
        .where(HealthSnapshot.account_id.in_([row.account_id for row in scores]))
        .subquery()
    )
    snapshots: dict[int, list[tuple[date, float | None, str | None, str | None]]] = {}
    for row in db.session.execute(
        select(
            ranked.c.account_id,
            ranked.c.day,
            ranked.c.score,
            ranked.c.band,
            case((ranked.c.rn <= 2, ranked.c.parts)),
        )
        .where(ranked.c.rn <= first)
        .order_by(ranked.c.account_id, ranked.c.rn)
    ):
        snapshots.setdefault(row[0], []).append((row[1], row[2], row[3], row[4]))
    out = {}
    for row in scores:
        snaps = snapshots.get(row.account_id, [])
        moved = None
        if len(snaps) >= 2:
            (d1, s1, _b1, p1), (d0, s0, _b0, p0) = snaps[0], snaps[1]
            moved = why_moved(d0, s0, _parts(p0), d1, s1, _parts(p1))
        out[row.account_id] = AccountHealth(
            account_id=row.account_id,
            score=row.score,
            band=row.band,
            version=row.version,
            as_of=row.computed_at,
            band_limits={k: float(v) for k, v in json.loads(row.band_limits).items()},
            parts=_parts(row.parts),
            history=tuple(HealthPoint(day, score, band) for day, score, band, _ in snaps),
            why_moved=moved,
        )
    return out


def account_health(account_id: int, history_first: int = 12) -> AccountHealth | None:
    """One account's health (None before it was ever computed, or once the account
    is no longer active); `history` holds up to `history_first` snapshots."""
    health = health_of_accounts([account_id], history_first).get(account_id)
    if health is not None and len(health.history) > history_first:
        health = AccountHealth(
            account_id=health.account_id,
            score=health.score,
            band=health.band,
            version=health.version,
            as_of=health.as_of,
            band_limits=health.band_limits,
            parts=health.parts,
            history=health.history[: max(history_first, 0)],
            why_moved=health.why_moved,
        )
    return health
