"""Believable demo data, so the analytics show something real on a first run.

Two hundred key accounts (mixed Chinese and English), a closed half-year campaign
whose dissatisfaction clusters in a few aspects and segments (delivery in 华南,
red tape for one account manager's accounts, price for intrinsic-value buyers,
communication for tier C), an open campaign, and a dozen defections whose reasons
echo the complaints. Everything goes through the same services as real use; only
the clock is moved back afterwards so the history looks like history.
Deterministic: the same seed gives the same data.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update

from survey.answers import AnswerInput, record_response
from survey.campaigns import CampaignRequest, close_campaign, launch_campaign
from survey.clock import utcnow
from survey.db import db
from survey.demo.contacts import add_buying_centres
from survey.demo.follow_ups import root_cause_for, work_follow_ups
from survey.demo.health import add_health_history
from survey.demo.history import finish_last_year, open_last_year
from survey.demo.metrics import add_demo_metrics
from survey.demo.schedules import add_quarterly_schedule
from survey.demo.team import add_teams_and_tier_changes
from survey.follow_ups import update_follow_up
from survey.models import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_RESOLVED,
    Answer,
    Aspect,
    Campaign,
    FollowUp,
    Invitation,
    KeyAccount,
    Response,
)
from survey.registry import ACCOUNT_COLUMNS, import_accounts_csv, record_defection
from survey.scale import ASPECT_REASON, DEFAULT_ASPECTS, OVERALL, ReasonCode

DEMO_SEED = 20261123
CLOSED_CAMPAIGN = "2026 上半年大客户满意度调查"
OPEN_CAMPAIGN = "2026 下半年大客户满意度调查"

_CITIES = ["上海", "广州", "深圳", "成都", "武汉", "北京", "杭州", "南京", "重庆", "西安"]
_CORES = ["华联", "恒通", "瑞丰", "金达", "宏远", "新星", "百汇", "永信", "博远", "鼎盛"]
_SUFFIXES = ["商贸有限公司", "贸易有限公司", "连锁超市", "工业集团", "电子科技有限公司"]
_EN_FIRST = ["Pacific", "Harbor", "Summit", "Evergreen", "Golden Bridge", "Blue River", "Orient"]
_EN_SECOND = ["Retail Group", "Trading Co.", "Distribution Ltd.", "Industries", "Foods"]
_ZH_CONTACTS = ["陈静", "杨帆", "赵磊", "黄丽", "周强", "吴敏", "徐婷", "孙浩", "马琳", "朱峰"]
_EN_CONTACTS = ["Alice Wong", "David Lee", "Grace Lim", "Peter Tan", "Sarah Ng", "Tom Chan"]
_REGION_MANAGERS = {
    "华东": ["王伟", "Emily Zhao"],
    "华南": ["李娜", "刘洋"],
    "华北": ["张敏", "刘洋"],
    "西南": ["Chen Jie"],
    "华中": ["张敏", "王伟"],
}
_REASON_TEXT = {
    "product_quality": ("最近一批货次品率偏高。", "The last batches had too many defects."),
    "delivery": (
        "近三个月多次延迟交货，影响了我们的销售。",
        "Deliveries were late again and again.",
    ),
    "price": ("价格比同类供应商高，返点也少。", "Prices are above other suppliers'."),
    "service": ("问题反馈后很久才有人处理。", "It takes days before anyone handles a problem."),
    "communication": ("客户经理很少联系我们，感觉不受重视。", "We rarely hear from our manager."),
    "process": ("审批和单据越来越多，下单很慢。", "More approvals and paperwork every month."),
    "profitability": ("利润空间太薄，支持不够。", "Our margin on your products is too thin."),
    OVERALL: ("整体合作不如以前顺畅。", "Working together is harder than it used to be."),
}
_COMMENTS = [
    ("希望贵公司多倾听我们的意见。", "Please listen to us more often."),
    ("总体不错，继续保持。", "Good overall, keep it up."),
    ("交货问题请尽快解决。", "Please fix the delivery problems soon."),
]


@dataclass(frozen=True, slots=True)
class DemoReport:
    loaded: bool
    accounts: int
    responses: int
    defections: int
    open_campaign_id: int | None


def _accounts_csv(rng: random.Random, count: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ACCOUNT_COLUMNS)
    used: set[str] = set()
    for number in range(1, count + 1):
        english = rng.random() < 0.3
        while True:
            if english:
                name = f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_SECOND)}"
                name = f"{name} ({rng.choice(['HK', 'SG', 'Shanghai', 'Shenzhen'])})"
            else:
                name = rng.choice(_CITIES) + rng.choice(_CORES) + rng.choice(_SUFFIXES)
            if name not in used:
                used.add(name)
                break
        tier = rng.choices("ABC", weights=(2, 3, 5))[0]
        revenue = {"A": (5_000_000, 20_000_000), "B": (1_000_000, 5_000_000)}.get(
            tier, (200_000, 1_000_000)
        )
        region = rng.choice(list(_REGION_MANAGERS))
        contact = rng.choice(_EN_CONTACTS if english else _ZH_CONTACTS)
        has_email = rng.random() < 0.93
        writer.writerow(
            [
                f"KA-{number:04d}",
                name,
                tier,
                rng.choices(["intrinsic", "extrinsic", "strategic"], weights=(4, 4, 2))[0],
                rng.choices(
                    ["vendor", "preferred_supplier", "partner", "strategic_alliance"],
                    weights=(3, 4, 3, 1),
                )[0],
                region,
                rng.randrange(*revenue, 10_000),
                rng.choice(_REGION_MANAGERS[region]),
                contact,
                f"contact{number:04d}@example.com" if has_email else "",
                f"+86 21 5555 {number:04d}",
                "en" if english else "zh",
            ]
        )
    return out.getvalue().encode("utf-8")


def _score(rng: random.Random, pressure: float) -> int:
    """A score from 1-5; `pressure` (0..1) pushes it toward dissatisfaction."""
    weights = [
        0.04 + 0.30 * pressure,  # 1
        0.08 + 0.35 * pressure,  # 2
        0.15,  # 3
        0.38 - 0.30 * pressure,  # 4
        0.35 - 0.33 * pressure,  # 5
    ]
    return rng.choices([1, 2, 3, 4, 5], weights=[max(w, 0.01) for w in weights])[0]


def _pressures(account: KeyAccount) -> dict[str, float]:
    """Where this kind of account is unhappy: the clusters the analytics should find."""
    pressure = {spec.code: 0.0 for spec in DEFAULT_ASPECTS}
    if account.region == "华南":
        pressure["delivery"] = 0.9
    if account.account_manager == "刘洋":
        pressure["process"] = 0.85
        pressure["communication"] = 0.4
    if account.value_type == "intrinsic":
        pressure["price"] = 0.7
    if account.tier == "C":
        pressure["communication"] = max(pressure["communication"], 0.6)
    return pressure


def _answers(
    rng: random.Random, account: KeyAccount, en: bool, unhappier: float = 0.0
) -> dict[str, AnswerInput]:
    pressure = {code: min(1.0, p + unhappier) for code, p in _pressures(account).items()}
    answers: dict[str, AnswerInput] = {}
    for spec in DEFAULT_ASPECTS:
        if spec.code == OVERALL:
            continue
        score = _score(rng, pressure[spec.code])
        answers[spec.code] = _with_reasons(rng, spec.code, score, en)
    worst = min(a.score for a in answers.values())
    mean = sum(a.score for a in answers.values()) / len(answers)
    overall = max(1, min(5, round(mean - (0.8 if worst == 1 else 0) + rng.uniform(-0.6, 0.6))))
    answers[OVERALL] = _with_reasons(rng, OVERALL, overall, en)
    return answers


def _with_reasons(rng: random.Random, code: str, score: int, en: bool) -> AnswerInput:
    if score > 2:
        return AnswerInput(score=score)
    reasons = [ASPECT_REASON.get(code, ReasonCode.OTHER).value]
    if code == "price" and rng.random() < 0.5:
        reasons.append(ReasonCode.COMPETITOR_OFFER.value)
    if code == "service" and rng.random() < 0.4:
        reasons.append(ReasonCode.COMMUNICATION.value)
    text = _REASON_TEXT[code][1 if en else 0] if rng.random() < 0.7 else None
    return AnswerInput(score=score, reasons=reasons, reason_text=text)


def _backdate_campaign(campaign_id: int, launched: datetime, closes: datetime) -> None:
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(created_at=launched, opens_at=launched, closes_at=closes)
    )
    db.session.execute(
        update(Invitation)
        .where(Invitation.campaign_id == campaign_id)
        .values(created_at=launched, sent_at=launched, status="sent")
    )


def demo_accounts_csv(accounts: int = 200) -> bytes:
    """The demo's account file, exactly as `load_demo` imports it."""
    return _accounts_csv(random.Random(DEMO_SEED), accounts)


