"""Query root: lists (keyset pages), single rows and the analysis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import contains_eager, joinedload

from survey import analysis
from survey import models as m
from survey.analysis import defection_reasons_by_source
from survey.db import db
from survey.registry import list_tokens

from .audit import AuditLogEntry, resolve_audit_log
from .context import Info
from .insights import InsightsQuery, Weight
from .pagination import Connection, check_first, decode_cursor, make_connection
from .permissions import IsAdmin
from .types import (
    Account,
    ApiTokenInfo,
    AtRiskAccount,
    BigInt,
    Campaign,
    DefectionFilter,
    Dimension,
    DrilldownNode,
    Me,
    ReasonBreakdown,
    Response,
    ResponseFilter,
    SatisfactionGroup,
    build_accounts,
    build_campaigns,
    build_group,
    build_node,
    build_responses,
    build_sourced_breakdown,
    domain_dimension,
    parse_id,
)


def _page(
    stmt: Select[Any], id_column: Any, first: int, after: str | None
) -> tuple[list[Any], Callable[[], int]]:
    """Rows of one keyset page (first + 1 of them) and a lazy total count."""
    after_id = decode_cursor(after)
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())

    def count() -> int:
        return int(db.session.scalar(count_stmt) or 0)

    if after_id is not None:
        stmt = stmt.where(id_column > after_id)
    rows = list(db.session.scalars(stmt.order_by(id_column).limit(first + 1)).unique())
    return rows, count


def _response_filter(f: ResponseFilter | None) -> analysis.ResponseFilter:
    domain = f.to_domain() if f is not None else analysis.ResponseFilter()
    analysis.validate_response_filter(domain)
    return domain


@strawberry.type
class Query(InsightsQuery):
    @strawberry.field(description="Key accounts in id order.")
    def accounts(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        tier: str | None = None,
        region: str | None = None,
        defected: bool | None = None,
        value_type: str | None = None,
        relationship_stage: str | None = None,
        account_manager: str | None = None,
    ) -> Connection[Account]:
        # Same vocabulary checks as the analytics filters: an unknown tier is a typo.
        analysis.validate_defection_filter(
            analysis.DefectionFilter(
                tier=tier, value_type=value_type, relationship_stage=relationship_stage
            )
        )
        conditions: list[ColumnElement[bool]] = []
        for column, value in (
            (m.KeyAccount.tier, tier),
            (m.KeyAccount.region, region),
            (m.KeyAccount.value_type, value_type),
            (m.KeyAccount.relationship_stage, relationship_stage),
            (m.KeyAccount.account_manager, account_manager),
        ):
            if value is not None:
                conditions.append(column == value)
        if defected is not None:
            lost = exists().where(m.Defection.account_id == m.KeyAccount.id)
            conditions.append(lost if defected else ~lost)
        size = check_first(first, info.context.max_page_size, default=50)
        rows, count = _page(select(m.KeyAccount).where(*conditions), m.KeyAccount.id, size, after)
        return make_connection(build_accounts(rows), [r.id for r in rows], size, count)

    @strawberry.field
    def account(self, id: strawberry.ID) -> Account | None:
        row = db.session.get(m.KeyAccount, parse_id(id))
        return build_accounts([row])[0] if row is not None else None

    @strawberry.field(description="Campaigns in id order (oldest first).")
    def campaigns(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Campaign]:
        size = check_first(first, info.context.max_page_size, default=50)
        rows, count = _page(select(m.Campaign), m.Campaign.id, size, after)
        return make_connection(build_campaigns(rows), [r.id for r in rows], size, count)

    @strawberry.field
    def campaign(self, id: strawberry.ID) -> Campaign | None:
        row = db.session.get(m.Campaign, parse_id(id))
        return build_campaigns([row])[0] if row is not None else None

    @strawberry.field(
        description="Responses in id order. `filter.aspect` and the score bounds keep "
        "responses with such an answer."
    )
    def responses(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: ResponseFilter | None = None,
    ) -> Connection[Response]:
        domain = _response_filter(filter)
        stmt = (
            select(m.Response)
            .join(m.Response.account)
            .where(*analysis.response_conditions(domain))
            # Account and campaign come in the page query itself; answers load for
            # the whole page on first use (schema.loaders.Batch).
            .options(contains_eager(m.Response.account), joinedload(m.Response.campaign))
        )
        size = check_first(first, info.context.max_page_size, default=50)
        rows, count = _page(stmt, m.Response.id, size, after)
        nodes = build_responses(rows, info.context.locale)
        return make_connection(nodes, [r.id for r in rows], size, count)

    @strawberry.field(description="Answers matching the filter, grouped by `groupBy`.")
    def satisfaction_summary(
        self,
        info: Info,
        group_by: Dimension,  # type: ignore[valid-type]
        filter: ResponseFilter | None = None,
        weight: Weight = Weight.ANSWERS,  # type: ignore[valid-type,attr-defined]
    ) -> list[SatisfactionGroup]:
        groups = analysis.satisfaction_summary(
            domain_dimension(group_by),
            _response_filter(filter),
            locale=info.context.locale,
            weight=analysis.Weight(weight.value),
        )
        return [build_group(g) for g in groups]

    @strawberry.field(
        description="Dissatisfied answers split by `by[0]`, each node by `by[1]`, ..."
    )
    def dissatisfaction_drilldown(
        self,
        info: Info,
        by: list[Dimension],  # type: ignore[valid-type]
        filter: ResponseFilter | None = None,
    ) -> list[DrilldownNode]:
        nodes = analysis.dissatisfaction_drilldown(
            [domain_dimension(d) for d in by],
            _response_filter(filter),
            locale=info.context.locale,
        )
        return [build_node(n) for n in nodes]

    @strawberry.field(
        description="Why accounts left, which kind and when: TIER, VALUE_TYPE, "
        "RELATIONSHIP_STAGE, REGION, ACCOUNT_MANAGER or MONTH; none = one group 'all'."
    )
    def defection_reasons(
        self,
        info: Info,
        group_by: Dimension | None = None,  # type: ignore[valid-type]
        filter: DefectionFilter | None = None,
    ) -> list[ReasonBreakdown]:
        # Staff-recorded reasons and exit-survey answers, each reason row marked by source.
        groups = defection_reasons_by_source(
            domain_dimension(group_by) if group_by is not None else None,
            filter.to_domain() if filter is not None else None,
            locale=info.context.locale,
            source=filter.source.value if filter is not None and filter.source else None,
        )
        return [build_sourced_breakdown(g) for g in groups]

    @strawberry.field(
        description="Active accounts whose latest response has a score of 1-2, largest "
        "expected lost revenue (riskScore × annual revenue) first."
    )
    def at_risk_accounts(self, info: Info, first: int | None = 20) -> list[AtRiskAccount]:
        size = check_first(first, info.context.max_page_size, default=20)
        risky = analysis.at_risk_by_expected_loss(size)
        rows = db.session.scalars(
            select(m.KeyAccount).where(m.KeyAccount.id.in_([r.account_id for r in risky]))
        ).all()
        accounts = {a.pk: a for a in build_accounts(list(rows))}
        return [
            AtRiskAccount(
                account=accounts[r.account_id],
                last_response_at=r.last_response_at,
                dissatisfied_aspects=r.dissatisfied_aspects,
                annual_revenue=BigInt(r.annual_revenue),
                risk_score=r.risk_score,
                expected_lost_revenue=BigInt(round(r.expected_lost_revenue)),
            )
            for r in risky
        ]

    @strawberry.field(description="Who is asking, with which role.")
    def me(self, info: Info) -> Me:
        return Me(name=info.context.staff_name, role=info.context.role, locale=info.context.locale)

    @strawberry.field(
        permission_classes=[IsAdmin], description="Every API token's metadata (admin only)."
    )
    def staff_tokens(self) -> list[ApiTokenInfo]:
        return [
            ApiTokenInfo(
                id=strawberry.ID(str(t.id)),
                staff_name=t.staff_name,
                staff_role=t.staff_role,
                staff_active=t.staff_active,
                created_at=t.created_at,
                revoked_at=t.revoked_at,
                last_used_at=t.last_used_at,
            )
            for t in list_tokens()
        ]

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Who launched, closed or reminded a campaign, recorded a defection or "
        "changed an API token, and when; newest first (admin only). `action` filters.",
    )
    def audit_log(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        action: str | None = None,
    ) -> Connection[AuditLogEntry]:
        return resolve_audit_log(info, first, after, action)
