"""Campaigns invite contacts: the primary one or all of them, by role, each with its own
link, language and frequency check; responses and opt-outs belong to the contact."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, select, update

from survey.answers.responses import AnswerInput, record_response
from survey.audit import CAMPAIGN_LAUNCH
from survey.campaigns import CampaignRequest, launch_campaign, verify_campaign
from survey.clock import utcnow
from survey.db import db
from survey.delivery import MailSettings, queue_reminders
from survey.delivery.mail import optout_token
from survey.errors import InvalidInputError
from survey.models import (
    AuditEntry,
    Campaign,
    Contact,
    Invitation,
    KeyAccount,
    OutboxMessage,
    Response,
)
from survey.scale import DEFAULT_ASPECTS

from .conftest import BASE_URL, TEST_SECRET
from .factories import make_account, make_campaign, make_contact
from .graphql_helpers import gql, make_tokens

SETTINGS = MailSettings(secret_key=TEST_SECRET, base_url=BASE_URL)


def _registry(app: Flask) -> None:
    """KA1: primary 李娜 + purchaser 周强 + user Emma (en) + an opted-out user; KA2:
    primary + a purchaser with a phone only; KA3: its primary opted out, a purchaser;
    KA4: its primary was invited 10 days ago, a user. All tier A but KA3 and KA4 (B)."""
    with app.app_context():
        now = utcnow()
        ka1 = make_account("KA1")
        make_contact(ka1, name="周强", role="purchaser", email="zhou@ka1.example")
        make_contact(ka1, name="Emma", role="user", email="emma@ka1.example", locale="en")
        make_contact(ka1, name="Gone", role="user", email="gone@ka1.example", opted_out_at=now)
        ka2 = make_account("KA2")
        make_contact(ka2, name="王芳", role="purchaser", phone="020 5555 0102")
        ka3 = make_account("KA3", tier="B", opted_out_at=now - timedelta(days=1))
        make_contact(ka3, name="Tom", role="purchaser", email="tom@ka3.example", locale="en")
        ka4 = make_account("KA4", tier="B")
        make_contact(ka4, name="Ann", role="user", email="ann@ka4.example", locale="en")
        make_campaign("Earlier", accounts=[ka4], opens_at=now - timedelta(days=10))
        db.session.commit()


def _launch(app: Flask, **kwargs: Any) -> int:
    with app.app_context():
        result = launch_campaign(
            CampaignRequest(name=kwargs.pop("name", "Q4"), seed=7, **kwargs),
            secret_key=TEST_SECRET,
            mail=SETTINGS,
        )
        assert result.campaign_id is not None
        return result.campaign_id


def _invited(app: Flask, campaign_id: int) -> list[tuple[str, str, str]]:
    """(account, contact name, invitation language) per invitation."""
    with app.app_context():
        rows = db.session.execute(
            select(KeyAccount.external_id, Contact.name, Invitation.locale)
            .join(KeyAccount, KeyAccount.id == Invitation.account_id)
            .join(Contact, Contact.id == Invitation.contact_id)
            .where(Invitation.campaign_id == campaign_id)
            .order_by(KeyAccount.external_id, Contact.id)
        ).all()
    return [tuple(r) for r in rows]


def test_primary_is_todays_behaviour(app: Flask) -> None:
    _registry(app)
    with app.app_context():
        plan = launch_campaign(
            CampaignRequest(name="Q4", size=2, seed=7), secret_key=TEST_SECRET, dry_run=True
        ).plan
    # KA3's primary contact opted out, KA4's was invited 10 days ago.
    assert plan.frame_size == 2
    assert plan.excluded == {
        "inactive": 0,
        "no_contact": 0,
        "opted_out": 1,
        "recently_surveyed": 1,
        "open_case": 0,
    }
    campaign_id = _launch(app, size=2)
    assert _invited(app, campaign_id) == [("KA1", "李娜", "zh"), ("KA2", "李娜", "zh")]


def test_all_contacts_each_get_their_own_link_language_and_frequency_check(app: Flask) -> None:
    _registry(app)
    campaign_id = _launch(app, size=4, contacts="all")
    # Not the opted-out user of KA1, not KA3's opted-out primary, not KA4's primary
    # (invited 10 days ago): its user Ann is asked all the same.
    assert _invited(app, campaign_id) == [
        ("KA1", "李娜", "zh"),
        ("KA1", "周强", "zh"),
        ("KA1", "Emma", "en"),
        ("KA2", "李娜", "zh"),
        ("KA2", "王芳", "zh"),
        ("KA3", "Tom", "en"),
        ("KA4", "Ann", "en"),
    ]
    with app.app_context():
        hashes = db.session.scalars(
            select(Invitation.token_hash).where(Invitation.campaign_id == campaign_id)
        ).all()
        mail = db.session.execute(
            select(OutboxMessage.to_address, OutboxMessage.locale).order_by(OutboxMessage.id)
        ).all()
        campaign = db.session.get(Campaign, campaign_id)
        assert campaign is not None
        assert (campaign.contacts, campaign.contact_roles, campaign.sample_size) == ("all", None, 4)
        details = json.loads(
            db.session.scalar(
                select(AuditEntry.details).where(
                    AuditEntry.action == CAMPAIGN_LAUNCH,
                    AuditEntry.target_id == str(campaign_id),
                )
            )
            or "{}"
        )
        verified = verify_campaign(campaign_id)
    assert len(set(hashes)) == 7
    # One e-mail per contact with an address (王芳 has a phone only), in their language.
    assert [tuple(m) for m in mail] == [
        ("ka1@example.com", "zh"),
        ("zhou@ka1.example", "zh"),
        ("emma@ka1.example", "en"),
        ("ka2@example.com", "zh"),
        ("tom@ka3.example", "en"),
        ("ann@ka4.example", "en"),
    ]
    assert (details["contacts"], details["contact_roles"], details["invitations"]) == (
        "all",
        [],
        7,
    )
    assert verified.reproduced


def test_roles_narrow_whom_and_which_accounts(app: Flask) -> None:
    _registry(app)
    with app.app_context():
        plan = launch_campaign(
            CampaignRequest(name="Q4", size=1, contacts="all", contact_roles=("采购", "Purchaser")),
            secret_key=TEST_SECRET,
            dry_run=True,
        ).plan
    # KA4 has no purchaser.
    assert (plan.frame_size, plan.excluded["no_contact"]) == (3, 1)
    campaign_id = _launch(app, size=3, contacts="all", contact_roles=("采购",))
    assert _invited(app, campaign_id) == [
        ("KA1", "周强", "zh"),
        ("KA2", "王芳", "zh"),
        ("KA3", "Tom", "en"),
    ]
    with app.app_context():
        with pytest.raises(InvalidInputError) as error:
            launch_campaign(
                CampaignRequest(name="Bad", size=1, contact_roles=("boss",)),
                secret_key=TEST_SECRET,
            )
        assert error.value.field == "contact_roles"
        with pytest.raises(InvalidInputError) as error:
            launch_campaign(
                CampaignRequest(name="Bad", size=1, contacts="everyone"), secret_key=TEST_SECRET
            )
        assert error.value.field == "contacts"


def test_dry_run_shows_accounts_and_contacts_per_stratum(
    app: Flask, runner: FlaskCliRunner
) -> None:
    _registry(app)
    result = runner.invoke(
        args=[
            *("campaign", "launch", "--name", "Q4", "--size", "4", "--seed", "7"),
            *("--stratify-by", "tier", "--contacts", "all", "--dry-run"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:7] == [
        "Sampling frame: 4 accounts",
        "Excluded: inactive 0, no_contact 0, opted_out 0, recently_surveyed 0, open_case 0 "
        "(total 0)",
        "Invites: all contacts of each sampled account",
        "tier     frame   sample  contacts",
        "A            2        2         5",
        "B            2        2         2",
        "total        4        4         7",
    ]
    roles = runner.invoke(
        args=[
            *("campaign", "launch", "--name", "Q4", "--size", "1", "--seed", "7"),
            *("--contact-role", "user", "--contact-role", "决策者", "--dry-run"),
        ]
    )
    # Primary contacts in those roles: make_account's primaries are "other".
    assert roles.exit_code == 1
    assert "The sampling frame is empty" in roles.output
    bad = runner.invoke(
        args=[*("campaign", "launch", "--name", "Q4", "--size", "1", "--contact-role", "boss")]
    )
    assert bad.exit_code == 1
    assert "--contact-role: Unknown contact role 'boss'" in bad.output


def test_responses_and_opt_outs_belong_to_the_contact(app: Flask, client: Any) -> None:
    _registry(app)
    campaign_id = _launch(app, size=4, contacts="all")
    with app.app_context():
        emma = db.session.execute(
            select(Invitation.id, Invitation.contact_id, Invitation.token_nonce)
            .join(Contact, Contact.id == Invitation.contact_id)
            .where(Invitation.campaign_id == campaign_id, Contact.name == "Emma")
        ).one()
        answers = {a.code: AnswerInput(4) for a in DEFAULT_ASPECTS}
        response_id = record_response(emma.id, answers, comment=None, locale="en")
        assert db.session.get(Response, response_id).contact_id == emma.contact_id
    # Emma opts out: only she leaves; the other people of KA1 are still asked.
    done = client.post(f"/u/{optout_token(TEST_SECRET, emma.id, emma.token_nonce)}")
    assert done.status_code == 200
    assert "Emma at Account KA1" in done.get_data(as_text=True)
    with app.app_context():
        opted = dict(
            db.session.execute(
                select(Contact.name, Contact.opted_out_at.is_not(None))
                .join(KeyAccount, KeyAccount.id == Contact.account_id)
                .where(KeyAccount.external_id == "KA1")
            ).all()
        )
    assert opted == {"李娜": False, "周强": False, "Emma": True, "Gone": True}
    later = _launch(app, name="Next", size=4, contacts="all", exclude_days=0)
    assert [name for ext, name, _ in _invited(app, later) if ext == "KA1"] == ["李娜", "周强"]


CONTACTS_QUERY = """query($id: ID!) { account(id: $id) {
  contactName contacts { name role roleLabel locale isPrimary optedOut email phone } } }"""


def test_graphql_contacts_hide_email_and_phone_from_a_viewer(app: Flask, client: Any) -> None:
    _registry(app)
    with app.app_context():
        tokens = make_tokens()
        account_id = db.session.scalar(select(KeyAccount.id).where(KeyAccount.external_id == "KA1"))
        db.session.commit()
    manager = gql(client, CONTACTS_QUERY, {"id": str(account_id)}, token=tokens["manager"])
    assert "errors" not in manager
    assert manager["data"]["account"] == {
        "contactName": "李娜",
        "contacts": [
            {"name": "李娜", "role": "other", "roleLabel": "其他", "locale": "zh"}
            | {"isPrimary": True, "optedOut": False, "email": "ka1@example.com", "phone": None},
            {"name": "周强", "role": "purchaser", "roleLabel": "采购", "locale": "zh"}
            | {"isPrimary": False, "optedOut": False, "email": "zhou@ka1.example", "phone": None},
            {"name": "Emma", "role": "user", "roleLabel": "使用者", "locale": "en"}
            | {"isPrimary": False, "optedOut": False, "email": "emma@ka1.example", "phone": None},
            {"name": "Gone", "role": "user", "roleLabel": "使用者", "locale": "zh"}
            | {"isPrimary": False, "optedOut": True, "email": "gone@ka1.example", "phone": None},
        ],
    }
    viewer = gql(client, CONTACTS_QUERY, {"id": str(account_id)}, token=tokens["viewer"], lang="en")
    assert viewer["data"]["account"]["contactName"] is None
    assert [c["email"] for c in viewer["data"]["account"]["contacts"]] == [None] * 4
    assert viewer["data"]["account"]["contacts"][1]["roleLabel"] == "Purchaser"
    forbidden = {(e["path"][-1], e["extensions"]["code"]) for e in viewer["errors"]}
    assert forbidden == {
        ("contactName", "FORBIDDEN"),
        ("email", "FORBIDDEN"),
        ("phone", "FORBIDDEN"),
    }


LAUNCH = """mutation($input: LaunchCampaignInput!) { launchCampaign(input: $input) {
  sampled invited allocation { key frame size contacts }
  campaign { invitedContacts contactRoles
    invitations(first: 10) { edges { node { contact { name } account { externalId } } } } }
} }"""
RESPONSES = (
    """{ responses(first: 10) { edges { node { account { externalId } contact { name } } } } }"""
)


def test_graphql_launch_with_roles_and_responses_know_their_contact(
    app: Flask, client: Any
) -> None:
    _registry(app)
    with app.app_context():
        tokens = make_tokens()
        db.session.commit()
    variables = {
        "input": {"name": "Q4", "sampleSize": 3, "seed": 7, "contacts": "ALL"}
        | {"contactRoles": ["采购"]}
    }
    body = gql(client, LAUNCH, variables, token=tokens["manager"])
    assert "errors" not in body, body
    launched = body["data"]["launchCampaign"]
    assert (launched["sampled"], launched["invited"]) == (3, 3)
    assert launched["allocation"] == [{"key": "all", "frame": 3, "size": 3, "contacts": 3}]
    assert launched["campaign"]["invitedContacts"] == "ALL"
    assert launched["campaign"]["contactRoles"] == ["purchaser"]
    nodes = [e["node"] for e in launched["campaign"]["invitations"]["edges"]]
    assert sorted((n["account"]["externalId"], n["contact"]["name"]) for n in nodes) == [
        ("KA1", "周强"),
        ("KA2", "王芳"),
        ("KA3", "Tom"),
    ]
    with app.app_context():
        invitation_id = db.session.scalar(
            select(Invitation.id).join(Contact).where(Contact.name == "Tom")
        )
        answers = {a.code: AnswerInput(5) for a in DEFAULT_ASPECTS}
        record_response(invitation_id, answers, comment=None, locale="en")
    responses = gql(client, RESPONSES, token=tokens["viewer"])
    assert [e["node"] for e in responses["data"]["responses"]["edges"]] == [
        {"account": {"externalId": "KA3"}, "contact": {"name": "Tom"}}
    ]
    for lang, message in (
        ("en", "'boss' is not a contact role: use decision_maker, purchaser, user, "),
        ("zh", "'boss' 不是联系人角色：请用 decision_maker, purchaser, user, "),
    ):
        bad = gql(
            client,
            LAUNCH,
            {"input": {"name": "Bad", "sampleSize": 1, "contactRoles": ["boss"]}},
            token=tokens["manager"],
            lang=lang,
        )
        error = bad["errors"][0]
        assert error["message"].startswith(message), error
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "contactRoles"}


def test_console_preview_and_launch_with_all_contacts_in_some_roles(
    app: Flask, client: Any
) -> None:
    from .test_manage import add_member, launch_data, post_form, sign_in, text

    _registry(app)
    sign_in(client, add_member(app, "Zhang", "manager"))
    data = launch_data(size="3", stratify_by="tier", contacts="all")
    data["contact_roles"] = ["purchaser", "user"]
    preview = post_form(
        client, "/manage/campaigns/new?lang=en", {**data, "preview": "Preview sample"}
    )
    assert preview.status_code == 200, text(preview)
    page = text(preview)
    # A: KA1 (周强, Emma) and KA2 (王芳); B: KA3 (Tom) or KA4 (Ann), one of the two drawn.
    assert "Tier A 2 2 3 Tier B 2 1 1 Total 4 3 4" in page
    assert "4 contacts of these accounts would be invited" in page
    assert "No contact in the chosen roles with an e-mail or phone 0" in page
    launched = post_form(client, "/manage/campaigns/new?lang=en", {**data, "launch": "Launch"})
    assert launched.status_code == 303
    with app.app_context():
        campaign = db.session.scalars(
            select(Campaign).where(Campaign.name == "2026 Q4 key accounts")
        ).one()
        assert (campaign.contacts, campaign.contact_roles) == ("all", "purchaser,user")
        assert db.session.query(Invitation).filter_by(campaign_id=campaign.id).count() == 4


def test_reminders_go_per_invitation_to_each_contact_still_reachable(app: Flask) -> None:
    _registry(app)
    campaign_id = _launch(app, size=4, contacts="all")
    with app.app_context():
        sent = utcnow() - timedelta(days=6)
        db.session.execute(
            update(Invitation)
            .where(Invitation.campaign_id == campaign_id)
            .values(status="sent", sent_at=sent)
        )
        db.session.execute(delete(OutboxMessage))
        # 周强 opts out after the invitation went out.
        db.session.execute(
            update(Contact).where(Contact.name == "周强").values(opted_out_at=utcnow())
        )
        db.session.commit()
        queued = queue_reminders(campaign_id, SETTINGS, after_days=5)
        reminded = db.session.execute(
            select(OutboxMessage.kind, OutboxMessage.to_address, OutboxMessage.locale).order_by(
                OutboxMessage.id
            )
        ).all()
    # Not 周强 (opted out), not 王芳 (a phone only): one reminder per other invitation.
    assert queued == 5
    assert [tuple(r) for r in reminded] == [
        ("reminder", "ka1@example.com", "zh"),
        ("reminder", "emma@ka1.example", "en"),
        ("reminder", "ka2@example.com", "zh"),
        ("reminder", "tom@ka3.example", "en"),
        ("reminder", "ann@ka4.example", "en"),
    ]


def test_a_link_older_than_contacts_opts_out_the_primary_contact(app: Flask, client: Any) -> None:
    with app.app_context():
        account = make_account("KA1")
        _, _tokens = make_campaign("Old", accounts=[account])
        invitation = db.session.scalars(select(Invitation)).one()
        invitation.contact_id = None  # as migration 0005 left an invitation without one
        db.session.commit()
        path = f"/u/{optout_token(TEST_SECRET, invitation.id, invitation.token_nonce)}"
    assert client.post(path).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Contact.opted_out_at).where(Contact.is_primary)) is not None


PHONE = """mutation($input: RecordPhoneResponseInput!) {
  recordPhoneResponse(input: $input) { channel contact { name roleLabel } } }"""


def test_a_phone_interview_is_the_contact_s_response(app: Flask, client: Any) -> None:
    _registry(app)
    campaign_id = _launch(app, size=4, contacts="all")
    with app.app_context():
        tokens = make_tokens()
        invitation_id = db.session.scalar(
            select(Invitation.id)
            .join(Contact, Contact.id == Invitation.contact_id)
            .where(Invitation.campaign_id == campaign_id, Contact.name == "王芳")
        )
        db.session.commit()
    answers = [{"aspect": a.code, "score": 4} for a in DEFAULT_ASPECTS]
    body = gql(
        client,
        PHONE,
        {"input": {"invitationId": str(invitation_id), "answers": answers}},
        token=tokens["manager"],
        lang="en",
    )
    assert "errors" not in body, body
    assert body["data"]["recordPhoneResponse"] == {
        "channel": "phone",
        "contact": {"name": "王芳", "roleLabel": "Purchaser"},
    }


def test_progress_counts_accounts_and_the_funnel_counts_links(app: Flask) -> None:
    """Three people of KA1 and one of KA2 are asked; two of KA1 answer. Two accounts
    were sampled and one heard (50%); four links went out and two were answered."""
    from survey.analysis import campaign_funnel, campaign_progress, stratum_progress

    _registry(app)
    campaign_id = _launch(app, size=2, contacts="all", contact_roles=("purchaser", "other"))
    with app.app_context():
        invitations = db.session.execute(
            select(Invitation.id, KeyAccount.external_id, Contact.name)
            .join(KeyAccount, KeyAccount.id == Invitation.account_id)
            .join(Contact, Contact.id == Invitation.contact_id)
            .where(Invitation.campaign_id == campaign_id)
            .order_by(Invitation.id)
        ).all()
        assert sorted((ext, name) for _, ext, name in invitations) == [
            ("KA1", "周强"),
            ("KA1", "李娜"),
            ("KA2", "李娜"),
            ("KA2", "王芳"),
        ]
        answers = {a.code: AnswerInput(3) for a in DEFAULT_ASPECTS}
        for invitation_id, ext, _ in invitations:
            if ext == "KA1":
                record_response(invitation_id, answers, comment=None, locale="zh")
        progress = campaign_progress([campaign_id])[campaign_id]
        assert (progress.sampled, progress.responded, progress.response_rate) == (2, 1, 0.5)
        funnel = campaign_funnel(campaign_id)
        assert (funnel.sampled, funnel.responded) == (4, 2)
        assert [(s.sampled, s.responded) for s in stratum_progress(campaign_id)] == [(2, 1)]
