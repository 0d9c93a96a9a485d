"""The manager console /manage: signing in, roles, launching, campaign pages, CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from survey.analysis import campaign_funnel, campaign_responses, stratum_progress
from survey.db import db
from survey.errors import InvalidInputError, NotFoundError
from survey.models import (
    CAMPAIGN_CLOSED,
    INVITATION_BOUNCED,
    INVITATION_EXPIRED,
    AuditEntry,
    Campaign,
    CampaignFrameMember,
    Invitation,
    OutboxMessage,
    StaffMember,
)
from survey.registry.staff import (
    add_staff,
    authenticate_password,
    get_active_staff,
    revoke_staff,
    set_password,
)

from .conftest import BASE_URL, TEST_NOW, csrf_token_from
from .factories import make_account, make_campaign, make_defection, make_response

PASSWORD = "correct horse battery"


def add_member(app, name: str, role: str, email: str | None = None) -> str:
    email = email or f"{name.lower()}@example.com"
    with app.app_context():
        add_staff(name, role, email, password=PASSWORD)
    return email


def sign_in(client, email: str, password: str = PASSWORD, query: str = "") -> Any:
    page = client.get(f"/manage/login{query}")
    return client.post(
        f"/manage/login{query}",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )


@pytest.fixture
def manager(app, client):
    sign_in(client, add_member(app, "Zhang", "manager"))
    return client


@pytest.fixture
def viewer(app, client):
    sign_in(client, add_member(app, "Li", "viewer"))
    return client


def registry(app) -> None:
    """Tiers A:2, B:3, C:5 in the frame; one inactive and one opted-out account."""
    with app.app_context():
        number = 0
        for tier, how_many in (("A", 2), ("B", 3), ("C", 5)):
            for _ in range(how_many):
                number += 1
                make_account(f"KA{number:02d}", tier=tier)
        make_account("KA90", active=False)
        make_account("KA91", opted_out_at=datetime(2026, 1, 1, tzinfo=UTC))
        db.session.commit()


def count(app, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def post_form(client, url: str, data: dict[str, Any]) -> Any:
    page = client.get(url)
    return client.post(
        url, data={"csrf_token": csrf_token_from(page.get_data(as_text=True)), **data}
    )


def text(response: Any) -> str:
    """The page's visible text with tags dropped and white space collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").split())


# --- passwords (survey.registry.staff) -----------------------------------------------------------


def test_password_is_stored_as_scrypt_hash_and_checked_by_email(app):
    with app.app_context():
        add_staff("Zhang", "manager", "Zhang@Example.com", password=PASSWORD)
        member = db.session.scalars(select(StaffMember)).one()
        assert member.password_hash.startswith("scrypt:")
        assert PASSWORD not in member.password_hash
        found = authenticate_password(" zhang@example.COM ", PASSWORD)
        assert found is not None and found.name == "Zhang"
        assert authenticate_password("zhang@example.com", PASSWORD + "x") is None
        assert authenticate_password("nobody@example.com", PASSWORD) is None
        assert authenticate_password("", "") is None


def test_password_rules(app):
    with app.app_context():
        with pytest.raises(InvalidInputError) as short:
            add_staff("A", "viewer", "a@example.com", password="too short")
        assert short.value.field == "password"
        with pytest.raises(InvalidInputError) as no_email:
            add_staff("B", "viewer", password=PASSWORD)
        assert no_email.value.field == "email"
        assert db.session.scalar(select(func.count()).select_from(StaffMember)) == 0
        add_staff("C", "viewer")
        with pytest.raises(InvalidInputError):
            set_password("C", PASSWORD)  # no e-mail to sign in with
        with pytest.raises(NotFoundError):
            set_password("nobody", PASSWORD)


def test_set_password_replaces_it_and_revoked_staff_cannot_sign_in(app):
    with app.app_context():
        add_staff("Wang", "admin", "wang@example.com", password=PASSWORD)
        set_password("Wang", "another long password")
        assert authenticate_password("wang@example.com", PASSWORD) is None
        member = authenticate_password("wang@example.com", "another long password")
        assert member is not None
        revoke_staff("Wang")
        assert authenticate_password("wang@example.com", "another long password") is None
        assert get_active_staff(member.id) is None