def load_demo(
    *,
    secret_key: str,
    today: date | None = None,
    accounts: int = 200,
    base_url: str = "http://127.0.0.1:5000",
) -> DemoReport:
    """Load the demo into an empty registry; do nothing when accounts exist."""
    existing = db.session.scalar(select(func.count()).select_from(KeyAccount)) or 0
    if existing:
        open_id = db.session.scalar(select(Campaign.id).where(Campaign.name == OPEN_CAMPAIGN))
        return DemoReport(False, existing, 0, 0, open_id)

    rng = random.Random(DEMO_SEED)
    now = utcnow()
    today = today or now.date()
    accounts_file = _accounts_csv(rng, accounts)
    report = import_accounts_csv(io.BytesIO(accounts_file))
    if not report.imported:
        raise RuntimeError(f"demo accounts did not import: {report.problems[:3]}")

    # Last year's survey (survey/demo/history.py), answered once we know who left.
    last_year_id, last_year_opened = open_last_year(
        secret_key=secret_key, now=now, seed=DEMO_SEED + 4, backdate=_backdate_campaign
    )

    # The closed campaign: launched ~5 months ago, stratified by tier.
    first = launch_campaign(
        CampaignRequest(
            name=CLOSED_CAMPAIGN, size=90, stratify_by="tier", seed=DEMO_SEED, created_by="demo"
        ),
        secret_key=secret_key,
    )
    launched = now - timedelta(days=160)
    _backdate_campaign(first.campaign_id or 0, launched, launched + timedelta(days=21))
    db.session.commit()
    responses = _answer_campaign(rng, first.campaign_id or 0, launched, share=0.7, days=20)
    close_campaign(first.campaign_id or 0)

    defections = _defect_unhappy(rng, first.campaign_id or 0, today)
    last_year_rng = random.Random(DEMO_SEED + 4)
    responses += finish_last_year(
        last_year_id,
        last_year_opened,
        answer=lambda campaign_id, opened: _answer_campaign(
            last_year_rng,
            campaign_id,
            opened,
            share=0.9,
            days=20,
            unhappier=lambda account: 0.0 if account.active else 0.4,
        ),
    )

    # The open campaign: launched a week ago; a few have answered already.
    second = launch_campaign(
        CampaignRequest(
            name=OPEN_CAMPAIGN,
            size=40,
            stratify_by="tier",
            seed=DEMO_SEED + 1,
            closes_in_days=21,
            created_by="demo",
            # The story resolves some of the first campaign's cases before this launch
            # (_close_the_loop back-dates them), but the code works them afterwards.
            include_open_cases=True,
        ),
        secret_key=secret_key,
    )
    launched2 = now - timedelta(days=7)
    _backdate_campaign(second.campaign_id or 0, launched2, now + timedelta(days=14))
    db.session.commit()
    responses += _answer_campaign(rng, second.campaign_id or 0, launched2, share=0.25, days=6)
    # Closing the loop: follow-ups worked, and what the next answers say about it.
    responses += _close_the_loop(rng, first.campaign_id or 0, second.campaign_id or 0, now)
    # A quarterly schedule whose two past cycles were answered (survey.demo.schedules);
    # before the follow-ups are worked, so its cases are worked too.
    schedule_rng = random.Random(DEMO_SEED + 3)
    responses += add_quarterly_schedule(
        secret_key=secret_key,
        now=now,
        answer=lambda campaign_id, opened: _answer_campaign(
            schedule_rng, campaign_id, opened, share=0.6, days=18
        ),
    )
    add_teams_and_tier_changes(now)
    work_follow_ups(secret_key=secret_key, base_url=base_url, now=now)
    # Buying centres at the strategic accounts, and a campaign that asked all of them.
    answer_rng = random.Random(DEMO_SEED + 2)
    added, _ = add_buying_centres(
        secret_key=secret_key,
        now=now,
        seed=DEMO_SEED,
        answers=lambda account, en: _answers(answer_rng, account, en),
    )
    # Business indicators for the value pyramid and tier suggestions (survey.demo.metrics).
    add_demo_metrics(accounts_file)
    add_health_history()  # weekly health snapshots for half a year, then today's
    return DemoReport(True, accounts, responses + added, defections, second.campaign_id)


