"""Weight.DESIGN: each account weighted by 1/π of its invitation (the Hájek estimate),
intervals from Kish's effective sample size, on a small fixed panel: three census
accounts (π = 1) and two drawn at random at a quarter (π = 0.25)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from survey.analysis import (
    Dimension,
    ResponseFilter,
    Weight,
    campaign_margins,
    compare_campaigns,
    dissatisfaction_drilldown,
    satisfaction_summary,
)
from survey.data_version import current_token
from survey.db import db
from survey.models import Campaign, Invitation, KeyAccount
from survey.statistics import margin_of_error, weighted_wilson_interval, wilson_interval

from .conftest import TEST_NOW
from .factories import make_account, make_campaign, make_response
from .graphql_helpers import gql, make_tokens
from .test_respondents import contact, respond

#: (external id, tier, π, overall score): census tier A, random tier B.
PANEL = [
    ("KA-1", "A", 1.0, 5),
    ("KA-2", "A", 1.0, 4),
    ("KA-3", "A", 1.0, 2),
    ("KA-4", "B", 0.25, 1),
    ("KA-5", "B", 0.25, 3),
]
#: Weights 1, 1, 1, 4, 4: Σw = 11, Σw² = 35.
MEAN = (5 + 4 + 2 + 4 * 1 + 4 * 3) / 11  # 27/11 ≈ 2.4545
SATISFIED = (1 + 1) / 11
DISSATISFIED = (1 + 4) / 11
N_EFF = 11**2 / (1 + 1 + 1 + 16 + 16)  # 121/35


@pytest.fixture
def panel(app):
    with app.app_context():
        accounts = [make_account(ext, tier=tier) for ext, tier, _, _ in PANEL]
        campaign, _ = make_campaign(
            "2026-Q4",
            accounts=accounts,
            opens_at=TEST_NOW - timedelta(days=10),
            inclusion_probabilities={
                a.id: pi for a, (_, _, pi, _) in zip(accounts, PANEL, strict=True)
            },
        )
        for account, (_, _, _, score) in zip(accounts, PANEL, strict=True):
            make_response(campaign, account, {"overall": score})
        db.session.commit()
        yield {"campaign": campaign.id, "accounts": [a.id for a in accounts]}


def overall(weight: Weight, f: ResponseFilter | None = None):
    (group,) = satisfaction_summary(
        Dimension.ASPECT, f or ResponseFilter(aspect="overall"), weight=weight, locale="en"
    )
    return group


def test_design_weight_is_the_hajek_mean_computed_by_hand(app, panel):
    with app.app_context():
        g = overall(Weight.DESIGN)
        plain = overall(Weight.ACCOUNTS)
    assert (g.answers, g.accounts) == (5, 5)
    assert g.mean == pytest.approx(MEAN)
    assert g.satisfied_share == pytest.approx(SATISFIED)
    assert g.dissatisfied_share == pytest.approx(DISSATISFIED)
    # Kish's n = 121/35 ≈ 3.457: the interval is that of 2/11 of 3.457 accounts.
    assert g.satisfied_share_interval == pytest.approx(weighted_wilson_interval(2 / 11, N_EFF))
    assert g.dissatisfied_share_interval == pytest.approx(
        weighted_wilson_interval(5 / 11, 121 / 35)
    )
    assert g.satisfied_share_interval == pytest.approx((0.0231846, 0.6753878), abs=1e-6)
    assert g.low_sample is False  # five accounts
    # The distribution stays raw counts of answers.
    assert (g.distribution.very_satisfied, g.distribution.very_dissatisfied) == (1, 1)
    # Unweighted by the design, the random stratum's two accounts count as much as the census.
    assert (plain.mean, plain.satisfied_share, plain.dissatisfied_share) == pytest.approx(
        (3.0, 0.4, 0.4)
    )


def test_design_weight_by_tier_weighs_each_stratum_within_itself(app, panel):
    with app.app_context():
        groups = satisfaction_summary(Dimension.TIER, weight=Weight.DESIGN, locale="en")
    # Within a stratum π is constant: each tier's mean is its accounts' mean.
    assert [(g.key, g.accounts, pytest.approx(g.mean)) for g in groups] == [
        ("A", 3, 11 / 3),
        ("B", 2, 2.0),
    ]
    # Tier B: weights 4 and 4, Kish's n = 64/32 = 2 accounts.
    assert groups[1].dissatisfied_share_interval == pytest.approx(weighted_wilson_interval(0.5, 2))


def test_a_missing_inclusion_probability_counts_as_one(app, panel):
    """A response whose invitation recorded no π (a hand-made campaign before 0007)
    counts as a census account."""
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.account_id == panel["accounts"][0])
            .values(inclusion_probability=None)
        )
        db.session.commit()
        g = overall(Weight.DESIGN)
    assert (g.mean, g.satisfied_share, g.accounts) == pytest.approx((27 / 11, 2 / 11, 5))


def test_respondents_of_one_account_share_its_design_weight(app):
    """Two people of an account drawn at π = 0.5 answer 5 and 1, each weighing
    1/(2·0.5) = 1; a census account answers 3. Σw = 3, mean 9/3, Kish's n = 9/5."""
    with app.app_context():
        a, b = make_account("KA-A"), make_account("KA-B")
        campaign, _ = make_campaign(
            "C",
            accounts=[b],
            opens_at=TEST_NOW - timedelta(days=9),
            inclusion_probabilities={b.id: 1.0},
        )
        for name, score in (("boss", 5), ("buyer", 1)):
            response = respond(
                campaign, a, contact(a, name, "decision_maker"), {"overall": score}, 8
            )
            db.session.get(Invitation, response.invitation_id).inclusion_probability = 0.5
        make_response(campaign, b, {"overall": 3})
        db.session.commit()
        g = overall(Weight.DESIGN)
    assert (g.answers, g.accounts) == (3, 2)
    assert (g.mean, g.satisfied_share, g.dissatisfied_share) == pytest.approx((3.0, 1 / 3, 1 / 3))
    assert g.satisfied_share_interval == pytest.approx(weighted_wilson_interval(1 / 3, 9 / 5))