def test_cli_add_with_password_prompts_twice_hidden(app, runner):
    result = runner.invoke(
        args=[
            "staff",
            "add",
            "Zhang Min",
            "--email",
            "zm@example.com",
            "--role",
            "manager",
            "--password",
        ],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert "Repeat the password" in result.output
    assert "sign in at /manage" in result.output
    with app.app_context():
        assert authenticate_password("zm@example.com", PASSWORD) is not None


def test_cli_password_mismatch_asks_again_and_short_password_fails(app, runner):
    result = runner.invoke(
        args=["staff", "add", "Li", "--email", "li@example.com", "--role", "viewer", "--password"],
        input=f"{PASSWORD}\nsomething else!\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower() or "don't match" in result.output.lower()
    short = runner.invoke(args=["staff", "password", "Li"], input="short\nshort\n")
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output
    no_email = runner.invoke(args=["staff", "add", "Wu", "--role", "viewer", "--password"])
    assert no_email.exit_code == 2
    assert "--password needs --email" in no_email.output


# --- signing in -------------------------------------------------------------------------


def test_pages_need_sign_in_and_return_where_you_were(app, client):
    response = client.get("/manage/results?by=region")
    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/login?next=/manage/results?by%3Dregion"
    email = add_member(app, "Zhang", "manager")
    signed = sign_in(client, email, query="?next=/manage/results?by%3Dregion")
    assert signed.status_code == 303
    assert signed.headers["Location"] == "/manage/results?by=region"
    assert client.get("/manage/campaigns").status_code == 200


def test_next_never_leaves_the_console(app, client):
    email = add_member(app, "Zhang", "manager")
    signed = sign_in(client, email, query="?next=https://evil.example/manage")
    assert signed.headers["Location"] == "/manage/campaigns"


@pytest.mark.parametrize(
    ("lang", "hint"),
    [
        ("en", "No account yet? Ask your KeyPulse administrator to give you one."),
        ("zh", "还没有账号？请联系您的 KeyPulse 管理员为您开通。"),
    ],
)
def test_sign_in_page_sends_people_without_an_account_to_an_administrator(client, lang, hint):
    page = client.get(f"/manage/login?lang={lang}")
    assert hint in text(page)
    assert "flask" not in page.text and "--" not in text(page)  # no shell command


def test_wrong_password_and_unknown_email_read_the_same(app, client):
    email = add_member(app, "Zhang", "manager")
    wrong = sign_in(client, email, "wrong password!", query="?lang=en")
    unknown = sign_in(client, "nobody@example.com", query="?lang=en")
    assert wrong.status_code == unknown.status_code == 422
    message = "The e-mail or password is not right. Please try again."
    assert message in text(wrong) and message in text(unknown)
    assert 'value="correct' not in wrong.get_data(as_text=True)  # password not echoed
    assert client.get("/manage/campaigns").status_code == 302


def test_sign_in_replaces_the_session_and_sign_out_ends_it(app, client):
    email = add_member(app, "Zhang", "manager")
    with client.session_transaction() as session:
        session["planted"] = "x"
    sign_in(client, email)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert isinstance(session["staff_id"], int)
    page = client.get("/manage/campaigns")
    out = client.post("/manage/logout", data={"csrf_token": csrf_token_from(page.text)})
    assert out.status_code == 303
    assert client.get("/manage/campaigns").status_code == 302


def test_logout_needs_csrf(manager):
    assert manager.post("/manage/logout").status_code == 400
    assert manager.get("/manage/campaigns").status_code == 200


def test_a_form_sent_after_the_session_ended_changes_nothing(app, client):
    registry(app)
    page = client.get("/manage/login?lang=en")
    response = client.post(
        "/manage/campaigns/new",
        data={"csrf_token": csrf_token_from(page.text), **launch_data(), "launch": "Launch"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/manage/login"
    assert "Please sign in again; nothing was changed." in text(client.get("/manage/login"))
    assert count(app, Campaign) == 0


def test_revoked_staff_are_signed_out(app, manager):
    with app.app_context():
        revoke_staff("Zhang")
    assert manager.get("/manage/campaigns").status_code == 302


def test_chinese_by_default_and_the_language_choice_sticks(app, client):
    email = add_member(app, "Zhang", "manager")
    assert "登录" in text(client.get("/manage/login"))
    sign_in(client, email, query="?lang=en")
    assert "Launch a new campaign" in text(client.get("/manage/campaigns"))
    assert "发起新的调查活动" in text(client.get("/manage/campaigns?lang=zh"))
    assert "发起新的调查活动" in text(client.get("/manage/campaigns"))


class TestLockout:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"RATELIMIT_ENABLED": True}

    def test_five_failures_lock_that_email_with_a_neutral_message(self, app, client):
        email = add_member(app, "Lockout", "manager", "lockout-test@example.com")
        for _ in range(5):
            assert sign_in(client, email, "wrong password!").status_code == 422
        locked = sign_in(client, email)  # even the right password waits now
        assert locked.status_code == 429
        assert "Too many sign-in attempts" in text(locked) or "尝试登录的次数过多" in text(locked)
        # An unknown e-mail gets exactly the same treatment.
        for _ in range(5):
            sign_in(client, "ghost-lockout@example.com", "wrong password!")
        ghost = sign_in(client, "ghost-lockout@example.com")
        assert ghost.status_code == 429
        assert text(ghost) == text(locked)
        # Someone else from the same address is not locked out.
        other = add_member(app, "Other", "viewer", "other-lockout@example.com")
        assert sign_in(client, other).status_code == 303


# --- roles ------------------------------------------------------------------------------


def test_viewer_sees_everything_read_only(app, viewer):
    registry(app)
    with app.app_context():
        accounts = db.session.scalars(select(CampaignFrameMember)).all()  # none yet
        assert accounts == []
        campaign, _ = make_campaign(accounts=[make_account("KA50")])
        db.session.commit()
        campaign_id = campaign.id
    for url in (
        "/manage/campaigns",
        "/manage/results",
        f"/manage/campaigns/{campaign_id}",
        f"/manage/campaigns/{campaign_id}/responses.csv",
    ):
        assert viewer.get(url).status_code == 200, url
    form = viewer.get("/manage/campaigns/new").get_data(as_text=True)
    assert 'name="launch"' not in form and 'name="preview"' not in form
    assert re.search(r'<input[^>]*disabled[^>]*name="name"', form)
    detail = viewer.get(f"/manage/campaigns/{campaign_id}").get_data(as_text=True)
    assert "/close" not in detail and "links.csv" not in detail
    token = csrf_token_from(form)
    launch = {
        "csrf_token": token,
        "name": "X",
        "size": "1",
        "seed": "1",
        "exclude_days": "0",
        "closes_on": (TEST_NOW.date() + timedelta(days=9)).isoformat(),
        "kind": "satisfaction",
        "launch": "Launch",
    }
    assert viewer.post("/manage/campaigns/new", data=launch).status_code == 403
    assert (
        viewer.post(
            f"/manage/campaigns/{campaign_id}/close", data={"csrf_token": token}
        ).status_code
        == 403
    )
    refused = viewer.get(f"/manage/campaigns/{campaign_id}/links.csv?lang=en")
    assert refused.status_code == 403
    assert "Only managers can do this" in text(refused)
    assert count(app, Campaign) == 1


# --- launching --------------------------------------------------------------------------


def launch_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "2026 Q4 key accounts",
        "size": "5",
        "percent": "",
        "stratify_by": "tier",
        "seed": "7",
        "exclude_days": "90",
        "closes_on": (TEST_NOW.date() + timedelta(days=14)).isoformat(),
        "kind": "satisfaction",
    }
    data.update(overrides)
    return data


def test_new_campaign_form_suggests_a_seed_and_a_closing_date(manager):
    html = manager.get("/manage/campaigns/new").get_data(as_text=True)
    seed = re.search(r'name="seed"[^>]*value="(\d+)"', html) or re.search(
        r'value="(\d+)"[^>]*name="seed"', html
    )
    assert seed is not None
    assert 'name="closes_on"' in html and 'type="date"' in html
    assert 'value="90"' in html


def test_preview_shows_the_allocation_and_writes_nothing(app, manager):
    registry(app)
    response = post_form(
        manager, "/manage/campaigns/new?lang=en", {**launch_data(), "preview": "Preview sample"}
    )
    assert response.status_code == 200
    page = text(response)
    assert "5 of 10 eligible accounts would be invited (seed 7)." in page
    assert "Nothing has been created yet." in page
    assert "Tier A 2 1 1 Tier B 3 1 1 Tier C 5 3 3 Total 10 5 5" in page
    assert "5 contacts of these accounts would be invited" in page
    assert "Inactive or lost 1 No e-mail or phone 0 Opted out 1 Surveyed recently 0" in page
    assert count(app, Campaign) == 0
    assert count(app, Invitation) == 0
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(AuditEntry.target_type == "campaign")) == 0
        )
    # The form keeps what was typed, so "Launch" draws the same sample.
    assert 'value="2026 Q4 key accounts"' in response.get_data(as_text=True)


