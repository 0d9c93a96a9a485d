"""The business vocabulary: the five-point scale, the aspects, reasons and account kinds.

This module is the one source of truth for codes and their zh/en labels. Forms,
templates, GraphQL enums, exports and the CSV importer all read from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

LOCALES: tuple[str, ...] = ("zh", "en")
DEFAULT_LOCALE = "zh"


def normalise_locale(value: str | None) -> str | None:
    """Map 'zh', 'zh-CN', 'zh_Hans', 'EN-us', ... to a supported locale, else None."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LOCALES else None


class Labelled:
    """Mixin for enums that carry a zh and an en label."""

    zh: str
    en: str

    def label(self, locale: str | None) -> str:
        return self.en if normalise_locale(locale) == "en" else self.zh


class Satisfaction(Labelled, IntEnum):
    """The five-point scale, verbatim from the texts. The value is the score."""

    VERY_SATISFIED = 5
    SATISFIED = 4
    NO_OPINION = 3
    SOMEWHAT_DISSATISFIED = 2
    VERY_DISSATISFIED = 1

    @property
    def zh(self) -> str:  # type: ignore[override]
        return _SCALE_LABELS[self][0]

    @property
    def en(self) -> str:  # type: ignore[override]
        return _SCALE_LABELS[self][1]

    @property
    def is_dissatisfied(self) -> bool:
        return self <= DISSATISFIED_MAX

    @property
    def is_satisfied(self) -> bool:
        return self >= SATISFIED_MIN


_SCALE_LABELS: dict[Satisfaction, tuple[str, str]] = {
    Satisfaction.VERY_SATISFIED: ("高度满意", "Very satisfied"),
    Satisfaction.SATISFIED: ("一般满意", "Satisfied"),
    Satisfaction.NO_OPINION: ("无意见", "No opinion"),
    Satisfaction.SOMEWHAT_DISSATISFIED: ("有些不满意", "Somewhat dissatisfied"),
    Satisfaction.VERY_DISSATISFIED: ("极不满意", "Very dissatisfied"),
}

#: Scores 1-2 are dissatisfied and are followed by "why"; 4-5 are satisfied.
DISSATISFIED_MAX = 2
SATISFIED_MIN = 4
#: The order in which choices are shown: best first, as the texts list them.
SCALE: tuple[Satisfaction, ...] = tuple(sorted(Satisfaction, reverse=True))


class _LabelledStrEnum(Labelled, StrEnum):
    """A string enum whose members are (code, zh, en)."""

    def __new__(cls, code: str, zh: str, en: str) -> _LabelledStrEnum:
        member = str.__new__(cls, code)
        member._value_ = code
        member.zh = zh
        member.en = en
        return member

    @classmethod
    def parse(cls, value: str) -> _LabelledStrEnum:
        """Accept the code in any case, or either label; raise ValueError otherwise."""
        text = value.strip()
        for member in cls:
            if text.lower() in (member.value, member.name.lower()) or text in (
                member.zh,
                member.en,
            ):
                return member
        raise ValueError(text)

    @classmethod
    def codes(cls) -> list[str]:
        return [m.value for m in cls]


class ReasonCode(_LabelledStrEnum):
    """Why an account is dissatisfied or left: one vocabulary for both."""

    PRICE = ("price", "价格", "Price")
    PRODUCT_QUALITY = ("product_quality", "产品质量", "Product quality")
    DELIVERY = ("delivery", "交货与物流", "Delivery and logistics")
    SERVICE = ("service", "服务与响应", "Service and responsiveness")
    COMMUNICATION = ("communication", "沟通不足，不受重视", "Communication (feels neglected)")
    PROCESS = ("process", "流程繁琐", "Process and red tape")
    COMPETITOR_OFFER = ("competitor_offer", "竞争对手的条件", "Competitor's offer")
    PROFITABILITY = ("profitability", "利润空间与支持不足", "Margin and profit support")
    CUSTOMER_BUSINESS_CHANGE = (
        "customer_business_change",
        "客户自身业务变化",
        "Change in the customer's business",
    )
    OTHER = ("other", "其他", "Other")

    def customer_label(self, locale: str | None) -> str:
        """The reason as the customer says it, on the survey pages they answer
        ("Our own business changed"); staff pages keep `label` (the staff's words)."""
        zh, en = _CUSTOMER_REASON_LABELS[self]
        return en if normalise_locale(locale) == "en" else zh


