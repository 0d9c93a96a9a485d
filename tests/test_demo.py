"""`flask demo`: believable data whose dissatisfaction clusters where the brief says."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, func, select

from survey.campaigns import cycle_containing
from survey.clock import today
from survey.db import db
from survey.demo import (
    BUYING_CENTRE_CAMPAIGN,
    CLOSED_CAMPAIGN,
    DEMO_SCHEDULE,
    LAST_YEAR_CAMPAIGN,
    OPEN_CAMPAIGN,
    load_demo,
)
from survey.models import (
    Answer,
    Aspect,
    Campaign,
    Contact,
    Defection,
    DefectionReason,
    Invitation,
    KeyAccount,
    Response,
)
from survey.registry.staff import authenticate, authenticate_password
from survey.scale import ASPECT_REASON

from .conftest import TEST_SECRET

DAY = timedelta(days=1)


def _past_quarters() -> list[str]:
    """The two quarters before the current one (the demo schedule's past cycles)."""
    previous = cycle_containing("quarter", cycle_containing("quarter", today()).starts_on - DAY)
    return [cycle_containing("quarter", previous.starts_on - DAY).key, previous.key]


def _dissatisfied_share(aspect: str, *conditions) -> float:
    row = db.session.execute(
        select(
            func.sum(case((Answer.score <= 2, 1), else_=0)),
            func.count(),
        )
        .join(Aspect, Aspect.id == Answer.aspect_id)
        .join(Response, Response.id == Answer.response_id)
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .where(Aspect.code == aspect, *conditions)
    ).one()
    return row[0] / row[1]


def test_demo_loads_once_with_clusters_and_echoing_defections(app, runner):
    with app.app_context():
        report = load_demo(secret_key=TEST_SECRET)
        assert report.loaded and report.accounts == 200 and report.defections == 12
        assert db.session.scalar(select(func.count()).select_from(KeyAccount)) == 200
        locales = dict(
            db.session.execute(
                select(KeyAccount.locale, func.count()).group_by(KeyAccount.locale)
            ).all()
        )
        assert set(locales) == {"zh", "en"} and locales["en"] >= 30
        tiers = db.session.scalars(select(KeyAccount.tier).distinct()).all()
        assert sorted(tiers) == ["A", "B", "C"]

        campaigns = dict(db.session.execute(select(Campaign.name, Campaign.status)).all())
        assert campaigns == {
            LAST_YEAR_CAMPAIGN: "closed",
            CLOSED_CAMPAIGN: "closed",
            OPEN_CAMPAIGN: "open",
            BUYING_CENTRE_CAMPAIGN: "open",
            **{f"{DEMO_SCHEDULE} {cycle}": "closed" for cycle in _past_quarters()},
        }
        assert report.responses == db.session.scalar(select(func.count()).select_from(Response))
        assert report.responses >= 60

        # Delivery hurts in 华南; red tape for 刘洋's accounts.
        assert _dissatisfied_share("delivery", KeyAccount.region == "华南") > 2 * (
            _dissatisfied_share("delivery", KeyAccount.region != "华南")
        )
        assert _dissatisfied_share("process", KeyAccount.account_manager == "刘洋") > 2 * (
            _dissatisfied_share("process", KeyAccount.account_manager != "刘洋")
        )

        # Every defection follows a complaint, and its reasons echo one.
        for defection in db.session.scalars(select(Defection)):
            complained = {
                ASPECT_REASON[code].value
                for code in db.session.scalars(
                    select(Aspect.code)
                    .join(Answer, Answer.aspect_id == Aspect.id)
                    .join(Response, Response.id == Answer.response_id)
                    .where(
                        Response.account_id == defection.account_id,
                        Answer.score <= 2,
                        Aspect.code != "overall",
                    )
                )
            }
            reasons = set(
                db.session.scalars(
                    select(DefectionReason.reason).where(
                        DefectionReason.defection_id == defection.id
                    )
                )
            )
            assert complained & reasons
            account = db.session.get(KeyAccount, defection.account_id)
            assert account is not None and account.active is False

        # The open campaign still has links to try.
        waiting = db.session.scalar(
            select(func.count())
            .select_from(Invitation)
            .join(Campaign, Campaign.id == Invitation.campaign_id)
            .where(Campaign.name == OPEN_CAMPAIGN, Invitation.responded_at.is_(None))
        )
        assert waiting >= 3

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "already holds 200 key accounts" in result.output
    assert "Manager API token (demo-manager): " in result.output
    password = result.output.split("password ")[1].split()[0]
    with app.app_context():
        assert authenticate_password("demo-manager@example.com", password) is not None
    # The same sign-in and token on every run.
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert again.output.split("password ")[1].split()[0] == password
    token = result.output.split("Manager API token (demo-manager): ")[1].split()[0]
    assert again.output.split("Manager API token (demo-manager): ")[1].split()[0] == token
    with app.app_context():
        assert authenticate(token).role == "manager"
    assert result.output.count("/s/") == 3
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(KeyAccount)) == 200


def test_demo_strategic_accounts_have_buying_centres_and_several_people_answered(app):
    with app.app_context():
        load_demo(secret_key=TEST_SECRET)
        roles = dict(
            db.session.execute(select(Contact.role, func.count()).group_by(Contact.role)).all()
        )
        # Twelve strategic accounts: a decision maker (their primary contact), a
        # purchaser and a user each; the other accounts keep their one contact.
        assert (roles["decision_maker"], roles["purchaser"], roles["user"]) == (12, 12, 12)
        languages = set(
            db.session.scalars(select(Contact.locale).where(Contact.role == "user")).all()
        )
        assert languages == {"zh", "en"}
        per_account = db.session.execute(
            select(Response.account_id, func.count(func.distinct(Response.contact_id)))
            .join(Campaign, Campaign.id == Response.campaign_id)
            .where(Campaign.name == BUYING_CENTRE_CAMPAIGN)
            .group_by(Response.account_id)
        ).all()
        assert sum(1 for _, people in per_account if people >= 2) >= 3
        campaign = db.session.scalars(
            select(Campaign).where(Campaign.name == BUYING_CENTRE_CAMPAIGN)
        ).one()
        assert (campaign.contacts, campaign.sample_size) == ("all", 10)
        invited = db.session.scalar(
            select(func.count()).where(Invitation.campaign_id == campaign.id)
        )
        assert invited == 30


def test_demo_schedule_has_a_readable_trend(app):
    from survey.analysis import schedule_trend
    from survey.campaigns import list_schedules

    with app.app_context():
        load_demo(secret_key=TEST_SECRET)
        (view,) = list_schedules(today())
        assert view.name == DEMO_SCHEDULE and view.every == "quarter"
        assert [c.cycle for c in view.campaigns] == _past_quarters()
        assert view.next_run == today()  # the current quarter is due
        trend = schedule_trend(view.id)
        assert [p.cycle for p in trend] == _past_quarters()
        assert all(p.accounts >= 10 and p.satisfied_share is not None for p in trend)


def test_the_demo_health_check_reads_a_year_back(app):
    """Last year's survey answered before the default cut-off (today − 365), the
    defections after it: health then tells the accounts that left, not perfectly."""
    from survey.scoring.validation import health_validation

    with app.app_context():
        load_demo(secret_key=TEST_SECRET)
        result = health_validation()
        assert result.cutoff == today() - timedelta(days=365)
        assert result.defections >= 10 and not result.low_sample
        assert result.accounts >= 150
        assert result.auc is not None and 0.7 < result.auc < 1.0
        assert result.auc_low is not None and result.auc_low > 0.5
        assert result.quintiles[0].defections > result.quintiles[4].defections