def test_preview_shows_the_expected_margin_of_error(app, manager):
    registry(app)
    url = "/manage/campaigns/new?lang=en"
    # No closed campaign yet: 30% of 5 invited is 1 answer, ±1.96 × 0.5 = ±98 points
    # (the finite population correction of 1 in 10 is 1).
    page = text(post_form(manager, url, {**launch_data(), "preview": "P"}))
    assert (
        "Expected margin of error of the satisfied share: ±98.0 points (95%), "
        "if 30% of those invited answer (expected answers: 1)." in page
    )
    # All 5 answer: 1.96 × 0.5 / √5 × √(5/9) = 0.98 / 3.
    page = text(post_form(manager, url, {**launch_data(expected_rate="100"), "preview": "P"}))
    assert "±32.7 points (95%), if 100% of those invited answer (expected answers: 5)." in page


def test_target_margin_picks_the_smallest_sample_that_reaches_it(app, manager):
    registry(app)
    # 8 of 10: 0.98 / √8 × √(2/9) = 0.163 ≤ 0.20; 7 would give 0.98 / √7 × √(3/9) = 0.214.
    data = launch_data(size="", target_margin="20", expected_rate="100", stratify_by="")
    response = post_form(manager, "/manage/campaigns/new?lang=en", {**data, "preview": "P"})
    assert response.status_code == 200
    page = text(response)
    assert "8 of 10 eligible accounts would be invited (seed 7)." in page
    assert "±16.3 points (95%), if 100% of those invited answer (expected answers: 8)." in page
    zh = text(post_form(manager, "/manage/campaigns/new?lang=zh", {**data, "preview": "P"}))
    assert "满意比例的预计误差范围：±16.3 个百分点（95%置信度）" in zh
    assert count(app, Campaign) == 0


