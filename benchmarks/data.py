"""A synthetic but realistic data set, written in bulk.

Years of quarterly campaigns over a large registry: each campaign samples a few
thousand accounts, about two thirds answer, every response scores the eight
default aspects. Dissatisfaction clusters by kind of account (delivery in one
region, red tape for some account managers, price for intrinsic-value buyers,
communication for tier C), with reasons, reason texts and comments, so the
drill-downs have real structure to find. A few percent of accounts have left,
with reasons that echo the complaints.

Rows go in with one executemany per chunk on SQLite and COPY on PostgreSQL,
with ids chosen here: no ORM, no per-response service call. Deterministic for a
seed. `grow_to` adds older campaigns until the answer count is reached, so one
database can be measured at 10k, then 100k, then 1M answers.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Connection, Date, Table, func, select, text
from sqlalchemy.types import DateTime

from survey.campaigns.questionnaires import ensure_default_questionnaire
from survey.data_version import bump
from survey.db import UTCDateTime, db
from survey.models import (
    CAMPAIGN_CLOSED,
    CAMPAIGN_OPEN,
    INVITATION_RESPONDED,
    INVITATION_SENT,
    Answer,
    AnswerReason,
    Aspect,
    Campaign,
    Contact,
    Defection,
    DefectionReason,
    Invitation,
    KeyAccount,
    Response,
)
from survey.scale import ASPECT_REASON, DEFAULT_ASPECTS, OVERALL, ReasonCode
from survey.tokens import derive_token, hash_token

CHUNK = 20_000
ASPECTS_PER_RESPONSE = len(DEFAULT_ASPECTS)

REGIONS = ("华东", "华南", "华北", "西南", "华中", "西北", "东北")
REGION_WEIGHTS = (30, 22, 18, 10, 10, 5, 5)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("伟", "娜", "敏", "洋", "静", "磊", "丽", "强", "婷", "浩", "峰", "琳", "杰", "帆")
_CITIES = ("上海", "广州", "深圳", "成都", "武汉", "北京", "杭州", "南京", "重庆", "西安")
_CORES = ("华联", "恒通", "瑞丰", "金达", "宏远", "新星", "百汇", "永信", "博远", "鼎盛")
_SUFFIXES = ("商贸有限公司", "贸易有限公司", "连锁超市", "工业集团", "电子科技有限公司")
_EN_NAMES = ("Pacific", "Harbor", "Summit", "Evergreen", "Golden Bridge", "Blue River")
_EN_SUFFIXES = ("Retail Group", "Trading Co.", "Distribution Ltd.", "Industries", "Foods")
_REASON_TEXT = {
    "product_quality": "最近一批货次品率偏高。",
    "delivery": "近三个月多次延迟交货，影响了我们的销售。",
    "price": "价格比同类供应商高，返点也少。",
    "service": "问题反馈后很久才有人处理。",
    "communication": "客户经理很少联系我们，感觉不受重视。",
    "process": "审批和单据越来越多，下单很慢。",
    "profitability": "利润空间太薄，支持不够。",
    OVERALL: "整体合作不如以前顺畅。",
}
_COMMENTS = (
    "希望贵公司多倾听我们的意见。",
    "总体不错，继续保持。",
    "交货问题请尽快解决。",
    "Please listen to us more often.",
)
#: Campaigns run every quarter, the newest one this long ago (outside the 90-day
#: exclusion, so the whole registry is in a new campaign's frame).
NEWEST_CAMPAIGN_AGE = timedelta(days=120)
CAMPAIGN_INTERVAL = timedelta(days=91)
RESPONSE_RATE = 0.65


@dataclass
class DataSet:
    """What was generated: counts, and the links the survey-page items may open."""

    accounts: int = 0
    campaigns: int = 0
    invitations: int = 0
    responses: int = 0
    answers: int = 0
    reasons: int = 0
    defections: int = 0
    open_campaign_id: int | None = None
    open_tokens: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Bulk writing


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy itself stores on SQLite for these types (naive UTC text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert `rows` (tuples in `columns` order) as fast as the driver allows."""
    converted = [
        i
        for i, name in enumerate(columns)
        if isinstance(table.c[name].type, DateTime | UTCDateTime | Date | Boolean)
    ]
    dbapi = conn.connection.driver_connection
    count = 0
    if conn.dialect.name == "postgresql":
        names = ", ".join(columns)
        with (
            dbapi.cursor() as cursor,
            cursor.copy(  # type: ignore[union-attr]
                f"COPY {table.name} ({names}) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                if converted:
                    row = list(row)
                    for i in converted:
                        row[i] = _naive_utc(row[i])
                copy.write_row(row)
                count += 1
        return count
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    chunk: list[Sequence[Any]] = []
    for row in rows:
        if converted:
            row = list(row)
            for i in converted:
                row[i] = _sqlite_value(row[i])
        chunk.append(row)
        if len(chunk) >= CHUNK:
            dbapi.executemany(sql, chunk)  # type: ignore[union-attr]
            count += len(chunk)
            chunk = []
    if chunk:
        dbapi.executemany(sql, chunk)  # type: ignore[union-attr]
        count += len(chunk)
    return count


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _reset_sequences(conn: Connection) -> None:
    """Explicit ids do not move PostgreSQL's sequences: move them past the data."""
    if conn.dialect.name != "postgresql":
        return
    for model in (KeyAccount, Campaign, Invitation, Response, Answer, Defection):
        name = model.__tablename__
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
            )
        )


