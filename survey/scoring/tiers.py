"""Tier suggestions: accounts whose tier differs from their band in the tiering model.

The tiering value model's band is each account's suggested tier. Nothing changes a
tier silently: `apply_tier_suggestions` changes the tiers a manager picked, to the
suggestion, with one audit entry per account (`ACCOUNT_TIER_CHANGE`: old, new,
model, version, score), which the account's timeline shows as "tier changed".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update

from survey.audit import ACCOUNT_TIER_CHANGE, record_audits
from survey.clock import utcnow
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import AccountScore, KeyAccount, ScoreModelVersion
from survey.scale import TIERS
from survey.scoring.value_reads import ValuePart, decode_parts, indicator_labels
from survey.scoring.versions import tiering_model

#: How many accounts one apply may change.
MAX_APPLY = 1000


@dataclass(frozen=True, slots=True)
class TierSuggestion:
    """An active account whose tier differs from its band in the tiering model."""

    account_id: int
    external_id: str
    name: str
    current_tier: str
    suggested_tier: str
    score: float
    flags: tuple[str, ...]
    parts: tuple[ValuePart, ...]
    model: str
    version: int

    @property
    def deciding_parts(self) -> list[ValuePart]:
        """The parts that weighed most, largest contribution first."""
        return sorted((p for p in self.parts if p.contribution > 0), key=lambda p: -p.contribution)[
            :3
        ]

    @property
    def upgrade(self) -> bool:
        return (
            TIERS.index(self.suggested_tier) < TIERS.index(self.current_tier)
            if (self.current_tier in TIERS)
            else True
        )


def tier_suggestions(
    account_ids: Iterable[int] | None = None, *, limit: int | None = None
) -> list[TierSuggestion]:
    """Active accounts whose tier is not their suggested tier, high value first
    (optionally only among `account_ids`)."""
    model = tiering_model()
    query = (
        select(
            AccountScore.account_id,
            KeyAccount.external_id,
            KeyAccount.name,
            KeyAccount.tier,
            AccountScore.band,
            AccountScore.score,
            AccountScore.flags,
            AccountScore.parts,
            ScoreModelVersion.version,
        )
        .join(KeyAccount, KeyAccount.id == AccountScore.account_id)
        .join(ScoreModelVersion, ScoreModelVersion.id == AccountScore.version_id)
        .where(
            AccountScore.model_id == model.model_id,
            AccountScore.band.is_not(None),
            AccountScore.band != KeyAccount.tier,
            KeyAccount.active.is_(True),
        )
        .order_by(AccountScore.score.desc(), KeyAccount.external_id)
    )
    if account_ids is not None:
        query = query.where(AccountScore.account_id.in_(sorted(set(account_ids))))
    if limit is not None:
        query = query.limit(limit)
    rows = db.session.execute(query).all()
    labels = indicator_labels() if rows else {}
    return [
        TierSuggestion(
            account_id=r.account_id,
            external_id=r.external_id,
            name=r.name,
            current_tier=r.tier,
            suggested_tier=r.band,
            score=float(r.score),
            flags=tuple(f for f in r.flags.split(",") if f),
            parts=decode_parts(r.parts, labels),
            model=model.code,
            version=r.version,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class TierChange:
    account_id: int
    external_id: str
    old: str
    new: str


def apply_tier_suggestions(account_ids: Iterable[int], actor: str | None) -> list[TierChange]:
    """Change each account's tier to its suggestion, with an audit entry each; commits.

    No ids change nothing. InvalidInputError (nothing changed) when too many are
    given, or an id has no suggestion (its tier already matches, it has no value score, or it left).
    The caller checks that `actor` is a manager or admin.
    """
    ids = sorted(set(account_ids))
    if not ids:
        return []
    if len(ids) > MAX_APPLY:
        raise InvalidInputError(f"at most {MAX_APPLY} accounts at once", field="accountIds")
    suggestions = {s.account_id: s for s in tier_suggestions(ids)}
    missing = [i for i in ids if i not in suggestions]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InvalidInputError(
            f"no tier suggestion for account(s) {shown}: the tier already matches the "
            "value band, or there is no value score; nothing was changed",
            field="accountIds",
        )
    now = utcnow()
    by_tier: dict[str, list[int]] = {}
    for s in suggestions.values():
        by_tier.setdefault(s.suggested_tier, []).append(s.account_id)
    try:
        for tier, members in by_tier.items():
            db.session.execute(
                update(KeyAccount)
                .where(KeyAccount.id.in_(members))
                .values(tier=tier, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        record_audits(
            actor,
            ACCOUNT_TIER_CHANGE,
            "account",
            [
                (
                    s.external_id,
                    {
                        "old": s.current_tier,
                        "new": s.suggested_tier,
                        "model": s.model,
                        "version": s.version,
                        "score": round(s.score, 2),
                        "source": "tier_suggestion",
                    },
                )
                for s in sorted(suggestions.values(), key=lambda s: s.external_id)
            ],
            at=now,
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return [
        TierChange(s.account_id, s.external_id, s.current_tier, s.suggested_tier)
        for s in sorted(suggestions.values(), key=lambda s: (-s.score, s.external_id))
    ]


__all__ = [
    "MAX_APPLY",
    "TierChange",
    "TierSuggestion",
    "apply_tier_suggestions",
    "tier_suggestions",
]
