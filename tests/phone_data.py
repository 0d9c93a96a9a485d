"""Fixed data that gives every console page content, for the phone layout test.

Fourteen accounts P01..P14 with long Chinese names (P14 an English one); dates count
back from the clock (TEST_NOW in tests):

- "2026 Q3 大客户满意度调查": closed, P01..P12 invited 100 days ago, P01..P10 answered
  every aspect (SCORES); scores of 2 or less give reasons, some in the customer's words;
  some comments. P11 never answered (its link shows the closed page).
- "2026 Q4 回访": open, P01..P04 and P13 invited 10 days ago; P01..P03 answered
  (P01's link shows the thank-you page), P13 not (its link shows the questionnaire).
- Defections: P12 (price, competitor's offer) 40 days ago, P14 (delivery) 70 days ago.
- P01: a second contact (opted out), a team of two, follow-ups open-overdue, open and
  resolved. Indicators for 2026-Q3 (value pyramid, tier suggestions), health
  snapshots, a quarterly schedule with one cycle, a webhook with a failed delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update

from survey.campaigns import ScheduleSpec, create_schedule, run_schedules
from survey.clock import utcnow
from survey.db import db
from survey.delivery.mail import optout_token
from survey.delivery.webhook_admin import create_endpoint
from survey.events import RESPONSE_SUBMITTED, emit
from survey.models import (
    CAMPAIGN_CLOSED,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    AccountMetric,
    AccountTeamMember,
    Contact,
    FollowUp,
    Invitation,
    WebhookDelivery,
)
from survey.registry.staff import add_staff
from survey.scale import ASPECT_REASON
from survey.scoring import backfill_health, change_model, ensure_score_models, recompute_health
from survey.scoring.periods import parse_period
from survey.scoring.value import recompute_value_scores

from .factories import make_account, make_campaign, make_defection, make_response

ADMIN_EMAIL = "ada.admin@example.com"
PASSWORD = "correct horse battery"
PERIOD = "2026-Q3"
ASPECTS = (
    "product_quality",
    "delivery",
    "price",
    "service",
    "communication",
    "process",
    "profitability",
    "overall",
)
#: name, tier, region, stage, revenue (yuan); P01 first.
ACCOUNTS = [
    ("华东精密机械制造股份有限公司", "A", "华东", "strategic_alliance", 98_500_000),
    ("北方重型装备集团有限责任公司", "A", "华北", "partner", 76_000_000),
    ("南方电子元器件贸易有限公司", "A", "华南", "preferred_supplier", 54_300_000),
    ("西部新能源科技发展有限公司", "B", "西南", "partner", 32_000_000),
    ("长江三角洲物流供应链管理有限公司", "B", "华东", "vendor", 28_750_000),
    ("珠江医疗器械进出口有限公司", "B", "华南", "preferred_supplier", 21_000_000),
    ("东北汽车零部件配套有限公司", "B", "东北", "vendor", 18_400_000),
    ("中原食品包装材料有限公司", "C", "华中", "vendor", 9_900_000),
    ("海峡两岸化工原料贸易有限公司", "C", "华东", "partner", 7_200_000),
    ("云贵高原农业机械销售有限公司", "C", "西南", "vendor", 5_600_000),
    ("渤海湾港口设备维修服务有限公司", "C", "华北", "vendor", 3_100_000),
    ("内蒙古草原乳业原料采购有限公司", "C", "华北", "vendor", 2_400_000),
    ("苏州工业园区智能制造研究院", "B", "华东", "partner", 12_000_000),
    ("Northern Lights International Trading Co., Ltd.", "C", "East", "vendor", 1_800_000),
]
#: P01..P10 in Q3, aspect scores in ASPECTS order.
SCORES = [
    (4, 2, 3, 4, 4, 3, 4, 4),
    (5, 4, 4, 5, 4, 4, 4, 5),
    (3, 1, 2, 3, 2, 2, 3, 2),
    (4, 3, 3, 4, 3, 3, 3, 3),
    (2, 2, 1, 2, 1, 2, 2, 1),
    (5, 5, 4, 4, 5, 4, 4, 5),
    (3, 2, 2, 3, 3, 3, 2, 3),
    (4, 4, 3, 5, 4, 4, 4, 4),
    (1, 1, 2, 2, 2, 1, 1, 1),
    (4, 3, 4, 4, 4, 3, 3, 4),
]
WORDS = {
    "delivery": "近三个月多次延迟交货，影响了我们的销售和客户交付计划。",
    "price": "Prices went up twice this year without notice; our margins suffer.",
    "communication": "客户经理很少主动联系，出了问题找不到人。",
    "product_quality": "批次质量不稳定，退货率偏高。",
}
COMMENTS = {
    0: "总体不错，交货问题请尽快解决，希望下季度看到改善。",
    2: "We have raised the delivery problems with the account team several times already.",
    4: "价格、沟通、流程都需要改进，否则我们会考虑其他供应商。",
    8: "非常失望。",
}


@dataclass(frozen=True)
class PhoneData:
    """Ids for the pages that need one, and the customer's links."""

    account: str  # external id of the account with everything on its page
    campaign: int
    follow_up: int
    response: int
    survey_token: str  # an open, unanswered invitation
    answered_token: str  # answered: its thank-you page
    closed_token: str  # a closed campaign's unanswered invitation
    optout_token: str  # the opt-out page of the open invitation