def test_launch_creates_the_campaign_and_redirects_to_it(app, manager):
    registry(app)
    response = post_form(
        manager, "/manage/campaigns/new?lang=en", {**launch_data(), "launch": "Launch"}
    )
    assert response.status_code == 303
    with app.app_context():
        campaign = db.session.scalars(select(Campaign)).one()
        assert (campaign.name, campaign.seed, campaign.sample_size, campaign.frame_size) == (
            "2026 Q4 key accounts",
            7,
            5,
            10,
        )
        assert campaign.stratify_by == "tier"
        assert campaign.created_by == "Zhang"
        assert campaign.closes_at.astimezone(UTC).hour == 15  # 23:59:59 in Shanghai
        campaign_id = campaign.id
    assert response.headers["Location"] == f"/manage/campaigns/{campaign_id}"
    assert count(app, Invitation) == 5
    detail = manager.get(response.headers["Location"])
    assert (
        "Campaign launched: 5 accounts invited, 5 invitation e-mails queued "
        "(accounts without e-mail are to be phoned)." in text(detail)
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 5
    assert "Tier C 5 3 0 0%" in text(detail)


def test_launch_by_share_of_the_frame(app, manager):
    registry(app)
    response = post_form(
        manager,
        "/manage/campaigns/new",
        {**launch_data(size="", percent="30", stratify_by=""), "launch": "L"},
    )
    assert response.status_code == 303
    assert count(app, Invitation) == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"size": ""}, "Give a sample size or a share of the frame."),
        ({"percent": "10"}, "Give a sample size or a share of the frame, not both."),
        ({"size": "0"}, "The sample size must be at least 1."),
        ({"size": "", "percent": "150"}, "Please give a share between 0.01 and 100."),
        ({"size": "11"}, "Only 10 accounts can be asked with these settings; ask for fewer."),
        ({"name": "  "}, "Please give the campaign a name."),
        ({"seed": "-1"}, "The seed must be a whole number of 0 or more."),
        ({"exclude_days": "x"}, "Not a valid integer value."),
        ({"closes_on": TEST_NOW.date().isoformat()}, "The closing date must be after today."),
        ({"stratify_by": "colour"}, "Not a valid choice."),
        ({"target_margin": "5"}, "Give a target margin of error or a sample size, not both."),
        ({"size": "", "target_margin": "60"}, "Please give a margin between 0.1 and 50."),
        ({"expected_rate": "0"}, "Please give a rate between 1 and 100."),
    ],
)
def test_bad_launch_input_is_explained_and_kept(app, manager, overrides, message):
    registry(app)
    data = {**launch_data(**overrides), "launch": "Launch"}
    response = post_form(manager, "/manage/campaigns/new?lang=en", data)
    assert response.status_code == 422
    assert message in text(response)
    assert count(app, Campaign) == 0
    if data["name"].strip():
        assert f'value="{data["name"]}"' in response.get_data(as_text=True)


