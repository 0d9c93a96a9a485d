"""Insights in the API: comparing campaigns, coverage, complaints that predict
defection, follow-up cases and whether following up works.

The root Query and Mutation inherit these classes; the figures come from
survey.insights and survey.follow_ups (SQL GROUP BY, fixed statement counts).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum

import strawberry
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from survey import analysis, follow_ups
from survey import models as m
from survey.clock import utcnow
from survey.db import db
from survey.errors import DomainError, NotFoundError

from .context import Info
from .errors import bad_input
from .pagination import Connection, check_first, decode_cursor, make_connection
from .permissions import IsManager
from .types import (
    Account,
    BigInt,
    Dimension,
    Response,
    ShareInterval,
    build_accounts,
    build_responses,
    domain_dimension,
    min_group_size,
    parse_id,
    share_interval,
)

Weight = strawberry.enum(
    Enum("Weight", [(w.name, w.value) for w in analysis.Weight]),  # type: ignore[misc]
    description="How much each answer counts: ANSWERS each answer once; ACCOUNTS each "
    "responding account once (its latest response); REVENUE each account by annual revenue.",
)


@strawberry.enum(description="Where a follow-up case stands.")
class FollowUpStatus(Enum):
    OPEN = m.FOLLOW_UP_OPEN
    CONTACTED = m.FOLLOW_UP_CONTACTED
    RESOLVED = m.FOLLOW_UP_RESOLVED


@strawberry.type(description="One campaign's satisfied share on an aspect.")
class CampaignShare:
    campaign_id: strawberry.ID
    name: str
    answers: int
    satisfied: int = strawberry.field(description="Answers scored 4-5.")
    satisfied_share: float | None
    satisfied_share_interval: ShareInterval | None
    margin_of_error: float | None = strawberry.field(
        description="95%, finite population corrected for the campaign's frame."
    )


@strawberry.type(description="Campaign b against campaign a: a real change, or noise?")
class CampaignComparison:
    aspect: str
    a: CampaignShare
    b: CampaignShare
    difference: float | None = strawberry.field(description="b's satisfied share minus a's.")
    z: float | None
    p_value: float | None = strawberry.field(
        description="Pooled two-proportion z-test, two-sided; null when a side has no answers."
    )
    significant: bool = strawberry.field(description="pValue < 0.05.")


@strawberry.type(description="Active key accounts in a group, and those heard from.")
class CoverageGroup:
    key: str
    label: str
    active_accounts: int
    heard_from: int = strawberry.field(description="Responded to any survey in the window.")
    heard_share: float | None
    heard_share_interval: ShareInterval | None
    active_revenue: BigInt
    heard_revenue: BigInt
    revenue_share: float | None = strawberry.field(
        description="Share of the group's annual revenue held by the accounts heard from."
    )


@strawberry.type(
    description="Accounts that rated an aspect 1-2 against those that rated it 4-5 (their "
    "latest response), and how many of each defected within the window after it."
)
class AspectDefectionRisk:
    aspect: str
    label: str
    dissatisfied_accounts: int
    dissatisfied_defected: int
    satisfied_accounts: int
    satisfied_defected: int
    dissatisfied_defection_rate: float | None
    satisfied_defection_rate: float | None
    risk_ratio: float | None = strawberry.field(
        description="Defection rate of the dissatisfied over the satisfied's; null without a "
        "defection among the satisfied (no baseline)."
    )
    risk_ratio_interval: ShareInterval | None = strawberry.field(
        description="95% interval by the log method; null with no defection on either side."
    )
    median_lead_days: float | None = strawberry.field(
        description="Median days from the dissatisfied response to the defection."
    )
    low_sample: bool = strawberry.field(description="A side has fewer than MIN_GROUP_SIZE.")


@strawberry.type(description="A change of a follow-up case: who, when, which status, what.")
class FollowUpNote:
    at: datetime
    author: str | None
    status: FollowUpStatus | None
    text: str | None


@strawberry.type(description="A case for the account manager after a very dissatisfied answer.")
class FollowUp:
    id: strawberry.ID
    account: Account
    response: Response
    owner: str
    status: FollowUpStatus
    opened_at: datetime
    due_at: datetime
    contacted_at: datetime | None
    resolved_at: datetime | None
    overdue: bool = strawberry.field(description="Not resolved and past its due date.")
    notes: list[FollowUpNote]


@strawberry.type(
    description="Accounts with a resolved follow-up and a later response: how their overall "
    "score moved from the response that opened the case to the next one."
)
class Recovery:
    accounts: int
    improved: int
    unchanged: int
    worse: int
    mean_change: float | None


def _share(s: analysis.CampaignShare) -> CampaignShare:
    return CampaignShare(
        campaign_id=strawberry.ID(str(s.campaign_id)),
        name=s.name,
        answers=s.answers,
        satisfied=s.satisfied,
        satisfied_share=s.satisfied_share,
        satisfied_share_interval=share_interval(s.satisfied_share_interval),
        margin_of_error=s.margin_of_error,
    )


@contextmanager
def _domain_errors() -> Iterator[None]:
    """An unknown id given as an argument is the caller's mistake (BAD_USER_INPUT)."""
    try:
        yield
    except NotFoundError as exc:
        db.session.rollback()
        raise bad_input(exc.message, exc.field) from exc
    except DomainError:
        db.session.rollback()
        raise


