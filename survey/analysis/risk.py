"""From dissatisfaction to defection: how much more often accounts that complained
about an aspect left (risk ratios, with the baseline), the active accounts ranked by
expected lost revenue, and what lost accounts said in their last response before
leaving (precursors).

A *surveyed account* counts through its latest satisfaction response (for a lost
account: its latest response before the defection day). "Dissatisfied with an
aspect" is a score of 1-2 on it, "satisfied" 4-5 (survey.scale). Where a figure
needs a date difference per account (lead times), only the rows of defected
accounts come back: defections are few by nature.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, literal, or_, select

from survey.analysis.filters import (
    DEFAULT_MIN_GROUP_SIZE,
    DEFAULT_WINDOW_DAYS,
    Interval,
    check_window,
    resolve_locale,
)
from survey.db import db
from survey.errors import InvalidInputError
from survey.follow_ups import Complaint, complaints_of_responses
from survey.models import (
    FOLLOW_UP_RESOLVED,
    KIND_SATISFACTION,
    Answer,
    Aspect,
    Campaign,
    Defection,
    DefectionReason,
    FollowUp,
    KeyAccount,
    Response,
)
from survey.scale import ASPECT_REASON, DISSATISFIED_MAX, SATISFIED_MIN
from survey.statistics import median, risk_ratio


def _before_defection() -> ColumnElement[bool]:
    # A response on or after the defection day (an exit survey, say) says nothing
    # about what came before; comparing a timestamp with a date means its midnight.
    return or_(Defection.id.is_(None), Response.submitted_at < Defection.defected_on)


def _latest_surveyed(account_ids: Sequence[int] | None = None) -> Any:
    """Each account's latest satisfaction response before its defection (if any):
    columns response_id, account_id, submitted_at, defected_on (NULL if it stayed)."""
    stmt = (
        select(
            Response.id.label("response_id"),
            Response.account_id.label("account_id"),
            Response.submitted_at.label("submitted_at"),
            Defection.defected_on.label("defected_on"),
            func.row_number()
            .over(
                partition_by=Response.account_id,
                order_by=(Response.submitted_at.desc(), Response.id.desc()),
            )
            .label("rn"),
        )
        .join(Campaign, Campaign.id == Response.campaign_id)
        .outerjoin(Defection, Defection.account_id == Response.account_id)
        .where(Campaign.kind == KIND_SATISFACTION, _before_defection())
    )
    if account_ids is not None:
        stmt = stmt.where(Response.account_id.in_(list(account_ids)))
    return stmt.subquery()


def dissatisfied_aspects_by_response(response_ids: Sequence[int]) -> dict[int, list[str]]:
    """The aspect codes each response rated 1-2, in questionnaire order (one query)."""
    aspects: dict[int, list[str]] = defaultdict(list)
    if not response_ids:
        return aspects
    for response_id, code in db.session.execute(
        select(Answer.response_id, Aspect.code)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Answer.response_id.in_(response_ids), Answer.score <= DISSATISFIED_MAX)
        .order_by(Answer.response_id, Aspect.position, Aspect.code)
    ):
        aspects[response_id].append(code)
    return aspects


def _lead_days(submitted_at: datetime, defected_on: date) -> int:
    return (defected_on - submitted_at.date()).days


@dataclass(frozen=True, slots=True)
class AspectRisk:
    """Accounts that rated an aspect 1-2 against those that rated it 4-5: how many of
    each defected within the window after that response."""

    aspect: str
    label: str
    dissatisfied_accounts: int
    dissatisfied_defected: int
    satisfied_accounts: int
    satisfied_defected: int
    risk_ratio: float | None
    risk_ratio_interval: Interval
    median_lead_days: float | None
    low_sample: bool

    @property
    def dissatisfied_defection_rate(self) -> float | None:
        n = self.dissatisfied_accounts
        return self.dissatisfied_defected / n if n else None

    @property
    def satisfied_defection_rate(self) -> float | None:
        n = self.satisfied_accounts
        return self.satisfied_defected / n if n else None


@dataclass(frozen=True, slots=True)
class RiskTable:
    aspects: list[AspectRisk]
    #: Surveyed accounts, and those of them that defected within the window.
    surveyed_accounts: int
    defected_accounts: int

    @property
    def baseline_rate(self) -> float:
        return self.defected_accounts / self.surveyed_accounts if self.surveyed_accounts else 0.0


def defection_risk_table(
    *,
    within_days: int = DEFAULT_WINDOW_DAYS,
    locale: str | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> RiskTable:
    """`aspect_defection_risk` with the baseline it is measured against. Three queries:
    the group sizes (GROUP BY), the defected accounts' latest answers, the labels."""
    check_window(within_days)
    locale = resolve_locale(locale)
    latest = _latest_surveyed()
    dissatisfied = Answer.score <= DISSATISFIED_MAX
    satisfied = Answer.score >= SATISFIED_MIN
    sizes = db.session.execute(
        select(
            Aspect.code,
            Aspect.label_zh,
            Aspect.label_en,
            func.sum(case((dissatisfied, 1), else_=0)),
            func.sum(case((satisfied, 1), else_=0)),
        )
        .select_from(latest)
        .join(Answer, Answer.response_id == latest.c.response_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(latest.c.rn == 1)
        .group_by(Aspect.code, Aspect.label_zh, Aspect.label_en, Aspect.position)
        .order_by(Aspect.position, Aspect.code)
    ).all()
    surveyed = db.session.execute(
        select(func.count(), func.count(latest.c.defected_on)).where(latest.c.rn == 1)
    ).one()
    # Only lost accounts come back here, with one row per answer of their last response.
    lost_rows = db.session.execute(
        select(
            latest.c.account_id,
            latest.c.submitted_at,
            latest.c.defected_on,
            Aspect.code,
            Answer.score,
        )
        .select_from(latest)
        .join(Answer, Answer.response_id == latest.c.response_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(latest.c.rn == 1, latest.c.defected_on.is_not(None))
    ).all()
    defected_within: set[int] = set()
    dissatisfied_lost: dict[str, list[int]] = defaultdict(list)
    satisfied_lost: dict[str, int] = defaultdict(int)
    for account_id, submitted_at, defected_on, code, score in lost_rows:
        lead = _lead_days(submitted_at, defected_on)
        if lead > within_days:
            continue
        defected_within.add(account_id)
        if score <= DISSATISFIED_MAX:
            dissatisfied_lost[code].append(lead)
        elif score >= SATISFIED_MIN:
            satisfied_lost[code] += 1
    # Accounts lost before the window counted as surveyed but not defected would
    # understate the baseline: they are simply not "defected within the window".
    aspects = []
    for code, zh, en, n_dissatisfied, n_satisfied in sizes:
        n1, n2 = int(n_dissatisfied or 0), int(n_satisfied or 0)
        a, c = len(dissatisfied_lost.get(code, [])), satisfied_lost.get(code, 0)
        ratio, interval = risk_ratio(a, n1, c, n2)
        aspects.append(
            AspectRisk(
                aspect=code,
                label=en if locale == "en" else zh,
                dissatisfied_accounts=n1,
                dissatisfied_defected=a,
                satisfied_accounts=n2,
                satisfied_defected=c,
                risk_ratio=ratio,
                risk_ratio_interval=interval,
                median_lead_days=median(dissatisfied_lost.get(code, [])),
                low_sample=n1 < min_group_size or n2 < min_group_size,
            )
        )
    return RiskTable(
        aspects=aspects,
        surveyed_accounts=int(surveyed[0]),
        defected_accounts=len(defected_within),
    )


def aspect_defection_risk(
    *,
    within_days: int = DEFAULT_WINDOW_DAYS,
    locale: str | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> list[AspectRisk]:
    """For each aspect, among surveyed accounts whose latest response rated it 1-2, how
    many defected within `within_days` after that response, against those that rated
    it 4-5; the risk ratio with its 95% interval (log method), the median lead time in
    days from the dissatisfied response to the defection, and `low_sample` when either
    group has fewer than `min_group_size` accounts. Aspects in questionnaire order.

    Accounts surveyed less than `within_days` ago have not had the whole window to
    leave yet, so recent campaigns understate both rates (the ratio less so).
    """
    return defection_risk_table(
        within_days=within_days, locale=locale, min_group_size=min_group_size
    ).aspects


def aspect_risk_scores(
    table: RiskTable, prior_weight: int = DEFAULT_MIN_GROUP_SIZE
) -> dict[str, float]:
    """The risk score of a complaint about each aspect (see `at_risk_by_expected_loss`):
    (a + k·b) / (n + k), the share of accounts with that complaint that left, pulled
    towards the baseline rate b by k imaginary average accounts so that one lost
    account out of two does not read as a 50% risk. Equal to b × the (shrunken) risk
    ratio against the baseline."""
    b = table.baseline_rate
    return {
        r.aspect: (r.dissatisfied_defected + prior_weight * b)
        / (r.dissatisfied_accounts + prior_weight)
        for r in table.aspects
    }


@dataclass(frozen=True, slots=True)
class ScoredRiskAccount:
    account_id: int
    annual_revenue: int
    last_response_at: datetime
    dissatisfied_aspects: list[str]
    risk_score: float

    @property
    def expected_lost_revenue(self) -> float:
        return self.risk_score * self.annual_revenue


def at_risk_by_expected_loss(
    first: int = 20, *, within_days: int = DEFAULT_WINDOW_DAYS
) -> list[ScoredRiskAccount]:
    """Active accounts whose latest response has any score 1-2, sorted by expected lost
    revenue = risk score × annual revenue.

    Risk score (0..1) = the highest, over the aspects the account rated 1-2, of
    (a + k·b) / (n + k): a of the n surveyed accounts that rated that aspect 1-2
    defected within `within_days`; b is the baseline defection rate of all surveyed
    accounts; k = 5. In words: the observed defection rate of accounts with the same
    complaint (b × its risk ratio), shrunk towards the baseline when few accounts
    back it. The highest, not a sum: complaints come together and would count twice.
    Five queries, whatever the number of accounts.
    """
    if first < 0:
        raise InvalidInputError("`first` must not be negative.", field="first")
    table = defection_risk_table(within_days=within_days)
    scores = aspect_risk_scores(table)
    baseline = table.baseline_rate
    whens = [(Aspect.code == code, literal(score)) for code, score in scores.items()]
    score = case(*whens, else_=literal(baseline)) if whens else literal(baseline)
    latest = select(
        Response.id.label("response_id"),
        Response.account_id.label("account_id"),
        Response.submitted_at.label("submitted_at"),
        func.row_number()
        .over(
            partition_by=Response.account_id,
            order_by=(Response.submitted_at.desc(), Response.id.desc()),
        )
        .label("rn"),
    ).subquery()
    risk = func.max(cast(score, Float))
    rows = db.session.execute(
        select(
            KeyAccount.id,
            KeyAccount.annual_revenue,
            latest.c.response_id,
            latest.c.submitted_at,
            risk,
        )
        .join(latest, latest.c.account_id == KeyAccount.id)
        .join(Answer, Answer.response_id == latest.c.response_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(latest.c.rn == 1, KeyAccount.active.is_(True), Answer.score <= DISSATISFIED_MAX)
        .group_by(
            KeyAccount.id, KeyAccount.annual_revenue, latest.c.response_id, latest.c.submitted_at
        )
        .order_by((risk * cast(KeyAccount.annual_revenue, Float)).desc(), KeyAccount.id)
        .limit(first)
    ).all()
    if not rows:
        return []
    aspects = dissatisfied_aspects_by_response([r.response_id for r in rows])
    return [
        ScoredRiskAccount(
            account_id=account_id,
            annual_revenue=int(revenue),
            last_response_at=submitted_at,
            dissatisfied_aspects=aspects[response_id],
            risk_score=float(risk_value),
        )
        for account_id, revenue, response_id, submitted_at, risk_value in rows
    ]


@dataclass(frozen=True, slots=True)
class Precursor:
    """A lost account's last response before it left."""

    account_id: int
    response_id: int
    submitted_at: datetime
    lead_days: int
    complaints: list[Complaint]
    comment: str | None
    #: Recorded defection reasons that speak of an aspect it complained about.
    matching_reasons: list[str]
    #: Root causes of its follow-up cases resolved before it left (what was fixed).
    fixed_root_causes: list[str] = field(default_factory=list)

    @property
    def reasons_match(self) -> bool:
        return bool(self.matching_reasons)


def defection_precursors(account_ids: Iterable[int]) -> dict[int, Precursor]:
    """For each lost account among `account_ids`: its last satisfaction response
    before the defection day, the lead time in days, the aspects it rated 1-2 with
    reasons and text, and which recorded defection reasons match those aspects
    (survey.scale.ASPECT_REASON), and the root causes of its follow-up cases resolved
    before it left. Accounts never surveyed before leaving are absent. Four queries
    for any number of accounts."""
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        return {}
    latest = _latest_surveyed(ids)
    heads = db.session.execute(
        select(
            latest.c.account_id,
            latest.c.response_id,
            latest.c.submitted_at,
            latest.c.defected_on,
            Response.comment,
        )
        .join(Response, Response.id == latest.c.response_id)
        .where(latest.c.rn == 1, latest.c.defected_on.is_not(None))
    ).all()
    if not heads:
        return {}
    response_ids = [h.response_id for h in heads]
    complaints = complaints_of_responses(response_ids)
    defection_reasons: dict[int, list[str]] = defaultdict(list)
    for account_id, reason in db.session.execute(
        select(Defection.account_id, DefectionReason.reason)
        .join(DefectionReason, DefectionReason.defection_id == Defection.id)
        .where(Defection.account_id.in_([h.account_id for h in heads]))
        .order_by(Defection.account_id, DefectionReason.is_primary.desc(), DefectionReason.reason)
    ):
        defection_reasons[account_id].append(reason)
    fixed: dict[int, list[str]] = defaultdict(list)
    for account_id, root_cause, resolved_at, defected_on in db.session.execute(
        select(
            FollowUp.account_id, FollowUp.root_cause, FollowUp.resolved_at, Defection.defected_on
        )
        .join(Defection, Defection.account_id == FollowUp.account_id)
        .where(
            FollowUp.account_id.in_([h.account_id for h in heads]),
            FollowUp.status == FOLLOW_UP_RESOLVED,
            FollowUp.root_cause.is_not(None),
            FollowUp.resolved_at.is_not(None),
        )
        .order_by(FollowUp.account_id, FollowUp.resolved_at, FollowUp.id)
    ):
        if resolved_at.date() <= defected_on and root_cause not in fixed[account_id]:
            fixed[account_id].append(root_cause)
    result = {}
    for h in heads:
        said = {
            ASPECT_REASON[c.aspect].value
            for c in complaints.get(h.response_id, [])
            if c.aspect in ASPECT_REASON
        }
        result[h.account_id] = Precursor(
            account_id=h.account_id,
            response_id=h.response_id,
            submitted_at=h.submitted_at,
            lead_days=_lead_days(h.submitted_at, h.defected_on),
            complaints=complaints.get(h.response_id, []),
            comment=h.comment,
            matching_reasons=[r for r in defection_reasons.get(h.account_id, []) if r in said],
            fixed_root_causes=fixed.get(h.account_id, []),
        )
    return result
