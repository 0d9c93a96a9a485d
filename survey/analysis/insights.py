"""Insights a general survey tool does not give: margins, comparisons, coverage,
complaints that predict defection, and what following up achieves.

Counting happens in SQL (GROUP BY); Python only arranges the few result rows and
does the arithmetic of survey.stats. Where a figure needs a date difference per
account (lead times), only the rows of defected accounts come back: defections
are few by nature.

Units. A *surveyed account* counts through its latest satisfaction response (for
a lost account: its latest response before the defection day). "Dissatisfied with
an aspect" is a score of 1-2 on it, "satisfied" 4-5 (survey.scale).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)

from survey.analysis.filters import (
    ACCOUNT_DIMENSIONS,
    ALL_KEY,
    DEFAULT_MIN_GROUP_SIZE,
    DEFAULT_WINDOW_DAYS,
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
from survey.errors import InvalidInputError, NotFoundError
from survey.models import (
    FOLLOW_UP_RESOLVED,
    KIND_SATISFACTION,
    Answer,
    AnswerReason,
    Aspect,
    Campaign,
    Defection,
    DefectionReason,
    FollowUp,
    KeyAccount,
    Response,
)
from survey.scale import ASPECT_REASON, DISSATISFIED_MAX, OVERALL, SATISFIED_MIN
from survey.statistics import (
    margin_of_error,
    median,
    risk_ratio,
    two_proportion_z_test,
    wilson_interval,
)

#: A difference between two campaigns is called significant below this p-value.
SIGNIFICANCE = 0.05


# ---------------------------------------------------------------------------
# Margin of error per campaign, and comparing two campaigns


def _satisfied_counts(campaign_ids: Sequence[int], aspect: str) -> dict[int, tuple[int, int]]:
    """(answers, satisfied answers) on `aspect` per campaign, one GROUP BY."""
    rows = db.session.execute(
        select(
            Response.campaign_id,
            func.count(Answer.id),
            func.sum(case((Answer.score >= SATISFIED_MIN, 1), else_=0)),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Aspect.code == aspect, Response.campaign_id.in_(list(campaign_ids)))
        .group_by(Response.campaign_id)
    )
    return {cid: (int(n), int(sat or 0)) for cid, n, sat in rows}


def campaign_margins(campaign_ids: Sequence[int]) -> dict[int, float | None]:
    """The 95% margin of error of each campaign's overall satisfied share, for the
    responses received, with the finite population correction for its sampling frame
    (two queries for any number of campaigns). None without responses."""
    ids = list(dict.fromkeys(campaign_ids))
    if not ids:
        return {}
    frames = dict(
        db.session.execute(
            select(Campaign.id, Campaign.frame_size).where(Campaign.id.in_(ids))
        ).all()
    )
    counts = _satisfied_counts(ids, OVERALL)
    result: dict[int, float | None] = {}
    for cid in ids:
        n, satisfied = counts.get(cid, (0, 0))
        frame = frames.get(cid)
        # A frame smaller than the responses (a hand-made campaign) cannot correct.
        population = frame if frame and frame >= n else None
        result[cid] = margin_of_error(satisfied / n, n, population) if n else None
    return result


@dataclass(frozen=True, slots=True)
class CampaignShare:
    campaign_id: int
    name: str
    answers: int
    satisfied: int
    satisfied_share: float | None
    satisfied_share_interval: Interval
    margin_of_error: float | None


@dataclass(frozen=True, slots=True)
class CampaignComparison:
    """Campaign B against campaign A on one aspect. `difference` is B's satisfied
    share minus A's; `p_value` is the pooled two-sided z-test's (None when a campaign
    has no answers on the aspect); `significant` when p < 0.05."""

    aspect: str
    a: CampaignShare
    b: CampaignShare
    difference: float | None
    z: float | None
    p_value: float | None
    significant: bool


def compare_campaigns(a_id: int, b_id: int, aspect: str = OVERALL) -> CampaignComparison:
    """Tell a real change in the satisfied share (scores 4-5) from noise: both shares
    with their intervals, the difference B - A and a pooled two-proportion z-test.
    Three queries. NotFoundError for an unknown campaign, InvalidInputError for an
    unknown aspect."""
    known = db.session.scalar(select(Aspect.id).where(Aspect.code == aspect))
    if known is None:
        raise InvalidInputError(f"Unknown aspect {aspect!r}.", field="aspect")
    rows = dict(
        db.session.execute(
            select(Campaign.id, Campaign.frame_size).where(Campaign.id.in_([a_id, b_id]))
        ).all()
    )
    names = dict(
        db.session.execute(
            select(Campaign.id, Campaign.name).where(Campaign.id.in_([a_id, b_id]))
        ).all()
    )
    for field, cid in (("a", a_id), ("b", b_id)):
        if cid not in rows:
            raise NotFoundError(f"There is no campaign with ID {cid}.", field=field)
    counts = _satisfied_counts([a_id, b_id], aspect)

    def share(cid: int) -> CampaignShare:
        n, satisfied = counts.get(cid, (0, 0))
        frame = rows[cid]
        population = frame if frame and frame >= n else None
        return CampaignShare(
            campaign_id=cid,
            name=names[cid],
            answers=n,
            satisfied=satisfied,
            satisfied_share=satisfied / n if n else None,
            satisfied_share_interval=wilson_interval(satisfied, n),
            margin_of_error=margin_of_error(satisfied / n, n, population) if n else None,
        )

    first, second = share(a_id), share(b_id)
    test = two_proportion_z_test(second.satisfied, second.answers, first.satisfied, first.answers)
    difference = (
        second.satisfied_share - first.satisfied_share
        if second.satisfied_share is not None and first.satisfied_share is not None
        else None
    )
    z, p_value = test if test is not None else (None, None)
    return CampaignComparison(
        aspect=aspect,
        a=first,
        b=second,
        difference=difference,
        z=z,
        p_value=p_value,
        significant=p_value is not None and p_value < SIGNIFICANCE,
    )


# ---------------------------------------------------------------------------
# Coverage: which key accounts we have heard from


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
    (plus labels); groups with the lowest revenue share come first."""
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


