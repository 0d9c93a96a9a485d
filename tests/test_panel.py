"""The panel design of a campaign: census tiers, the coverage goal, open cases, and
each invitation's inclusion probability and selection."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from survey.campaigns import CampaignRequest, launch_campaign, plan_campaign, verify_campaign
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    AuditEntry,
    Campaign,
    FollowUp,
    Invitation,
    KeyAccount,
)

from .conftest import TEST_NOW, TEST_SECRET
from .factories import make_account, make_campaign, make_response
from .graphql_helpers import codes, gql, make_tokens
from .test_manage import add_member, launch_data, post_form, sign_in, text

LONG_AGO = TEST_NOW - timedelta(days=1000)


def test_request_validates_census_tiers_and_coverage_goal(app):
    with app.app_context():
        make_account("KA001")
        db.session.commit()
        with pytest.raises(InvalidInputError) as bad_tier:
            plan_campaign(CampaignRequest(name="Q", size=1, census_tiers=("A", "Z")))
        assert bad_tier.value.field == "census_tiers"
        assert "'Z'" in bad_tier.value.message
        for days in (0, 3651):
            with pytest.raises(InvalidInputError) as bad_days:
                plan_campaign(CampaignRequest(name="Q", size=1, cover_within_days=days))
            assert bad_days.value.field == "cover_within_days"
        plan = plan_campaign(
            CampaignRequest(name="Q", size=1, census_tiers=("a",), cover_within_days=3650)
        )
        assert plan.census_tiers == ("A",)


def tiered(a: int = 3, b: int = 6, c: int = 9) -> None:
    """KA01... in tiers A, B, C, all in the registry since long ago."""
    number = 0
    for tier, count in (("A", a), ("B", b), ("C", c)):
        for _ in range(count):
            number += 1
            make_account(f"KA{number:02d}", tier=tier, created_at=LONG_AGO)
    db.session.commit()


def invitations(campaign_id: int) -> dict[str, tuple[str, str | None, float]]:
    rows = db.session.execute(
        select(
            KeyAccount.external_id,
            Invitation.selection,
            Invitation.stratum,
            Invitation.inclusion_probability,
        )
        .join(KeyAccount, KeyAccount.id == Invitation.account_id)
        .where(Invitation.campaign_id == campaign_id)
    ).all()
    return {external: (selection, stratum, pi) for external, selection, stratum, pi in rows}


def launch(**fields) -> int:
    request = CampaignRequest(
        name=fields.pop("name", "Panel"), seed=fields.pop("seed", 5), **fields
    )
    result = launch_campaign(request, secret_key=TEST_SECRET, now=TEST_NOW)
    assert result.campaign_id is not None
    return result.campaign_id


def test_census_tier_is_complete_with_pi_one_and_the_rest_drawn_at_n_over_N(app):
    with app.app_context():
        tiered()
        campaign_id = launch(size=3, stratify_by="tier", census_tiers=("A",))
        invited = invitations(campaign_id)
        census = {e for e, (how, _, _) in invited.items() if how == "census"}
        assert census == {"KA01", "KA02", "KA03"}  # every A account
        assert all(invited[e][2] == 1.0 for e in census)
        # The random 3 come from B (6) and C (9): 1.2 and 1.8 -> B 1, C 2.
        randoms = {e: v for e, v in invited.items() if v[0] == "random"}
        by_tier = {t: [e for e, v in randoms.items() if v[1] == t] for t in "BC"}
        assert (len(by_tier["B"]), len(by_tier["C"])) == (1, 2)
        # Exactly n_h / N_h (the stored doubles are those of the fractions).
        assert [randoms[e][2] for e in by_tier["B"]] == [1 / 6]
        assert [randoms[e][2] for e in by_tier["C"]] == [2 / 9, 2 / 9]
        campaign = db.session.get(Campaign, campaign_id)
        assert (campaign.census_tiers, campaign.sample_size, campaign.frame_size) == ("A", 6, 18)
        assert campaign.include_open_cases is False
        details = json.loads(
            db.session.scalar(
                select(AuditEntry.details).where(AuditEntry.action == "campaign.launch")
            )
        )
        assert (details["census_tiers"], details["census"], details["random"]) == (["A"], 3, 3)
        assert details["include_open_cases"] is False
        assert verify_campaign(campaign_id).reproduced


def test_same_seed_draws_the_same_random_part_as_without_the_census(app):
    """The random part is drawn from the rest of the frame exactly as a sample of that
    frame would be: a census of tier A leaves B and C's draw as a plain draw of B, C."""
    with app.app_context():
        tiered(a=0)
        plain = plan_campaign(CampaignRequest(name="P", size=4, stratify_by="tier", seed=9))
        for n in range(3):
            make_account(f"KZ{n}", tier="A", created_at=LONG_AGO)
        db.session.commit()
        with_census = plan_campaign(
            CampaignRequest(name="P", size=4, stratify_by="tier", seed=9, census_tiers=("A",))
        )
        census = {a for a, how in with_census.selection.items() if how == "census"}
        assert len(census) == 3
        assert [a for a in with_census.sample if a not in census] == plain.sample


