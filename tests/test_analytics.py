"""survey.analysis on the fixed data set of tests/graphql_data.py (numbers worked by hand)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.analysis import (
    DefectionFilter,
    Dimension,
    ResponseFilter,
    campaign_progress,
    defection_reasons,
    dissatisfaction_drilldown,
    satisfaction_summaries,
    satisfaction_summary,
    satisfaction_trends,
)
from survey.analysis.satisfaction import Distribution
from survey.db import db
from survey.errors import InvalidInputError

from .graphql_data import Data, build


@pytest.fixture
def data(app) -> Data:
    with app.app_context():
        return build()


def test_summary_by_aspect_lists_every_aspect_in_questionnaire_order(app, data):
    with app.app_context():
        groups = satisfaction_summary(Dimension.ASPECT, locale="en")
    assert [g.key for g in groups] == [
        "product_quality",
        "delivery",
        "price",
        "service",
        "communication",
        "process",
        "profitability",
        "overall",
    ]
    by_key = {g.key: g for g in groups}
    # delivery scores: 2 1 4 4 2 5
    delivery = by_key["delivery"]
    assert delivery.label == "Delivery and logistics"
    assert delivery.answers == 6
    assert delivery.distribution == Distribution(1, 2, 0, 2, 1)
    assert delivery.mean == 3.0
    assert delivery.satisfied_share == 0.5
    assert delivery.dissatisfied_share == 0.5
    # service scores: 5 2 4 5 4 3
    service = by_key["service"]
    assert service.distribution == Distribution(0, 1, 1, 2, 2)
    assert service.mean == pytest.approx(23 / 6)
    assert service.satisfied_share == pytest.approx(4 / 6)
    assert service.dissatisfied_share == pytest.approx(1 / 6)
    # overall scores: 4 2 5 5 3 1
    overall = by_key["overall"]
    assert overall.distribution == Distribution(1, 1, 1, 1, 2)
    assert overall.mean == pytest.approx(20 / 6)
    # price scores: 3 4 1 4 5 1
    assert by_key["price"].distribution == Distribution(2, 0, 1, 2, 1)
    assert by_key["price"].dissatisfied_share == pytest.approx(2 / 6)
    unasked = by_key["communication"]
    assert (unasked.answers, unasked.mean, unasked.satisfied_share) == (0, None, None)
    assert unasked.dissatisfied_share is None
    assert unasked.label == "Communication with your account manager"


def test_summary_labels_follow_the_locale(app, data):
    with app.app_context():
        zh = satisfaction_summary(Dimension.TIER, ResponseFilter(aspect="overall"), locale="zh")
        en = satisfaction_summary(Dimension.TIER, ResponseFilter(aspect="overall"), locale="en")
    assert [(g.key, g.label) for g in zh] == [("A", "A 级"), ("B", "B 级")]
    assert [g.label for g in en] == ["Tier A", "Tier B"]
    # overall in tier A: 4 2 5 3; tier B: 5 1
    a, b = en
    assert (a.answers, a.mean, a.satisfied_share, a.dissatisfied_share) == (4, 3.5, 0.5, 0.25)
    assert (b.answers, b.mean, b.satisfied_share, b.dissatisfied_share) == (2, 3.0, 0.5, 0.5)


def test_summary_by_month_campaign_region_manager_and_filters(app, data):
    with app.app_context():
        months = satisfaction_summary(Dimension.MONTH)
        campaigns = satisfaction_summary(Dimension.CAMPAIGN, ResponseFilter())
        managers = satisfaction_summary(
            Dimension.ACCOUNT_MANAGER, ResponseFilter(region="华北", since=date(2026, 7, 1))
        )
        narrowed = satisfaction_summary(
            Dimension.ASPECT,
            ResponseFilter(aspect="delivery", score_at_least=2, score_at_most=4),
        )
        stages = satisfaction_summary(Dimension.RELATIONSHIP_STAGE, locale="en")
    assert [(g.key, g.answers) for g in months] == [("2026-01", 12), ("2026-07", 12)]
    assert [(g.key, g.label, g.answers) for g in campaigns] == [
        (str(data.campaigns["C1"]), "2026 Q1", 12),
        (str(data.campaigns["C2"]), "2026 Q3", 12),
    ]
    # 华北 since July: KA2 (R5, 李强) and KA4 (R6, 李强)
    assert [(g.key, g.answers) for g in managers] == [("李强", 8)]
    # delivery scores between 2 and 4: 2 4 4 2
    assert [(g.key, g.answers, g.mean) for g in narrowed] == [("delivery", 4, 3.0)]
    assert [(g.key, g.label) for g in stages] == [
        ("vendor", "Vendor"),
        ("preferred_supplier", "Preferred supplier"),
        ("partner", "Partner"),
        ("strategic_alliance", "Strategic alliance"),
    ]


def test_summaries_per_campaign_in_one_go(app, data):
    c1, c2 = data.campaigns["C1"], data.campaigns["C2"]
    with app.app_context():
        per = satisfaction_summaries(
            Dimension.ASPECT, ResponseFilter(aspect="overall"), campaign_ids=[c1, c2, 999]
        )
    # overall in C1: 4 2 5; in C2: 5 3 1
    assert [(g.key, g.answers, g.mean) for g in per[c1]] == [("overall", 3, pytest.approx(11 / 3))]
    assert [(g.key, g.answers, g.mean) for g in per[c2]] == [("overall", 3, 3.0)]
    assert [(g.key, g.answers, g.mean) for g in per[999]] == [("overall", 0, None)]


@pytest.mark.parametrize(
    ("f", "field"),
    [
        (ResponseFilter(tier="Z"), "tier"),
        (ResponseFilter(value_type="cheap"), "valueType"),
        (ResponseFilter(relationship_stage="friend"), "relationshipStage"),
        (ResponseFilter(aspect="weather"), "aspect"),
        (ResponseFilter(score_at_most=6), "scoreAtMost"),
        (ResponseFilter(score_at_least=0), "scoreAtLeast"),
        (ResponseFilter(score_at_least=4, score_at_most=2), "scoreAtLeast"),
        (ResponseFilter(since=date(2026, 2, 1), until=date(2026, 1, 1)), "since"),
    ],
)
def test_bad_filters_are_clear_errors(app, data, f, field):
    with app.app_context(), pytest.raises(InvalidInputError) as exc:
        satisfaction_summary(Dimension.ASPECT, f)
    assert exc.value.field == field


def test_drilldown_aspect_then_tier(app, data):
    with app.app_context():
        tree = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER], locale="en")
    shape = [
        (n.key, n.answers, n.dissatisfied, [(c.key, c.answers, c.dissatisfied) for c in n.children])
        for n in tree
    ]
    assert shape == [
        ("delivery", 6, 3, [("A", 4, 3)]),
        ("overall", 6, 2, [("A", 4, 1), ("B", 2, 1)]),
        ("price", 6, 2, [("B", 2, 2)]),
        ("service", 6, 1, [("A", 4, 1)]),
    ]
    delivery, overall, price, service = tree
    assert delivery.label == "Delivery and logistics"
    assert delivery.dimension is Dimension.ASPECT
    assert delivery.dissatisfied_share == 0.5
    assert [(r.reason, r.count, r.share) for r in delivery.top_reasons] == [
        ("delivery", 3, 1.0),
        ("process", 1, pytest.approx(1 / 3)),
    ]
    # newest first: R5's comment (Jul), R2's comment (Jan 12), R1's reason text (Jan 10)
    assert delivery.comments == ("审批太多", "客户经理很少来", "交货总是晚")
    # reasons tied on count come in vocabulary order
    assert [(r.reason, r.count, r.share) for r in overall.top_reasons] == [
        ("price", 1, 0.5),
        ("service", 1, 0.5),
        ("communication", 1, 0.5),
    ]
    assert overall.comments == ("客户经理很少来",)
    assert [(r.reason, r.count, r.share) for r in price.top_reasons] == [
        ("price", 2, 1.0),
        ("competitor_offer", 1, 0.5),
    ]
    assert price.comments == ()
    # an answer's reason text comes before its response's comment
    assert service.comments == ("响应太慢", "客户经理很少来")
    tier_a = delivery.children[0]
    assert (tier_a.dimension, tier_a.label, tier_a.dissatisfied_share) == (
        Dimension.TIER,
        "Tier A",
        0.75,
    )
    assert [(r.reason, r.count) for r in tier_a.top_reasons] == [("delivery", 3), ("process", 1)]
    assert [c.top_reasons[0].reason for c in overall.children] == ["service", "price"]
    assert price.children[0].comments == ()


def test_drilldown_by_manager_then_month_with_filter(app, data):
    with app.app_context():
        tree = dissatisfaction_drilldown(
            [Dimension.ACCOUNT_MANAGER, Dimension.MONTH, Dimension.CAMPAIGN],
            ResponseFilter(aspect="delivery"),
            comments_limit=1,
        )
    # delivery: 王伟 R1(2) R3(4) R4(4); 李强 R2(1) R5(2) R6(5)
    assert [(n.key, n.answers, n.dissatisfied) for n in tree] == [("李强", 3, 2), ("王伟", 3, 1)]
    li = tree[0]
    assert [(c.key, c.answers, c.dissatisfied) for c in li.children] == [
        ("2026-01", 1, 1),
        ("2026-07", 2, 1),
    ]
    assert li.comments == ("审批太多",)
    grandchild = li.children[1].children[0]
    assert (grandchild.key, grandchild.label) == (str(data.campaigns["C2"]), "2026 Q3")


def test_drilldown_rejects_empty_or_repeated_levels(app, data):
    with app.app_context():
        for by in ([], [Dimension.TIER, Dimension.TIER]):
            with pytest.raises(InvalidInputError) as exc:
                dissatisfaction_drilldown(by)
            assert exc.value.field == "by"


def test_defection_reasons_all_by_month_and_by_tier(app, data):
    with app.app_context():
        (everything,) = defection_reasons(locale="en")
        months = defection_reasons(Dimension.MONTH)
        tiers = defection_reasons(Dimension.TIER, locale="zh")
        north = defection_reasons(Dimension.ACCOUNT_MANAGER, DefectionFilter(region="华北"))
        late = defection_reasons(None, DefectionFilter(since=date(2026, 8, 16)))
    assert (everything.key, everything.label, everything.defections) == ("all", "All", 3)
    assert everything.lost_revenue == 4_000_000
    assert [(r.reason, r.count, r.share) for r in everything.reasons] == [
        ("price", 2, pytest.approx(2 / 3)),
        ("communication", 1, pytest.approx(1 / 3)),
        ("process", 1, pytest.approx(1 / 3)),
        ("competitor_offer", 1, pytest.approx(1 / 3)),
    ]
    assert [(m.key, m.defections, m.lost_revenue) for m in months] == [
        ("2026-08", 2, 4_000_000),
        ("2026-10", 1, 0),
    ]
    assert [(r.reason, r.share) for r in months[0].reasons] == [
        ("price", 0.5),
        ("communication", 0.5),
        ("process", 0.5),
        ("competitor_offer", 0.5),
    ]
    # Tiers in their order (A, B, C), not the most defections first.
    assert [(t.key, t.label, t.defections, t.lost_revenue) for t in tiers] == [
        ("A", "A 级", 1, 3_000_000),
        ("B", "B 级", 2, 1_000_000),
    ]
    assert [(r.reason, r.count, r.share) for r in tiers[1].reasons] == [
        ("price", 2, 1.0),
        ("competitor_offer", 1, 0.5),
    ]
    assert [(g.key, g.defections) for g in north] == [("李强", 1), ("王伟", 1)]
    assert (late[0].defections, late[0].lost_revenue) == (2, 3_000_000)


def test_defection_reasons_with_nothing_to_count_and_bad_group(app, data):
    with app.app_context():
        assert defection_reasons(None, DefectionFilter(since=date(2030, 1, 1))) == []
        with pytest.raises(InvalidInputError) as exc:
            defection_reasons(Dimension.ASPECT)
    assert exc.value.field == "groupBy"


def test_trends_and_campaign_progress(app, data):
    ka1, ka2, ka5 = (data.accounts[k] for k in ("KA1", "KA2", "KA5"))
    with app.app_context():
        trends = satisfaction_trends([ka1, ka2, ka5])
        progress = campaign_progress([data.campaigns["C1"], data.campaigns["C2"], 999])
    assert [(p.campaign_name, p.mean) for p in trends[ka2]] == [("2026 Q1", 2.0), ("2026 Q3", 3.0)]
    assert [(p.campaign_name, p.mean) for p in trends[ka1]] == [("2026 Q1", 4.0), ("2026 Q3", 5.0)]
    assert ka5 not in trends
    c1 = progress[data.campaigns["C1"]]
    assert (c1.sampled, c1.responded, c1.response_rate) == (4, 3, 0.75)
    assert progress[999].response_rate is None


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    scores=st.lists(
        st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=2),
        min_size=1,
        max_size=6,
    )
)
def test_summary_counts_match_a_python_count(app, scores):
    """Whatever the scores, SQL's distribution, mean and shares match counting by hand."""
    from .factories import make_account, make_campaign, make_response

    with app.app_context():
        try:
            accounts = [make_account(f"P{i}") for i in range(len(scores))]
            campaign, _ = make_campaign("prop", accounts=accounts)
            for account, (delivery, price) in zip(accounts, scores, strict=True):
                make_response(campaign, account, {"delivery": delivery, "price": price})
            groups = {g.key: g for g in satisfaction_summary(Dimension.ASPECT)}
            for i, code in enumerate(("delivery", "price")):
                given_scores = [s[i] for s in scores]
                group = groups[code]
                assert group.answers == len(given_scores)
                assert group.distribution == Distribution(
                    *(given_scores.count(v) for v in range(1, 6))
                )
                assert group.mean == pytest.approx(sum(given_scores) / len(given_scores))
                assert group.dissatisfied_share == pytest.approx(
                    sum(s <= 2 for s in given_scores) / len(given_scores)
                )
                assert group.satisfied_share == pytest.approx(
                    sum(s >= 4 for s in given_scores) / len(given_scores)
                )
            tree = dissatisfaction_drilldown([Dimension.ASPECT])
            assert sum(n.dissatisfied for n in tree) == sum(s <= 2 for pair in scores for s in pair)
        finally:
            db.session.rollback()