def test_taken_name_and_empty_frame_are_explained(app, manager):
    registry(app)
    assert (
        post_form(
            manager, "/manage/campaigns/new", {**launch_data(), "launch": "Launch"}
        ).status_code
        == 303
    )
    again = post_form(
        manager, "/manage/campaigns/new?lang=en", {**launch_data(size="1"), "launch": "Launch"}
    )
    assert again.status_code == 422
    assert "A campaign with this name already exists; choose another name." in text(again)
    empty = post_form(
        manager,
        "/manage/campaigns/new?lang=en",
        {**launch_data(name="Other", size="5", stratify_by=""), "launch": "Launch"},
    )
    # The 5 just invited are excluded for 90 days: only 5 are left, so 5 still works;
    # asking for 6 shows the frame with its exclusions.
    assert empty.status_code == 303
    none_left = post_form(
        manager,
        "/manage/campaigns/new?lang=en",
        {**launch_data(name="Third", size="1"), "preview": "Preview"},
    )
    assert none_left.status_code == 422
    page = text(none_left)
    assert "the sampling frame is empty" in page
    assert "Surveyed recently 10" in page


# --- a campaign's page, closing and downloads -------------------------------------------


@pytest.fixture
def answered(app):
    """Four invited accounts: one answered, one opened, one bounced, one only sent."""
    with app.app_context():
        accounts = [
            make_account("KA01", name='=HYPERLINK("http://evil")', region="华东"),
            make_account("KA02", name="华北机电", locale="en"),
            make_account("KA03"),
            make_account("KA04"),
        ]
        campaign, _tokens = make_campaign("Q4", accounts=accounts)
        make_response(
            campaign,
            accounts[0],
            {"delivery": 1, "overall": 4},
            reasons={"delivery": ["delivery", "service"]},
            reason_texts={"delivery": "+发货太慢"},
            comment="@everyone 谢谢",
        )
        invitations = {i.account_id: i for i in db.session.scalars(select(Invitation))}
        invitations[accounts[1].id].opened_at = datetime(2026, 11, 2, tzinfo=UTC)
        invitations[accounts[1].id].status = "opened"
        invitations[accounts[2].id].status = INVITATION_BOUNCED
        db.session.commit()
        return campaign.id