#: Each reason in the customer's own words (first person: the supplier is "you").
_CUSTOMER_REASON_LABELS: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.PRICE: ("价格与商务条款", "Prices and commercial terms"),
    ReasonCode.PRODUCT_QUALITY: ("产品质量", "Product quality"),
    ReasonCode.DELIVERY: ("交货与物流", "Delivery and logistics"),
    ReasonCode.SERVICE: ("服务与响应速度", "Service and how quickly you respond"),
    ReasonCode.COMMUNICATION: ("沟通太少，感觉不受重视", "Too little contact; we feel neglected"),
    ReasonCode.PROCESS: ("手续和流程太繁琐", "Too much paperwork and red tape"),
    ReasonCode.COMPETITOR_OFFER: ("其他供应商的条件更好", "A better offer from another supplier"),
    ReasonCode.PROFITABILITY: (
        "我们的利润空间和获得的支持不够",
        "Too little margin or support for our own profit",
    ),
    ReasonCode.CUSTOMER_BUSINESS_CHANGE: ("我们自身的业务发生了变化", "Our own business changed"),
    ReasonCode.OTHER: ("其他", "Other"),
}


class ValueType(_LabelledStrEnum):
    INTRINSIC = ("intrinsic", "内在价值型", "Intrinsic value")
    EXTRINSIC = ("extrinsic", "外在价值型", "Extrinsic value")
    STRATEGIC = ("strategic", "战略价值型", "Strategic value")


class RelationshipStage(_LabelledStrEnum):
    VENDOR = ("vendor", "卖主关系", "Vendor")
    PREFERRED_SUPPLIER = ("preferred_supplier", "被优先考虑的供应商", "Preferred supplier")
    PARTNER = ("partner", "合作伙伴关系", "Partner")
    STRATEGIC_ALLIANCE = ("strategic_alliance", "战略联盟关系", "Strategic alliance")


class ContactRole(_LabelledStrEnum):
    """A contact's part in the account's buying centre."""

    DECISION_MAKER = ("decision_maker", "决策者", "Decision maker")
    PURCHASER = ("purchaser", "采购", "Purchaser")
    USER = ("user", "使用者", "User")
    TECHNICAL = ("technical", "技术", "Technical")
    FINANCE = ("finance", "财务", "Finance")
    OTHER = ("other", "其他", "Other")


class TeamRole(_LabelledStrEnum):
    """A role in our team around an account (the account manager owns it)."""

    EXECUTIVE_SPONSOR = ("executive_sponsor", "高层支持者", "Executive sponsor")
    SERVICE_LEAD = ("service_lead", "服务负责人", "Service lead")
    SALES_SUPPORT = ("sales_support", "销售支持", "Sales support")
    OTHER = ("other", "其他", "Other")


class TimelineKind(_LabelledStrEnum):
    """What happened with an account, as its timeline tells it (survey.analysis.timeline)."""

    INVITED = ("invited", "已邀请", "Invited")
    OPENED = ("opened", "已打开问卷", "Opened the survey")
    RESPONDED = ("responded", "已答卷", "Responded")
    FOLLOW_UP_OPENED = ("follow_up_opened", "开启跟进", "Follow-up opened")
    FOLLOW_UP_NOTE = ("follow_up_note", "跟进记录", "Follow-up note")
    FOLLOW_UP_ESCALATED = ("follow_up_escalated", "跟进已升级", "Follow-up escalated")
    FOLLOW_UP_RESOLVED = ("follow_up_resolved", "跟进已解决", "Follow-up resolved")
    DEFECTED = ("defected", "客户流失", "Defected")
    TIER_CHANGED = ("tier_changed", "等级变更", "Tier changed")
    CONTACT_OPTED_OUT = ("contact_opted_out", "联系人退订", "Contact opted out")


class Channel(_LabelledStrEnum):
    WEB = ("web", "网页", "Web")
    PHONE = ("phone", "电话访谈", "Phone interview")