def test_coverage_goal_takes_accounts_unheard_too_long(app):
    with app.app_context():
        never = make_account("KA01", tier="B", created_at=TEST_NOW - timedelta(days=400))
        recent = make_account("KA02", tier="B", created_at=TEST_NOW - timedelta(days=900))
        old = make_account("KA03", tier="B", created_at=TEST_NOW - timedelta(days=900))
        make_account("KA04", tier="B", created_at=TEST_NOW - timedelta(days=20))  # new
        make_account("KA05", tier="C", created_at=TEST_NOW - timedelta(days=100))
        make_campaign("Earlier", accounts=[recent])
        make_campaign("Long ago", accounts=[old])
        db.session.execute(
            update(Invitation)
            .where(Invitation.account_id == recent.id)
            .values(created_at=TEST_NOW - timedelta(days=30))
        )
        db.session.execute(
            update(Invitation)
            .where(Invitation.account_id == old.id)
            .values(created_at=TEST_NOW - timedelta(days=400))
        )
        db.session.commit()
        request = CampaignRequest(
            name="Cover", size=1, exclude_days=0, cover_within_days=365, seed=3
        )
        plan = plan_campaign(request, now=TEST_NOW)
        assert plan.selection == {never.id: "coverage", old.id: "coverage"}
        assert recent.id not in plan.selection
        assert (plan.coverage_count, plan.random_count, plan.sample_size) == (2, 1, 3)
        # The goal counts to the closing date: 14 days from now.
        assert plan.coverage_before == TEST_NOW + timedelta(days=14) - timedelta(days=365)
        campaign_id = launch(name="Cover", size=1, exclude_days=0, cover_within_days=365, seed=3)
        invited = invitations(campaign_id)
        assert invited["KA01"] == ("coverage", None, 1.0)
        assert invited["KA03"] == ("coverage", None, 1.0)
        [(random_id, (_, _, pi))] = [(e, v) for e, v in invited.items() if v[0] == "random"]
        assert random_id in {"KA02", "KA04", "KA05"} and pi == 1 / 3
        result = verify_campaign(campaign_id)
        assert (result.reproduced, result.coverage, result.census) == (True, 2, 0)


def open_case(account: KeyAccount, status: str) -> None:
    """A follow-up case of `status` on the account, from a response long ago (its
    invitation is moved back so the account is not recently surveyed)."""
    campaign, _ = make_campaign(f"Case {account.external_id}", accounts=[account])
    response = make_response(campaign, account, {"overall": 1})
    db.session.execute(
        update(Invitation)
        .where(Invitation.account_id == account.id)
        .values(created_at=TEST_NOW - timedelta(days=200))
    )
    db.session.add(
        FollowUp(
            account_id=account.id,
            response_id=response.id,
            owner="王伟",
            status=status,
            due_at=TEST_NOW - timedelta(days=190),
        )
    )