def test_graphql_weight_design(app, client, panel):
    with app.app_context():
        tokens = make_tokens()
    body = gql(
        client,
        """{ satisfactionSummary(groupBy: ASPECT, weight: DESIGN, filter: {aspect: "overall"})
               { key answers accounts mean satisfiedShare dissatisfiedShare
                 satisfiedShareInterval { low high } lowSample } }""",
        token=tokens["viewer"],
    )
    assert "errors" not in body, body
    [row] = body["data"]["satisfactionSummary"]
    assert (row["key"], row["answers"], row["accounts"], row["lowSample"]) == (
        "overall",
        5,
        5,
        False,
    )
    assert row["mean"] == pytest.approx(27 / 11)
    assert row["satisfiedShare"] == pytest.approx(2 / 11)
    assert row["dissatisfiedShare"] == pytest.approx(5 / 11)
    low, high = weighted_wilson_interval(2 / 11, N_EFF)
    assert row["satisfiedShareInterval"] == {
        "low": pytest.approx(low),
        "high": pytest.approx(high),
    }


def test_cached_figures_tell_design_from_accounts_and_follow_a_new_pi(app, panel):
    with app.app_context():
        assert overall(Weight.ACCOUNTS).mean == pytest.approx(3.0)
        assert overall(Weight.DESIGN).mean == pytest.approx(27 / 11)
        before = current_token(db.session)
        # Opening a link, or a reminder, changes no figure: the cache stays.
        invitation = db.session.scalars(
            select(Invitation).where(Invitation.account_id == panel["accounts"][3])
        ).one()
        invitation.opened_at = TEST_NOW
        invitation.reminders_sent = 1
        db.session.commit()
        assert current_token(db.session) == before
        # A corrected π does: KA-4 (score 1) at π = 1 makes weights 1, 1, 1, 1, 4.
        invitation.inclusion_probability = 1.0
        db.session.commit()
        assert current_token(db.session) != before
        assert overall(Weight.DESIGN).mean == pytest.approx((5 + 4 + 2 + 1 + 12) / 8)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scores=st.lists(
        st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=3),
        min_size=1,
        max_size=5,
    ),
    pi=st.sampled_from([1.0, 0.5, 0.2, 0.03125]),
)
def test_with_equal_probabilities_design_equals_accounts(app, scores, pi):
    """Whatever the scores and however many people of an account answer: when every
    account came in with the same π, DESIGN says exactly what ACCOUNTS says."""
    with app.app_context():
        try:
            campaign, _ = make_campaign("prop", accounts=[], opens_at=TEST_NOW - timedelta(days=5))
            for i, people in enumerate(scores):
                account = make_account(f"P{i}", tier="AB"[i % 2])
                for j, score in enumerate(people):
                    response = respond(
                        campaign,
                        account,
                        contact(account, f"p{i}-{j}", "user"),
                        {"overall": score, "delivery": 6 - score},
                        4,
                    )
                    db.session.get(Invitation, response.invitation_id).inclusion_probability = pi
            db.session.flush()
            for dimension in (Dimension.ASPECT, Dimension.TIER):
                design = satisfaction_summary(dimension, weight=Weight.DESIGN)
                accounts = satisfaction_summary(dimension, weight=Weight.ACCOUNTS)
                assert [g.key for g in design] == [g.key for g in accounts]
                for d, a in zip(design, accounts, strict=True):
                    assert (d.answers, d.accounts, d.low_sample) == (
                        a.answers,
                        a.accounts,
                        a.low_sample,
                    )
                    for x, y in (
                        (d.mean, a.mean),
                        (d.satisfied_share, a.satisfied_share),
                        (d.dissatisfied_share, a.dissatisfied_share),
                    ):
                        assert x == pytest.approx(y)
                    assert (d.satisfied_share_interval is None) == (
                        a.satisfied_share_interval is None
                    )
                    if a.satisfied_share_interval is not None:
                        assert d.satisfied_share_interval == pytest.approx(
                            a.satisfied_share_interval
                        )
        finally:
            db.session.rollback()