def analyze(conn: Connection) -> None:
    """Planner statistics, as autovacuum (PostgreSQL) or PRAGMA optimize would keep."""
    conn.execute(text("ANALYZE"))


# ---------------------------------------------------------------------------
# Accounts


@dataclass(frozen=True, slots=True)
class _Profile:
    """One account as the score generator sees it."""

    id: int
    tier: str
    locale: str
    cum_weights: tuple[tuple[float, ...], ...]  # per aspect, cumulative score weights


def _score_weights(pressure: float) -> tuple[float, ...]:
    """Cumulative weights for scores 1..5; `pressure` (0..1) pushes toward 1-2."""
    weights = (
        0.04 + 0.30 * pressure,
        0.08 + 0.35 * pressure,
        0.15,
        max(0.38 - 0.30 * pressure, 0.01),
        max(0.35 - 0.33 * pressure, 0.01),
    )
    total = 0.0
    cumulative = []
    for w in weights:
        total += w
        cumulative.append(total)
    return tuple(cumulative)


_WEIGHT_CACHE: dict[float, tuple[float, ...]] = {}


def _profile(
    account_id: int, tier: str, value_type: str, region: str, manager: str, locale: str
) -> _Profile:
    pressure = {spec.code: 0.0 for spec in DEFAULT_ASPECTS}
    if region == "华南":
        pressure["delivery"] = 0.9
    if manager.endswith("洋"):  # the managers whose red tape annoys their accounts
        pressure["process"] = 0.85
        pressure["communication"] = 0.4
    if value_type == "intrinsic":
        pressure["price"] = 0.7
    if tier == "C":
        pressure["communication"] = max(pressure["communication"], 0.6)
    pressure[OVERALL] = max(pressure.values()) * 0.6
    cum = tuple(
        _WEIGHT_CACHE.setdefault(pressure[s.code], _score_weights(pressure[s.code]))
        for s in DEFAULT_ASPECTS
    )
    return _Profile(account_id, tier, locale, cum)