def test_funnel_counts_each_stage_reached(app, answered):
    with app.app_context():
        funnel = campaign_funnel(answered)
        assert (funnel.sampled, funnel.sent, funnel.opened, funnel.responded) == (4, 4, 2, 1)
        assert (funnel.bounced, funnel.expired) == (1, 0)
        assert funnel.response_rate == 0.25
        # Made without an allocation: the invitations still show, under no stratum.
        assert [(s.key, s.sampled, s.responded) for s in stratum_progress(answered)] == [("", 4, 1)]
        with pytest.raises(NotFoundError):
            campaign_funnel(answered + 1)


def test_stratum_progress_after_a_stratified_launch(app, manager):
    registry(app)
    post_form(manager, "/manage/campaigns/new", {**launch_data(), "launch": "Launch"})
    with app.app_context():
        campaign_id = db.session.scalar(select(Campaign.id))
        rows = stratum_progress(campaign_id)
        assert [(r.key, r.frame, r.allocated, r.sampled, r.responded) for r in rows] == [
            ("A", 2, 1, 1, 0),
            ("B", 3, 1, 1, 0),
            ("C", 5, 3, 3, 0),
        ]


def test_campaign_page_shows_the_funnel(app, manager, answered):
    page = text(manager.get(f"/manage/campaigns/{answered}?lang=en"))
    assert "Response rate: 25% (1 of 4)." in page
    assert "Sampled 4" in page and "Sent 4" in page and "Opened 2" in page
    assert "Responded 1" in page
    assert "Bounced: 1 · Expired unanswered: 0" in page
    assert manager.get(f"/manage/campaigns/{answered + 5}").status_code == 404


def test_close_button_closes_and_expires_open_invitations(app, manager, answered):
    page = manager.get(f"/manage/campaigns/{answered}")
    response = manager.post(
        f"/manage/campaigns/{answered}/close", data={"csrf_token": csrf_token_from(page.text)}
    )
    assert response.status_code == 303
    with app.app_context():
        campaign = db.session.get(Campaign, answered)
        assert campaign.status == CAMPAIGN_CLOSED
        expired = db.session.scalar(
            select(func.count()).where(Invitation.status == INVITATION_EXPIRED)
        )
        assert expired == 2  # sent and opened; the bounced and the answered stay
    after = manager.get(f"/manage/campaigns/{answered}").get_data(as_text=True)
    assert "/close" not in after
    assert manager.post(f"/manage/campaigns/{answered}/close").status_code == 400  # no CSRF


def test_remind_button_queues_reminders_once(app, manager, answered):
    page = manager.get(f"/manage/campaigns/{answered}?lang=en")
    assert "Queue reminder e-mails" in text(page)
    token = csrf_token_from(page.text)
    url = f"/manage/campaigns/{answered}/remind"
    first = manager.post(url, data={"csrf_token": token, "after_days": "0"})
    assert first.status_code == 303
    # Sent and opened, not answered, not bounced: KA02 and KA04.
    assert "2 reminder e-mails queued." in text(manager.get(first.headers["Location"]))
    with app.app_context():
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
        assert kinds == ["reminder", "reminder"]
    manager.post(url, data={"csrf_token": token, "after_days": "0"})
    assert "0 reminder e-mails queued." in text(manager.get(f"/manage/campaigns/{answered}"))
    bad = manager.post(url, data={"csrf_token": token, "after_days": "-3"})
    assert bad.status_code == 303
    assert "Between 0 and 365 days, please." in text(manager.get(bad.headers["Location"]))
    assert manager.post(url, data={"after_days": "0"}).status_code == 400
    manager.post(f"/manage/campaigns/{answered}/close", data={"csrf_token": token})
    closed = manager.post(url, data={"csrf_token": token, "after_days": "0"})
    assert "The campaign is closed: reminders go to open campaigns only." in text(
        manager.get(closed.headers["Location"])
    )
    assert (
        manager.post(
            "/manage/campaigns/999/remind", data={"csrf_token": token, "after_days": "0"}
        ).status_code
        == 404
    )