def build_follow_ups(rows: list[m.FollowUp], locale: str) -> list[FollowUp]:
    """Follow-up types for rows whose notes are loaded: two queries for their accounts
    and responses (with the responses' accounts and campaigns joined)."""
    if not rows:
        return []
    accounts = {
        a.pk: a
        for a in build_accounts(
            list(
                db.session.scalars(
                    select(m.KeyAccount).where(m.KeyAccount.id.in_({r.account_id for r in rows}))
                )
            )
        )
    }
    response_rows = db.session.scalars(
        select(m.Response)
        .where(m.Response.id.in_({r.response_id for r in rows}))
        .options(joinedload(m.Response.account), joinedload(m.Response.campaign))
    ).all()
    responses = {r.pk: r for r in build_responses(list(response_rows), locale)}
    now = utcnow()
    return [
        FollowUp(
            id=strawberry.ID(str(r.id)),
            account=accounts[r.account_id],
            response=responses[r.response_id],
            owner=r.owner,
            status=FollowUpStatus(r.status),
            opened_at=r.opened_at,
            due_at=r.due_at,
            contacted_at=r.contacted_at,
            resolved_at=r.resolved_at,
            overdue=follow_ups.is_overdue(r.status, r.due_at, now),
            notes=[
                FollowUpNote(
                    at=n.at,
                    author=n.author,
                    status=FollowUpStatus(n.status) if n.status else None,
                    text=n.text,
                )
                for n in r.notes
            ],
        )
        for r in rows
    ]