def _answer_campaign(
    rng: random.Random,
    campaign_id: int,
    launched: datetime,
    *,
    share: float,
    days: int,
    unhappier: Callable[[KeyAccount], float] | None = None,
) -> int:
    rows = db.session.execute(
        select(Invitation.id, KeyAccount)
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .where(Invitation.campaign_id == campaign_id)
        .order_by(Invitation.id)
    ).all()
    count = 0
    for invitation_id, account in rows:
        if rng.random() >= share:
            continue
        en = account.locale == "en"
        comment = None
        if rng.random() < 0.25:
            comment = rng.choice(_COMMENTS)[1 if en else 0]
        when = launched + timedelta(days=rng.uniform(0.2, days))
        record_response(
            invitation_id,
            _answers(rng, account, en, unhappier(account) if unhappier else 0.0),
            comment=comment,
            locale=account.locale,
            channel="phone" if rng.random() < 0.15 else "web",
            now=when,
        )
        db.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id)
            .values(opened_at=when - timedelta(minutes=7))
        )
        count += 1
    db.session.commit()
    return count


def _defect_unhappy(rng: random.Random, campaign_id: int, today: date) -> int:
    """A dozen accounts that complained leave, for reasons that echo their complaints."""
    rows = db.session.execute(
        select(Response.account_id, Response.submitted_at, Aspect.code, Answer.score)
        .join(Answer, Answer.response_id == Response.id)
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .where(Response.campaign_id == campaign_id, Answer.score <= 2, Aspect.code != OVERALL)
        .order_by(Response.account_id, Answer.score, Aspect.position)
    ).all()
    complaints: dict[int, tuple[datetime, list[str]]] = {}
    for account_id, submitted_at, code, _score in rows:
        complaints.setdefault(account_id, (submitted_at, []))[1].append(code)
    unhappiest = sorted(complaints, key=lambda a: (-len(complaints[a][1]), a))[:12]
    for account_id in unhappiest:
        submitted_at, codes = complaints[account_id]
        reasons = [ASPECT_REASON[code].value for code in codes[:2]]
        if rng.random() < 0.5:
            reasons.append(ReasonCode.COMPETITOR_OFFER.value)
        left = submitted_at.date() + timedelta(days=rng.randint(25, 130))
        left = min(left, today - timedelta(days=1))
        account = db.session.get(KeyAccount, account_id)
        record_defection(
            account_id=account_id,
            defected_on=left,
            reasons=reasons,
            competitor=rng.choice([None, "远东供应链", "Apex Supplies"]),
            lost_annual_revenue=account.annual_revenue if account else None,
            note="示例数据 / demo data",
            recorded_by="demo",
            today=today,
        )
    return len(unhappiest)