def read_csv(response: Any) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_links_csv_has_bom_and_safe_cells(app, manager, answered):
    response = manager.get(f"/manage/campaigns/{answered}/links.csv?lang=en")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="campaign-{answered}-links.csv"'
    )
    rows = read_csv(response)
    assert rows[0] == [
        "Account ID",
        "Account",
        "Contact",
        "Role",
        "E-mail",
        "Phone",
        "Language",
        "Status",
        "Survey link",
    ]
    assert [r[0] for r in rows[1:]] == ["KA01", "KA02", "KA03", "KA04"]
    assert rows[1][1] == '\'=HYPERLINK("http://evil")'
    assert rows[2][1] == "华北机电"
    assert rows[1][3] == "Other"
    assert rows[1][8].startswith(f"{BASE_URL}/s/")


def test_responses_csv_one_row_per_response(app, manager, answered):
    rows = read_csv(manager.get(f"/manage/campaigns/{answered}/responses.csv?lang=en"))
    header, data = rows[0], rows[1:]
    assert len(data) == 1
    row = dict(zip(header, data[0], strict=True))
    assert row["Account"] == '\'=HYPERLINK("http://evil")'
    assert row["Delivery and logistics: score"] == "1"
    assert (
        row["Delivery and logistics: reasons"]
        == "Delivery and logistics; Service and responsiveness"
    )
    assert row["Delivery and logistics: why"] == "'+发货太慢"
    assert row["Overall satisfaction: score"] == "4"
    assert row["Price and commercial terms: score"] == ""
    assert row["Comment"] == "'@everyone 谢谢"
    assert header[-1] == "Comment"
    with app.app_context():
        export = campaign_responses(answered)
        assert [a[0] for a in export.aspects][-1] == "overall"
        with pytest.raises(NotFoundError):
            campaign_responses(answered + 1)


def test_csv_in_chinese(app, manager, answered):
    rows = read_csv(manager.get(f"/manage/campaigns/{answered}/responses.csv?lang=zh"))
    assert rows[0][0] == "答卷编号"
    assert "交货与物流：得分" in rows[0]


def test_exit_survey_previews_and_launches_on_lost_accounts(app, manager):
    registry(app)
    with app.app_context():
        today = TEST_NOW.date()
        for number, days_ago in (("KA80", 10), ("KA81", 30), ("KA82", 400)):
            make_defection(make_account(number), today - timedelta(days=days_ago), ["price"])
        db.session.commit()
    data = {
        **launch_data(name="Exit 2026", size="2", stratify_by="", kind="exit"),
        "defected_within_days": "90",
    }
    preview = post_form(manager, "/manage/campaigns/new?lang=en", {**data, "preview": "P"})
    assert preview.status_code == 200
    page = text(preview)
    assert "2 of 2 eligible accounts would be invited" in page
    assert "Asked in an earlier exit survey 0" in page
    launched = post_form(manager, "/manage/campaigns/new", {**data, "launch": "Launch"})
    assert launched.status_code == 303
    with app.app_context():
        campaign = db.session.scalars(select(Campaign)).one()
        assert (campaign.kind, campaign.sample_size) == ("exit", 2)
    detail = text(manager.get(launched.headers["Location"]))
    assert "Exit survey (accounts that left)" in detail
    again = post_form(
        manager, "/manage/campaigns/new?lang=en", {**data, "name": "Exit again", "preview": "P"}
    )
    assert again.status_code == 422
    assert "No lost account can be asked with these settings" in text(again)
    assert "Asked in an earlier exit survey 2" in text(again)