def test_drilldown_with_design_weight(app, panel):
    with app.app_context():
        before = len(get_recorded_queries())
        nodes = dissatisfaction_drilldown(
            [Dimension.ASPECT, Dimension.TIER],
            ResponseFilter(aspect="overall"),
            locale="en",
            weight=Weight.DESIGN,
        )
        statements = [q.statement for q in get_recorded_queries()[before:]]
        raw = dissatisfaction_drilldown(
            [Dimension.ASPECT, Dimension.TIER], ResponseFilter(aspect="overall"), locale="en"
        )
    # Counts, reasons (one statement with the counts on PostgreSQL, the aspect being a
    # level), texts, and the weighted levels in one UNION ALL.
    sqlite = db.engine.dialect.name == "sqlite"
    assert len([s for s in statements if "answers" in s]) == (4 if sqlite else 3), statements
    [node] = nodes
    # Overall: KA-3 (2, w 1) and KA-4 (1, w 4) of Σw = 11; answers stay raw counts.
    assert (node.key, node.answers, node.dissatisfied, node.accounts) == ("overall", 5, 2, 5)
    assert node.dissatisfied_share == pytest.approx(DISSATISFIED)
    assert node.dissatisfied_share_interval == pytest.approx(
        weighted_wilson_interval(5 / 11, N_EFF)
    )
    assert not node.low_sample
    # Tier A: weights 1, 1, 1, one dissatisfied; tier B: 4 and 4, one dissatisfied.
    assert [
        (c.key, c.answers, c.dissatisfied, c.accounts, pytest.approx(c.dissatisfied_share))
        for c in node.children
    ] == [("A", 3, 1, 3, 1 / 3), ("B", 2, 1, 2, 0.5)]
    assert node.children[1].dissatisfied_share_interval == pytest.approx(
        weighted_wilson_interval(0.5, 2)
    )
    assert all(c.low_sample for c in node.children)
    # Unweighted, the overall node's share is 2 of 5 answers.
    assert (raw[0].dissatisfied_share, raw[0].accounts) == (0.4, None)
    assert raw[0].dissatisfied_share_interval == wilson_interval(2, 5)


def test_a_weighted_drilldown_costs_a_latest_campaign_pass_per_level():
    from graphql import parse

    from schema.build import schema
    from schema.cost import DEFAULT_MAX_COST, operation_cost

    def cost(by: str, weight: str) -> int | None:
        query = f"{{ dissatisfactionDrilldown(by: [{by}], weight: {weight}) {{ key }} }}"
        return operation_cost(schema._schema, parse(query))

    # The request (10), three scans (3,000), 3 tiers x 4 per cell, 3 nodes.
    assert cost("TIER", "ANSWERS") == 10 + 3000 + 12 + 3
    # Weighted: each account's latest campaign weighed once per level (4,000 each).
    assert cost("TIER", "DESIGN") == 10 + 3000 + 12 + 3 + 4000
    # Two weighted levels (about 1.2 s measured) are over the default cap.
    assert cost("ASPECT, TIER", "DESIGN") == 10 + 3000 + 4 * 24 + 8 + 8000 > DEFAULT_MAX_COST


