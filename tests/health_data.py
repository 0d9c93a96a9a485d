"""A small fixed data set for health: five accounts, three campaigns, follow-ups.

Dates are pinned (TEST_NOW is 2026-11-23 09:30 UTC):

- H1, strategic alliance (4): responses 03-05 (overall 4; quality 2, delivery 4) and
  09-10 (overall 5; quality 4, delivery 1, price 2); invited to C1 and C2, answered
  both; a case opened 09-10, due 09-17, open.
- H2, vendor (1): response 03-10 (overall 3; quality 3); C1 answered, C2 not; a case
  opened 03-10, due 03-17, resolved 04-01.
- H3, partner (3): nothing at all.
- H4, partner (3), defected 2026-10-01: response 03-06 (overall 2; quality 1).
- H5, preferred supplier (2): responses 03-07 (overall 2; quality 1, delivery 1) and
  09-12 (overall 2; quality 2, delivery 3); C1, C2 answered, C3 (open until 12-04)
  not; a case opened 09-12, due 11-30, open.
C1 ran 03-01..03-22, C2 09-01..09-22 (both closed), C3 11-20..12-04.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from survey.db import db
from survey.models import CAMPAIGN_CLOSED, CAMPAIGN_OPEN, FollowUp, KeyAccount, Response

from .factories import make_account, make_campaign, make_defection, make_response

CREATED = datetime(2025, 1, 1, tzinfo=UTC)


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 9, 30, tzinfo=UTC)


@dataclass
class HealthData:
    accounts: dict[str, KeyAccount]
    responses: dict[str, Response]


def _case(response: Response, opened: datetime, due: datetime, resolved: datetime | None) -> None:
    db.session.add(
        FollowUp(
            account_id=response.account_id,
            response_id=response.id,
            owner="王伟",
            status="resolved" if resolved else "open",
            opened_at=opened,
            due_at=due,
            resolved_at=resolved,
        )
    )


def build_health_data() -> HealthData:
    stages = {
        "H1": "strategic_alliance",
        "H2": "vendor",
        "H3": "partner",
        "H4": "partner",
        "H5": "preferred_supplier",
    }
    accounts = {
        code: make_account(code, relationship_stage=stage, created_at=CREATED)
        for code, stage in stages.items()
    }
    a = accounts
    c1, _ = make_campaign(
        "2026 H1",
        accounts=[a["H1"], a["H2"], a["H4"], a["H5"]],
        status=CAMPAIGN_CLOSED,
        opens_at=at(3, 1),
        closes_at=at(3, 22),
    )
    c2, _ = make_campaign(
        "2026 H2",
        accounts=[a["H1"], a["H2"], a["H5"]],
        status=CAMPAIGN_CLOSED,
        opens_at=at(9, 1),
        closes_at=at(9, 22),
    )
    make_campaign(
        "2026 Dec",
        accounts=[a["H5"]],
        status=CAMPAIGN_OPEN,
        opens_at=at(11, 20),
        closes_at=at(12, 4),
    )
    r = {
        "H1a": make_response(
            c1, a["H1"], {"overall": 4, "product_quality": 2, "delivery": 4}, submitted_at=at(3, 5)
        ),
        "H1b": make_response(
            c2,
            a["H1"],
            {"overall": 5, "product_quality": 4, "delivery": 1, "price": 2},
            submitted_at=at(9, 10),
        ),
        "H2a": make_response(
            c1, a["H2"], {"overall": 3, "product_quality": 3}, submitted_at=at(3, 10)
        ),
        "H4a": make_response(
            c1, a["H4"], {"overall": 2, "product_quality": 1}, submitted_at=at(3, 6)
        ),
        "H5a": make_response(
            c1, a["H5"], {"overall": 2, "product_quality": 1, "delivery": 1}, submitted_at=at(3, 7)
        ),
        "H5b": make_response(
            c2, a["H5"], {"overall": 2, "product_quality": 2, "delivery": 3}, submitted_at=at(9, 12)
        ),
    }
    _case(r["H1b"], at(9, 10), at(9, 17), None)
    _case(r["H2a"], at(3, 10), at(3, 17), at(4, 1))
    _case(r["H5b"], at(9, 12), at(11, 30), None)
    make_defection(a["H4"], date(2026, 10, 1), ["price"])
    db.session.commit()
    return HealthData(accounts=accounts, responses=r)
