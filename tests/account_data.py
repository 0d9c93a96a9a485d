"""Small fixed data for the account list, search and account page tests.

| id   | name                | tier | region | manager | stage   | revenue | overall      |
|------|---------------------|------|--------|---------|---------|---------|--------------|
| KA01 | 华东贸易有限公司    | A    | 华东   | 王伟    | partner | 9M      | Q3 4, Q4 2   |
| KA02 | 北方机电 Co.        | B    | 华北   | 李强    | vendor  | 5M      | Q3 5         |
| KA03 | South_Trade 100%    | B    | 华南   | 王伟    | partner | 7M      | never asked  |
| KA04 | Lost Ltd            | C    | 华东   | 李强    | vendor  | 3M      | Q3 1, left   |
| X-05 | Southern Trade 1000 | C    | 华东   | 王伟    | partner | 1M      | Q3, none     |

KA01 also rated delivery 2 (Q3) and 1 (Q4, "交货总是晚一周"); it has two contacts (the primary one a
decision maker with e-mail and phone), a team of two, one open overdue follow-up
and one resolved one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from survey.clock import utcnow
from survey.db import db
from survey.models import (
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    AccountTeamMember,
    Contact,
    FollowUp,
)

from .factories import make_account, make_campaign, make_defection, make_response


@dataclass(frozen=True)
class AccountData:
    ids: dict[str, int]
    campaigns: dict[str, int]
    follow_ups: dict[str, int]
    #: The clock's reading when the data was written; the dates above count back from it.
    now: datetime


def build_accounts() -> AccountData:
    """Write the table above (inside an app context) and commit."""
    now = utcnow()
    ka01 = make_account(
        "KA01",
        name="华东贸易有限公司",
        tier="A",
        region="华东",
        account_manager="王伟",
        relationship_stage="partner",
        value_type="strategic",
        annual_revenue=9_000_000,
    )
    ka02 = make_account(
        "KA02",
        name="北方机电 Co.",
        tier="B",
        region="华北",
        account_manager="李强",
        relationship_stage="vendor",
        annual_revenue=5_000_000,
    )
    ka03 = make_account(
        "KA03",
        name="South_Trade 100%",
        tier="B",
        region="华南",
        account_manager="王伟",
        relationship_stage="partner",
        annual_revenue=7_000_000,
    )
    ka04 = make_account(
        "KA04",
        contact_name="",  # no contact recorded
        contact_email=None,
        name="Lost Ltd",
        tier="C",
        region="华东",
        account_manager="李强",
        relationship_stage="vendor",
        annual_revenue=3_000_000,
    )
    x05 = make_account(
        "X-05",
        name="Southern Trade 1000",
        tier="C",
        region="华东",
        account_manager="王伟",
        relationship_stage="partner",
        annual_revenue=1_000_000,
    )
    q3, _ = make_campaign(
        "2026 Q3", accounts=[ka01, ka02, ka04, x05], opens_at=now - timedelta(days=90)
    )
    q4, _ = make_campaign("2026 Q4", accounts=[ka01], opens_at=now - timedelta(days=10))
    first = make_response(
        q3, ka01, {"delivery": 2, "overall": 4}, submitted_at=now - timedelta(days=60)
    )
    latest = make_response(
        q4,
        ka01,
        {"delivery": 1, "overall": 2},
        reason_texts={"delivery": "交货总是晚一周"},
        submitted_at=now - timedelta(days=5),
    )
    make_response(q3, ka02, {"overall": 5}, submitted_at=now - timedelta(days=61))
    make_response(q3, ka04, {"overall": 1}, submitted_at=now - timedelta(days=62))
    make_response(q3, x05, {"delivery": 3}, submitted_at=now - timedelta(days=63))
    make_defection(
        ka04,
        (now - timedelta(days=30)).date(),
        ["price", "service"],
        lost_annual_revenue=2_500_000,
        competitor="对手公司",
    )
    # make_account gave KA01 its primary contact: she is the decision maker.
    primary = db.session.scalars(
        select(Contact).where(Contact.account_id == ka01.id, Contact.is_primary)
    ).one()
    primary.name, primary.role, primary.locale = "李娜", "decision_maker", "zh"
    primary.email, primary.phone = "li.na@huadong.example", "+86 21 5555 0101"
    db.session.add_all(
        [
            Contact(
                account_id=ka01.id,
                name="Tom Chen",
                role="purchaser",
                email="tom.chen@huadong.example",
                locale="en",
                opted_out_at=now - timedelta(days=3),
            ),
            AccountTeamMember(
                account_id=ka01.id, name="赵敏", role="executive_sponsor", email="zm@example.com"
            ),
            AccountTeamMember(account_id=ka01.id, name="Sam Lee", role="service_lead"),
        ]
    )
    overdue = FollowUp(
        account_id=ka01.id,
        response_id=latest.id,
        owner="王伟",
        status=FOLLOW_UP_OPEN,
        opened_at=now - timedelta(days=5),
        due_at=now - timedelta(days=1),
    )
    resolved = FollowUp(
        account_id=ka01.id,
        response_id=first.id,
        owner="王伟",
        status=FOLLOW_UP_RESOLVED,
        opened_at=now - timedelta(days=60),
        due_at=now - timedelta(days=53),
        resolved_at=now - timedelta(days=55),
    )
    db.session.add_all([overdue, resolved])
    db.session.commit()
    return AccountData(
        ids={a.external_id: a.id for a in (ka01, ka02, ka03, ka04, x05)},
        campaigns={"q3": q3.id, "q4": q4.id},
        follow_ups={"overdue": overdue.id, "resolved": resolved.id},
        now=now,
    )