def _managers(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        names.add(rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(("", *_GIVEN)))
    return sorted(names)


def create_accounts(
    conn: Connection, rng: random.Random, count: int, *, now: datetime
) -> list[_Profile]:
    """`count` active accounts (the sampling frame) plus 2% that defected."""
    managers_by_region = {
        region: _managers(rng, max(2, count // 500 * w // 100 + 2))
        for region, w in zip(REGIONS, REGION_WEIGHTS, strict=True)
    }
    start = _next_id(conn, KeyAccount.__table__)
    lost = count // 50
    profiles: list[_Profile] = []

    def rows() -> Iterable[tuple[Any, ...]]:
        for n in range(count + lost):
            account_id = start + n
            english = rng.random() < 0.3
            if english:
                name = f"{rng.choice(_EN_NAMES)} {rng.choice(_EN_SUFFIXES)} {account_id}"
            else:
                name = (
                    f"{rng.choice(_CITIES)}{rng.choice(_CORES)}{rng.choice(_SUFFIXES)}{account_id}"
                )
            tier = rng.choices("ABC", weights=(2, 3, 5))[0]
            low, high = {"A": (5_000_000, 20_000_000), "B": (1_000_000, 5_000_000)}.get(
                tier, (200_000, 1_000_000)
            )
            value_type = rng.choices(("intrinsic", "extrinsic", "strategic"), (4, 4, 2))[0]
            stage = rng.choices(
                ("vendor", "preferred_supplier", "partner", "strategic_alliance"), (3, 4, 3, 1)
            )[0]
            region = rng.choices(REGIONS, REGION_WEIGHTS)[0]
            manager = rng.choice(managers_by_region[region])
            locale = "en" if english else "zh"
            active = n < count
            if active:
                profiles.append(_profile(account_id, tier, value_type, region, manager, locale))
            yield (
                account_id,
                f"KA-{account_id:07d}",
                name,
                tier,
                value_type,
                stage,
                region,
                rng.randrange(low, high, 10_000),
                manager,
                locale,
                active,
                now,
                now,
            )
            # Its primary contact (survey.models.Contact), written after the accounts.
            contacts.append(
                (
                    account_id,
                    "Alice Wong" if english else "陈静",
                    "decision_maker",
                    f"contact{account_id}@example.com",
                    f"+86 21 {account_id:08d}",
                    locale,
                    True,
                    now,
                    now,
                )
            )

    columns = (
        "id",
        "external_id",
        "name",
        "tier",
        "value_type",
        "relationship_stage",
        "region",
        "annual_revenue",
        "account_manager",
        "locale",
        "active",
        "created_at",
        "updated_at",
    )
    contacts: list[tuple[Any, ...]] = []
    bulk_insert(conn, KeyAccount.__table__, columns, rows())
    bulk_insert(
        conn,
        Contact.__table__,
        (
            "account_id",
            "name",
            "role",
            "email",
            "phone",
            "locale",
            "is_primary",
            "created_at",
            "updated_at",
        ),
        contacts,
    )
    _create_defections(conn, rng, range(start + count, start + count + lost), now=now)
    return profiles


_DEFECTION_COLUMNS = (
    "id",
    "account_id",
    "defected_on",
    "competitor",
    "lost_annual_revenue",
    "source",
    "recorded_at",
)


def _create_defections(
    conn: Connection, rng: random.Random, account_ids: range, *, now: datetime
) -> None:
    start = _next_id(conn, Defection.__table__)
    reasons: list[tuple[int, str, bool]] = []
    rows = []
    common = [r.value for r in ReasonCode]
    for n, account_id in enumerate(account_ids):
        defection_id = start + n
        days = rng.randrange(30, 365 * 5)
        rows.append(
            (
                defection_id,
                account_id,
                (now - timedelta(days=days)).date(),
                rng.choice((None, "远东供应链", "Apex Supplies")),
                rng.randrange(200_000, 5_000_000, 10_000),
                "staff",
                now,
            )
        )
        picked = rng.sample(common[:8], rng.randint(1, 3))
        reasons.extend((defection_id, r, i == 0) for i, r in enumerate(picked))
    bulk_insert(
        conn,
        Defection.__table__,
        _DEFECTION_COLUMNS,
        rows,
    )
    bulk_insert(conn, DefectionReason.__table__, ("defection_id", "reason", "is_primary"), reasons)


# ---------------------------------------------------------------------------
# Campaigns, invitations, responses, answers


def _aspect_ids(conn: Connection) -> list[int]:
    by_code = dict(conn.execute(select(Aspect.code, Aspect.id)).all())
    return [by_code[spec.code] for spec in DEFAULT_ASPECTS]


def _campaign_row(
    campaign_id: int, name: str, questionnaire_id: int, opens: datetime, status: str, size: int
) -> tuple[Any, ...]:
    return (
        campaign_id,
        name,
        "satisfaction",
        status,
        questionnaire_id,
        opens,
        opens + timedelta(days=21),
        opens + timedelta(days=21) if status == CAMPAIGN_CLOSED else None,
        opens,
        "bench",
        "stratified",
        "tier",
        campaign_id,
        size,
        size,
        90,
    )


_CAMPAIGN_COLUMNS = (
    "id",
    "name",
    "kind",
    "status",
    "questionnaire_id",
    "opens_at",
    "closes_at",
    "closed_at",
    "created_at",
    "created_by",
    "method",
    "stratify_by",
    "seed",
    "frame_size",
    "sample_size",
    "exclude_days",
)
_INVITATION_COLUMNS = (
    "id",
    "campaign_id",
    "account_id",
    "token_hash",
    "token_nonce",
    "locale",
    "stratum",
    "status",
    "created_at",
    "sent_at",
    "responded_at",
    "reminders_sent",
)
_RESPONSE_COLUMNS = (
    "id",
    "invitation_id",
    "campaign_id",
    "account_id",
    "submitted_at",
    "channel",
    "locale",
    "comment",
)


def _nonce(campaign_id: int, account_id: int, salt: int) -> str:
    """Unique and deterministic: the same data set gives the same links."""
    return hashlib.sha256(f"{salt}:{campaign_id}:{account_id}".encode()).hexdigest()[:32]


class Generator:
    """Writes the data set into the app's database (inside an app context)."""

    def __init__(self, *, seed: int, secret_key: str, accounts: int, sample_size: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.secret_key = secret_key
        self.account_count = accounts
        self.sample_size = sample_size
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.profiles: list[_Profile] = []
        self.data = DataSet()
        self.questionnaire_id = 0

    def start(self) -> None:
        """The registry and the default questionnaire."""
        self.questionnaire_id = ensure_default_questionnaire().id
        db.session.commit()
        with db.engine.begin() as conn:
            self.profiles = create_accounts(conn, self.rng, self.account_count, now=self.now)
            _reset_sequences(conn)
            bump(conn)  # rows written past the ORM: cached figures must not outlive them
        self.data.accounts = len(self.profiles)
        self.data.defections = self.account_count // 50

    def grow_to(self, answers: int, *, statistics: bool = True) -> None:
        """Add older campaigns, fully answered, until the data set holds `answers`;
        then gather planner statistics unless told not to."""
        with db.engine.begin() as conn:
            aspect_ids = _aspect_ids(conn)
            while self.data.answers < answers:
                self._campaign(conn, aspect_ids, answers - self.data.answers)
            _reset_sequences(conn)
            bump(conn)
            if statistics:
                analyze(conn)

    def _campaign(self, conn: Connection, aspect_ids: list[int], answers_left: int) -> None:
        rng = self.rng
        campaign_id = _next_id(conn, Campaign.__table__)
        opens = self.now - NEWEST_CAMPAIGN_AGE - CAMPAIGN_INTERVAL * self.data.campaigns
        quarter = (opens.month - 1) // 3 + 1
        sample = rng.sample(self.profiles, min(self.sample_size, len(self.profiles)))
        bulk_insert(
            conn,
            Campaign.__table__,
            _CAMPAIGN_COLUMNS,
            [
                _campaign_row(
                    campaign_id,
                    f"{opens.year} Q{quarter} 大客户满意度调查 #{campaign_id}",
                    self.questionnaire_id,
                    opens,
                    CAMPAIGN_CLOSED,
                    len(sample),
                )
            ],
        )
        invitation_id = _next_id(conn, Invitation.__table__)
        response_id = _next_id(conn, Response.__table__)
        answer_id = _next_id(conn, Answer.__table__)
        invitations: list[tuple[Any, ...]] = []
        responses: list[tuple[Any, ...]] = []
        answers: list[tuple[Any, ...]] = []
        reasons: list[tuple[int, str]] = []
        budget = -(-answers_left // ASPECTS_PER_RESPONSE)  # responses still needed
        for profile in sample:
            answered = budget > 0 and rng.random() < RESPONSE_RATE
            when = opens + timedelta(seconds=rng.uniform(3600, 20 * 86400)) if answered else None
            nonce = _nonce(campaign_id, profile.id, self.seed)
            invitations.append(
                (
                    invitation_id,
                    campaign_id,
                    profile.id,
                    hashlib.sha256(nonce.encode()).hexdigest(),  # links of old campaigns
                    nonce,
                    profile.locale,
                    profile.tier,
                    INVITATION_RESPONDED if answered else INVITATION_SENT,
                    opens,
                    opens,
                    when,
                    0,
                )
            )
            if answered:
                budget -= 1
                comment = rng.choice(_COMMENTS) if rng.random() < 0.2 else None
                responses.append(
                    (
                        response_id,
                        invitation_id,
                        campaign_id,
                        profile.id,
                        when,
                        "phone" if rng.random() < 0.15 else "web",
                        profile.locale,
                        comment,
                    )
                )
                for aspect_index, aspect_id in enumerate(aspect_ids):
                    score = rng.choices(
                        (1, 2, 3, 4, 5), cum_weights=profile.cum_weights[aspect_index]
                    )[0]
                    reason_text = None
                    if score <= 2:
                        code = DEFAULT_ASPECTS[aspect_index].code
                        reason = ASPECT_REASON.get(code, ReasonCode.OTHER).value
                        reasons.append((answer_id, reason))
                        if rng.random() < 0.4:
                            extra = ReasonCode.COMPETITOR_OFFER.value
                            if extra != reason:
                                reasons.append((answer_id, extra))
                        if rng.random() < 0.4:
                            reason_text = _REASON_TEXT[code]
                    answers.append((answer_id, response_id, aspect_id, score, reason_text))
                    answer_id += 1
                response_id += 1
            invitation_id += 1
        bulk_insert(conn, Invitation.__table__, _INVITATION_COLUMNS, invitations)
        bulk_insert(conn, Response.__table__, _RESPONSE_COLUMNS, responses)
        bulk_insert(
            conn,
            Answer.__table__,
            ("id", "response_id", "aspect_id", "score", "reason_text"),
            answers,
        )
        bulk_insert(conn, AnswerReason.__table__, ("answer_id", "reason"), reasons)
        self.data.campaigns += 1
        self.data.invitations += len(invitations)
        self.data.responses += len(responses)
        self.data.answers += len(answers)
        self.data.reasons += len(reasons)

    def open_campaign(self, links: int, name: str = "本季度大客户满意度调查 (bench)") -> None:
        """The current campaign: open, `links` invitations sent and not yet answered,
        whose real link tokens the survey-page items use."""
        rng = self.rng
        with db.engine.begin() as conn:
            campaign_id = _next_id(conn, Campaign.__table__)
            opens = self.now - timedelta(days=3)
            sample = rng.sample(self.profiles, min(links, len(self.profiles)))
            row = list(
                _campaign_row(
                    campaign_id,
                    name,
                    self.questionnaire_id,
                    opens,
                    CAMPAIGN_OPEN,
                    len(sample),
                )
            )
            row[6] = self.now + timedelta(days=30)  # closes_at
            bulk_insert(conn, Campaign.__table__, _CAMPAIGN_COLUMNS, [row])
            invitation_id = _next_id(conn, Invitation.__table__)
            rows = []
            tokens = []
            for n, profile in enumerate(sample):
                nonce = _nonce(campaign_id, profile.id, self.seed)
                token = derive_token(self.secret_key, nonce)
                tokens.append(token)
                rows.append(
                    (
                        invitation_id + n,
                        campaign_id,
                        profile.id,
                        hash_token(token),
                        nonce,
                        profile.locale,
                        profile.tier,
                        INVITATION_SENT,
                        opens,
                        opens,
                        None,
                        0,
                    )
                )
            bulk_insert(conn, Invitation.__table__, _INVITATION_COLUMNS, rows)
            _reset_sequences(conn)
            bump(conn)
        self.data.open_campaign_id = campaign_id
        self.data.open_tokens = tokens
        self.data.campaigns += 1
        self.data.invitations += len(rows)
