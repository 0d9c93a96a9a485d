"""Several respondents per account: answers grouped by the respondent's role
(Dimension.CONTACT_ROLE), and account-level figures (Weight.ACCOUNTS, REVENUE) that
count each account once, through its latest campaign and the mean of its people."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import select

from survey.analysis import (
    DefectionFilter,
    Dimension,
    ResponseFilter,
    Weight,
    campaign_responses,
    coverage,
    defection_reasons,
    dissatisfaction_drilldown,
    satisfaction_summaries,
    satisfaction_summary,
)
from survey.campaigns.questionnaires import ensure_aspects
from survey.data_version import current_token
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import INVITATION_RESPONDED, Answer, Contact, Invitation, Response
from survey.statistics import weighted_wilson_interval
from survey.tokens import hash_token, new_nonce

from .conftest import TEST_NOW
from .factories import make_account, make_campaign, make_response
from .graphql_helpers import gql, make_tokens


def contact(account, name: str, role: str) -> Contact:
    person = Contact(account_id=account.id, name=name, role=role, email=f"{name}@x.cn")
    db.session.add(person)
    db.session.flush()
    return person


def respond(campaign, account, person: Contact, scores: dict[str, int], days_ago: float):
    """A response by `person` to their own invitation in `campaign`."""
    aspects = ensure_aspects()
    when = TEST_NOW - timedelta(days=days_ago)
    nonce = new_nonce()
    invitation = Invitation(
        campaign_id=campaign.id,
        account_id=account.id,
        contact_id=person.id,
        token_nonce=nonce,
        token_hash=hash_token(nonce),
        locale="zh",
        status=INVITATION_RESPONDED,
        created_at=when,
        sent_at=when,
        responded_at=when,
    )
    db.session.add(invitation)
    db.session.flush()
    response = Response(
        invitation_id=invitation.id,
        campaign_id=campaign.id,
        account_id=account.id,
        contact_id=person.id,
        submitted_at=when,
        locale="zh",
    )
    db.session.add(response)
    db.session.flush()
    for code, score in scores.items():
        db.session.add(Answer(response_id=response.id, aspect_id=aspects[code].id, score=score))
    db.session.flush()
    return response


def overall(weight: Weight, f: ResponseFilter | None = None):
    (group,) = satisfaction_summary(
        Dimension.ASPECT, f or ResponseFilter(aspect="overall"), weight=weight, locale="en"
    )
    return group


def test_two_people_of_one_account_make_one_account_with_their_mean(app):
    """Two contacts of one account answer overall 5 and 1: the account's mean is 3, half
    satisfied and half dissatisfied, and it counts once."""
    with app.app_context():
        account = make_account("KA1")
        campaign, _ = make_campaign("C1", accounts=[], opens_at=TEST_NOW - timedelta(days=9))
        respond(campaign, account, contact(account, "boss", "decision_maker"), {"overall": 5}, 8)
        respond(campaign, account, contact(account, "buyer", "purchaser"), {"overall": 1}, 7)
        db.session.commit()
        for weight in (Weight.ACCOUNTS, Weight.REVENUE):
            g = overall(weight)
            assert (g.answers, g.accounts) == (2, 1)
            assert (g.mean, g.satisfied_share, g.dissatisfied_share) == (3.0, 0.5, 0.5)
            # Kish's n over account weights: one account, so Wilson's interval for n = 1.
            assert g.satisfied_share_interval == pytest.approx((0.0546208, 0.9453792), abs=1e-6)
            assert g.low_sample
        g = overall(Weight.ANSWERS)
        assert (g.answers, g.accounts, g.mean, g.satisfied_share) == (2, None, 3.0, 0.5)


@pytest.fixture
def mixed(app):
    """A (tier A, 3M): in H1 its decision maker said overall 1; in H2 (its latest
    campaign) the decision maker said 5 (delivery 2), the purchaser 4, the user 1.
    B (tier A, 1M), in H2: the purchaser said overall 2 (delivery 5), finance 2.
    C (tier B, 2M), in H1 only, before contacts existed: overall 4."""
    with app.app_context():
        a = make_account("KA-A", tier="A", annual_revenue=3_000_000)
        b = make_account("KA-B", tier="A", annual_revenue=1_000_000)
        c = make_account("KA-C", tier="B", annual_revenue=2_000_000)
        h1, _ = make_campaign("H1", accounts=[c], opens_at=TEST_NOW - timedelta(days=200))
        h2, _ = make_campaign("H2", accounts=[], opens_at=TEST_NOW - timedelta(days=20))
        a1 = contact(a, "a1", "decision_maker")
        a2, a3 = contact(a, "a2", "purchaser"), contact(a, "a3", "user")
        b1, b2 = contact(b, "b1", "purchaser"), contact(b, "b2", "finance")
        respond(h1, a, a1, {"overall": 1}, 199)
        make_response(h1, c, {"overall": 4}, submitted_at=TEST_NOW - timedelta(days=198))
        respond(h2, a, a1, {"overall": 5, "delivery": 2}, 19)
        respond(h2, a, a2, {"overall": 4}, 18)
        respond(h2, a, a3, {"overall": 1}, 17)
        respond(h2, b, b1, {"overall": 2, "delivery": 5}, 16)
        respond(h2, b, b2, {"overall": 2}, 15)
        db.session.commit()
        yield {"h1": h1.id, "h2": h2.id}


def figures(groups) -> list[tuple]:
    return [
        (
            g.key,
            g.answers,
            g.accounts,
            pytest.approx(g.mean) if g.mean is not None else None,
            pytest.approx(g.satisfied_share) if g.satisfied_share is not None else None,
            pytest.approx(g.dissatisfied_share) if g.dissatisfied_share is not None else None,
        )
        for g in groups
    ]


def test_accounts_weight_counts_each_account_through_its_latest_campaign(app, mixed):
    with app.app_context():
        by_aspect = satisfaction_summary(Dimension.ASPECT, weight=Weight.ACCOUNTS, locale="en")
        by_tier = satisfaction_summary(Dimension.TIER, weight=Weight.ACCOUNTS, locale="en")
        revenue = overall(Weight.REVENUE)
        accounts = overall(Weight.ACCOUNTS)
    groups = {g.key: g for g in by_aspect}
    # A: (5 + 4 + 1) / 3, satisfied 2/3, dissatisfied 1/3 (H1 is not its latest
    # campaign); B: 2, 0, 1; C: 4, 1, 0 (its latest campaign is H1).
    assert figures([groups["overall"], groups["delivery"]]) == [
        ("overall", 7, 3, 28 / 9, 5 / 9, 4 / 9),
        # Delivery: A's decision maker alone said 2 (k = 1), B's purchaser 5.
        ("delivery", 2, 2, 3.5, 0.5, 0.5),
    ]
    assert groups["price"].accounts == 0 and groups["price"].mean is None
    # Weights of one per account: Kish's n is 3, Wilson's interval for 5/9 of 3.
    assert accounts.satisfied_share_interval == pytest.approx(weighted_wilson_interval(5 / 9, 3))
    assert accounts.satisfied_share_interval == pytest.approx((0.1507113, 0.8980113), abs=1e-6)
    # Revenue 3M, 1M, 2M: mean (3·10/3 + 2 + 2·4) / 6, satisfied (3·2/3 + 2) / 6.
    assert figures([revenue]) == [("overall", 7, 3, 10 / 3, 2 / 3, 1 / 3)]
    # Kish's n = 6² / (3² + 1² + 2²) = 36 / 14.
    assert revenue.dissatisfied_share_interval == pytest.approx(
        weighted_wilson_interval(1 / 3, 36 / 14)
    )
    # By tier, every aspect: A weighs 2 (overall 1/3 each, delivery 1), B 2 (overall
    # 1/2 each, delivery 1). Tier A: mean (16/3 + 7) / 4, satisfied (2/3 + 1) / 4,
    # dissatisfied (4/3 + 1) / 4; two accounts, Kish's n = 4² / (2² + 2²) = 2.
    assert figures(by_tier) == [
        ("A", 8, 2, 37 / 12, 5 / 12, 7 / 12),
        ("B", 1, 1, 4.0, 1.0, 0.0),
    ]
    assert by_tier[0].satisfied_share_interval == pytest.approx(weighted_wilson_interval(5 / 12, 2))


def test_summaries_per_campaign_take_each_campaigns_respondents(app, mixed):
    with app.app_context():
        per = satisfaction_summaries(
            Dimension.ASPECT,
            ResponseFilter(aspect="overall"),
            campaign_ids=[mixed["h1"], mixed["h2"]],
            weight=Weight.ACCOUNTS,
            locale="en",
        )
    # H1: A said 1, C 4. H2: A (5 + 4 + 1) / 3, B 2.
    assert figures(per[mixed["h1"]]) == [("overall", 2, 2, 2.5, 0.5, 0.5)]
    assert figures(per[mixed["h2"]]) == [("overall", 5, 2, 8 / 3, 1 / 3, 2 / 3)]


def test_a_weighted_summary_is_one_statement_beside_the_cache_and_labels(app, mixed):
    with app.app_context():
        before = len(get_recorded_queries())
        satisfaction_summary(Dimension.CONTACT_ROLE, weight=Weight.REVENUE, locale="en")
        statements = [q.statement for q in get_recorded_queries()[before:]]
    assert len([s for s in statements if "answers" in s]) == 1, statements


def test_answers_group_by_the_respondents_role(app, mixed):
    with app.app_context():
        groups = satisfaction_summary(
            Dimension.CONTACT_ROLE, ResponseFilter(aspect="overall"), locale="en"
        )
        zh = satisfaction_summary(Dimension.CONTACT_ROLE, ResponseFilter(aspect="overall"))
        weighted = satisfaction_summary(
            Dimension.CONTACT_ROLE, ResponseFilter(aspect="overall"), weight=Weight.ACCOUNTS
        )
    # In the role's order; C's response has no contact: other.
    assert [(g.key, g.label, g.answers, g.mean) for g in groups] == [
        ("decision_maker", "Decision maker", 2, 3.0),
        ("purchaser", "Purchaser", 2, 3.0),
        ("user", "User", 1, 1.0),
        ("finance", "Finance", 1, 2.0),
        ("other", "Other", 1, 4.0),
    ]
    assert [g.label for g in zh] == ["决策者", "采购", "使用者", "财务", "其他"]
    # Weighted, each account's latest campaign: A's decision maker said 5 in H2; its
    # purchaser's 4 weighs 1/3 (three of A's people answered), B's purchaser's 2 weighs
    # 1/2: (4/3 + 1) / (1/3 + 1/2) = 2.8.
    assert [(g.key, g.accounts, pytest.approx(g.mean)) for g in weighted] == [
        ("decision_maker", 1, 5.0),
        ("purchaser", 2, 2.8),
        ("user", 1, 1.0),
        ("finance", 1, 2.0),
        ("other", 1, 4.0),
    ]


def test_drilldown_by_role_then_tier(app, mixed):
    with app.app_context():
        nodes = dissatisfaction_drilldown(
            [Dimension.CONTACT_ROLE, Dimension.TIER], ResponseFilter(aspect="overall"), locale="en"
        )
    assert [
        (n.key, n.answers, n.dissatisfied, [(c.key, c.answers, c.dissatisfied) for c in n.children])
        for n in nodes
    ] == [
        # Every role with a complaint (C's 4 makes no "other" node), ties by key.
        ("decision_maker", 2, 1, [("A", 2, 1)]),
        ("finance", 1, 1, [("A", 1, 1)]),
        ("purchaser", 2, 1, [("A", 2, 1)]),
        ("user", 1, 1, [("A", 1, 1)]),
    ]


def test_defections_and_coverage_have_no_respondent(app):
    with app.app_context():
        with pytest.raises(InvalidInputError) as caught:
            defection_reasons(Dimension.CONTACT_ROLE, DefectionFilter())
        assert caught.value.field == "groupBy"
        with pytest.raises(InvalidInputError):
            coverage(Dimension.CONTACT_ROLE)


def test_graphql_groups_by_contact_role_and_weighs_accounts(app, client, mixed):
    with app.app_context():
        tokens = make_tokens()
    body = gql(
        client,
        """{ satisfactionSummary(groupBy: CONTACT_ROLE, filter: {aspect: "overall"}) {
               key label answers } }""",
        token=tokens["viewer"],
        lang="en",
    )
    assert "errors" not in body, body
    assert body["data"]["satisfactionSummary"][0] == {
        "key": "decision_maker",
        "label": "Decision maker",
        "answers": 2,
    }
    body = gql(
        client,
        """{ satisfactionSummary(groupBy: ASPECT, weight: ACCOUNTS, filter: {aspect: "overall"})
               { key accounts mean satisfiedShare } }""",
        token=tokens["viewer"],
    )
    [row] = body["data"]["satisfactionSummary"]
    assert row["accounts"] == 3
    assert row["mean"] == pytest.approx(28 / 9) and row["satisfiedShare"] == pytest.approx(5 / 9)


def test_the_responses_export_names_each_respondents_role(app, client, mixed):
    from .test_manage import add_member, read_csv, sign_in

    with app.app_context():
        export = campaign_responses(mixed["h2"])
        assert [(r.account.external_id, r.contact_role) for r in export.responses] == [
            ("KA-A", "decision_maker"),
            ("KA-A", "purchaser"),
            ("KA-A", "user"),
            ("KA-B", "purchaser"),
            ("KA-B", "finance"),
        ]
        assert [r.contact_role for r in campaign_responses(mixed["h1"]).responses] == [
            "decision_maker",
            "other",  # C answered before contacts existed
        ]
    sign_in(client, add_member(app, "Zhang", "manager"))
    rows = read_csv(client.get(f"/manage/campaigns/{mixed['h2']}/responses.csv?lang=zh"))
    position = rows[0].index("答卷人角色")
    assert [r[position] for r in rows[1:]] == ["决策者", "采购", "使用者", "采购", "财务"]


def test_a_contacts_new_role_changes_the_data_version_and_opting_out_does_not(app, mixed):
    """Figures grouped by CONTACT_ROLE read contacts: a role change must renew cached
    figures; a contact opting out changes no figure."""
    with app.app_context():
        person = db.session.scalars(select(Contact).where(Contact.name == "a3")).one()
        before = current_token(db.session)
        person.opted_out_at = TEST_NOW
        db.session.commit()
        assert current_token(db.session) == before
        person.role = "technical"
        db.session.commit()
        assert current_token(db.session) != before
        groups = satisfaction_summary(
            Dimension.CONTACT_ROLE, ResponseFilter(aspect="overall"), locale="en"
        )
        assert "technical" in [g.key for g in groups] and "user" not in [g.key for g in groups]
