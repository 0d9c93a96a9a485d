"""Phone interviews: staff enter a contact's answers at /s/<token>?channel=phone (with a
manager's token posted in the form) or through GraphQL recordPhoneResponse."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from survey.analysis import Dimension, ResponseFilter, satisfaction_summary
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import Invitation, Response
from survey.registry.staff import add_staff
from survey.scale import DEFAULT_ASPECTS

from .conftest import csrf_token_from
from .factories import make_account, make_campaign, make_response


def _setup(app: Flask) -> dict[str, Any]:
    with app.app_context():
        account = make_account("KA001", locale="en")
        other = make_account("KA002")
        campaign, tokens = make_campaign(accounts=[account, other])
        manager = add_staff("王伟", "manager").token
        viewer = add_staff("Viewer Vic", "viewer").token
        db.session.commit()
        invitation_id = db.session.scalar(
            select(Invitation.id).where(Invitation.account_id == account.id)
        )
        return {
            "token": tokens[account.id],
            "other_token": tokens[other.id],
            "campaign_id": campaign.id,
            "invitation_id": invitation_id,
            "manager": manager,
            "viewer": viewer,
        }


def _answers(score: int = 4) -> dict[str, str]:
    data = {f"score_{a.code}": str(score) for a in DEFAULT_ASPECTS}
    data["score_delivery"] = "1"
    data["reasons_delivery"] = "delivery"
    data["why_delivery"] = "Two late shipments"
    data["comment"] = "Said on the phone"
    return data


def _stored(app: Flask) -> list[tuple[str, str | None, str | None]]:
    with app.app_context():
        return list(
            db.session.execute(
                select(Response.channel, Response.entered_by, Response.comment).order_by(
                    Response.id
                )
            ).all()
        )


def test_phone_page_asks_for_the_staff_token_and_does_not_mark_opened(app: Flask) -> None:
    s = _setup(app)
    client = app.test_client()
    page = client.get(f"/s/{s['token']}?channel=phone")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<input type="password" id="staff-token" name="staff_token"' in html
    assert "Phone interview" in html
    assert "Save the phone interview" in html
    assert f'action="/s/{s["token"]}?lang=en&amp;channel=phone"' in html
    with app.app_context():
        assert (
            db.session.scalar(
                select(Invitation.opened_at).where(Invitation.id == s["invitation_id"])
            )
            is None
        )
    # The web page has no token field.
    assert "staff_token" not in client.get(f"/s/{s['token']}").get_data(as_text=True)


def test_manager_token_stores_a_phone_response_with_who_entered_it(app: Flask) -> None:
    s = _setup(app)
    client = app.test_client()
    html = client.get(f"/s/{s['token']}?channel=phone").get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(html), "staff_token": s["manager"], **_answers()}
    done = client.post(f"/s/{s['token']}?lang=en&channel=phone", data=data)
    assert done.status_code == 303
    assert done.headers["Location"].endswith("/thanks?lang=en&channel=phone")
    assert "The phone interview with Account KA001 has been saved." in client.get(
        done.headers["Location"]
    ).get_data(as_text=True)
    assert _stored(app) == [("phone", "王伟", "Said on the phone")]
    # The staff token appears nowhere in a URL.
    assert s["manager"] not in done.headers["Location"]


def test_viewer_or_bad_token_stores_nothing_and_keeps_the_answers(app: Flask) -> None:
    s = _setup(app)
    client = app.test_client()
    html = client.get(f"/s/{s['token']}?channel=phone").get_data(as_text=True)
    csrf = csrf_token_from(html)
    for token, message in (
        (s["viewer"], "Only managers can enter phone interviews."),
        ("not-a-token", "Please enter a valid staff access token."),
        ("", "Please enter a valid staff access token."),
    ):
        page = client.post(
            f"/s/{s['token']}?lang=en&channel=phone",
            data={"csrf_token": csrf, "staff_token": token, **_answers()},
        )
        body = page.get_data(as_text=True)
        assert page.status_code == 422
        assert message in body
        assert 'href="#staff-token"' in body  # in the error summary, linked to the field
        # What was typed is still there (the token itself is not echoed back).
        assert "Two late shipments" in body
        assert re.search(r'<input[^>]*checked[^>]*name="score_delivery"[^>]*value="1"', body)
        if token:
            assert token not in body
    assert _stored(app) == []


def test_chinese_phone_errors(app: Flask) -> None:
    s = _setup(app)
    client = app.test_client()
    html = client.get(f"/s/{s['other_token']}?channel=phone").get_data(as_text=True)
    page = client.post(
        f"/s/{s['other_token']}?channel=phone",
        data={"csrf_token": csrf_token_from(html), "staff_token": s["viewer"], **_answers()},
    )
    assert "只有经理可以录入电话访谈。" in page.get_data(as_text=True)


def test_web_submissions_ignore_a_posted_staff_token(app: Flask) -> None:
    s = _setup(app)
    client = app.test_client()
    html = client.get(f"/s/{s['token']}").get_data(as_text=True)
    done = client.post(
        f"/s/{s['token']}",
        data={"csrf_token": csrf_token_from(html), "staff_token": s["manager"], **_answers()},
    )
    assert done.status_code == 303
    assert _stored(app) == [("web", None, "Said on the phone")]


def test_summaries_filter_by_channel(app: Flask) -> None:
    with app.app_context():
        accounts = [make_account(f"KA{i}") for i in range(3)]
        campaign, _ = make_campaign(accounts=accounts)
        make_response(campaign, accounts[0], {"overall": 5}, channel="web")
        make_response(campaign, accounts[1], {"overall": 1}, channel="phone")
        make_response(campaign, accounts[2], {"overall": 2}, channel="phone")
        db.session.commit()
        phone = satisfaction_summary(Dimension.ASPECT, ResponseFilter(channel="phone"))
        web = satisfaction_summary(Dimension.ASPECT, ResponseFilter(channel="web"))
        everything = satisfaction_summary(Dimension.ASPECT)
        count = db.session.scalar(select(func.count(Response.id)))
    assert count == 3

    def overall(groups: list[Any]) -> tuple[int, int]:
        (group,) = [g for g in groups if g.key == "overall"]
        return group.answers, group.distribution.very_dissatisfied

    assert overall(phone) == (2, 1)
    assert overall(web) == (1, 0)
    assert overall(everything) == (3, 1)
    with app.app_context(), pytest.raises(InvalidInputError):
        satisfaction_summary(Dimension.ASPECT, ResponseFilter(channel="fax"))


def test_guessing_staff_tokens_is_rate_limited(database_url: str) -> None:
    from .conftest import make_test_app

    app = make_test_app(
        database_url, RATELIMIT_ENABLED=True, RATELIMIT_FAILED_LOOKUPS="3 per minute"
    )
    with app.app_context():
        db.create_all()
    try:
        s = _setup(app)
        client = app.test_client()
        office = {"REMOTE_ADDR": f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"}
        html = client.get(f"/s/{s['token']}?channel=phone", environ_base=office)
        csrf = csrf_token_from(html.get_data(as_text=True))

        def post(token: str) -> int:
            data = {"csrf_token": csrf, "staff_token": token, **_answers()}
            page = client.post(f"/s/{s['token']}?channel=phone", data=data, environ_base=office)
            return page.status_code

        assert [post(f"guess-{n}") for n in range(3)] == [422, 422, 422]
        assert post("guess-3") == 429
        assert _stored(app) == []
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