def test_open_cases_are_left_out_unless_included(app):
    with app.app_context():
        make_account("KA01")
        open_case(make_account("KA02"), FOLLOW_UP_OPEN)
        open_case(make_account("KA03"), FOLLOW_UP_ESCALATED)
        open_case(make_account("KA04"), FOLLOW_UP_RESOLVED)
        db.session.commit()
        plan = plan_campaign(CampaignRequest(name="O", size=1))
        assert plan.frame_size == 2  # KA01 and KA04 (resolved)
        assert plan.excluded["open_case"] == 2
        assert plan.open_cases == ("KA02", "KA03")
        kept = plan_campaign(CampaignRequest(name="O", size=1, include_open_cases=True))
        assert (kept.frame_size, kept.excluded["open_case"], kept.open_cases) == (4, 0, ())


def test_old_campaigns_still_verify(app):
    """A campaign launched before the panel design: its audit entry has no certainty
    digest nor coverage date, its invitations were back-filled as random."""
    with app.app_context():
        tiered()
        campaign_id = launch(size=5, stratify_by="tier")
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "campaign.launch"))
        details = json.loads(entry.details)
        for key in ("certainty_digest", "coverage_before", "census", "coverage", "random"):
            details.pop(key)
        entry.details = json.dumps(details)
        db.session.execute(update(Campaign).values(include_open_cases=True))
        db.session.commit()
        assert verify_campaign(campaign_id).reproduced


def test_verify_notices_a_changed_certainty_set(app):
    with app.app_context():
        tiered()
        campaign_id = launch(size=3, stratify_by="tier", census_tiers=("A",))
        first_random = db.session.scalar(
            select(Invitation.id).where(Invitation.selection == "random").limit(1)
        )
        db.session.execute(
            update(Invitation).where(Invitation.id == first_random).values(selection="census")
        )
        db.session.commit()
        result = verify_campaign(campaign_id)
        assert not result.certainty_matches and not result.reproduced


