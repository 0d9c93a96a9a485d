"""Exit surveys for lost accounts: the frame, the questionnaire page, and their reasons
counted next to staff-recorded ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from survey.analysis import DefectionFilter, Dimension, defection_reasons_by_source
from survey.answers.exit_surveys import ExitAnswers, record_exit_response
from survey.campaigns import CampaignRequest, build_exit_frame, launch_campaign
from survey.clock import utcnow
from survey.db import db
from survey.delivery.mail import MailSettings
from survey.errors import AlreadyRespondedError, InvalidInputError
from survey.models import Campaign, ExitFeedback, Invitation, KeyAccount, OutboxMessage, Response
from survey.tokens import derive_token

from .conftest import BASE_URL, TEST_NOW, TEST_SECRET, csrf_token_from
from .factories import make_account, make_campaign, make_defection

SETTINGS = MailSettings(secret_key=TEST_SECRET, base_url=BASE_URL)
TODAY = TEST_NOW.date()


def _registry(app: Flask) -> None:
    """L1..L5 lost 10, 100, 200, 20 and 30 days ago (L4 without contact, L5 opted
    out), A1 still a customer. Staff-recorded reasons, the first one primary."""
    with app.app_context():
        lost = [
            ("L1", 10, ["price", "service"], {"locale": "en"}),
            ("L2", 100, ["competitor_offer"], {}),
            ("L3", 200, ["price"], {}),
            ("L4", 20, ["delivery"], {"contact_email": None, "contact_phone": None}),
            ("L5", 30, ["price"], {"opted_out_at": utcnow()}),
        ]
        for ext, days, reasons, fields in lost:
            account = make_account(ext, region="华北" if ext in ("L1", "L3") else "华东", **fields)
            make_defection(account, TODAY - timedelta(days=days), reasons)
        make_account("A1")
        db.session.commit()


def _launch_exit(app: Flask, **kwargs: Any) -> int:
    with app.app_context():
        result = launch_campaign(
            CampaignRequest(name=kwargs.pop("name", "Exit 2026"), kind="exit", **kwargs),
            secret_key=TEST_SECRET,
            mail=SETTINGS,
        )
        assert result.campaign_id is not None
        return result.campaign_id


def _tokens(app: Flask, campaign_id: int) -> dict[str, tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(KeyAccount.external_id, Invitation.id, Invitation.token_nonce)
            .join(KeyAccount, KeyAccount.id == Invitation.account_id)
            .where(Invitation.campaign_id == campaign_id)
        ).all()
    return {ext: (inv_id, derive_token(TEST_SECRET, nonce)) for ext, inv_id, nonce in rows}


# --- the frame ----------------------------------------------------------------------------


def test_exit_frame_holds_recently_lost_accounts_we_can_reach(app: Flask) -> None:
    _registry(app)
    with app.app_context():
        frame = build_exit_frame()
        wide = build_exit_frame(defected_within_days=365)
    assert sorted(m.external_id for m in frame.members) == ["L1", "L2"]
    assert frame.excluded == {"no_contact": 1, "opted_out": 1, "already_asked": 0}
    assert sorted(m.external_id for m in wide.members) == ["L1", "L2", "L3"]


def test_exit_launch_writes_an_exit_campaign_and_exit_emails(app: Flask) -> None:
    _registry(app)
    campaign_id = _launch_exit(app, size=2, seed=3)
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        assert campaign is not None
        assert (campaign.kind, campaign.sample_size, campaign.frame_size) == ("exit", 2, 2)
        subjects = dict(
            db.session.execute(select(OutboxMessage.to_address, OutboxMessage.subject)).all()
        )
    assert subjects == {
        "l1@example.com": "Please tell us why you left",
        "l2@example.com": "我们想了解您离开的原因",
    }
    # Asked once: a second exit campaign finds nobody new.
    with app.app_context(), pytest.raises(InvalidInputError, match="2 already asked"):
        launch_campaign(
            CampaignRequest(name="Exit again", kind="exit", size=1), secret_key=TEST_SECRET
        )


def test_exit_cli_dry_run_and_launch(app: Flask, runner: Any) -> None:
    _registry(app)
    dry = runner.invoke(
        args=[
            *("campaign", "launch", "--kind", "exit", "--name", "Exit", "--fraction", "1"),
            *("--defected-within", "365", "--dry-run"),
        ]
    )
    assert dry.exit_code == 0, dry.output
    assert "Sampling frame: 3 accounts" in dry.output
    assert "Excluded: no_contact 1, opted_out 1, already_asked 0 (total 2)" in dry.output
    bad = runner.invoke(
        args=[
            *("campaign", "launch", "--kind", "exit", "--name", "Exit", "--size", "1"),
            *("--defected-within", "0"),
        ]
    )
    assert bad.exit_code == 1
    assert "--defected-within: The defection window must be between 1 and" in bad.output
    done = runner.invoke(
        args=["campaign", "launch", "--kind", "exit", "--name", "Exit", "--size", "2"]
    )
    assert done.exit_code == 0, done.output
    assert "2 invitation e-mails queued" in done.output


# --- the page -----------------------------------------------------------------------------


def test_exit_page_shows_the_exit_questionnaire_and_stores_feedback(app: Flask) -> None:
    _registry(app)
    campaign_id = _launch_exit(app, size=2, seed=3)
    invitation_id, token = _tokens(app, campaign_id)["L1"]
    client = app.test_client()
    page = client.get(f"/s/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Why did you leave us?" in html
    assert "What was the main reason you stopped working with us?" in html
    assert 'name="score_' not in html  # no five-point questions here

    typed = {
        "csrf_token": csrf_token_from(html),
        "other_reasons": ["service", "communication"],
        "what_would_have_kept": "Faster approvals",
        "would_return": "maybe",
        "comment": "Thanks for asking",
    }
    missing = client.post(f"/s/{token}", data=typed)
    body = missing.get_data(as_text=True)
    assert missing.status_code == 422
    assert "Please choose the main reason." in body
    assert "Faster approvals" in body  # kept as typed
    with app.app_context():
        assert db.session.scalar(select(Response.id)) is None

    done = client.post(f"/s/{token}", data={**typed, "main_reason": "process"})
    assert done.status_code == 303
    with app.app_context():
        row = db.session.execute(
            select(
                Response.invitation_id,
                Response.channel,
                Response.comment,
                ExitFeedback.main_reason,
                ExitFeedback.other_reasons,
                ExitFeedback.what_would_have_kept,
                ExitFeedback.would_return,
            ).join(ExitFeedback, ExitFeedback.response_id == Response.id)
        ).one()
        status = db.session.scalar(select(Invitation.status).where(Invitation.id == invitation_id))
    assert tuple(row) == (
        invitation_id,
        "web",
        "Thanks for asking",
        "process",
        "service,communication",
        "Faster approvals",
        "maybe",
    )
    assert status == "responded"
    assert client.post(f"/s/{token}", data={**typed, "main_reason": "price"}).status_code == 409


def test_chinese_exit_page(app: Flask) -> None:
    _registry(app)
    campaign_id = _launch_exit(app, size=2, seed=3)
    _, token = _tokens(app, campaign_id)["L2"]
    html = app.test_client().get(f"/s/{token}").get_data(as_text=True)
    assert "您为什么离开我们？" in html
    # The reasons in the customer's words, not the staff's ("客户自身业务变化").
    assert "沟通太少，感觉不受重视" in html
    assert "我们自身的业务发生了变化" in html
    assert "沟通不足，不受重视" not in html and "客户自身业务变化" not in html
    assert "也许" in html


def test_record_exit_response_validates(app: Flask) -> None:
    _registry(app)
    campaign_id = _launch_exit(app, size=2, seed=3)
    invitation_id, _ = _tokens(app, campaign_id)["L1"]
    with app.app_context():
        for answers, field in (
            (ExitAnswers(main_reason=None), "main_reason"),
            (ExitAnswers(main_reason="bribes"), "main_reason"),
            (ExitAnswers(main_reason="price", other_reasons=["x"]), "other_reasons"),
            (ExitAnswers(main_reason="price", would_return="perhaps"), "would_return"),
            (
                ExitAnswers(main_reason="price", what_would_have_kept="x" * 1001),
                "what_would_have_kept",
            ),
        ):
            with pytest.raises(InvalidInputError) as caught:
                record_exit_response(invitation_id, answers, locale="en")
            assert caught.value.field == field
        # The main reason is not repeated among the others.
        record_exit_response(
            invitation_id,
            ExitAnswers(main_reason="price", other_reasons=["price", "service", "service"]),
            locale="en",
        )
        assert db.session.scalar(select(ExitFeedback.other_reasons)) == "service"
        with pytest.raises(AlreadyRespondedError):
            record_exit_response(invitation_id, ExitAnswers(main_reason="price"), locale="en")
        # A satisfaction invitation is not an exit survey.
        account = make_account("A9")
        campaign, _ = make_campaign("Q4", accounts=[account])
        db.session.commit()
        other = db.session.scalar(
            select(Invitation.id).where(Invitation.campaign_id == campaign.id)
        )
        with pytest.raises(InvalidInputError, match="not an exit survey"):
            record_exit_response(other, ExitAnswers(main_reason="price"), locale="en")


# --- reasons by source --------------------------------------------------------------------


def _answered(app: Flask) -> None:
    _registry(app)
    campaign_id = _launch_exit(app, size=2, seed=3)
    tokens = _tokens(app, campaign_id)
    with app.app_context():
        record_exit_response(
            tokens["L1"][0],
            ExitAnswers("price", ["service", "communication"], would_return="no"),
            locale="en",
        )
        record_exit_response(tokens["L2"][0], ExitAnswers("process"), locale="zh")


def _rows(groups: list[Any]) -> list[tuple[str, int, int, list[tuple[str, str, int, float]]]]:
    return [
        (
            g.key,
            g.defections,
            g.exit_responses,
            [(r.source, r.reason, r.count, round(r.share, 3)) for r in g.reasons],
        )
        for g in groups
    ]


def test_defection_reasons_count_both_sources(app: Flask) -> None:
    _answered(app)
    with app.app_context():
        everything = defection_reasons_by_source(locale="en")
        exit_only = defection_reasons_by_source(source="exit_survey")
        staff_only = defection_reasons_by_source(source="staff")
        recent = defection_reasons_by_source(f=DefectionFilter(since=TODAY - timedelta(days=50)))
        by_region = defection_reasons_by_source(Dimension.REGION, min_group_size=1)
    assert _rows(everything) == [
        (
            "all",
            5,
            2,
            [
                ("staff", "price", 3, 0.6),
                ("staff", "delivery", 1, 0.2),
                ("staff", "service", 1, 0.2),
                ("staff", "competitor_offer", 1, 0.2),
                ("exit_survey", "price", 1, 0.5),
                ("exit_survey", "service", 1, 0.5),
                ("exit_survey", "communication", 1, 0.5),
                ("exit_survey", "process", 1, 0.5),
            ],
        )
    ]
    assert _rows(exit_only)[0][3] == [r for r in _rows(everything)[0][3] if r[0] == "exit_survey"]
    assert [r[0] for r in _rows(staff_only)[0][3]] == ["staff"] * 4
    # Lost in the last 50 days: L1, L4, L5; of them only L1 answered the exit survey.
    assert _rows(recent) == [
        (
            "all",
            3,
            1,
            [
                ("staff", "price", 2, 0.667),
                ("staff", "delivery", 1, 0.333),
                ("staff", "service", 1, 0.333),
                ("exit_survey", "price", 1, 1.0),
                ("exit_survey", "service", 1, 1.0),
                ("exit_survey", "communication", 1, 1.0),
            ],
        )
    ]
    regions = {key: (defections, answered) for key, defections, answered, _ in _rows(by_region)}
    assert regions == {"华东": (3, 1), "华北": (2, 1)}
    with app.app_context(), pytest.raises(InvalidInputError):
        defection_reasons_by_source(source="rumour")


def test_exit_interview_by_phone_on_the_page(app: Flask) -> None:
    from survey.registry.staff import add_staff

    _registry(app)
    campaign_id = _launch_exit(app, size=2, seed=3)
    _, token = _tokens(app, campaign_id)["L1"]
    with app.app_context():
        manager = add_staff("王伟", "manager").token
    client = app.test_client()
    html = client.get(f"/s/{token}?channel=phone").get_data(as_text=True)
    assert "Phone interview" in html and 'name="staff_token"' in html
    done = client.post(
        f"/s/{token}?channel=phone",
        data={"csrf_token": csrf_token_from(html), "staff_token": manager, "main_reason": "price"},
    )
    assert done.status_code == 303
    with app.app_context():
        row = db.session.execute(
            select(Response.channel, Response.entered_by, ExitFeedback.main_reason).join(
                ExitFeedback, ExitFeedback.response_id == Response.id
            )
        ).one()
    assert tuple(row) == ("phone", "王伟", "price")


def test_exit_page_refuses_answers_outside_the_lists(app: Flask) -> None:
    _registry(app)
    campaign_id = _launch_exit(app, size=2, seed=3)
    _, token = _tokens(app, campaign_id)["L1"]
    client = app.test_client()
    html = client.get(f"/s/{token}").get_data(as_text=True)
    page = client.post(
        f"/s/{token}",
        data={
            "csrf_token": csrf_token_from(html),
            "main_reason": "bribes",
            "other_reasons": ["price", "gossip"],
            "would_return": "perhaps",
        },
    )
    body = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Please choose the main reason." in body
    assert "Please choose reasons from the list." in body
    assert "Please choose one of the answers." in body
    with app.app_context():
        assert db.session.scalar(select(Response.id)) is None