@strawberry.type
class InsightsQuery:
    @strawberry.field(
        description="Campaign b's satisfied share (scores 4-5) on `aspect` against a's, with "
        "a pooled two-proportion z-test: tell a real change from noise."
    )
    def compare_campaigns(
        self, a: strawberry.ID, b: strawberry.ID, aspect: str = "overall"
    ) -> CampaignComparison:
        with _domain_errors():
            result = analysis.compare_campaigns(parse_id(a, "a"), parse_id(b, "b"), aspect)
        return CampaignComparison(
            aspect=result.aspect,
            a=_share(result.a),
            b=_share(result.b),
            difference=result.difference,
            z=result.z,
            p_value=result.p_value,
            significant=result.significant,
        )

    @strawberry.field(
        description="Per group (TIER, VALUE_TYPE, RELATIONSHIP_STAGE, REGION or "
        "ACCOUNT_MANAGER; none = 'all'): active accounts, those heard from within `withinDays`, "
        "and the revenue they hold. Lowest revenue share first."
    )
    def coverage(
        self,
        info: Info,
        group_by: Dimension | None = None,  # type: ignore[valid-type]
        within_days: int = analysis.DEFAULT_WINDOW_DAYS,
    ) -> list[CoverageGroup]:
        groups = analysis.coverage(
            domain_dimension(group_by) if group_by is not None else None,
            within_days=within_days,
            locale=info.context.locale,
        )
        return [
            CoverageGroup(
                key=g.key,
                label=g.label,
                active_accounts=g.active_accounts,
                heard_from=g.heard_from,
                heard_share=g.heard_share,
                heard_share_interval=share_interval(g.heard_share_interval),
                active_revenue=BigInt(g.active_revenue),
                heard_revenue=BigInt(g.heard_revenue),
                revenue_share=g.revenue_share,
            )
            for g in groups
        ]

    @strawberry.field(
        description="The active accounts with the most annual revenue that have not "
        "responded within `withinDays`: the largest blind spots."
    )
    def unheard_accounts(
        self, info: Info, within_days: int = analysis.DEFAULT_WINDOW_DAYS, first: int | None = 10
    ) -> list[Account]:
        size = check_first(first, info.context.max_page_size, default=10)
        ids = analysis.unheard_accounts(within_days=within_days, first=size)
        rows = {
            a.id: a
            for a in db.session.scalars(select(m.KeyAccount).where(m.KeyAccount.id.in_(ids)))
        }
        return build_accounts([rows[i] for i in ids if i in rows])

    @strawberry.field(
        description="Which complaints predict losses: per aspect, the defection rate within "
        "`withinDays` of accounts that rated it 1-2 against those that rated it 4-5."
    )
    def aspect_defection_risk(
        self, info: Info, within_days: int = analysis.DEFAULT_WINDOW_DAYS
    ) -> list[AspectDefectionRisk]:
        risks = analysis.aspect_defection_risk(
            within_days=within_days, locale=info.context.locale, min_group_size=min_group_size()
        )
        return [
            AspectDefectionRisk(
                aspect=r.aspect,
                label=r.label,
                dissatisfied_accounts=r.dissatisfied_accounts,
                dissatisfied_defected=r.dissatisfied_defected,
                satisfied_accounts=r.satisfied_accounts,
                satisfied_defected=r.satisfied_defected,
                dissatisfied_defection_rate=r.dissatisfied_defection_rate,
                satisfied_defection_rate=r.satisfied_defection_rate,
                risk_ratio=r.risk_ratio,
                risk_ratio_interval=share_interval(r.risk_ratio_interval),
                median_lead_days=r.median_lead_days,
                low_sample=r.low_sample,
            )
            for r in risks
        ]

    @strawberry.field(description="Follow-up cases in id order; `overdue` filters late ones.")
    def follow_ups(
        self,
        info: Info,
        status: FollowUpStatus | None = None,
        owner: str | None = None,
        overdue: bool | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[FollowUp]:
        size = check_first(first, info.context.max_page_size, default=50)
        after_id = decode_cursor(after)
        conditions = follow_ups.follow_up_conditions(
            status.value if status is not None else None, owner, overdue
        )
        count_stmt = select(func.count()).select_from(m.FollowUp).where(*conditions)
        page = select(m.FollowUp).where(*conditions)
        if after_id is not None:
            page = page.where(m.FollowUp.id > after_id)
        rows = list(
            db.session.scalars(
                page.options(selectinload(m.FollowUp.notes)).order_by(m.FollowUp.id).limit(size + 1)
            )
        )
        nodes = build_follow_ups(rows, info.context.locale)
        return make_connection(
            nodes, [r.id for r in rows], size, lambda: int(db.session.scalar(count_stmt) or 0)
        )

    @strawberry.field(description="Does following up work? The next overall score after it.")
    def recovery(self) -> Recovery:
        r = analysis.recovery()
        return Recovery(
            accounts=r.accounts,
            improved=r.improved,
            unchanged=r.unchanged,
            worse=r.worse,
            mean_change=r.mean_change,
        )


@strawberry.type
class FollowUpMutation:
    @strawberry.mutation(
        permission_classes=[IsManager],
        description="Move a follow-up case to a status and/or add a note (manager or admin).",
    )
    def update_follow_up(
        self,
        info: Info,
        id: strawberry.ID,
        status: FollowUpStatus | None = None,
        note: str | None = None,
    ) -> FollowUp:
        follow_up_id = parse_id(id)
        with _domain_errors():
            follow_ups.update_follow_up(
                follow_up_id,
                status=status.value if status is not None else None,
                note=note,
                author=info.context.staff_name,
            )
        row = db.session.scalars(
            select(m.FollowUp)
            .where(m.FollowUp.id == follow_up_id)
            .options(selectinload(m.FollowUp.notes))
        ).one()
        return build_follow_ups([row], info.context.locale)[0]
