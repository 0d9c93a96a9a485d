"""Campaigns: the sampling frame, planning, launch, links, close and listing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

import survey.campaigns.launch as campaigns_module
from survey.campaigns import (
    CampaignRequest,
    build_frame,
    campaign_links,
    close_campaign,
    get_campaign_summary,
    launch_campaign,
    list_campaigns,
    plan_campaign,
)
from survey.campaigns.links import survey_url
from survey.campaigns.questionnaires import ensure_default_questionnaire
from survey.campaigns.sampling import simple_sample, stratified_sample
from survey.db import db
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.models import (
    INVITATION_BOUNCED,
    INVITATION_EXPIRED,
    INVITATION_OPENED,
    INVITATION_PENDING,
    INVITATION_RESPONDED,
    AuditEntry,
    Campaign,
    CampaignFrameMember,
    CampaignStratum,
    Defection,
    DefectionReason,
    Invitation,
    KeyAccount,
    Questionnaire,
)
from survey.tokens import derive_token, hash_token

from .conftest import BASE_URL, TEST_SECRET
from .factories import make_account, make_campaign, make_defection, make_response

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def invite_at(account: KeyAccount, when: datetime) -> None:
    db.session.execute(
        update(Invitation).where(Invitation.account_id == account.id).values(created_at=when)
    )


def exclusion_registry() -> None:
    """Three eligible accounts (KA001, KA002, KA012) and ten left out for every reason."""
    make_account("KA001")
    make_account("KA002", contact_email=None, contact_phone="+86 138 0000 0002")
    make_account("KA003", active=False)
    lost = make_account("KA004")
    make_defection(lost, date(2026, 9, 1), ["price"])
    lost.active = True  # a defection alone is enough to leave the frame
    make_account("KA005", contact_email=None, contact_phone=None)
    make_account("KA006", contact_email="  ", contact_phone="")
    make_account("KA007", opted_out_at=NOW - timedelta(days=3))
    # Several reasons: each account counts once, under the first reason.
    make_account(
        "KA008",
        active=False,
        contact_email=None,
        opted_out_at=NOW - timedelta(days=3),
    )
    make_account("KA009", contact_email=None, opted_out_at=NOW - timedelta(days=3))
    recent, boundary, outside, opted = (
        make_account("KA010"),
        make_account("KA011"),
        make_account("KA012"),
        make_account("KA013", opted_out_at=NOW - timedelta(days=1)),
    )
    make_campaign("Earlier", accounts=[recent, boundary, outside, opted])
    invite_at(recent, NOW - timedelta(days=10))
    invite_at(boundary, NOW - timedelta(days=90))  # the window includes its first instant
    invite_at(outside, NOW - timedelta(days=90, seconds=1))
    invite_at(opted, NOW - timedelta(days=10))
    db.session.commit()


def tiered_registry(a: int = 10, b: int = 30, c: int = 60) -> None:
    """Accounts KA0001... in tiers A, B, C; every fifth one prefers English."""
    number = 0
    for tier, how_many in (("A", a), ("B", b), ("C", c)):
        for _ in range(how_many):
            number += 1
            make_account(f"KA{number:04d}", tier=tier, locale="en" if number % 5 == 0 else "zh")
    db.session.commit()


def external_ids(account_ids: list[int]) -> list[str]:
    rows = db.session.execute(
        select(KeyAccount.external_id).where(KeyAccount.id.in_(account_ids))
    ).scalars()
    return sorted(rows)


# --- the frame -------------------------------------------------------------------------


def test_frame_excludes_each_reason_once(app):
    with app.app_context():
        exclusion_registry()
        frame = build_frame(now=NOW)
        assert sorted(m.external_id for m in frame.members) == ["KA001", "KA002", "KA012"]
        assert frame.excluded == {
            "inactive": 3,  # KA003, KA004 (defected), KA008
            "no_contact": 3,  # KA005, KA006 (blank), KA009
            "opted_out": 2,  # KA007, KA013
            "recently_surveyed": 2,  # KA010, KA011 (exactly 90 days)
            "open_case": 0,
        }
        assert list(frame.excluded) == [
            "inactive",
            "no_contact",
            "opted_out",
            "recently_surveyed",
            "open_case",
        ]


def test_exclusion_window_is_configurable(app):
    with app.app_context():
        exclusion_registry()
        five_days = build_frame(exclude_days=5, now=NOW)
        assert sorted(m.external_id for m in five_days.members) == [
            "KA001",
            "KA002",
            "KA010",
            "KA011",
            "KA012",
        ]
        assert five_days.excluded["recently_surveyed"] == 0
        nobody = build_frame(exclude_days=0, now=NOW)
        assert nobody.size == 5 and nobody.excluded["recently_surveyed"] == 0


def test_frame_by_stratum_in_one_query(app):
    with app.app_context():
        make_account("KA1", region="华东")
        make_account("KA2", region="华北", locale="en")
        make_account("KA3", region="华东")
        db.session.commit()
        before = len(get_recorded_queries())
        frame = build_frame(stratify_by="region", now=NOW)
        # The members and the counts of those left out come from one pass.
        assert len(get_recorded_queries()) - before == 1
        assert frame.strata() == {"华东": ["KA1", "KA3"], "华北": ["KA2"]}
        assert {m.external_id: m.locale for m in frame.members} == {
            "KA1": "zh",
            "KA2": "en",
            "KA3": "zh",
        }
        with pytest.raises(InvalidInputError) as info:
            build_frame(stratify_by="colour")
        assert info.value.field == "stratify_by"


# --- planning and reproducibility ------------------------------------------------------


def test_stratified_plan_allocates_proportionally(app):
    with app.app_context():
        tiered_registry()
        plan = plan_campaign(
            CampaignRequest(name="Q4", size=10, stratify_by="tier", seed=11), now=NOW
        )
        assert plan.method == "stratified"
        assert plan.frame_size == 100
        assert [(a.key, a.frame, a.size) for a in plan.allocation] == [
            ("A", 10, 1),
            ("B", 30, 3),
            ("C", 60, 6),
        ]
        tiers = dict(
            db.session.execute(
                select(KeyAccount.tier, func.count())
                .where(KeyAccount.id.in_(plan.sample))
                .group_by(KeyAccount.tier)
            ).all()
        )
        assert tiers == {"A": 1, "B": 3, "C": 6}
        assert plan.sample_size == 10 == len(set(plan.sample))


def test_simple_plan_is_pinned_to_seed_and_external_ids(app):
    """The draw sorts by external id: the same seed gives the same accounts as the pure
    function, whatever the database ids are."""
    with app.app_context():
        for number in range(20, 0, -1):  # inserted in reverse: ids do not follow KA order
            make_account(f"KA{number:03d}")
        db.session.commit()
        plan = plan_campaign(CampaignRequest(name="Q4", size=4, seed=2026), now=NOW)
        assert plan.method == "simple"
        assert [(a.key, a.frame, a.size) for a in plan.allocation] == [("all", 20, 4)]
        assert external_ids(plan.sample) == ["KA004", "KA011", "KA017", "KA018"]
        assert plan.seed == 2026

        # Rebuild the registry in another order: other ids, the same accounts drawn.
        db.session.execute(delete(KeyAccount))
        for number in range(1, 21):
            make_account(f"KA{number:03d}")
        db.session.commit()
        again = plan_campaign(CampaignRequest(name="Q4", size=4, seed=2026), now=NOW)
        assert external_ids(again.sample) == ["KA004", "KA011", "KA017", "KA018"]
        other = plan_campaign(CampaignRequest(name="Q4", size=4, seed=2027), now=NOW)
        assert external_ids(other.sample) != ["KA004", "KA011", "KA017", "KA018"]


def test_fraction_and_random_seed(app):
    with app.app_context():
        tiered_registry(2, 3, 5)
        plan = plan_campaign(CampaignRequest(name="Q4", fraction=0.25), now=NOW)
        assert plan.sample_size == 3  # 2.5 rounds half up
        assert 0 <= plan.seed < 2**31
        # The recorded seed draws the same sample again.
        again = plan_campaign(CampaignRequest(name="Q4", fraction=0.25, seed=plan.seed), now=NOW)
        assert again.sample == plan.sample


# --- launch ----------------------------------------------------------------------------


def test_launch_writes_the_campaign_frame_and_invitations(app):
    with app.app_context():
        tiered_registry()
        make_account("KA9999", active=False)  # not in the frame
        db.session.commit()
        result = launch_campaign(
            CampaignRequest(
                name="  2026 Q4 满意度  ",
                size=10,
                stratify_by="tier",
                seed=11,
                created_by="王经理",
            ),
            secret_key=TEST_SECRET,
            now=NOW,
        )
        assert result.campaign_id is not None
        db.session.remove()

        campaign = db.session.get(Campaign, result.campaign_id)
        assert campaign is not None
        assert (campaign.name, campaign.kind, campaign.status) == (
            "2026 Q4 满意度",
            "satisfaction",
            "open",
        )
        assert (campaign.method, campaign.stratify_by, campaign.seed) == (
            "stratified",
            "tier",
            11,
        )
        assert (campaign.frame_size, campaign.sample_size, campaign.exclude_days) == (100, 10, 90)
        assert campaign.opens_at == NOW and campaign.created_at == NOW
        assert campaign.closes_at == NOW + timedelta(days=14)
        assert campaign.created_by == "王经理"
        assert campaign.questionnaire_id == ensure_default_questionnaire().id

        strata = db.session.execute(
            select(CampaignStratum.key, CampaignStratum.frame, CampaignStratum.size)
            .where(CampaignStratum.campaign_id == campaign.id)
            .order_by(CampaignStratum.key)
        ).all()
        assert [tuple(s) for s in strata] == [("A", 10, 1), ("B", 30, 3), ("C", 60, 6)]

        members = dict(
            db.session.execute(
                select(CampaignFrameMember.stratum, func.count())
                .where(CampaignFrameMember.campaign_id == campaign.id)
                .group_by(CampaignFrameMember.stratum)
            ).all()
        )
        assert members == {"A": 10, "B": 30, "C": 60}

        invitations = db.session.execute(
            select(Invitation, KeyAccount)
            .join(KeyAccount, KeyAccount.id == Invitation.account_id)
            .where(Invitation.campaign_id == campaign.id)
        ).all()
        assert sorted(a.id for _, a in invitations) == sorted(result.plan.sample)
        for invitation, account in invitations:
            assert invitation.status == INVITATION_PENDING
            assert invitation.stratum == account.tier
            assert invitation.locale == account.locale
            assert invitation.created_at == NOW
            token = derive_token(TEST_SECRET, invitation.token_nonce)
            assert invitation.token_hash == hash_token(token)
            assert token not in (invitation.token_hash, invitation.token_nonce)
        assert {i.locale for i, _ in invitations} <= {"zh", "en"}

        audit = db.session.scalars(select(AuditEntry)).one()
        assert (audit.action, audit.actor, audit.target_id) == (
            "campaign.launch",
            "王经理",
            str(campaign.id),
        )
        assert json.loads(audit.details or "{}")["seed"] == 11


def test_launch_is_reproducible_from_the_stored_frame(app):
    """Anyone with the stored frame and seed can re-draw exactly the invitations."""
    with app.app_context():
        tiered_registry()
        result = launch_campaign(
            CampaignRequest(name="Q4", size=12, stratify_by="tier"),
            secret_key=TEST_SECRET,
            now=NOW,
        )
        campaign = db.session.get(Campaign, result.campaign_id)
        assert campaign is not None and campaign.seed == result.plan.seed
        frame: dict[str, list[str]] = {}
        for stratum, external_id in db.session.execute(
            select(CampaignFrameMember.stratum, KeyAccount.external_id)
            .join(KeyAccount, KeyAccount.id == CampaignFrameMember.account_id)
            .where(CampaignFrameMember.campaign_id == campaign.id)
        ):
            frame.setdefault(stratum, []).append(external_id)
        _, redrawn = stratified_sample(frame, campaign.sample_size, campaign.seed)
        invited = db.session.execute(
            select(KeyAccount.external_id)
            .join(Invitation, Invitation.account_id == KeyAccount.id)
            .where(Invitation.campaign_id == campaign.id)
            .order_by(KeyAccount.external_id)
        ).scalars()
        assert list(invited) == redrawn


def test_simple_launch_records_one_stratum_and_no_stratum_per_invitation(app):
    with app.app_context():
        tiered_registry(2, 3, 5)
        result = launch_campaign(
            CampaignRequest(name="Q4", size=3, seed=5), secret_key=TEST_SECRET, now=NOW
        )
        strata = db.session.execute(select(CampaignStratum.key, CampaignStratum.size)).all()
        assert [tuple(s) for s in strata] == [("all", 3)]
        stored = db.session.execute(select(Invitation.stratum)).scalars().all()
        assert stored == [None, None, None]
        assert count(CampaignFrameMember) == 10
        ids = db.session.execute(select(KeyAccount.external_id)).scalars().all()
        assert external_ids(result.plan.sample) == simple_sample(ids, 3, 5)


def test_dry_run_writes_nothing(app):
    with app.app_context():
        tiered_registry(2, 3, 5)
        request = CampaignRequest(name="Q4", size=5, stratify_by="tier", seed=3)
        dry = launch_campaign(request, secret_key=TEST_SECRET, dry_run=True, now=NOW)
        assert dry.campaign_id is None
        db.session.rollback()
        for model in (
            Campaign,
            CampaignStratum,
            CampaignFrameMember,
            Invitation,
            Questionnaire,
            AuditEntry,
        ):
            assert count(model) == 0, model
        real = launch_campaign(request, secret_key=TEST_SECRET, now=NOW)
        assert real.plan == dry.plan


def test_launch_statements_do_not_grow_with_the_frame(app):
    """Bulk inserts: the same number of statements for 6 accounts as for 60."""
    with app.app_context():
        tiered_registry(2, 2, 2)
        before = len(get_recorded_queries())
        launch_campaign(CampaignRequest(name="small", size=3), secret_key=TEST_SECRET, now=NOW)
        small = len(get_recorded_queries()) - before
        db.session.execute(delete(Invitation))
        db.session.execute(delete(CampaignFrameMember))
        db.session.execute(delete(CampaignStratum))
        db.session.execute(delete(AuditEntry))
        db.session.execute(delete(Campaign))
        for number in range(100, 154):
            make_account(f"KA{number:04d}")
        db.session.commit()
        before = len(get_recorded_queries())
        launch_campaign(CampaignRequest(name="large", size=30), secret_key=TEST_SECRET, now=NOW)
        large = len(get_recorded_queries()) - before
        assert count(CampaignFrameMember) == 60 and count(Invitation) == 30
        # The first launch also created the default questionnaire (and gave the
        # questionnaire version a new token); the sampled accounts' contacts are one
        # query per 1,000 accounts; one reads the webhook subscriptions.
        assert large < small < 27


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "needs a name"),
        ({"name": "   "}, "name", "needs a name"),
        ({"name": "x" * 201}, "name", "201 characters"),
        ({"size": 2, "fraction": 0.5}, "size", "not both or neither"),
        ({"size": None}, "size", "not both or neither"),
        ({"size": 0}, "size", "at least 1"),
        ({"size": None, "fraction": 0.0}, "fraction", "greater than 0"),
        ({"size": None, "fraction": 1.5}, "fraction", "at most 1"),
        ({"size": None, "fraction": float("nan")}, "fraction", "at most 1"),
        ({"stratify_by": "colour"}, "stratify_by", "tier, value_type"),
        ({"exclude_days": -1}, "exclude_days", "between 0 and"),
        ({"seed": -5}, "seed", "seed"),
        ({"closes_at": NOW - timedelta(minutes=1)}, "closes_at", "in the future"),
        ({"closes_at": NOW}, "closes_at", "in the future"),
        ({"closes_at": datetime(2026, 12, 31, 18, 0)}, "closes_at", "time zone"),
        ({"closes_in_days": 0}, "closes_in_days", "between 1 and"),
        ({"kind": "quarterly"}, "kind", "Unknown campaign kind"),
        ({"created_by": "x" * 121}, "created_by", "longer than 120"),
        ({"size": 4}, "size", "only 3 accounts are eligible"),
    ],
)
def test_invalid_requests_name_the_field(app, changes, field, message):
    with app.app_context():
        for number in range(3):
            make_account(f"KA{number}")
        db.session.commit()
        values = {"name": "Q4", "size": 1, **changes}
        with pytest.raises(InvalidInputError) as info:
            launch_campaign(CampaignRequest(**values), secret_key=TEST_SECRET, now=NOW)
        assert info.value.field == field
        assert message in info.value.message
        assert count(Campaign) == 0


def test_empty_frame_says_why(app):
    with app.app_context():
        make_account("KA1", active=False)
        make_account("KA2", contact_email=None)
        db.session.commit()
        with pytest.raises(InvalidInputError, match="frame is empty") as info:
            plan_campaign(CampaignRequest(name="Q4", size=1), now=NOW)
        assert "1 inactive, 1 no contact, 0 opted out, 0 recently surveyed" in str(info.value)


def test_closes_at_in_any_time_zone(app):
    with app.app_context():
        make_account("KA1")
        db.session.commit()
        shanghai = datetime(2026, 11, 30, 18, 0, tzinfo=timezone(timedelta(hours=8)))
        result = launch_campaign(
            CampaignRequest(name="Q4", size=1, closes_at=shanghai),
            secret_key=TEST_SECRET,
            now=NOW,
        )
        campaign = db.session.get(Campaign, result.campaign_id)
        assert campaign is not None and campaign.closes_at == shanghai
        assert campaign.closes_at.hour == 10  # stored and returned in UTC


def test_duplicate_name_is_a_conflict(app):
    with app.app_context():
        for number in range(4):
            make_account(f"KA{number}")
        db.session.commit()
        launch_campaign(CampaignRequest(name="Q4", size=1), secret_key=TEST_SECRET, now=NOW)
        with pytest.raises(ConflictError, match="already exists") as info:
            launch_campaign(CampaignRequest(name=" Q4 ", size=1), secret_key=TEST_SECRET, now=NOW)
        assert info.value.field == "name"
        with pytest.raises(ConflictError):
            plan_campaign(CampaignRequest(name="Q4", size=1), now=NOW)
        assert count(Campaign) == 1


def test_concurrent_launch_with_the_same_name_is_a_conflict(app, monkeypatch):
    """Another launch commits the name between our check and our insert: the unique
    constraint wins, we roll back and report a conflict, and nothing of ours is left."""
    # The safety net under the launch lock: a writer that does not take the lock
    # (here, in this very thread) must still not slip anything past the constraints.
    monkeypatch.setattr(campaigns_module, "_serialise_launches", lambda: None)
    with app.app_context():
        for number in range(4):
            make_account(f"KA{number}")
        questionnaire_id = ensure_default_questionnaire().id
        db.session.commit()
        real = campaigns_module.ensure_default_questionnaire

        def rival_launches_first():
            with db.engine.begin() as connection:
                connection.execute(
                    Campaign.__table__.insert().values(
                        name="Q4",
                        kind="satisfaction",
                        status="open",
                        questionnaire_id=questionnaire_id,
                        opens_at=NOW,
                        closes_at=NOW + timedelta(days=1),
                        created_at=NOW,
                        method="simple",
                        seed=1,
                        frame_size=4,
                        sample_size=1,
                        exclude_days=90,
                    )
                )
            return real()

        monkeypatch.setattr(campaigns_module, "ensure_default_questionnaire", rival_launches_first)
        with pytest.raises(ConflictError, match="at the same time") as info:
            launch_campaign(CampaignRequest(name="Q4", size=2), secret_key=TEST_SECRET, now=NOW)
        assert info.value.field == "name"
        assert count(Campaign) == 1
        assert count(Invitation) == 0 and count(CampaignFrameMember) == 0


# --- links -----------------------------------------------------------------------------


def test_links_resolve_to_their_invitations(app):
    with app.app_context():
        make_account("KA2", name="上海华联", contact_name="李娜", locale="zh")
        make_account(
            "KA1",
            name="Acme Ltd",
            contact_name="Ann Lee",
            contact_email=None,
            contact_phone="+44 20 7946 0000",
            locale="en",
        )
        db.session.commit()
        result = launch_campaign(
            CampaignRequest(name="Q4", size=2), secret_key=TEST_SECRET, now=NOW
        )
        assert result.campaign_id is not None
        before = len(get_recorded_queries())
        links = campaign_links(result.campaign_id, secret_key=TEST_SECRET, base_url=BASE_URL)
        assert len(get_recorded_queries()) - before == 1
        assert [
            (link.external_id, link.account_name, link.contact_name, link.locale, link.status)
            for link in links
        ] == [
            ("KA1", "Acme Ltd", "Ann Lee", "en", "pending"),
            ("KA2", "上海华联", "李娜", "zh", "pending"),
        ]
        assert (links[0].contact_email, links[0].contact_phone) == (None, "+44 20 7946 0000")
        assert (links[1].contact_email, links[1].contact_phone) == ("ka2@example.com", None)
        for link in links:
            prefix = f"{BASE_URL}/s/"
            assert link.url.startswith(prefix)
            token = link.url.removeprefix(prefix)
            invitation = db.session.scalars(
                select(Invitation).where(Invitation.token_hash == hash_token(token))
            ).one()
            account = db.session.get(KeyAccount, invitation.account_id)
            assert account is not None and account.external_id == link.external_id
        # Another key prints other links that open nothing.
        other = campaign_links(result.campaign_id, secret_key="another-key", base_url=BASE_URL)
        assert {o.url for o in other}.isdisjoint({link.url for link in links})


def test_links_of_a_missing_or_empty_campaign(app):
    with app.app_context():
        with pytest.raises(NotFoundError, match="no campaign with ID 42"):
            campaign_links(42, secret_key=TEST_SECRET, base_url=BASE_URL)
        campaign, _ = make_campaign("Empty", accounts=[])
        db.session.commit()
        assert campaign_links(campaign.id, secret_key=TEST_SECRET, base_url=BASE_URL) == []


def test_survey_url():
    assert survey_url("https://kp.example.com/", "abc") == "https://kp.example.com/s/abc"
    assert survey_url("http://127.0.0.1:5000", "abc") == "http://127.0.0.1:5000/s/abc"


# --- close and list --------------------------------------------------------------------


def test_close_expires_unanswered_invitations(app):
    with app.app_context():
        accounts = [make_account(f"KA{n}") for n in range(5)]
        campaign, _ = make_campaign("Q4", accounts=accounts)
        make_response(campaign, accounts[0], {"overall": 5})
        statuses = [INVITATION_PENDING, INVITATION_OPENED, INVITATION_BOUNCED]
        for account, status in zip(accounts[2:], statuses, strict=True):
            db.session.execute(
                update(Invitation).where(Invitation.account_id == account.id).values(status=status)
            )
        db.session.commit()
        campaign_id = campaign.id

        closed = close_campaign(campaign_id, now=NOW, actor="王经理")
        assert (closed.status, closed.closed_at) == ("closed", NOW)
        by_account = dict(
            db.session.execute(select(Invitation.account_id, Invitation.status)).all()
        )
        assert [by_account[a.id] for a in accounts] == [
            INVITATION_RESPONDED,
            INVITATION_EXPIRED,  # was sent
            INVITATION_EXPIRED,  # was pending
            INVITATION_EXPIRED,  # was opened
            INVITATION_BOUNCED,
        ]
        audit = db.session.scalars(select(AuditEntry)).one()
        assert (audit.action, audit.actor) == ("campaign.close", "王经理")
        assert json.loads(audit.details or "{}") == {"expired": 3}

        # Closing again changes nothing.
        again = close_campaign(campaign_id, now=NOW + timedelta(days=1))
        assert (again.status, again.closed_at) == ("closed", NOW)
        assert count(AuditEntry) == 1


def test_close_a_missing_campaign(app):
    with app.app_context(), pytest.raises(NotFoundError) as info:
        close_campaign(7)
    assert info.value.field == "campaign_id"


def test_list_campaigns_counts_in_one_query(app):
    with app.app_context():
        accounts = [make_account(f"KA{n}") for n in range(4)]
        first, _ = make_campaign("Q3", accounts=accounts[:3])
        make_response(first, accounts[0], {"overall": 4})
        make_response(first, accounts[1], {"overall": 2})
        second, _ = make_campaign("Q4", accounts=accounts[3:])
        make_campaign("Empty", accounts=[])
        db.session.commit()
        before = len(get_recorded_queries())
        rows = list_campaigns()
        assert len(get_recorded_queries()) - before == 1
        assert {(r.name, r.sampled, r.responded) for r in rows} == {
            ("Q3", 3, 2),
            ("Q4", 1, 0),
            ("Empty", 0, 0),
        }
        by_name = {r.name: r for r in rows}
        assert by_name["Q3"].response_rate == pytest.approx(2 / 3)
        assert by_name["Empty"].response_rate is None
        summary = get_campaign_summary(second.id)
        assert (summary.name, summary.sampled, summary.responded) == ("Q4", 1, 0)
        with pytest.raises(NotFoundError):
            get_campaign_summary(999)


def test_list_is_newest_first(app):
    with app.app_context():
        for number in range(6):
            make_account(f"KA{number}")
        db.session.commit()
        for offset, name in enumerate(("first", "second", "third")):
            launch_campaign(
                CampaignRequest(name=name, size=1, exclude_days=0),
                secret_key=TEST_SECRET,
                now=NOW + timedelta(hours=offset),
            )
        assert [r.name for r in list_campaigns()] == ["third", "second", "first"]


def test_registry_change_during_launch_is_a_conflict_that_saves_nothing(app, monkeypatch):
    # The safety net under the launch lock: a writer that does not take the lock
    # (here, in this very thread) must still not slip anything past the constraints.
    monkeypatch.setattr(campaigns_module, "_serialise_launches", lambda: None)
    with app.app_context():
        for number in range(3):
            make_account(f"KA{number}")
        db.session.commit()
        real = campaigns_module.ensure_default_questionnaire

        def account_removed_meanwhile():
            with db.engine.begin() as connection:
                connection.execute(delete(KeyAccount).where(KeyAccount.external_id == "KA1"))
            return real()

        monkeypatch.setattr(
            campaigns_module, "ensure_default_questionnaire", account_removed_meanwhile
        )
        with pytest.raises(ConflictError, match="registry changed") as info:
            launch_campaign(CampaignRequest(name="Q4", size=3), secret_key=TEST_SECRET, now=NOW)
        assert info.value.field is None
        assert count(Campaign) == 0 and count(Invitation) == 0


account_states = st.fixed_dictionaries(
    {
        "active": st.booleans(),
        "defected": st.booleans(),
        "email": st.sampled_from([None, "", "  ", "a@example.com"]),
        "phone": st.sampled_from([None, "", " ", "+86 10 1234 5678"]),
        "opted_out": st.booleans(),
        # Days since the last invitation (None: never invited); 90 is the boundary.
        "invited_days_ago": st.sampled_from([None, 0, 10, 89, 90, 91, 400]),
    }
)


def expected_reason(state: dict, exclude_days: int) -> str | None:
    if not state["active"] or state["defected"]:
        return "inactive"
    if not (state["email"] or "").strip() and not (state["phone"] or "").strip():
        return "no_contact"
    if state["opted_out"]:
        return "opted_out"
    days = state["invited_days_ago"]
    if exclude_days and days is not None and days <= exclude_days:
        return "recently_surveyed"
    return None


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(account_states, min_size=1, max_size=12),
    st.sampled_from([0, 30, 90]),
)
def test_frame_matches_the_rules_for_any_registry(app, states, exclude_days):
    """The SQL CASE agrees with the rules written out in Python, for any mix."""
    with app.app_context():
        for model in (Invitation, CampaignFrameMember, CampaignStratum, Campaign):
            db.session.execute(delete(model))
        db.session.execute(delete(DefectionReason))
        db.session.execute(delete(Defection))
        db.session.execute(delete(KeyAccount))
        invited = []
        for number, state in enumerate(states):
            account = make_account(
                f"KA{number:02d}",
                contact_email=state["email"],
                contact_phone=state["phone"],
                opted_out_at=NOW - timedelta(days=1) if state["opted_out"] else None,
            )
            if state["defected"]:
                make_defection(account, date(2026, 1, 1), ["price"])
            account.active = state["active"]
            if state["invited_days_ago"] is not None:
                invited.append((account, state["invited_days_ago"]))
        if invited:
            make_campaign("Earlier", accounts=[a for a, _ in invited])
            for account, days in invited:
                invite_at(account, NOW - timedelta(days=days))
        db.session.commit()

        frame = build_frame(exclude_days=exclude_days, now=NOW)
        reasons = [expected_reason(s, exclude_days) for s in states]
        assert sorted(m.external_id for m in frame.members) == [
            f"KA{n:02d}" for n, r in enumerate(reasons) if r is None
        ]
        assert frame.excluded == {
            reason: reasons.count(reason)
            for reason in ("inactive", "no_contact", "opted_out", "recently_surveyed", "open_case")
        }
