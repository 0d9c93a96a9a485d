"""survey.analysis (coverage, risk, comparisons, recovery) and honest statistics, on small fixed
data with every number worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import func, select

from survey.analysis import (
    Dimension,
    ResponseFilter,
    Weight,
    aspect_defection_risk,
    at_risk_by_expected_loss,
    campaign_margins,
    compare_campaigns,
    coverage,
    defection_precursors,
    dissatisfaction_drilldown,
    recovery,
    satisfaction_summary,
    unheard_accounts,
)
from survey.analysis.risk import defection_risk_table
from survey.db import db
from survey.errors import InvalidInputError, NotFoundError
from survey.models import FOLLOW_UP_OPEN, FOLLOW_UP_RESOLVED, FollowUp

from .factories import make_account, make_campaign, make_defection, make_response

T0 = datetime(2025, 1, 10, 10, 0, tzinfo=UTC)


def _statements(app, action):
    """Run `action` and count the SQL statements it issued."""
    with app.app_context():
        before = len(get_recorded_queries())
        result = action()
        return result, len(get_recorded_queries()) - before


# ---------------------------------------------------------------------------
# Intervals, low samples and weights


@pytest.fixture
def weighted(app):
    """A (9M revenue) said 5 then 2; B (1M) said 1; C (1M) said 4 (overall)."""
    with app.app_context():
        a = make_account("KA-A", annual_revenue=9_000_000)
        b = make_account("KA-B", annual_revenue=1_000_000)
        c = make_account("KA-C", annual_revenue=1_000_000)
        first, _ = make_campaign("H1", accounts=[a, b, c], opens_at=T0)
        second, _ = make_campaign("H2", accounts=[a], opens_at=T0 + timedelta(days=180))
        make_response(first, a, {"overall": 5}, submitted_at=T0)
        make_response(first, b, {"overall": 1}, submitted_at=T0 + timedelta(hours=1))
        make_response(first, c, {"overall": 4}, submitted_at=T0 + timedelta(hours=2))
        make_response(second, a, {"overall": 2}, submitted_at=T0 + timedelta(days=181))
        db.session.commit()


def _overall(weight: Weight):
    (group,) = satisfaction_summary(
        Dimension.ASPECT, ResponseFilter(aspect="overall"), weight=weight, locale="en"
    )
    return group


def test_answer_weight_counts_answers_with_wilson_intervals(app, weighted):
    with app.app_context():
        g = _overall(Weight.ANSWERS)
    assert (g.answers, g.mean, g.satisfied_share, g.dissatisfied_share) == (4, 3.0, 0.5, 0.5)
    assert g.accounts is None and g.low_sample  # 4 answers < 5
    low, high = g.satisfied_share_interval
    # Wilson 2 of 4: (0.5 + 0.48018) / 1.96037 -+ 0.99979 · sqrt(0.0625 + 0.06002)
    assert (round(low, 4), round(high, 4)) == (0.1500, 0.8500)


def test_account_weight_counts_each_account_once_by_its_latest_response(app, weighted):
    with app.app_context():
        g = _overall(Weight.ACCOUNTS)
    # Latest: A 2, B 1, C 4.
    assert g.answers == 4 and g.accounts == 3
    assert g.mean == pytest.approx(7 / 3)
    assert g.satisfied_share == pytest.approx(1 / 3)
    assert g.dissatisfied_share == pytest.approx(2 / 3)
    # Weights of one: the Wilson interval of 1 of 3, exactly.
    assert g.satisfied_share_interval == pytest.approx((0.0614919, 0.7923404), abs=1e-6)
    assert g.distribution.very_satisfied == 1  # the distribution stays the raw count


def test_revenue_weight_follows_the_money(app, weighted):
    with app.app_context():
        g = _overall(Weight.REVENUE)
    # A 9M said 2, B 1M said 1, C 1M said 4: satisfied 1/11, dissatisfied 10/11,
    # mean (9·2 + 1 + 4) / 11 = 23/11.
    assert g.satisfied_share == pytest.approx(1 / 11)
    assert g.dissatisfied_share == pytest.approx(10 / 11)
    assert g.mean == pytest.approx(23 / 11)
    # Kish's effective n = 11² / (81 + 1 + 1) = 1.458: a wide interval, rightly.
    assert g.dissatisfied_share_interval == pytest.approx((0.2280264, 0.9970549), abs=1e-6)


def test_weighted_summary_by_campaign_and_statement_count(app, weighted):
    def run():
        return satisfaction_summary(Dimension.CAMPAIGN, weight=Weight.ACCOUNTS, locale="en")

    groups, statements = _statements(app, run)
    assert [(g.label, g.accounts, g.answers) for g in groups] == [("H1", 2, 3), ("H2", 1, 1)]
    # Only A's second response is its latest: H1 counts B and C's answers.
    h1 = groups[0]
    assert h1.mean == pytest.approx(2.5) and h1.satisfied_share == pytest.approx(0.5)
    assert statements <= 3  # aspect check-free filter: the GROUP BY and the labels


def test_drilldown_nodes_carry_intervals_and_low_sample(app, weighted):
    with app.app_context():
        (node,) = dissatisfaction_drilldown([Dimension.ASPECT], locale="en", min_group_size=4)
    assert (node.key, node.answers, node.dissatisfied) == ("overall", 4, 2)
    assert not node.low_sample
    assert node.dissatisfied_share_interval == pytest.approx((0.15, 0.85), abs=1e-4)
    with app.app_context():
        (node,) = dissatisfaction_drilldown([Dimension.ASPECT], min_group_size=5)
    assert node.low_sample


# ---------------------------------------------------------------------------
# Margin of error and comparing campaigns


@pytest.fixture
def two_campaigns(app):
    """Ten accounts; 8 of 10 satisfied in campaign A, 3 of 10 in B; frames of 50."""
    with app.app_context():
        accounts = [make_account(f"KA{i:02}") for i in range(10)]
        a, _ = make_campaign("A", accounts=accounts, opens_at=T0)
        b, _ = make_campaign("B", accounts=accounts, opens_at=T0 + timedelta(days=90))
        a.frame_size = b.frame_size = 50
        for i, account in enumerate(accounts):
            make_response(a, account, {"overall": 5 if i < 8 else 2}, submitted_at=T0)
            make_response(
                b, account, {"overall": 4 if i < 3 else 3}, submitted_at=T0 + timedelta(days=91)
            )
        db.session.commit()
        return a.id, b.id


def test_campaign_margin_uses_the_finite_population_correction(app, two_campaigns):
    a, b = two_campaigns
    margins, statements = _statements(app, lambda: campaign_margins([a, b, 999]))
    # 1.959964 · sqrt(0.8 · 0.2 / 10) · sqrt(40 / 49) = 0.224
    assert margins[a] == pytest.approx(0.2239959, abs=1e-6)
    assert margins[999] is None
    assert statements == 2


def test_compare_campaigns_by_hand(app, two_campaigns):
    a, b = two_campaigns
    with app.app_context():
        result = compare_campaigns(a, b)
    assert (result.a.satisfied, result.a.answers, result.b.satisfied) == (8, 10, 3)
    # B - A = 0.3 - 0.8; pooled 11/20; se = sqrt(0.55 · 0.45 · 0.2) = 0.22249;
    # z = -0.5 / 0.22249 = -2.2473; p = erfc(2.2473 / √2) = 0.02462.
    assert result.difference == pytest.approx(-0.5)
    assert result.z == pytest.approx(-2.2473329, abs=1e-6)
    assert result.p_value == pytest.approx(0.0246188, abs=1e-6)
    assert result.significant
    assert result.a.satisfied_share_interval == pytest.approx((0.49016, 0.94332), abs=1e-5)
    with app.app_context():
        same = compare_campaigns(a, a)
        assert same.difference == 0 and same.p_value == 1.0 and not same.significant
        with pytest.raises(NotFoundError):
            compare_campaigns(a, 999)
        with pytest.raises(InvalidInputError):
            compare_campaigns(a, b, aspect="nonsense")


# ---------------------------------------------------------------------------
# Coverage


def test_coverage_by_region_and_the_largest_unheard_accounts(app):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with app.app_context():
        heard = make_account("E1", region="华东", annual_revenue=5_000_000)
        make_account("E2", region="华东", annual_revenue=1_000_000)  # never asked
        old = make_account("S1", region="华南", annual_revenue=2_000_000)  # 400 days ago
        lost = make_account("S2", region="华南", annual_revenue=9_000_000)
        make_account("S3", region="华南", annual_revenue=9_000_000, active=False)
        c, _ = make_campaign("C", accounts=[heard, old, lost])
        make_response(c, heard, {"overall": 4}, submitted_at=now - timedelta(days=10))
        make_response(c, old, {"overall": 4}, submitted_at=now - timedelta(days=400))
        make_response(c, lost, {"overall": 1}, submitted_at=now - timedelta(days=20))
        make_defection(lost, date(2026, 5, 20), ["price"])
        db.session.commit()
        groups = coverage(Dimension.REGION, within_days=365, now=now, locale="en")
        unheard = unheard_accounts(within_days=365, now=now)
        external = {a: e for a, e in [(heard.id, "E1"), (old.id, "S1")]}
        everything = coverage(within_days=365, now=now)
    # Lowest revenue share first: 华南 holds 0 of its 2M heard.
    assert [(g.key, g.active_accounts, g.heard_from, g.revenue_share) for g in groups] == [
        ("华南", 1, 0, 0.0),
        ("华东", 2, 1, pytest.approx(5 / 6)),
    ]
    assert groups[1].heard_share == 0.5
    assert groups[1].heard_share_interval == pytest.approx((0.0945312, 0.9054688), abs=1e-6)
    assert len(unheard) == 2 and unheard[0] == old.id and unheard[0] in external
    ((total),) = everything
    assert (total.key, total.active_accounts, total.heard_from) == ("all", 3, 1)
    assert total.revenue_share == pytest.approx(5 / 8)
    with app.app_context(), pytest.raises(InvalidInputError):
        coverage(Dimension.ASPECT)


# ---------------------------------------------------------------------------
# From dissatisfaction to defection


@pytest.fixture
def risk(app):
    """Delivery: 4 accounts rated it 2 (D1 left after 30 days, D2 after 90, D3 after
    500, D4 stayed); 5 rated it 4-5 (S1 left after 60 days). R rated only overall 1."""
    with app.app_context():
        ds = [make_account(f"D{i}", annual_revenue=1_000_000) for i in range(1, 5)]
        ss = [make_account(f"S{i}", annual_revenue=1_000_000) for i in range(1, 6)]
        r = make_account("R", annual_revenue=1_200_000)
        c, _ = make_campaign("2025", accounts=[*ds, *ss, r], opens_at=T0)
        for d in ds:
            make_response(
                c,
                d,
                {"delivery": 2, "overall": 3},
                reasons={"delivery": ["delivery"]},
                reason_texts={"delivery": "总是迟到"},
                comment="请改进物流",
                submitted_at=T0,
            )
        for i, s in enumerate(ss):
            make_response(c, s, {"delivery": 4 + i % 2, "overall": 3}, submitted_at=T0)
        make_response(c, r, {"overall": 1}, submitted_at=T0)
        day = T0.date()
        make_defection(ds[0], day + timedelta(days=30), ["delivery", "price"])
        make_defection(ds[1], day + timedelta(days=90), ["price"])
        make_defection(ds[2], day + timedelta(days=500), ["delivery"])
        make_defection(ss[0], day + timedelta(days=60), ["competitor_offer"])
        # An exit survey after leaving says nothing about what came before.
        exit_campaign, _ = make_campaign("exit", accounts=[ds[0]], kind="exit")
        make_response(exit_campaign, ds[0], {"delivery": 5}, submitted_at=T0 + timedelta(days=40))
        db.session.commit()
        return {a.external_id: a.id for a in [*ds, *ss, r]}


def test_aspect_defection_risk_by_hand(app, risk):
    table, statements = _statements(app, lambda: defection_risk_table(locale="en"))
    delivery = next(a for a in table.aspects if a.aspect == "delivery")
    assert (
        delivery.dissatisfied_accounts,
        delivery.dissatisfied_defected,
        delivery.satisfied_accounts,
        delivery.satisfied_defected,
    ) == (4, 2, 5, 1)  # D3 left after the 365-day window
    # RR = (2/4) / (1/5) = 2.5; se = sqrt(1/2 - 1/4 + 1/1 - 1/5) = 1.0247.
    assert delivery.risk_ratio == pytest.approx(2.5)
    assert delivery.risk_ratio_interval == pytest.approx((0.3355197, 18.627820), abs=1e-5)
    assert delivery.median_lead_days == 60  # (30 + 90) / 2
    assert delivery.low_sample  # 4 < 5
    assert delivery.label == "Delivery and logistics"
    overall = next(a for a in table.aspects if a.aspect == "overall")
    assert (overall.dissatisfied_accounts, overall.satisfied_accounts) == (1, 0)
    assert overall.risk_ratio is None and overall.risk_ratio_interval is None
    # 10 surveyed accounts; D1, D2 and S1 left within the window.
    assert (table.surveyed_accounts, table.defected_accounts) == (10, 3)
    assert statements == 3
    with app.app_context():
        wider = aspect_defection_risk(within_days=600)
        assert next(a for a in wider if a.aspect == "delivery").dissatisfied_defected == 3
        with pytest.raises(InvalidInputError):
            aspect_defection_risk(within_days=0)


def test_precursors_show_the_last_complaint_before_leaving(app, risk):
    ids = list(risk.values())
    precursors, statements = _statements(app, lambda: defection_precursors(ids))
    assert set(precursors) == {risk["D1"], risk["D2"], risk["D3"], risk["S1"]}
    d1 = precursors[risk["D1"]]
    assert d1.lead_days == 30 and d1.submitted_at == T0  # not the exit survey after
    assert [(c.aspect, c.score, c.reasons, c.reason_text) for c in d1.complaints] == [
        ("delivery", 2, ["delivery"], "总是迟到")
    ]
    assert d1.comment == "请改进物流"
    assert d1.matching_reasons == ["delivery"] and d1.reasons_match
    assert not precursors[risk["D2"]].reasons_match  # complained of delivery, left on price
    assert precursors[risk["S1"]].complaints == []
    assert statements == 4  # + the root causes of its resolved follow-ups


def test_at_risk_sorted_by_expected_lost_revenue(app, risk):
    scored, statements = _statements(app, lambda: at_risk_by_expected_loss(10))
    # Baseline b = 3/10. Delivery: (2 + 5·0.3) / (4 + 5) = 0.38889; overall (R alone,
    # not lost): (0 + 1.5) / (1 + 5) = 0.25. D4 (1M) 388,889 before R (1.2M) 300,000.
    assert [(s.account_id, s.dissatisfied_aspects) for s in scored] == [
        (risk["D4"], ["delivery"]),
        (risk["R"], ["overall"]),
    ]
    assert scored[0].risk_score == pytest.approx(3.5 / 9)
    assert scored[1].risk_score == pytest.approx(0.25)
    assert scored[0].expected_lost_revenue == pytest.approx(1_000_000 * 3.5 / 9)
    assert statements == 5


# ---------------------------------------------------------------------------
# Recovery after a resolved follow-up


def test_recovery_compares_the_next_overall_score(app):
    with app.app_context():
        f, g, h, i = (make_account(x) for x in ("F", "G", "H", "I"))
        first, _ = make_campaign("first", accounts=[f, g, h, i], opens_at=T0)
        second, _ = make_campaign("second", accounts=[f, g, i], opens_at=T0 + timedelta(days=90))
        opened = {}
        for account, score in ((f, 2), (g, 1), (h, 1), (i, 2)):
            opened[account.id] = make_response(first, account, {"overall": score}, submitted_at=T0)
        for account, score in ((f, 4), (g, 1), (i, 5)):
            make_response(second, account, {"overall": score}, submitted_at=T0 + timedelta(91))
        for account, status in ((f, FOLLOW_UP_RESOLVED), (g, FOLLOW_UP_RESOLVED)):
            db.session.add(_case(account, opened[account.id].id, status))
        db.session.add(_case(h, opened[h.id].id, FOLLOW_UP_RESOLVED))  # not asked again
        db.session.add(_case(i, opened[i.id].id, FOLLOW_UP_OPEN))  # not resolved
        db.session.commit()
        result = recovery()
    # F 2 -> 4 (+2), G 1 -> 1 (0).
    assert (result.accounts, result.improved, result.unchanged, result.worse) == (2, 1, 1, 0)
    assert result.mean_change == 1.0


def test_recovery_without_cases(app):
    with app.app_context():
        result = recovery()
    assert (result.accounts, result.mean_change) == (0, None)


def _case(account, response_id: int, status: str) -> FollowUp:
    return FollowUp(
        account_id=account.id,
        response_id=response_id,
        owner=account.account_manager,
        status=status,
        opened_at=T0,
        due_at=T0 + timedelta(days=7),
    )


# ---------------------------------------------------------------------------
# The same figures through GraphQL


def _api(app, client, query, variables=None, *, lang="en", role="viewer"):
    from .graphql_helpers import gql, make_tokens

    tokens = app.config.get("TEST_TOKENS")  # one set per app, however many calls
    if tokens is None:
        with app.app_context():
            tokens = app.config["TEST_TOKENS"] = make_tokens()
            db.session.commit()
    with app.app_context():
        before = len(get_recorded_queries())
        body = gql(client, query, variables, token=tokens[role], lang=lang)
        statements = len(get_recorded_queries()) - before
    assert "errors" not in body, body
    return body["data"], statements


def test_graphql_summary_weights_and_intervals(app, client, weighted):
    query = """
      query($w: Weight!) { satisfactionSummary(groupBy: ASPECT, filter: {aspect: "overall"},
                                              weight: $w) {
        key answers accounts mean satisfiedShare lowSample
        satisfiedShareInterval { low high } dissatisfiedShareInterval { low high } } }
    """
    data, _ = _api(app, client, query, {"w": "REVENUE"})
    (group,) = data["satisfactionSummary"]
    assert group["accounts"] == 3 and group["answers"] == 4 and group["lowSample"]
    assert group["mean"] == pytest.approx(23 / 11)
    assert group["dissatisfiedShareInterval"]["low"] == pytest.approx(0.2280264, abs=1e-6)
    data, _ = _api(app, client, query, {"w": "ANSWERS"})
    assert data["satisfactionSummary"][0]["satisfiedShareInterval"] == {
        "low": pytest.approx(0.15, abs=1e-4),
        "high": pytest.approx(0.85, abs=1e-4),
    }


def test_graphql_compare_campaigns_and_margin(app, client, two_campaigns):
    a, b = two_campaigns
    query = """
      query($a: ID!, $b: ID!) {
        compareCampaigns(a: $a, b: $b) { aspect difference pValue significant
          a { name answers satisfied satisfiedShare marginOfError }
          b { name satisfiedShareInterval { low high } } }
        campaigns { edges { node { name marginOfError
          summary { key lowSample satisfiedShareInterval { low } } } } } }
    """
    data, statements = _api(app, client, query, {"a": str(a), "b": str(b)})
    result = data["compareCampaigns"]
    assert result["a"] == {
        "name": "A",
        "answers": 10,
        "satisfied": 8,
        "satisfiedShare": 0.8,
        "marginOfError": pytest.approx(0.2239959, abs=1e-6),
    }
    assert result["difference"] == pytest.approx(-0.5)
    assert result["pValue"] == pytest.approx(0.0246188, abs=1e-6) and result["significant"]
    margins = {e["node"]["name"]: e["node"]["marginOfError"] for e in data["campaigns"]["edges"]}
    assert margins["A"] == pytest.approx(0.2239959, abs=1e-6)
    overall = next(
        g for g in data["campaigns"]["edges"][0]["node"]["summary"] if g["key"] == "overall"
    )
    assert overall["lowSample"] is False
    # A fixed number (13 today): two campaigns' margins and summaries load in one batch
    # each; one reads the data version the cached summaries are keyed by.
    assert statements <= 13


def test_graphql_coverage_and_unheard(app, client):
    with app.app_context():
        heard = make_account("E1", region="华东", annual_revenue=5_000_000)
        make_account("E2", region="华东", annual_revenue=1_000_000)
        c, _ = make_campaign("C", accounts=[heard])
        make_response(c, heard, {"overall": 4})
        db.session.commit()
    data, _ = _api(
        app,
        client,
        "{ coverage(groupBy: REGION) { key activeAccounts heardFrom heardShare revenueShare "
        "activeRevenue } unheardAccounts { externalId } }",
    )
    assert data["coverage"] == [
        {
            "key": "华东",
            "activeAccounts": 2,
            "heardFrom": 1,
            "heardShare": 0.5,
            "revenueShare": pytest.approx(5 / 6),
            "activeRevenue": 6_000_000,
        }
    ]
    assert data["unheardAccounts"] == [{"externalId": "E2"}]


def test_graphql_defection_risk_precursors_and_at_risk(app, client, risk):
    query = """
      { aspectDefectionRisk { aspect riskRatio riskRatioInterval { low high }
          medianLeadDays lowSample dissatisfiedAccounts dissatisfiedDefected }
        atRiskAccounts { account { externalId } riskScore expectedLostRevenue }
        accounts(defected: true) { edges { node { externalId defection {
          precursors { leadDays reasonsMatch matchingReasons
            complaints { aspect aspectLabel score reasons reasonText } } } } } } }
    """
    data, statements = _api(app, client, query)
    delivery = next(r for r in data["aspectDefectionRisk"] if r["aspect"] == "delivery")
    assert delivery["riskRatio"] == pytest.approx(2.5)
    assert delivery["medianLeadDays"] == 60 and delivery["lowSample"]
    assert [r["account"]["externalId"] for r in data["atRiskAccounts"]] == ["D4", "R"]
    assert data["atRiskAccounts"][0]["expectedLostRevenue"] == 388_889
    precursors = {
        e["node"]["externalId"]: e["node"]["defection"]["precursors"]
        for e in data["accounts"]["edges"]
    }
    assert precursors["D1"] == {
        "leadDays": 30,
        "reasonsMatch": True,
        "matchingReasons": ["DELIVERY"],
        "complaints": [
            {
                "aspect": "delivery",
                "aspectLabel": "Delivery and logistics",
                "score": 2,
                "reasons": ["DELIVERY"],
                "reasonText": "总是迟到",
            }
        ],
    }
    assert precursors["D2"]["reasonsMatch"] is False
    # Precursors of the whole page load together (four queries for four lost accounts):
    # one per defection would add at least four (19 today).
    assert statements <= 19


def test_the_demo_shows_a_clear_risk_and_a_recovery(app, runner):
    from survey.demo.dataset import load_demo
    from survey.models import Campaign

    from .conftest import TEST_SECRET

    with app.app_context():
        load_demo(secret_key=TEST_SECRET)
        risks = aspect_defection_risk()
        clear = [
            r
            for r in risks
            if r.risk_ratio_interval is not None
            and r.risk_ratio_interval[0] > 1
            and not r.low_sample
        ]
        assert clear, risks
        result = recovery()
        assert result.accounts >= 1 and result.improved >= 1
        resolved = db.session.scalar(
            select(func.count()).select_from(FollowUp).where(FollowUp.status == FOLLOW_UP_RESOLVED)
        )
        assert resolved >= 1
        campaign_ids = db.session.scalars(select(Campaign.id)).all()
    for campaign_id in campaign_ids:  # the demo's samples are auditable too
        assert runner.invoke(args=["campaign", "verify", str(campaign_id)]).exit_code == 0