#: Tiers of the value pyramid; A is the top.
TIERS: tuple[str, ...] = ("A", "B", "C")
TIER_LABELS: dict[str, tuple[str, str]] = {
    "A": ("A 级", "Tier A"),
    "B": ("B 级", "Tier B"),
    "C": ("C 级", "Tier C"),
}


class ScoreKind(_LabelledStrEnum):
    """What a score model measures: an account's value (tiering) or its health."""

    VALUE = ("value", "客户价值", "Account value")
    HEALTH = ("health", "客户健康度", "Account health")


class Perspective(_LabelledStrEnum):
    """The groups a score model's measures are weighted in.

    A value scorecard weighs four: realised value (financial + sales) and potential
    value (customer + service). A value pyramid may use one group (`value`). Health
    groups its measures by what they tell: the voice of the customer, engagement,
    service and the relationship.
    """

    FINANCIAL = ("financial", "财务", "Financial")
    SALES = ("sales", "销售", "Sales")
    CUSTOMER = ("customer", "客户", "Customer")
    SERVICE = ("service", "服务", "Service")
    VALUE = ("value", "综合价值", "Composite value")
    VOICE = ("voice", "客户评价", "Voice of the customer")
    ENGAGEMENT = ("engagement", "参与度", "Engagement")
    RELATIONSHIP = ("relationship", "关系", "Relationship")


class HealthMeasure(_LabelledStrEnum):
    """What an account's health is made of: facts the product already holds.

    Direction: `HEALTH_LOWER_IS_BETTER` lists the measures where less is healthier.
    """

    OVERALL_SCORE = ("overall_score", "最近一次总体满意度", "Latest overall satisfaction")
    DISSATISFIED_SHARE = (
        "dissatisfied_share",
        "最近一次答卷中不满意的方面占比",
        "Share of aspects at 1-2 in the latest response",
    )
    SCORE_CHANGE = ("score_change", "总体满意度较上次的变化", "Change since the previous response")
    DAYS_SINCE_ANSWER = ("days_since_answer", "距上次答卷的天数", "Days since the account answered")
    ANSWERED_LAST_INVITATION = (
        "answered_last_invitation",
        "是否回复了最近一次邀请",
        "Answered its last invitation",
    )
    OPEN_FOLLOW_UPS = ("open_follow_ups", "未结跟进", "Open follow-ups")
    OVERDUE_FOLLOW_UPS = ("overdue_follow_ups", "逾期跟进", "Overdue follow-ups")
    RELATIONSHIP_STAGE = ("relationship_stage", "关系阶段", "Relationship stage")


HEALTH_LOWER_IS_BETTER: frozenset[HealthMeasure] = frozenset(
    {
        HealthMeasure.DISSATISFIED_SHARE,
        HealthMeasure.DAYS_SINCE_ANSWER,
        HealthMeasure.OPEN_FOLLOW_UPS,
        HealthMeasure.OVERDUE_FOLLOW_UPS,
    }
)


class HealthBand(_LabelledStrEnum):
    """Bands of the health score, best first (limits per model version)."""

    GOOD = ("good", "健康", "Good")
    WATCH = ("watch", "需关注", "Watch")
    POOR = ("poor", "危险", "Poor")


#: The value flag for a false key account: a big revenue from few orders.
FLAG_ONE_OFF = "one_off"
FLAG_LABELS: dict[str, tuple[str, str]] = {
    FLAG_ONE_OFF: ("一次性大单客户", "One-off big-ticket customer"),
}


class DriverQuadrant(_LabelledStrEnum):
    """Where an aspect sits in a key-driver analysis: its importance (how strongly it
    goes with overall satisfaction) and performance against the medians of all aspects."""

    FIX_FIRST = ("fix_first", "优先改进", "Fix first")
    KEEP_UP = ("keep_up", "继续保持", "Keep up")
    SECONDARY = ("secondary", "次要", "Secondary")
    POSSIBLE_OVERKILL = ("possible_overkill", "可能投入过度", "Possible overkill")