def build_phone_data(secret_key: str) -> PhoneData:
    """Write the data above (inside an app context) and commit."""
    now = utcnow()
    accounts = [
        make_account(
            f"P{n:02d}",
            name=name,
            tier=tier,
            region=region,
            relationship_stage=stage,
            annual_revenue=revenue,
            account_manager="欧阳建国" if n % 2 else "Catherine Zhang",
            created_at=now - timedelta(days=500),
            locale="en" if n == 14 else "zh",
        )
        for n, (name, tier, region, stage, revenue) in enumerate(ACCOUNTS, start=1)
    ]
    # The schedule's first cycle (2026-08-03), before the other campaigns: it samples
    # only accounts not surveyed in the 90 days before.
    db.session.commit()
    create_schedule(
        ScheduleSpec(
            name="季度大客户满意度调查（A 级全覆盖）",
            every="quarter",
            starts_on=date(2026, 7, 1),
            size=4,
            census_tiers=("A",),
        ),
        actor=None,
        today=date(2026, 7, 1),
    )
    run_schedules(date(2026, 8, 3), secret_key=secret_key, mail=None, actor="cron")
    q3, q3_tokens = make_campaign(
        "2026 Q3 大客户满意度调查",
        accounts=accounts[:12],
        status=CAMPAIGN_CLOSED,
        opens_at=now - timedelta(days=100),
        closes_at=now - timedelta(days=79),
        secret=secret_key,
    )
    q3.created_at = q3.opens_at
    q3_responses = []
    for n, scores in enumerate(SCORES):
        low = [code for code, score in zip(ASPECTS, scores, strict=True) if score <= 2]
        q3_responses.append(
            make_response(
                q3,
                accounts[n],
                dict(zip(ASPECTS, scores, strict=True)),
                reasons={c: [ASPECT_REASON[c].value] for c in low if c in ASPECT_REASON},
                reason_texts={c: WORDS[c] for c in low if c in WORDS},
                comment=COMMENTS.get(n),
                submitted_at=now - timedelta(days=99 - n),
            )
        )
    q4, q4_tokens = make_campaign(
        "2026 Q4 回访",
        accounts=[*accounts[:4], accounts[12]],
        opens_at=now - timedelta(days=10),
        closes_at=now + timedelta(days=14),
        secret=secret_key,
    )
    q4.created_at = q4.opens_at
    for n, scores in enumerate(
        [(4, 3, 3, 4, 4, 3, 4, 4), (5, 4, 4, 4, 4, 4, 4, 5), (3, 2, 2, 3, 3, 2, 3, 2)]
    ):
        make_response(
            q4,
            accounts[n],
            dict(zip(ASPECTS, scores, strict=True)),
            reasons={"delivery": ["delivery"]} if scores[1] <= 2 else None,
            submitted_at=now - timedelta(days=8 - n),
        )
    make_defection(
        accounts[11],
        (now - timedelta(days=40)).date(),
        ["price", "competitor_offer"],
        lost_annual_revenue=2_400_000,
        competitor="某国际竞争对手集团（中国）有限公司",
        note="对方报价低 12%，且承诺 48 小时交货。",
    )
    make_defection(accounts[13], (now - timedelta(days=70)).date(), ["delivery"])

    p01 = accounts[0]
    db.session.add_all(
        [
            Contact(
                account_id=p01.id,
                name="Alexander Chen-Wang",
                role="purchaser",
                email="alexander.chen-wang@huadong-precision.example.com",
                phone="+86 21 5555 0101",
                locale="en",
                opted_out_at=now - timedelta(days=3),
            ),
            AccountTeamMember(
                account_id=p01.id,
                name="赵敏",
                role="executive_sponsor",
                email="zhao.min@example.com",
            ),
            AccountTeamMember(account_id=p01.id, name="Sam Lee", role="service_lead"),
        ]
    )
    cases = [
        FollowUp(
            account_id=p01.id,
            response_id=q3_responses[0].id,
            owner="欧阳建国",
            status=FOLLOW_UP_OPEN,
            opened_at=now - timedelta(days=99),
            due_at=now - timedelta(days=92),
        ),
        FollowUp(
            account_id=accounts[2].id,
            response_id=q3_responses[2].id,
            owner="Catherine Zhang",
            status=FOLLOW_UP_RESOLVED,
            opened_at=now - timedelta(days=97),
            due_at=now - timedelta(days=90),
            contacted_at=now - timedelta(days=95),
            resolved_at=now - timedelta(days=91),
            root_cause="delivery",
        ),
        FollowUp(
            account_id=accounts[4].id,
            response_id=q3_responses[4].id,
            owner="欧阳建国",
            status=FOLLOW_UP_OPEN,
            opened_at=now - timedelta(days=95),
            due_at=now + timedelta(days=3),
        ),
    ]
    db.session.add_all(cases)

    ensure_score_models()
    end = parse_period(PERIOD).end
    for n, account in enumerate(accounts):
        if not account.active:
            continue
        values = {
            "revenue": ACCOUNTS[n][4] / 4,
            "gross_profit": ACCOUNTS[n][4] / (10 + n),
            "collected": 5 - n % 3,
            "orders": 40 - 2 * n,
        }
        for indicator, value in values.items():
            db.session.add(
                AccountMetric(
                    account_id=account.id,
                    period=PERIOD,
                    period_end=end,
                    indicator=indicator,
                    value=value,
                )
            )
    db.session.commit()
    change_model("pyramid", actor="admin", tiering=True)
    db.session.commit()
    recompute_value_scores()
    backfill_health(28, every=7)
    recompute_health()

    create_endpoint(
        "https://crm.example.com/hooks/keypulse/satisfaction-events",
        [RESPONSE_SUBMITTED],
        secret_key=secret_key,
        allow_http_loopback=False,
        description="CRM 客户关系管理系统（华东区）",
    )
    emit(RESPONSE_SUBMITTED, {"n": 1}, account_id=p01.id)
    db.session.execute(
        update(WebhookDelivery).values(
            status="failed", attempts=3, last_error="HTTP 500 Internal Server Error"
        )
    )
    add_staff("Ada Admin", "admin", ADMIN_EMAIL, password=PASSWORD)
    db.session.commit()
    optout = db.session.execute(
        select(Invitation.id, Invitation.token_nonce).where(
            Invitation.campaign_id == q4.id, Invitation.account_id == accounts[12].id
        )
    ).one()
    return PhoneData(
        account="P01",
        campaign=q3.id,
        follow_up=cases[0].id,
        response=q3_responses[0].id,
        survey_token=q4_tokens[accounts[12].id],
        answered_token=q4_tokens[accounts[0].id],
        closed_token=q3_tokens[accounts[10].id],
        optout_token=optout_token(secret_key, optout.id, optout.token_nonce),
    )
