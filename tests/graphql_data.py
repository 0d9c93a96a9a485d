"""The small fixed data set the analytics and GraphQL tests state exact numbers on.

Six accounts over two tiers, two regions and two managers; two campaigns with three
responses each (four aspects answered); three defections. The expected figures in
the tests are worked out by hand in the comments there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from survey.models import CAMPAIGN_CLOSED

from .factories import make_account, make_campaign, make_defection, make_response


@dataclass(frozen=True)
class Data:
    accounts: dict[str, int]  # external id -> account id
    campaigns: dict[str, int]  # "C1"/"C2" -> campaign id
    responses: dict[str, int]  # "R1".."R6" -> response id


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 9, 30, tzinfo=UTC)


def build() -> Data:
    """Create the data set (inside an app context) and commit it."""
    from survey.db import db

    ka1 = make_account(
        "KA1",
        tier="A",
        region="华东",
        account_manager="王伟",
        value_type="extrinsic",
        relationship_stage="partner",
        annual_revenue=5_000_000,
        contact_phone="+86 21 5555 0001",
    )
    ka2 = make_account(
        "KA2",
        tier="A",
        region="华北",
        account_manager="李强",
        value_type="strategic",
        relationship_stage="strategic_alliance",
        annual_revenue=8_000_000,
        locale="en",
    )
    ka3 = make_account(
        "KA3",
        tier="B",
        region="华东",
        account_manager="王伟",
        value_type="intrinsic",
        relationship_stage="vendor",
        annual_revenue=2_000_000,
    )
    ka4 = make_account(
        "KA4",
        tier="B",
        region="华北",
        account_manager="李强",
        value_type="intrinsic",
        relationship_stage="preferred_supplier",
        annual_revenue=1_000_000,
    )
    ka5 = make_account(
        "KA5",
        tier="A",
        region="华东",
        account_manager="李强",
        value_type="extrinsic",
        relationship_stage="partner",
        annual_revenue=3_000_000,
    )
    ka6 = make_account(
        "KA6",
        tier="B",
        region="华北",
        account_manager="王伟",
        value_type="intrinsic",
        relationship_stage="vendor",
        annual_revenue=500_000,
    )
    c1, _ = make_campaign(
        "2026 Q1",
        accounts=[ka1, ka2, ka3, ka5],
        status=CAMPAIGN_CLOSED,
        opens_at=at(1, 5),
        closes_at=at(1, 31),
    )
    c2, _ = make_campaign(
        "2026 Q3",
        accounts=[ka1, ka2, ka4, ka6],
        opens_at=at(7, 1),
        closes_at=datetime(2099, 1, 1, tzinfo=UTC),
    )
    r1 = make_response(
        c1,
        ka1,
        {"overall": 4, "delivery": 2, "price": 3, "service": 5},
        reasons={"delivery": ["delivery"]},
        reason_texts={"delivery": "交货总是晚"},
        submitted_at=at(1, 10),
    )
    r2 = make_response(
        c1,
        ka2,
        {"overall": 2, "delivery": 1, "price": 4, "service": 2},
        reasons={
            "overall": ["communication", "service"],
            "delivery": ["delivery"],
            "service": ["service"],
        },
        reason_texts={"service": "响应太慢"},
        comment="客户经理很少来",
        submitted_at=at(1, 12),
        channel="phone",
    )
    r3 = make_response(
        c1,
        ka3,
        {"overall": 5, "delivery": 4, "price": 1, "service": 4},
        reasons={"price": ["price", "competitor_offer"]},
        submitted_at=at(1, 20),
    )
    r4 = make_response(
        c2, ka1, {"overall": 5, "delivery": 4, "price": 4, "service": 5}, submitted_at=at(7, 5)
    )
    r5 = make_response(
        c2,
        ka2,
        {"overall": 3, "delivery": 2, "price": 5, "service": 4},
        reasons={"delivery": ["delivery", "process"]},
        comment="审批太多",
        submitted_at=at(7, 8),
    )
    r6 = make_response(
        c2,
        ka4,
        {"overall": 1, "delivery": 5, "price": 1, "service": 3},
        reasons={"overall": ["price"], "price": ["price"]},
        submitted_at=at(7, 9),
    )
    make_defection(
        ka4,
        date(2026, 8, 15),
        ["price", "competitor_offer"],
        lost_annual_revenue=1_000_000,
        competitor="竞争者甲",
    )
    make_defection(
        ka5, date(2026, 8, 20), ["communication", "process"], lost_annual_revenue=3_000_000
    )
    make_defection(ka6, date(2026, 10, 5), ["price"])
    db.session.commit()
    return Data(
        accounts={a.external_id: a.id for a in (ka1, ka2, ka3, ka4, ka5, ka6)},
        campaigns={"C1": c1.id, "C2": c2.id},
        responses={f"R{i}": r.id for i, r in enumerate((r1, r2, r3, r4, r5, r6), start=1)},
    )