# ---------------------------------------------------------------------------
# From dissatisfaction to defection


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
class Complaint:
    aspect: str
    label_zh: str
    label_en: str
    score: int
    reasons: list[str]
    reason_text: str | None

    def label(self, locale: str | None) -> str:
        return self.label_en if locale == "en" else self.label_zh


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

    @property
    def reasons_match(self) -> bool:
        return bool(self.matching_reasons)


def defection_precursors(account_ids: Iterable[int]) -> dict[int, Precursor]:
    """For each lost account among `account_ids`: its last satisfaction response
    before the defection day, the lead time in days, the aspects it rated 1-2 with
    reasons and text, and which recorded defection reasons match those aspects
    (survey.scale.ASPECT_REASON). Accounts never surveyed before leaving are absent.
    Three queries for any number of accounts."""
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
    complaints: dict[int, list[Complaint]] = defaultdict(list)
    reason_rows = db.session.execute(
        select(
            Answer.response_id,
            Aspect.code,
            Aspect.label_zh,
            Aspect.label_en,
            Answer.score,
            Answer.reason_text,
            AnswerReason.reason,
        )
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .outerjoin(AnswerReason, AnswerReason.answer_id == Answer.id)
        .where(Answer.response_id.in_(response_ids), Answer.score <= DISSATISFIED_MAX)
        .order_by(Answer.response_id, Aspect.position, Aspect.code, AnswerReason.reason)
    ).all()
    for response_id, code, zh, en, score, text, reason in reason_rows:
        found = complaints[response_id]
        if not found or found[-1].aspect != code:
            found.append(Complaint(code, zh, en, int(score), [], text))
        if reason is not None:
            found[-1].reasons.append(reason)
    defection_reasons: dict[int, list[str]] = defaultdict(list)
    for account_id, reason in db.session.execute(
        select(Defection.account_id, DefectionReason.reason)
        .join(DefectionReason, DefectionReason.defection_id == Defection.id)
        .where(Defection.account_id.in_([h.account_id for h in heads]))
        .order_by(Defection.account_id, DefectionReason.is_primary.desc(), DefectionReason.reason)
    ):
        defection_reasons[account_id].append(reason)
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
        )
    return result


# ---------------------------------------------------------------------------
# Does following up work?


@dataclass(frozen=True, slots=True)
class Recovery:
    """Accounts with a resolved follow-up and a later response: how their overall
    score moved from the response that opened the case to the next one."""

    accounts: int
    improved: int
    unchanged: int
    worse: int
    mean_change: float | None


def _overall_scores() -> Select[Any]:
    return (
        select(Response.account_id, Response.id, Response.submitted_at, Answer.score)
        .join(Answer, Answer.response_id == Response.id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Aspect.code == OVERALL)
    )


def recovery() -> Recovery:
    """For each account with a resolved follow-up: its overall score at the response
    that opened its latest resolved case against its next response's. Accounts not
    asked again yet are left out. Two queries."""
    cases = db.session.execute(
        select(FollowUp.account_id, func.max(Response.submitted_at))
        .join(Response, Response.id == FollowUp.response_id)
        .where(FollowUp.status == FOLLOW_UP_RESOLVED)
        .group_by(FollowUp.account_id)
    ).all()
    if not cases:
        return Recovery(0, 0, 0, 0, None)
    opened_at = {account_id: at for account_id, at in cases}
    scores: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    for account_id, response_id, at, score in db.session.execute(
        _overall_scores()
        .where(Response.account_id.in_(list(opened_at)))
        .order_by(Response.account_id, Response.submitted_at, Response.id)
    ):
        scores[account_id].append((at, response_id, int(score)))
    changes = []
    for account_id, at in opened_at.items():
        history = scores.get(account_id, [])
        before = next((s for t, _, s in reversed(history) if t <= at), None)
        after = next((s for t, _, s in history if t > at), None)
        if before is not None and after is not None:
            changes.append(after - before)
    return Recovery(
        accounts=len(changes),
        improved=sum(1 for c in changes if c > 0),
        unchanged=sum(1 for c in changes if c == 0),
        worse=sum(1 for c in changes if c < 0),
        mean_change=sum(changes) / len(changes) if changes else None,
    )


__all__ = [
    "ACCOUNT_DIMENSIONS",
    "AspectRisk",
    "CampaignComparison",
    "CampaignShare",
    "Complaint",
    "CoverageGroup",
    "Precursor",
    "Recovery",
    "RiskTable",
    "ScoredRiskAccount",
    "aspect_defection_risk",
    "aspect_risk_scores",
    "at_risk_by_expected_loss",
    "campaign_margins",
    "compare_campaigns",
    "coverage",
    "defection_precursors",
    "defection_risk_table",
    "recovery",
    "unheard_accounts",
]
