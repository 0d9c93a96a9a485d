"""Every kind of webhook event, emitted by the real services in the transaction of the
change, arrives once at a real receiver; a burst of submissions yields as many events."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from sqlalchemy import func, select

from survey import clock
from survey.answers.exit_surveys import ExitAnswers, record_exit_response
from survey.answers.responses import AnswerInput, record_response
from survey.campaigns import CampaignRequest, close_campaign, launch_campaign
from survey.campaigns.questionnaires import ensure_default_questionnaire
from survey.db import db
from survey.delivery.mail import MailSettings
from survey.delivery.webhook_admin import create_endpoint
from survey.delivery.webhooks import deliver_webhooks
from survey.events import EVENT_KINDS, RESPONSE_SUBMITTED
from survey.follow_ups import escalate_overdue, update_follow_up
from survey.models import FollowUp, Invitation, StaffMember, WebhookEvent
from survey.registry import emit_health_changed, import_accounts_csv, record_defection
from survey.scale import DEFAULT_ASPECTS, OVERALL

from .conftest import TEST_NOW, TEST_SECRET
from .factories import make_account, make_campaign, make_defection
from .webhook_receiver import serving

MAIL = MailSettings(secret_key=TEST_SECRET, base_url="https://survey.example.test")
HEADER = (
    "external_id,name,tier,value_type,relationship_stage,region,annual_revenue,"
    "account_manager,contact_name,contact_email,contact_phone,locale\n"
)


def _csv(*rows: str) -> io.BytesIO:
    return io.BytesIO((HEADER + "".join(r + "\n" for r in rows)).encode())


def _row(external_id: str, tier: str) -> str:
    return (
        f"{external_id},Account {external_id},{tier},strategic,partner,华东,1000000,"
        f"王伟,李娜,{external_id.lower()}@example.com,,zh"
    )


def _drain() -> int:
    delivered = 0
    for _ in range(100):
        report = deliver_webhooks(MAIL, worker_id="w1")
        delivered += report.delivered
        if not report.claimed:
            return delivered
    raise AssertionError("the queue never drained")


def _scores(low: bool) -> dict[str, AnswerInput]:
    codes = [a.code for a in DEFAULT_ASPECTS]
    if not low:
        return {code: AnswerInput(4) for code in codes}
    answers = {code: AnswerInput(5) for code in codes}
    answers["delivery"] = AnswerInput(1, ["delivery", "service"], "三次延误")
    answers[OVERALL] = AnswerInput(2, ["price"])
    return answers


def test_every_event_kind_arrives_once_from_the_services_that_make_it(app):
    with serving() as receiver, app.app_context():
        db.session.add(StaffMember(name="Ada", email="ada@example.com", role="admin"))
        db.session.commit()
        create_endpoint(
            receiver.url,
            EVENT_KINDS,
            secret_key=TEST_SECRET,
            allow_http_loopback=True,
            actor="test",
        )
        assert import_accounts_csv(_csv(_row("KA001", "A"), _row("KA002", "B"))).imported
        # A second import moves KA001 from A to B (the unchanged KA002 says nothing).
        assert import_accounts_csv(_csv(_row("KA001", "B"), _row("KA002", "B"))).imported
        launched = launch_campaign(
            CampaignRequest(name="Q4", size=2, seed=7, closes_in_days=14),
            secret_key=TEST_SECRET,
            mail=None,
        )
        ka1 = db.session.scalar(
            select(Invitation.id)
            .join(Invitation.account)
            .where(Invitation.campaign_id == launched.campaign_id)
            .order_by(Invitation.account_id)
            .limit(1)
        )
        response_id = record_response(ka1, _scores(low=True), comment="太慢", locale="zh")
        case = db.session.scalar(select(FollowUp).where(FollowUp.response_id == response_id))
        assert case is not None
        case_id, due = case.id, case.due_at
        assert escalate_overdue(mail=MAIL, now=due + timedelta(days=4)).escalated
        update_follow_up(case_id, status="resolved", root_cause="delivery", author="王伟")
        close_campaign(launched.campaign_id, actor="test")
        record_defection(
            external_id="KA002",
            defected_on=TEST_NOW.date(),
            reasons=["price", "service"],
            competitor="Rival",
            lost_annual_revenue=500_000,
        )
        emit_health_changed(1, old_band="green", new_band="amber", score=61.5, model_version=2)
        assert emit_health_changed(1, old_band="amber", new_band="amber") is None
        db.session.commit()

        assert _drain() == len(EVENT_KINDS)
        events = receiver.events()
        assert sorted(e["type"] for e in events) == sorted(EVENT_KINDS)
        assert len({e["id"] for e in events}) == len(EVENT_KINDS)
        by_type = {e["type"]: e["data"] for e in events}
        submitted = by_type[RESPONSE_SUBMITTED]
        assert submitted["account"]["external_id"] == "KA001"
        assert submitted["contact"]["role"] == "other"
        assert submitted["campaign"] == {
            "id": launched.campaign_id,
            "name": "Q4",
            "kind": "satisfaction",
        }
        assert submitted["response"]["overall"] == 2
        assert submitted["response"]["scores"]["delivery"] == 1
        assert submitted["response"]["dissatisfied"] == [
            {
                "aspect": "delivery",
                "score": 1,
                "reasons": ["delivery", "service"],
                "reason_text": "三次延误",
            },
            {"aspect": OVERALL, "score": 2, "reasons": ["price"], "reason_text": None},
        ]
        assert by_type["follow_up.opened"]["follow_up"]["response_id"] == response_id
        assert by_type["account.tier_changed"] == {
            "account": {
                "id": 1,
                "external_id": "KA001",
                "name": "Account KA001",
                "tier": "B",
                "account_manager": "王伟",
            },
            "old_tier": "A",
            "new_tier": "B",
            "source": "import",
        }
        assert by_type["follow_up.opened"]["follow_up"]["status"] == "open"
        assert by_type["follow_up.escalated"]["follow_up"]["escalated_to"] == "Ada"
        resolved = by_type["follow_up.resolved"]["follow_up"]
        assert (resolved["status"], resolved["root_cause"]) == ("resolved", "delivery")
        assert by_type["campaign.launched"]["campaign"]["invitations"] == 2
        closed = by_type["campaign.closed"]
        assert (closed["campaign"]["responses"], closed["expired_invitations"]) == (1, 1)
        assert by_type["defection.recorded"]["defection"]["reasons"] == ["price", "service"]
        assert by_type["account.health_changed"]["new_band"] == "amber"
        # KA001's events reached the receiver in the order they happened.
        ka1_kinds = [e["type"] for e in events if e["data"].get("account", {}).get("id") == 1]
        assert ka1_kinds == [
            "account.tier_changed",
            "response.submitted",
            "follow_up.opened",
            "follow_up.escalated",
            "follow_up.resolved",
            "account.health_changed",
        ]


def test_a_rolled_back_change_leaves_no_event(app):
    with app.app_context():
        create_endpoint(
            "https://crm.example.com/hook",
            ["defection.recorded"],
            secret_key=TEST_SECRET,
            allow_http_loopback=False,
        )
        make_account("KA001")
        db.session.commit()
        record_defection(external_id="KA001", defected_on=TEST_NOW.date(), reasons=["price"])
        try:
            record_defection(external_id="KA001", defected_on=TEST_NOW.date(), reasons=["price"])
        except Exception as exc:
            assert type(exc).__name__ == "ConflictError"
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


def test_a_burst_of_200_submissions_yields_200_events(app):
    with serving() as receiver, app.app_context():
        ensure_default_questionnaire()
        accounts = [make_account(f"KA{n:03d}") for n in range(1, 201)]
        _campaign, _tokens = make_campaign(accounts=accounts)
        db.session.commit()
        create_endpoint(
            receiver.url, [RESPONSE_SUBMITTED], secret_key=TEST_SECRET, allow_http_loopback=True
        )
        invitations = db.session.scalars(select(Invitation.id).order_by(Invitation.id)).all()
        for n, invitation_id in enumerate(invitations):
            record_response(invitation_id, _scores(low=n % 10 == 0), comment=None, locale="zh")
        # Replays of stored answers add nothing.
        for invitation_id in invitations[:5]:
            try:
                record_response(invitation_id, _scores(low=False), comment=None, locale="zh")
            except Exception as exc:
                assert type(exc).__name__ == "AlreadyRespondedError"
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 200
        with clock.travel_to(TEST_NOW + timedelta(minutes=1)):
            assert _drain() == 200
        events = receiver.events()
        assert len(events) == 200 and len({e["id"] for e in events}) == 200
        assert {e["type"] for e in events} == {RESPONSE_SUBMITTED}


def test_an_exit_survey_answer_is_a_response_submitted_with_its_exit_block(app):
    with app.app_context():
        create_endpoint(
            "https://crm.example.com/h",
            [RESPONSE_SUBMITTED],
            secret_key=TEST_SECRET,
            allow_http_loopback=False,
        )
        lost = make_account("L1")
        make_defection(lost, TEST_NOW.date() - timedelta(days=10), ["price"])
        db.session.commit()
        campaign, _ = make_campaign("Exit", accounts=[lost], kind="exit")
        db.session.commit()
        invitation_id = db.session.scalar(
            select(Invitation.id).where(Invitation.campaign_id == campaign.id)
        )
        record_exit_response(
            invitation_id,
            ExitAnswers(main_reason="price", other_reasons=["service"], would_return="maybe"),
            locale="zh",
        )
        (event,) = db.session.scalars(select(WebhookEvent)).all()
        data = json.loads(event.body)["data"]
        assert data["campaign"]["kind"] == "exit" and data["response"]["scores"] == {}
        assert data["exit"] == {
            "main_reason": "price",
            "other_reasons": ["service"],
            "what_would_have_kept": None,
            "would_return": "maybe",
        }