def test_graphql_drilldown_weight_design(app, client, panel):
    with app.app_context():
        tokens = make_tokens()
    body = gql(
        client,
        """{ dissatisfactionDrilldown(by: [TIER], weight: DESIGN, filter: {aspect: "overall"})
               { key answers dissatisfied accounts dissatisfiedShare lowSample
                 dissatisfiedShareInterval { low high } } }""",
        token=tokens["viewer"],
    )
    assert "errors" not in body, body
    rows = body["data"]["dissatisfactionDrilldown"]
    assert [(r["key"], r["answers"], r["dissatisfied"], r["accounts"]) for r in rows] == [
        ("A", 3, 1, 3),
        ("B", 2, 1, 2),
    ]
    assert [r["dissatisfiedShare"] for r in rows] == [pytest.approx(1 / 3), pytest.approx(0.5)]
    low, high = weighted_wilson_interval(0.5, 2)
    assert rows[1]["dissatisfiedShareInterval"] == {
        "low": pytest.approx(low),
        "high": pytest.approx(high),
    }


def test_a_campaign_margin_uses_the_design_when_it_is_not_self_weighting(app, panel):
    """The panel's frame: 3 census accounts and 8 in the random stratum, 2 of them
    drawn (π = 0.25); all five answered. Design-weighted satisfied share 2/11 on
    Kish's n = 121/35, corrected for 5 of 11: 1.959964 · sqrt(2/11 · 9/11 / (121/35))
    · sqrt(6/10) = 0.3149."""
    campaign_id = panel["campaign"]
    with app.app_context():
        db.session.get(Campaign, campaign_id).frame_size = 11
        db.session.commit()
        assert campaign_margins([campaign_id])[campaign_id] == pytest.approx(0.3149261, abs=1e-6)
        compared = compare_campaigns(campaign_id, campaign_id)
        assert compared.a.margin_of_error == pytest.approx(0.3149261, abs=1e-6)
        # Self-weighting (every π 0.25): the plain margin on the answers, 2 of 5 satisfied.
        db.session.execute(update(Invitation).values(inclusion_probability=0.25))
        db.session.commit()
        plain = campaign_margins([campaign_id])[campaign_id]
    assert plain == pytest.approx(margin_of_error(0.4, 5, 11))
    assert plain == pytest.approx(0.3326169, abs=1e-6)


def test_the_responses_export_gives_each_responses_inclusion_probability(app, client, panel):
    from .test_manage import add_member, read_csv, sign_in

    sign_in(client, add_member(app, "Zhang", "manager"))
    rows = read_csv(client.get(f"/manage/campaigns/{panel['campaign']}/responses.csv?lang=zh"))
    position = rows[0].index("入样概率 (π)")
    assert rows[0][position - 1] == "录入人"
    assert [r[position] for r in rows[1:]] == ["1.0", "1.0", "1.0", "0.25", "0.25"]


def test_a_drilldown_node_no_account_counts_through_has_no_weighted_share(app, panel):
    """KA-4 also complained in an older campaign: the node exists (a raw complaint), but
    under a weight KA-4 counts through its latest campaign, so the old node has none."""
    with app.app_context():
        ka4 = db.session.get(KeyAccount, panel["accounts"][3])
        old, _ = make_campaign("2026-Q2", accounts=[ka4], opens_at=TEST_NOW - timedelta(days=150))
        make_response(old, ka4, {"overall": 1}, submitted_at=TEST_NOW - timedelta(days=149))
        db.session.commit()
        nodes = dissatisfaction_drilldown(
            [Dimension.CAMPAIGN], ResponseFilter(aspect="overall"), weight=Weight.DESIGN
        )
    assert [
        (n.label, n.answers, n.dissatisfied, n.accounts, n.dissatisfied_share, n.low_sample)
        for n in nodes
    ] == [
        ("2026-Q4", 5, 2, 5, pytest.approx(5 / 11), False),
        ("2026-Q2", 1, 1, 0, None, True),
    ]
    assert nodes[1].dissatisfied_share_interval is None