def _close_the_loop(rng: random.Random, first_id: int, second_id: int, now: datetime) -> int:
    """Managers work the follow-ups the first campaign opened: a few are resolved, and
    those accounts answer the second campaign better than before. Returns how many
    responses were added."""
    rows = db.session.execute(
        select(FollowUp.id, FollowUp.account_id, FollowUp.owner, FollowUp.opened_at, Invitation.id)
        .join(Response, Response.id == FollowUp.response_id)
        .join(KeyAccount, KeyAccount.id == FollowUp.account_id)
        .join(
            Invitation,
            (Invitation.account_id == FollowUp.account_id) & (Invitation.campaign_id == second_id),
        )
        .where(Response.campaign_id == first_id, KeyAccount.active.is_(True))
        .order_by(FollowUp.id)
    ).all()
    added = 0
    for case_id, account_id, owner, opened_at, invitation_id in rows[:3]:
        contacted = opened_at + timedelta(days=rng.randint(1, 5))
        update_follow_up(
            case_id,
            status=FOLLOW_UP_CONTACTED,
            note="已电话沟通，客户说明了问题。",
            author=owner,
            now=contacted,
        )
        update_follow_up(
            case_id,
            status=FOLLOW_UP_RESOLVED,
            note="已安排改进并回访确认。",
            author=owner,
            root_cause=root_cause_for(case_id),
            now=contacted + timedelta(days=rng.randint(3, 10)),
        )
        answered = db.session.scalar(
            select(Response.id).where(Response.invitation_id == invitation_id)
        )
        if answered is None:
            account = db.session.get(KeyAccount, account_id)
            en = account is not None and account.locale == "en"
            # After the follow-up most aspects read "satisfied" again.
            answers = {
                spec.code: AnswerInput(score=rng.choice([4, 4, 5])) for spec in DEFAULT_ASPECTS
            }
            record_response(
                invitation_id,
                answers,
                comment="跟进后改善明显。" if not en else "Much better since you followed up.",
                locale=account.locale if account else "zh",
                now=now - timedelta(days=rng.uniform(0.5, 5)),
            )
            added += 1
    return added