def test_cli_dry_run_counts_census_coverage_and_chance(app, runner):
    with app.app_context():
        tiered()
        make_account("KA19", tier="B", created_at=TEST_NOW - timedelta(days=10))  # not due
        open_case(make_account("KA20", tier="C", created_at=LONG_AGO), FOLLOW_UP_OPEN)
        db.session.commit()
    result = runner.invoke(
        args=[
            "campaign", "launch", "--name", "Dry", "--size", "3", "--stratify-by", "tier",
            "--seed", "4", "--census-tier", "A", "--cover-within-days", "365",
            "--exclude-days", "0", "--dry-run",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == (
        "Excluded: inactive 0, no_contact 0, opted_out 0, recently_surveyed 0, open_case 1 "
        "(total 1)"
    )
    assert "Left out for an open case: KA20" in lines
    # The others have been in the registry 1000 days, never invited: all are due. Only
    # KA19 is left to draw from: the random part is 1 of the 3 asked for.
    assert lines[4:8] == [
        "tier     frame   sample   census  coverage   random  contacts",
        "A            3        3        3         0        0         3",
        "B            7        7        0         6        1         7",
        "C            9        9        0         9        0         9",
    ]
    assert lines[8] == ("total       19       19        3        15        1        19")
    assert lines[9].startswith(
        "Certainty: 3 by census (tiers A), 15 by the coverage goal (365 days); "
        "by chance: 1 (asked for 3)"
    )


PANEL_LAUNCH = """
mutation($input: LaunchCampaignInput!) {
  launchCampaign(input: $input) {
    campaign { id }
    sampled census coverage random openCases
    excluded { reason count }
    allocation { key frame size census coverage random inclusionProbability }
  }
}
"""


def test_graphql_launch_with_census_and_coverage(app, client):
    with app.app_context():
        tiered()
        make_account("KA19", tier="C", created_at=TEST_NOW - timedelta(days=10))
        open_case(make_account("KA20", tier="C", created_at=LONG_AGO), FOLLOW_UP_ESCALATED)
        # B accounts were invited 30 days ago: not due under a 365-day goal.
        b_accounts = db.session.scalars(select(KeyAccount).where(KeyAccount.tier == "B")).all()
        make_campaign("Last month", accounts=list(b_accounts))
        db.session.execute(
            update(Invitation)
            .where(Invitation.account_id.in_([a.id for a in b_accounts]))
            .values(created_at=TEST_NOW - timedelta(days=30))
        )
        db.session.commit()
        token = make_tokens()["manager"]
    variables = {
        "input": {
            "name": "GQL panel",
            "sampleSize": 4,
            "stratifyBy": "TIER",
            "seed": 2,
            "excludeSurveyedWithinDays": 0,
            "censusTiers": ["a"],
            "coverWithinDays": 365,
        }
    }
    body = gql(client, PANEL_LAUNCH, variables, token=token, lang="en")
    assert "errors" not in body, body
    result = body["data"]["launchCampaign"]
    # A: census 3; C: 9 due, KA19 (new) left to draw; B: 6 drawn from; open case KA20 out.
    assert (result["census"], result["coverage"], result["random"]) == (3, 9, 4)
    assert result["sampled"] == 16 and result["openCases"] == ["KA20"]
    assert {"reason": "open_case", "count": 1} in result["excluded"]
    # 4 at random over B (6) and C (1): 3.43 and 0.57 -> B 3, C 1 (every stratum one).
    assert result["allocation"] == [
        {"key": "A", "frame": 3, "size": 3, "census": 3, "coverage": 0, "random": 0,
         "inclusionProbability": None},
        {"key": "B", "frame": 6, "size": 3, "census": 0, "coverage": 0, "random": 3,
         "inclusionProbability": 0.5},
        {"key": "C", "frame": 10, "size": 10, "census": 0, "coverage": 9, "random": 1,
         "inclusionProbability": 1.0},
    ]  # fmt: skip
    with app.app_context():
        assert verify_campaign(int(result["campaign"]["id"])).reproduced
        audit = json.loads(
            db.session.scalar(
                select(AuditEntry.details).where(AuditEntry.action == "campaign.launch")
            )
        )
        assert (audit["cover_within_days"], audit["open_cases"]) == (365, 1)


@pytest.mark.parametrize(
    ("changes", "field", "zh"),
    [
        ({"censusTiers": ["Z"]}, "censusTiers", "不是客户等级"),
        ({"coverWithinDays": 0}, "coverWithinDays", "覆盖目标须在 1 到 3650 天之间"),
    ],
)
def test_graphql_panel_input_errors_are_bilingual(app, client, changes, field, zh):
    with app.app_context():
        tiered()
        token = make_tokens()["manager"]
    variables = {"input": {"name": "Bad", "sampleSize": 1, **changes}}
    body = gql(client, PANEL_LAUNCH, variables, token=token, lang="zh")
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    assert zh in body["errors"][0]["message"]
    english = gql(client, PANEL_LAUNCH, variables, token=token, lang="en")
    assert (
        "between 1 and 3650" in english["errors"][0]["message"]
        or "not a tier" in (english["errors"][0]["message"])
    )


def test_console_preview_shows_census_coverage_chance_and_open_cases(app, client):
    with app.app_context():
        tiered()
        make_account("KA19", tier="C", created_at=TEST_NOW - timedelta(days=10))
        open_case(make_account("KA20", tier="C", created_at=LONG_AGO), FOLLOW_UP_OPEN)
        db.session.commit()
    sign_in(client, add_member(app, "Zhang", "manager"))
    data = {
        **launch_data(size="1", exclude_days="0"),
        "census_tiers": ["A"],
        "cover_within_days": "365",
        "open_cases": "out",
        "preview": "Preview sample",
    }
    response = post_form(client, "/manage/campaigns/new?lang=en", data)
    assert response.status_code == 200, text(response)
    page = text(response)
    # A: census 3; B, C: 15 due; the random 1 is KA19, the only one left.
    assert "3 by census, 15 by the coverage goal and 1 by chance (1 asked for)." in page
    assert "Tier A 3 3 3 0 0 3 Tier B 6 6 0 6 0 6 Tier C 10 10 0 9 1 10" in page
    assert "Open follow-up case 1" in page
    assert "Left out for an open follow-up case KA20" in page
    zh = text(post_form(client, "/manage/campaigns/new?lang=zh", data))
    assert "普查 3 个，因覆盖目标 15 个，随机抽中 1 个" in zh
    with app.app_context():
        assert db.session.scalar(select(Campaign.id).where(Campaign.name == data["name"])) is None
