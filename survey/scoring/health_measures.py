"""The facts an account's health is made of, as they stood at one moment.

`health_measures_as_of(at)` reads every measure of every account that was active
at `at` in four set-based statements (window functions and GROUP BY, the same SQL
on SQLite and PostgreSQL), never one per account. Only what happened strictly
before `at` counts, so a past moment gives the figures that moment had (except
the relationship stage, see below). The measures, in `HealthMeasure` order:

- `overall_score`: the score (1-5) of the `overall` aspect in the account's latest
  satisfaction response submitted before `at` (any contact; latest by submission
  time, then id). NaN without a response, or when that response has no overall.
- `dissatisfied_share`: in that latest response, the share (0-1) of the answered
  aspects other than `overall` scored 1 or 2. NaN without such answers.
- `score_change`: the latest response's overall minus the overall of the
  response before it (the account's second latest). NaN unless both have one.
- `days_since_answer`: whole days from the latest response's submission to `at`.
  NaN when the account never answered.
- `answered_last_invitation`: the account's last invitation is its satisfaction
  invitation with the latest `sent_at` before `at` among those that were answered
  before `at` or whose campaign closed before `at` (`closed_at`, or `closes_at`
  passed): an invitation still open and unanswered is not judged yet. 1 when it
  was answered before `at`, 0 when not (an answered one wins a tie in send time,
  so one contact's answer counts for the account). NaN when never invited.
- `open_follow_ups`: follow-up cases opened before `at` and not resolved by then.
- `overdue_follow_ups`: of those, the ones due before `at`.
- `relationship_stage`: the stage as an ordinal, 1 (vendor) to 4 (strategic
  alliance), in `RelationshipStage` order. Its *current* value: the stage has no
  history, so a past moment reads today's stage.

An account is active at `at` when it was in the registry before `at` (created
before it, or invited before it: an account imported after its first surveys was a
customer already) and had not defected on or before `at`'s (UTC) day; an account
made inactive without a recorded defection has no date for it and counts as gone
at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Select, and_, case, func, or_, select

from survey.db import db
from survey.models import (
    KIND_SATISFACTION,
    Answer,
    Aspect,
    Campaign,
    Defection,
    FollowUp,
    Invitation,
    KeyAccount,
    Response,
)
from survey.scale import DISSATISFIED_MAX, OVERALL, HealthMeasure, RelationshipStage

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MEASURES: tuple[str, ...] = tuple(m.value for m in HealthMeasure)
_COLUMN = {code: j for j, code in enumerate(MEASURES)}
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class HealthMeasures:
    """Each active account's raw measures at `at`: `values[i, j]` is account
    `account_ids[i]`'s measure `measures[j]`, NaN for "no value"."""

    at: datetime
    account_ids: IntArray
    measures: tuple[str, ...]
    values: FloatArray

    def column(self, measure: str) -> FloatArray:
        return self.values[:, self.measures.index(measure)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _stage_ordinal() -> Any:
    return case(
        {stage.value: i + 1 for i, stage in enumerate(RelationshipStage)},
        value=KeyAccount.relationship_stage,
        else_=None,
    )


def health_measures_as_of(at: datetime) -> HealthMeasures:
    """Every active account's health measures at `at` (see the module's rules)."""
    at = _aware(at)
    accounts = _driver_rows(
        select(KeyAccount.id, _stage_ordinal())
        .outerjoin(Defection, Defection.account_id == KeyAccount.id)
        .where(
            or_(
                KeyAccount.created_at < at,
                KeyAccount.id.in_(select(Invitation.account_id).where(Invitation.sent_at < at)),
            ),
            or_(
                and_(Defection.id.is_(None), KeyAccount.active),
                Defection.defected_on > at.astimezone(UTC).date(),
            ),
        )
        .order_by(KeyAccount.id)
    )
    ids = np.fromiter((row[0] for row in accounts), dtype=np.int64, count=len(accounts))
    values = np.full((len(ids), len(MEASURES)), np.nan)
    if len(ids):
        # None (no stage) becomes NaN.
        values[:, _COLUMN[HealthMeasure.RELATIONSHIP_STAGE]] = np.array(
            [row[1] for row in accounts], dtype=np.float64
        )
        _responses(at, ids, values)
        _invitations(at, ids, values)
        _follow_ups(at, ids, values)
    return HealthMeasures(at=at, account_ids=ids, measures=MEASURES, values=values)


def _driver_rows(query: Select[Any]) -> list[Any]:
    """The rows of a query of plain numbers (no result types to apply) straight from
    the driver's cursor: 100,000 accounts through result rows cost more than the
    query. Parameters are bound as any execute binds them."""
    result = db.session.connection().execute(query)
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


def _rows_of(ids: IntArray, account_ids: list[int]) -> tuple[IntArray, NDArray[np.bool_]]:
    """Row index of each account id in `ids` (sorted), and which are there at all."""
    wanted = np.asarray(account_ids, dtype=np.int64)
    rows = np.searchsorted(ids, wanted)
    rows = np.minimum(rows, len(ids) - 1)
    return rows, ids[rows] == wanted


def _responses(at: datetime, ids: IntArray, values: FloatArray) -> None:
    """Overall, share at 1-2, change and days since: the two latest responses."""
    ranked = (
        select(
            Response.id.label("response_id"),
            Response.account_id.label("account_id"),
            Response.submitted_at.label("submitted_at"),
            func.row_number()
            .over(
                partition_by=Response.account_id,
                order_by=(Response.submitted_at.desc(), Response.id.desc()),
            )
            .label("rn"),
        )
        .join(Campaign, Campaign.id == Response.campaign_id)
        .where(Response.submitted_at < at, Campaign.kind == KIND_SATISFACTION)
        .subquery()
    )
    overall_id = select(Aspect.id).where(Aspect.code == OVERALL).scalar_subquery()
    is_overall = Answer.aspect_id == overall_id
    rows = db.session.execute(
        select(
            ranked.c.account_id,
            ranked.c.rn,
            ranked.c.submitted_at,
            func.max(case((is_overall, Answer.score))),
            func.sum(case((and_(~is_overall, Answer.score <= DISSATISFIED_MAX), 1), else_=0)),
            func.sum(case((~is_overall, 1), else_=0)),
        )
        .select_from(ranked)
        .outerjoin(Answer, Answer.response_id == ranked.c.response_id)
        .where(ranked.c.rn <= 2)
        .group_by(ranked.c.account_id, ranked.c.rn, ranked.c.submitted_at)
    ).all()
    if not rows:
        return
    where, known = _rows_of(ids, [r[0] for r in rows])
    latest = np.array([r[1] == 1 for r in rows]) & known
    previous = np.array([r[1] == 2 for r in rows]) & known
    overall = np.array([np.nan if r[3] is None else float(r[3]) for r in rows])
    low = np.array([float(r[4] or 0) for r in rows])
    answered = np.array([float(r[5] or 0) for r in rows])
    age = np.array([(at - _aware(r[2])).total_seconds() / _SECONDS_PER_DAY for r in rows])
    col = _COLUMN
    values[where[latest], col[HealthMeasure.OVERALL_SCORE]] = overall[latest]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(answered > 0, low / answered, np.nan)
    values[where[latest], col[HealthMeasure.DISSATISFIED_SHARE]] = share[latest]
    values[where[latest], col[HealthMeasure.DAYS_SINCE_ANSWER]] = np.floor(age[latest])
    before = np.full(len(ids), np.nan)
    before[where[previous]] = overall[previous]
    values[:, col[HealthMeasure.SCORE_CHANGE]] = (
        values[:, col[HealthMeasure.OVERALL_SCORE]] - before
    )


def _invitations(at: datetime, ids: IntArray, values: FloatArray) -> None:
    """Whether the account answered its last judged invitation (1/0)."""
    # An invitation has at most one response (responses.invitation_id is unique).
    answered = Response.id.is_not(None)
    closed = or_(
        and_(Campaign.closed_at.is_not(None), Campaign.closed_at < at),
        Campaign.closes_at < at,
    )
    answered_flag = case((answered, 1), else_=0)
    ranked = (
        select(
            Invitation.account_id.label("account_id"),
            answered_flag.label("answered"),
            func.row_number()
            .over(
                partition_by=Invitation.account_id,
                order_by=(Invitation.sent_at.desc(), answered_flag.desc(), Invitation.id.desc()),
            )
            .label("rn"),
        )
        .join(Campaign, Campaign.id == Invitation.campaign_id)
        .outerjoin(
            Response,
            and_(Response.invitation_id == Invitation.id, Response.submitted_at < at),
        )
        .where(
            Invitation.sent_at.is_not(None),
            Invitation.sent_at < at,
            Campaign.kind == KIND_SATISFACTION,
            or_(closed, answered),
        )
        .subquery()
    )
    rows = db.session.execute(
        select(ranked.c.account_id, ranked.c.answered).where(ranked.c.rn == 1)
    ).all()
    if not rows:
        return
    where, known = _rows_of(ids, [r[0] for r in rows])
    flags = np.array([float(r[1]) for r in rows])
    values[where[known], _COLUMN[HealthMeasure.ANSWERED_LAST_INVITATION]] = flags[known]


def _follow_ups(at: datetime, ids: IntArray, values: FloatArray) -> None:
    """Open and overdue follow-up cases at `at`; 0 for an account with none."""
    open_at = and_(
        FollowUp.opened_at < at,
        or_(FollowUp.resolved_at.is_(None), FollowUp.resolved_at >= at),
    )
    rows = db.session.execute(
        select(
            FollowUp.account_id,
            func.count(),
            func.sum(case((FollowUp.due_at < at, 1), else_=0)),
        )
        .where(open_at)
        .group_by(FollowUp.account_id)
    ).all()
    values[:, _COLUMN[HealthMeasure.OPEN_FOLLOW_UPS]] = 0.0
    values[:, _COLUMN[HealthMeasure.OVERDUE_FOLLOW_UPS]] = 0.0
    if not rows:
        return
    where, known = _rows_of(ids, [r[0] for r in rows])
    opened = np.array([float(r[1]) for r in rows])
    overdue = np.array([float(r[2] or 0) for r in rows])
    values[where[known], _COLUMN[HealthMeasure.OPEN_FOLLOW_UPS]] = opened[known]
    values[where[known], _COLUMN[HealthMeasure.OVERDUE_FOLLOW_UPS]] = overdue[known]
