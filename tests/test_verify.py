"""Auditable samples: the sampling record, `flask campaign verify`, and planning a
sample for a target margin of error."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from survey.campaigns import CampaignRequest, launch_campaign, plan_campaign
from survey.campaigns.planning import past_response_rate
from survey.campaigns.sample_audit import frame_digest, sampling_records, verify_campaign
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import (
    CAMPAIGN_CLOSED,
    AuditEntry,
    CampaignFrameMember,
    Invitation,
    KeyAccount,
)
from survey.statistics import required_responses

from .conftest import TEST_SECRET
from .factories import make_account, make_campaign, make_response

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def registry(app, count: int = 30) -> None:
    """`count` accounts, tiers A, B, C in turn."""
    with app.app_context():
        for i in range(count):
            make_account(f"KA{i:03d}", tier="ABC"[i % 3])
        db.session.commit()


def launch(app, **fields) -> int:
    with app.app_context():
        request = CampaignRequest(name=fields.pop("name", "Q4"), seed=11, **fields)
        result = launch_campaign(request, secret_key=TEST_SECRET, now=NOW)
        assert result.campaign_id is not None
        return result.campaign_id


def test_frame_digest_is_of_the_sorted_ids():
    # Sorted as numbers, one per line: anyone can recompute it with sha256sum.
    assert frame_digest([10, 2, 1]) == hashlib.sha256(b"1\n2\n10").hexdigest()


def test_launch_records_the_sampling_and_the_digest(app):
    registry(app)
    campaign_id = launch(app, size=9, stratify_by="tier")
    with app.app_context():
        record = sampling_records([campaign_id])[campaign_id]
        ids = db.session.scalars(select(KeyAccount.id)).all()
        details = json.loads(db.session.scalar(select(AuditEntry.details)))
    assert (record.method, record.stratify_by, record.seed) == ("stratified", "tier", 11)
    assert (record.frame_size, record.sample_size) == (30, 9)
    assert [(a.key, a.frame, a.size) for a in record.allocation] == [
        ("A", 10, 3),
        ("B", 10, 3),
        ("C", 10, 3),
    ]
    assert record.frame_digest == frame_digest(ids) == details["frame_digest"]


@pytest.mark.parametrize("stratify_by", [None, "tier"])
def test_verify_passes_on_a_fresh_campaign_and_fails_after_an_edit(app, runner, stratify_by):
    registry(app)
    campaign_id = launch(app, size=7, stratify_by=stratify_by)
    # A later edit of the registry does not change the recorded history.
    with app.app_context():
        db.session.execute(update(KeyAccount).values(tier="C"))
        db.session.commit()
    result = runner.invoke(args=["campaign", "verify", str(campaign_id)])
    assert result.exit_code == 0, result.output
    assert "reproduces the invited accounts exactly" in result.output
    assert "recorded frame of 30 accounts, sample of 7" in result.output

    with app.app_context():
        invited = set(
            db.session.scalars(
                select(Invitation.account_id).where(Invitation.campaign_id == campaign_id)
            )
        )
        outsider = db.session.scalars(
            select(KeyAccount).where(KeyAccount.id.not_in(invited)).order_by(KeyAccount.id)
        ).first()
        victim = db.session.scalars(
            select(Invitation).where(Invitation.campaign_id == campaign_id).order_by(Invitation.id)
        ).first()
        victim_external = db.session.get(KeyAccount, victim.account_id).external_id
        outsider_external = outsider.external_id
        # Someone swaps one invited account for another in the invitation table.
        db.session.execute(
            update(Invitation).where(Invitation.id == victim.id).values(account_id=outsider.id)
        )
        db.session.commit()
    result = runner.invoke(args=["campaign", "verify", str(campaign_id)])
    assert result.exit_code == 1
    assert f"Drawn but not invited (1): {victim_external}" in result.output
    assert f"Invited but not drawn (1): {outsider_external}" in result.output


@pytest.mark.parametrize("stratify_by", [None, "tier"])
def test_verify_passes_after_an_account_is_renamed(app, runner, stratify_by):
    registry(app)
    campaign_id = launch(app, size=7, stratify_by=stratify_by)
    with app.app_context():
        first_invited = db.session.scalar(
            select(Invitation.account_id)
            .where(Invitation.campaign_id == campaign_id)
            .order_by(Invitation.account_id)
            .limit(1)
        )
        # The new id sorts last: a draw over the current ids would pick others.
        db.session.execute(
            update(KeyAccount).where(KeyAccount.id == first_invited).values(external_id="ZZ999")
        )
        db.session.commit()
        recorded = db.session.scalar(
            select(CampaignFrameMember.external_id).where(
                CampaignFrameMember.campaign_id == campaign_id,
                CampaignFrameMember.account_id == first_invited,
            )
        )
        assert recorded is not None and recorded.startswith("KA")
        assert verify_campaign(campaign_id).reproduced
    result = runner.invoke(args=["campaign", "verify", str(campaign_id)])
    assert result.exit_code == 0, result.output
    assert "reproduces the invited accounts exactly" in result.output


def test_verify_notices_a_changed_frame(app, runner):
    registry(app, 12)
    campaign_id = launch(app, size=12)  # a census: every frame member is invited
    with app.app_context():
        db.session.execute(
            delete(CampaignFrameMember).where(
                CampaignFrameMember.account_id
                == db.session.scalar(select(KeyAccount.id).where(KeyAccount.external_id == "KA000"))
            )
        )
        db.session.commit()
        result = verify_campaign(campaign_id)
    assert not result.digest_matches and not result.reproduced
    assert result.unexpected == ["KA000"]
    output = runner.invoke(args=["campaign", "verify", str(campaign_id)])
    assert output.exit_code == 1 and "The recorded frame changed since launch" in output.output


def test_verify_an_unknown_campaign(runner, app):
    result = runner.invoke(args=["campaign", "verify", "99"])
    assert result.exit_code == 1
    assert "There is no campaign with ID 99." in result.output


def test_target_margin_chooses_the_smallest_sample(app):
    registry(app, 200)
    with app.app_context():
        plan = plan_campaign(
            CampaignRequest(name="T", target_margin=0.1, expected_response_rate=0.5, seed=1),
            now=NOW,
        )
        # 66 responses reach ±10 points in a frame of 200; at 50% that is 132 invitations.
        assert plan.sample_size == 132
        assert plan.expected_response_rate == 0.5
        # 1.959964 · sqrt(0.25 / 66) · sqrt(134 / 199) = 0.098986
        assert plan.expected_margin == pytest.approx(0.098986, abs=1e-6)
        assert plan.expected_margin <= 0.1
        capped = plan_campaign(
            CampaignRequest(name="T", target_margin=0.02, expected_response_rate=0.3, seed=1),
            now=NOW,
        )
        assert capped.sample_size == 200  # capped by the frame
        with pytest.raises(InvalidInputError) as error:
            plan_campaign(CampaignRequest(name="T", target_margin=1.5), now=NOW)
        assert error.value.field == "target_margin"
        with pytest.raises(InvalidInputError) as error:
            plan_campaign(CampaignRequest(name="T", size=5, target_margin=0.05), now=NOW)
        assert error.value.field == "size"
        with pytest.raises(InvalidInputError) as error:
            plan_campaign(CampaignRequest(name="T", size=5, expected_response_rate=0), now=NOW)
        assert error.value.field == "expected_response_rate"


def test_default_response_rate_is_the_mean_of_closed_campaigns(app):
    with app.app_context():
        accounts = [make_account(f"KA{i}") for i in range(4)]
        first, _ = make_campaign("one", accounts=accounts, status=CAMPAIGN_CLOSED)
        second, _ = make_campaign("two", accounts=accounts[:2], status=CAMPAIGN_CLOSED)
        make_campaign("open", accounts=accounts)  # still running: not counted
        make_response(first, accounts[0], {"overall": 4})  # 1 of 4
        make_response(second, accounts[0], {"overall": 4})  # 1 of 2
        db.session.commit()
        assert past_response_rate() == pytest.approx((0.25 + 0.5) / 2)


def test_cli_dry_run_with_a_target_margin(app, runner):
    registry(app, 200)
    result = runner.invoke(
        args=[
            "campaign",
            "launch",
            "--name",
            "T",
            "--target-margin",
            "0.1",
            "--expected-response-rate",
            "0.5",
            "--seed",
            "1",
            "--dry-run",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "\ntotal        200      132       132\n" in result.output
    assert "at a 50% response rate: ±9.9 points" in result.output
    bad = runner.invoke(
        args=["campaign", "launch", "--name", "T", "--target-margin", "2", "--dry-run"]
    )
    assert bad.exit_code == 1 and "--target-margin:" in bad.output


def test_sampling_records_in_a_fixed_number_of_queries(app):
    registry(app)
    ids = [launch(app, name=f"C{i}", size=3, exclude_days=0) for i in range(3)]
    from flask_sqlalchemy.record_queries import get_recorded_queries

    with app.app_context():
        before = len(get_recorded_queries())
        records = sampling_records(ids)
        assert len(get_recorded_queries()) - before == 3
    assert sorted(records) == sorted(ids)
    assert all(r.frame_size == 30 for r in records.values())


def test_graphql_sampling_record_and_target_margin_dry_run(app, client):
    from .graphql_helpers import gql, make_tokens

    registry(app)
    campaign_id = launch(app, size=9, stratify_by="tier")
    with app.app_context():
        tokens = make_tokens()
        db.session.commit()
        digest = sampling_records([campaign_id])[campaign_id].frame_digest
    body = gql(
        client,
        "query($id: ID!) { campaign(id: $id) { sampling { method stratifyBy seed frameSize "
        "sampleSize frameDigest allocation { key label frame size } } } }",
        {"id": str(campaign_id)},
        token=tokens["viewer"],
        lang="en",
    )
    assert body["data"]["campaign"]["sampling"] == {
        "method": "stratified",
        "stratifyBy": "tier",
        "seed": 11,
        "frameSize": 30,
        "sampleSize": 9,
        "frameDigest": digest,
        "allocation": [
            {"key": "A", "label": "Tier A", "frame": 10, "size": 3},
            {"key": "B", "label": "Tier B", "frame": 10, "size": 3},
            {"key": "C", "label": "Tier C", "frame": 10, "size": 3},
        ],
    }
    dry = gql(
        client,
        'mutation { launchCampaign(input: {name: "T", targetMarginOfError: 0.2, '
        "expectedResponseRate: 0.5, excludeSurveyedWithinDays: 0, dryRun: true}) "
        "{ sampled expectedResponseRate expectedMarginOfError campaign { id } } }",
        token=tokens["manager"],
    )
    # ±20 points in a frame of 30: n0 = 24.01 -> 24.01 / (1 + 23.01/30) = 13.6 -> 14
    # responses, then the margin settles it; at 50% twice as many invitations, capped.
    result = dry["data"]["launchCampaign"]
    assert result["campaign"] is None and result["expectedResponseRate"] == 0.5
    assert result["expectedMarginOfError"] <= 0.2
    assert result["sampled"] == 2 * required_responses(0.2, 30)
    bad = gql(
        client,
        'mutation { launchCampaign(input: {name: "T", sampleSize: 3, '
        "targetMarginOfError: 0.2, dryRun: true}) { sampled } }",
        token=tokens["manager"],
    )
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