class WeightsNote(_LabelledStrEnum):
    """Why the suggested health weights are missing or to be read with care."""

    NOTHING_TO_FIT = (
        "nothing_to_fit",
        "观察期内没有流失客户（或没有留存客户），无从拟合。",
        "No account defected in the horizon (or none stayed): there is nothing to fit.",
    )
    TOO_FEW = (
        "too_few",
        "客户太少，不足以为每个指标估计系数。",
        "Too few accounts to estimate a coefficient for each measure.",
    )
    NO_VARIATION = (
        "no_variation",
        "这些客户的各项指标没有差异，无从比较。",
        "The measures do not vary across these accounts.",
    )
    SEPARATION = (
        "separation",
        "指标把流失与留存客户完全分开（完全分离），系数无法估计。",
        "The measures separate defectors from stayers perfectly: the coefficients "
        "cannot be estimated.",
    )
    NOT_CONVERGED = (
        "not_converged",
        "回归没有收敛，系数不可用。",
        "The regression did not converge: no coefficients to show.",
    )
    FEW_DEFECTIONS = (
        "few_defections",
        "流失客户少于 10 个：系数只能作为参考，不能作为依据。",
        "Fewer than 10 defections: read the coefficients as a hint, not as evidence.",
    )
    NOTHING_PROTECTS = (
        "nothing_protects",
        "没有哪个指标在“更健康”的方向上降低流失，因此不建议权重。",
        "No measure lowers defection as it gets healthier: no weights to suggest.",
    )


@dataclass(frozen=True, slots=True)
class AspectSpec:
    """One aspect of the company the questionnaire asks about."""

    code: str
    zh: str
    en: str
    question_zh: str
    question_en: str

    def label(self, locale: str | None) -> str:
        return self.en if normalise_locale(locale) == "en" else self.zh

    def question(self, locale: str | None) -> str:
        return self.question_en if normalise_locale(locale) == "en" else self.question_zh


OVERALL = "overall"

DEFAULT_ASPECTS: tuple[AspectSpec, ...] = (
    AspectSpec(
        "product_quality",
        "产品质量",
        "Product quality",
        "您对我们产品的质量满意吗？",
        "How satisfied are you with the quality of our products?",
    ),
    AspectSpec(
        "delivery",
        "交货与物流",
        "Delivery and logistics",
        "您对交货及时性和物流满意吗？",
        "How satisfied are you with our delivery times and logistics?",
    ),
    AspectSpec(
        "price",
        "价格与商务条款",
        "Price and commercial terms",
        "您对我们的价格和商务条款满意吗？",
        "How satisfied are you with our prices and commercial terms?",
    ),
    AspectSpec(
        "service",
        "服务与响应速度",
        "Service and responsiveness",
        "您对我们的服务和响应速度满意吗？",
        "How satisfied are you with our service and how quickly we respond?",
    ),
    AspectSpec(
        "communication",
        "与客户经理的沟通",
        "Communication with your account manager",
        "您对与客户经理的沟通（深入、经常）满意吗？",
        "How satisfied are you with how deeply and regularly your account manager "
        "communicates with you?",
    ),
    AspectSpec(
        "process",
        "订货与行政流程",
        "Ordering and administration",
        "您对订货和行政手续的便利程度满意吗？",
        "How satisfied are you with how easy ordering and paperwork are?",
    ),
    AspectSpec(
        "profitability",
        "对贵公司盈利的支持",
        "Support for your profitability",
        "您对我们帮助贵公司盈利的支持满意吗？",
        "How satisfied are you with our support for your own profitability?",
    ),
    AspectSpec(
        OVERALL,
        "总体满意度",
        "Overall satisfaction",
        "总体而言，您对我们公司满意吗？",
        "Overall, how satisfied are you with our company?",
    ),
)

ASPECTS_BY_CODE: dict[str, AspectSpec] = {a.code: a for a in DEFAULT_ASPECTS}

#: Which reason code speaks of which aspect, so complaints and defections compare.
ASPECT_REASON: dict[str, ReasonCode] = {
    "product_quality": ReasonCode.PRODUCT_QUALITY,
    "delivery": ReasonCode.DELIVERY,
    "price": ReasonCode.PRICE,
    "service": ReasonCode.SERVICE,
    "communication": ReasonCode.COMMUNICATION,
    "process": ReasonCode.PROCESS,
    "profitability": ReasonCode.PROFITABILITY,
}
