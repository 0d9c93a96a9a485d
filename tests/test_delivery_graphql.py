"""GraphQL for issue 5: launch queues e-mail (also EXIT), sendReminders, invitation
life-cycle and counts, recordPhoneResponse, channel filter, reasons by source."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from survey.answers.exit_surveys import ExitAnswers, record_exit_response
from survey.clock import utcnow
from survey.db import db
from survey.models import ExitFeedback, Invitation, KeyAccount, OutboxMessage, Response

from .conftest import TEST_NOW
from .factories import make_account, make_campaign, make_defection, make_response
from .graphql_helpers import codes, gql, make_tokens

TODAY = TEST_NOW.date()

LAUNCH = """
mutation ($input: LaunchCampaignInput!) {
  launchCampaign(input: $input) {
    sampled frameSize emailsQueued excluded { reason count }
    campaign { id kind invitationCounts { pending sent opened responded bounced expired } }
  }
}"""


def _tokens(app: Flask) -> dict[str, str]:
    with app.app_context():
        tokens = make_tokens()
        db.session.commit()
        return tokens


def test_launch_queues_emails_and_counts_invitations_by_status(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        make_account("KA001")
        make_account("KA002")
        make_account("KA003", contact_email=None, contact_phone="+86 10 1234 5678")
        db.session.commit()
    client = app.test_client()
    body = gql(client, LAUNCH, {"input": {"name": "Q4", "sampleSize": 3}}, token=tokens["manager"])
    launched = body["data"]["launchCampaign"]
    assert (launched["sampled"], launched["emailsQueued"]) == (3, 2)
    assert launched["campaign"]["kind"] == "satisfaction"
    assert launched["campaign"]["invitationCounts"] == {
        "pending": 3,
        "sent": 0,
        "opened": 0,
        "responded": 0,
        "bounced": 0,
        "expired": 0,
    }
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 2
    # Viewers cannot launch.
    denied = gql(client, LAUNCH, {"input": {"name": "Q5", "sampleSize": 1}}, token=tokens["viewer"])
    assert codes(denied) == ["FORBIDDEN"]


def test_exit_launch_through_graphql(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        lost = make_account("L1")
        make_defection(lost, TODAY - timedelta(days=30), ["price"])
        old = make_account("L2")
        make_defection(old, TODAY - timedelta(days=400), ["price"])
        make_account("A1")
        db.session.commit()
    body = gql(
        app.test_client(),
        LAUNCH,
        {"input": {"name": "Exit", "sampleSize": 1, "kind": "EXIT", "defectedWithinDays": 90}},
        token=tokens["manager"],
    )
    launched = body["data"]["launchCampaign"]
    assert (launched["frameSize"], launched["emailsQueued"]) == (1, 1)
    assert launched["campaign"]["kind"] == "exit"
    assert launched["excluded"] == [
        {"reason": "no_contact", "count": 0},
        {"reason": "opted_out", "count": 0},
        {"reason": "already_asked", "count": 0},
    ]


CAMPAIGN = """
query ($id: ID!) {
  campaign(id: $id) {
    invitationCounts { pending sent opened responded bounced expired }
    invitations(first: 10) { edges { node {
      status sentAt openedAt respondedAt remindersSent bounceReason account { externalId }
    } } }
  }
}"""

REMIND = "mutation ($id: ID!, $days: Int) { sendReminders(campaignId: $id, afterDays: $days) }"


def test_send_reminders_and_the_lifecycle_fields(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        accounts = [make_account(f"KA00{i}") for i in range(1, 5)]
        campaign, _ = make_campaign(accounts=accounts, opens_at=utcnow() - timedelta(days=7))
        invitations = {i.account_id: i for i in db.session.scalars(select(Invitation)).all()}
        invitations[accounts[1].id].status = "bounced"
        invitations[accounts[1].id].bounce_reason = "550 no such user"
        invitations[accounts[2].id].status = "opened"
        invitations[accounts[2].id].opened_at = utcnow() - timedelta(days=6)
        make_response(campaign, accounts[3], {"overall": 4})
        db.session.commit()
        campaign_id = campaign.id
    client = app.test_client()
    assert codes(gql(client, REMIND, {"id": campaign_id}, token=tokens["viewer"])) == ["FORBIDDEN"]
    body = gql(client, REMIND, {"id": campaign_id, "days": 5}, token=tokens["manager"])
    assert body["data"]["sendReminders"] == 2  # KA001 (sent) and KA003 (opened)
    again = gql(client, REMIND, {"id": campaign_id}, token=tokens["manager"])
    assert again["data"]["sendReminders"] == 0
    unknown = gql(client, REMIND, {"id": 999}, token=tokens["manager"])
    assert codes(unknown) == ["BAD_USER_INPUT"]

    data = gql(client, CAMPAIGN, {"id": campaign_id}, token=tokens["viewer"])["data"]
    assert data["campaign"]["invitationCounts"] == {
        "pending": 0,
        "sent": 1,
        "opened": 1,
        "responded": 1,
        "bounced": 1,
        "expired": 0,
    }
    nodes = {
        e["node"]["account"]["externalId"]: e["node"]
        for e in data["campaign"]["invitations"]["edges"]
    }
    assert nodes["KA002"]["bounceReason"] == "550 no such user"
    assert nodes["KA001"]["remindersSent"] == 1
    assert nodes["KA003"]["remindersSent"] == 1
    assert nodes["KA004"]["respondedAt"] is not None
    assert nodes["KA003"]["openedAt"] is not None


PHONE = """
mutation ($input: RecordPhoneResponseInput!) {
  recordPhoneResponse(input: $input) { id channel comment answers { aspect score reasons } }
}"""


def _phone_input(invitation_id: int, **extra: Any) -> dict[str, Any]:
    answers = [
        {"aspect": code, "score": 4}
        for code in (
            "product_quality",
            "delivery",
            "price",
            "service",
            "communication",
            "process",
            "profitability",
            "overall",
        )
    ]
    answers[1] = {"aspect": "delivery", "score": 2, "reasons": ["DELIVERY"], "reasonText": "Late"}
    return {"invitationId": str(invitation_id), "answers": answers, **extra}


def test_record_phone_response(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        account = make_account("KA001")
        make_campaign(accounts=[account])
        db.session.commit()
        invitation_id = db.session.scalar(select(Invitation.id))
    client = app.test_client()
    variables = {"input": _phone_input(invitation_id, comment="By phone")}
    assert codes(gql(client, PHONE, variables, token=tokens["viewer"])) == ["FORBIDDEN"]
    body = gql(client, PHONE, variables, token=tokens["manager"])
    stored = body["data"]["recordPhoneResponse"]
    assert (stored["channel"], stored["comment"]) == ("phone", "By phone")
    delivery = next(a for a in stored["answers"] if a["aspect"] == "delivery")
    assert delivery == {"aspect": "delivery", "score": 2, "reasons": ["DELIVERY"]}
    with app.app_context():
        assert db.session.execute(select(Response.channel, Response.entered_by)).all() == [
            ("phone", "manager-user")
        ]
    again = gql(client, PHONE, variables, token=tokens["manager"])
    assert codes(again) == ["ALREADY_RESPONDED"]


def test_record_phone_response_bad_input_stores_nothing(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        account = make_account("KA001")
        make_campaign(accounts=[account])
        db.session.commit()
        invitation_id = db.session.scalar(select(Invitation.id))
    client = app.test_client()
    missing = _phone_input(invitation_id)
    missing["answers"] = missing["answers"][:-1]  # no overall score
    twice = _phone_input(invitation_id)
    twice["answers"].append({"aspect": "price", "score": 3})
    for bad in (
        missing,
        twice,
        _phone_input(999),
        {**_phone_input(invitation_id), "exit": {"mainReason": "PRICE"}},
    ):
        body = gql(client, PHONE, {"input": bad}, token=tokens["manager"])
        assert codes(body) == ["BAD_USER_INPUT"], body
    with app.app_context():
        assert db.session.scalar(select(func.count(Response.id))) == 0


def test_phone_exit_interview(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        lost = make_account("L1")
        make_defection(lost, TODAY - timedelta(days=5), ["price"])
        db.session.commit()
    client = app.test_client()
    gql(
        client,
        LAUNCH,
        {"input": {"name": "Exit", "sampleSize": 1, "kind": "EXIT"}},
        token=tokens["manager"],
    )
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    body = gql(
        client,
        PHONE,
        {
            "input": {
                "invitationId": str(invitation_id),
                "exit": {
                    "mainReason": "PROCESS",
                    "otherReasons": ["COMMUNICATION"],
                    "whatWouldHaveKept": "Fewer approvals",
                    "wouldReturn": "MAYBE",
                },
            }
        },
        token=tokens["manager"],
    )
    assert body["data"]["recordPhoneResponse"]["channel"] == "phone"
    with app.app_context():
        assert db.session.execute(
            select(ExitFeedback.main_reason, ExitFeedback.other_reasons, ExitFeedback.would_return)
        ).one() == ("process", "communication", "maybe")


SUMMARY = """
query ($filter: ResponseFilter) {
  satisfactionSummary(groupBy: ASPECT, filter: $filter) { key answers }
}"""


def test_summaries_filter_by_channel_and_responses_show_it(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        accounts = [make_account(f"KA{i}") for i in range(3)]
        campaign, _ = make_campaign(accounts=accounts)
        make_response(campaign, accounts[0], {"overall": 5}, channel="web")
        make_response(campaign, accounts[1], {"overall": 1}, channel="phone")
        make_response(campaign, accounts[2], {"overall": 2}, channel="phone")
        db.session.commit()
    client = app.test_client()

    def overall(channel: str | None) -> int:
        variables = {"filter": {"channel": channel}} if channel else {}
        groups = gql(client, SUMMARY, variables, token=tokens["viewer"])["data"]
        return next(g["answers"] for g in groups["satisfactionSummary"] if g["key"] == "overall")

    assert (overall("PHONE"), overall("WEB"), overall(None)) == (2, 1, 3)
    bad = gql(client, SUMMARY, {"filter": {"channel": "FAX"}}, token=tokens["viewer"])
    assert "errors" in bad


REASONS = """
query ($filter: DefectionFilter) {
  defectionReasons(filter: $filter) {
    key defections exitSurveyResponses reasons { reason count share source }
  }
}"""


def test_defection_reasons_by_source(app: Flask) -> None:
    tokens = _tokens(app)
    with app.app_context():
        l1, l2 = make_account("L1"), make_account("L2")
        make_defection(l1, TODAY - timedelta(days=10), ["price", "service"])
        make_defection(l2, TODAY - timedelta(days=20), ["competitor_offer"])
        make_campaign("Exit", accounts=[l1], kind="exit")
        db.session.commit()
        invitation_id = db.session.scalar(select(Invitation.id))
        record_exit_response(invitation_id, ExitAnswers("process", ["price"]), locale="zh")
    client = app.test_client()
    body = gql(client, REASONS, {}, token=tokens["viewer"])["data"]["defectionReasons"]
    assert body == [
        {
            "key": "all",
            "defections": 2,
            "exitSurveyResponses": 1,
            "reasons": [
                {"reason": "PRICE", "count": 1, "share": 0.5, "source": "STAFF"},
                {"reason": "SERVICE", "count": 1, "share": 0.5, "source": "STAFF"},
                {"reason": "COMPETITOR_OFFER", "count": 1, "share": 0.5, "source": "STAFF"},
                {"reason": "PRICE", "count": 1, "share": 1.0, "source": "EXIT_SURVEY"},
                {"reason": "PROCESS", "count": 1, "share": 1.0, "source": "EXIT_SURVEY"},
            ],
        }
    ]
    exit_only = gql(client, REASONS, {"filter": {"source": "EXIT_SURVEY"}}, token=tokens["viewer"])
    assert [r["source"] for r in exit_only["data"]["defectionReasons"][0]["reasons"]] == [
        "EXIT_SURVEY",
        "EXIT_SURVEY",
    ]
    with app.app_context():
        assert db.session.scalar(select(func.count(KeyAccount.id))) == 2
