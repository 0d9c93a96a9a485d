"""One-click opt-out: /u/<token> from every e-mail; opted-out accounts leave the frame."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from survey.campaigns import CampaignRequest, build_frame, launch_campaign
from survey.db import db
from survey.delivery.mail import MailSettings, optout_mac, optout_token, parse_optout_token
from survey.models import Contact, Invitation, KeyAccount, OutboxMessage
from survey.tokens import derive_token

from .conftest import BASE_URL, TEST_SECRET
from .factories import make_account

SETTINGS = MailSettings(secret_key=TEST_SECRET, base_url=BASE_URL)
_OPTOUT = re.compile(r"https://survey\.example\.test(/u/[0-9]+\.[A-Za-z0-9_-]{43})")


def _launch(app: Flask, n: int = 3) -> None:
    with app.app_context():
        for i in range(n):
            make_account(f"KA{i + 1:03d}", locale="en" if i == 0 else "zh")
        db.session.commit()
        launch_campaign(
            CampaignRequest(name="Q4", size=n, seed=1), secret_key=TEST_SECRET, mail=SETTINGS
        )


def _optout_path(app: Flask, external_id: str) -> str:
    with app.app_context():
        body = db.session.scalar(
            select(OutboxMessage.body_text)
            .join(Invitation, Invitation.id == OutboxMessage.invitation_id)
            .join(KeyAccount, KeyAccount.id == Invitation.account_id)
            .where(KeyAccount.external_id == external_id)
        )
    match = _OPTOUT.search(body or "")
    assert match, body
    return match.group(1)


def _opted_out(app: Flask) -> dict[str, bool]:
    """Whether each account's primary contact opted out."""
    with app.app_context():
        rows = db.session.execute(
            select(KeyAccount.external_id, Contact.opted_out_at)
            .join(Contact, Contact.account_id == KeyAccount.id)
            .where(Contact.is_primary)
            .order_by(KeyAccount.id)
        ).all()
    return {ext: at is not None for ext, at in rows}


def _opted_out_at(external_id: str) -> Any:
    return db.session.scalar(
        select(Contact.opted_out_at)
        .join(KeyAccount, KeyAccount.id == Contact.account_id)
        .where(KeyAccount.external_id == external_id, Contact.is_primary)
    )


def test_the_optout_token_is_not_the_survey_token() -> None:
    nonce = "0f" * 16
    assert optout_mac(TEST_SECRET, nonce) != derive_token(TEST_SECRET, nonce)
    assert optout_token(TEST_SECRET, 7, nonce) == f"7.{optout_mac(TEST_SECRET, nonce)}"
    assert optout_mac("another-secret", nonce) != optout_mac(TEST_SECRET, nonce)


def test_get_shows_a_confirm_button_and_changes_nothing(app: Flask) -> None:
    _launch(app)
    client = app.test_client()
    page = client.get(_optout_path(app, "KA001"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Unsubscribe from our surveys?" in html
    assert "李娜 at Account KA001 will no longer be invited" in html
    assert '<button type="submit">Unsubscribe</button>' in html
    chinese = client.get(_optout_path(app, "KA002")).get_data(as_text=True)
    assert "退订我们的调查邮件？" in chinese
    assert _opted_out(app) == {"KA001": False, "KA002": False, "KA003": False}


def test_one_click_post_opts_out_and_cancels_queued_mail(app: Flask) -> None:
    _launch(app)
    client = app.test_client()
    path = _optout_path(app, "KA002")
    # RFC 8058: the mail client POSTs this body, with no CSRF token and no cookie.
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "您已退订" in done.get_data(as_text=True)
    assert _opted_out(app) == {"KA001": False, "KA002": True, "KA003": False}
    with app.app_context():
        statuses = dict(
            db.session.execute(
                select(KeyAccount.external_id, OutboxMessage.status)
                .join(Invitation, Invitation.id == OutboxMessage.invitation_id)
                .join(KeyAccount, KeyAccount.id == Invitation.account_id)
            ).all()
        )
        first = _opted_out_at("KA002")
    assert statuses == {"KA001": "queued", "KA002": "failed", "KA003": "queued"}
    # Again: still fine, and the first time is kept.
    assert client.post(path).status_code == 200
    again = client.get(path)
    assert "您已退订" in again.get_data(as_text=True)
    with app.app_context():
        assert _opted_out_at("KA002") == first


def test_bad_optout_links_are_404_and_change_nothing(app: Flask) -> None:
    _launch(app)
    client = app.test_client()
    path = _optout_path(app, "KA001")
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")
    other_id = re.sub(r"/u/(\d+)\.", lambda m: f"/u/{int(m.group(1)) + 1}.", path)
    for bad in (tampered, other_id, "/u/1", "/u/x.y", "/u/99999." + "a" * 43):
        assert client.get(bad).status_code == 404, bad
        assert client.post(bad).status_code == 404, bad
    assert not any(_opted_out(app).values())


def test_opted_out_accounts_leave_the_frame_and_the_dry_run_says_so(
    app: Flask, runner: Any
) -> None:
    _launch(app)
    app.test_client().post(_optout_path(app, "KA003"))
    with app.app_context():
        frame = build_frame(exclude_days=0)
    assert sorted(m.external_id for m in frame.members) == ["KA001", "KA002"]
    assert frame.excluded["opted_out"] == 1
    result = runner.invoke(
        args=[
            *("campaign", "launch", "--name", "Next", "--size", "1"),
            *("--exclude-days", "0", "--dry-run"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Sampling frame: 2 accounts" in result.output
    assert "opted_out 1" in result.output


@given(st.text(max_size=80))
def test_parse_optout_token_never_raises_and_accepts_only_its_own_shape(text: str) -> None:
    parsed = parse_optout_token(text)
    if parsed is not None:
        invitation_id, mac = parsed
        assert text == f"{invitation_id}.{mac}"
        assert len(mac) == 43


@given(st.integers(min_value=1, max_value=10**12 - 1), st.text(min_size=1, max_size=64))
def test_optout_tokens_round_trip(invitation_id: int, nonce: str) -> None:
    token = optout_token(TEST_SECRET, invitation_id, nonce)
    assert parse_optout_token(token) == (invitation_id, optout_mac(TEST_SECRET, nonce))
