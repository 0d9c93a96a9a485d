"""survey.follow_ups: a very dissatisfied submission opens a case and mails the manager."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey.answers.responses import AnswerInput, record_response
from survey.db import db
from survey.delivery.mail import MailSettings
from survey.errors import InvalidInputError, NotFoundError
from survey.follow_ups.cases import (
    KIND_FOLLOW_UP,
    follow_up_conditions,
    is_overdue,
    needs_follow_up,
    update_follow_up,
)
from survey.models import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    FollowUp,
    FollowUpNote,
    OutboxMessage,
    StaffMember,
)
from survey.scale import DEFAULT_ASPECTS, OVERALL

from .conftest import TEST_SECRET, csrf_token_from
from .factories import make_account, make_campaign

CODES = [a.code for a in DEFAULT_ASPECTS]
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
MAIL = MailSettings(secret_key=TEST_SECRET, base_url="https://kp.example.test")


def scores(default: int = 4, **overrides: int) -> dict[str, AnswerInput]:
    answers = {code: AnswerInput(default) for code in CODES}
    answers.update({code: AnswerInput(s) for code, s in overrides.items()})
    return answers


def test_needs_follow_up_rule():
    assert needs_follow_up({OVERALL: 2, "delivery": 4})
    assert needs_follow_up({OVERALL: 1})
    assert needs_follow_up({OVERALL: 4, "delivery": 1})
    assert not needs_follow_up({OVERALL: 3, "delivery": 2, "price": 2})
    assert not needs_follow_up({"delivery": 2})


@given(st.dictionaries(st.sampled_from(CODES), st.integers(1, 5), min_size=1))
def test_needs_follow_up_matches_its_definition(answers):
    expected = answers.get(OVERALL, 5) <= 2 or 1 in answers.values()
    assert needs_follow_up(answers) is expected


@pytest.fixture
def invite(app):
    """An invitation of an account managed by 王伟, a staff member with an e-mail."""
    with app.app_context():
        account = make_account("KA001", name="华东贸易有限公司", account_manager="王伟")
        db.session.add(StaffMember(name="王伟", email="wangwei@example.com", role="manager"))
        make_campaign(accounts=[account], closes_at=NOW + timedelta(days=7))
        db.session.commit()
        from survey.models import Invitation

        return db.session.scalar(select(Invitation.id)), account.id


def test_a_very_dissatisfied_answer_opens_a_case_and_mails_the_manager(app, invite):
    invitation_id, account_id = invite
    with app.app_context():
        answers = scores(delivery=1)
        answers["delivery"] = AnswerInput(1, ["delivery"], "三次延迟交货")
        response_id = record_response(
            invitation_id,
            answers,
            comment="请尽快联系我们",
            locale="zh",
            now=NOW,
            follow_up_days=5,
            mail=MAIL,
        )
        case = db.session.scalars(select(FollowUp)).one()
        assert (case.account_id, case.response_id, case.owner, case.status) == (
            account_id,
            response_id,
            "王伟",
            FOLLOW_UP_OPEN,
        )
        assert case.opened_at == NOW and case.due_at == NOW + timedelta(days=5)
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.kind == KIND_FOLLOW_UP and message.to_address == "wangwei@example.com"
        assert message.invitation_id is None and message.locale == "zh"
        assert "华东贸易有限公司 (KA001)" in message.subject
        body = message.body_text
        assert "交货与物流: 1 (极不满意) [原因：交货与物流]" in body
        assert "三次延迟交货" in body and "请尽快联系我们" in body
        assert "2026年11月28日" in body  # due date, as the site writes a day
        assert "https://kp.example.test/manage/follow-ups" in body


def test_overall_two_opens_a_case_without_mail_when_the_manager_has_no_address(app):
    with app.app_context():
        account = make_account("KA002", account_manager="Nobody Here")
        make_campaign(accounts=[account], closes_at=NOW + timedelta(days=7))
        db.session.commit()
        from survey.models import Invitation

        invitation_id = db.session.scalar(select(Invitation.id))
        record_response(
            invitation_id, scores(overall=2), comment=None, locale="en", now=NOW, mail=MAIL
        )
        case = db.session.scalars(select(FollowUp)).one()
        assert case.owner == "Nobody Here" and case.due_at == NOW + timedelta(days=7)
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_ordinary_dissatisfaction_opens_nothing(app, invite):
    invitation_id, _ = invite
    with app.app_context():
        record_response(
            invitation_id,
            scores(overall=3, delivery=2, price=2),
            comment=None,
            locale="zh",
            now=NOW,
            mail=MAIL,
        )
        assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_english_mail_for_an_english_speaking_manager(app):
    from survey.follow_ups.cases import open_follow_up
    from survey.models import Invitation

    from .factories import make_response

    with app.app_context():
        account = make_account("KA003", name="Harbor Foods", account_manager="Emily Zhao")
        db.session.add(StaffMember(name="Emily Zhao", email="emily@example.com", locale="en"))
        campaign, _ = make_campaign(accounts=[account])
        response = make_response(
            campaign, account, {"overall": 1, "price": 2}, reasons={"price": ["price"]}
        )
        open_follow_up(response.id, now=NOW, mail=MAIL)
        db.session.commit()
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.subject == "Follow-up needed: Harbor Foods (KA003) is dissatisfied"
        assert (
            "- Price and commercial terms: 2 (Somewhat dissatisfied) [reasons: Price]"
            in message.body_text
        )
        assert message.locale == "en"
        assert "- Overall satisfaction: 1 (Very dissatisfied)" in message.body_text
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


@pytest.fixture
def case_id(app, invite):
    invitation_id, _ = invite
    with app.app_context():
        record_response(invitation_id, scores(overall=1), comment=None, locale="zh", now=NOW)
        return db.session.scalar(select(FollowUp.id))


def test_working_a_case_keeps_its_history(app, case_id):
    later = NOW + timedelta(days=2)
    with app.app_context():
        update_follow_up(
            case_id, status=FOLLOW_UP_CONTACTED, note=" 已电话沟通 ", author="王伟", now=later
        )
        update_follow_up(
            case_id, note="客户同意下月复查", author="王伟", now=later + timedelta(hours=1)
        )
        case = update_follow_up(
            case_id,
            status=FOLLOW_UP_RESOLVED,
            author="王伟",
            now=later + timedelta(days=1),
            root_cause="delivery",
            root_cause_note="仓库调度",
        )
        assert case.status == FOLLOW_UP_RESOLVED
        assert (case.root_cause, case.root_cause_note) == ("delivery", "仓库调度")
        assert case.contacted_at == later and case.resolved_at == later + timedelta(days=1)
        notes = db.session.execute(
            select(FollowUpNote.author, FollowUpNote.status, FollowUpNote.text).order_by(
                FollowUpNote.id
            )
        ).all()
        assert [tuple(n) for n in notes] == [
            ("王伟", FOLLOW_UP_CONTACTED, "已电话沟通"),
            ("王伟", None, "客户同意下月复查"),
            ("王伟", FOLLOW_UP_RESOLVED, None),
        ]
        reopened = update_follow_up(case_id, status=FOLLOW_UP_OPEN, now=later + timedelta(days=3))
        assert reopened.resolved_at is None and reopened.contacted_at == later
        assert reopened.root_cause is None  # resolving again needs a root cause again


def test_bad_updates_change_nothing(app, case_id):
    with app.app_context():
        with pytest.raises(InvalidInputError) as error:
            update_follow_up(case_id, status="closed")
        assert error.value.field == "status"
        with pytest.raises(InvalidInputError):
            update_follow_up(case_id, note="   ")
        with pytest.raises(InvalidInputError) as error:
            update_follow_up(case_id, status=FOLLOW_UP_RESOLVED, note="x" * 2001)
        assert error.value.field == "note"
        with pytest.raises(NotFoundError):
            update_follow_up(case_id + 100, status=FOLLOW_UP_RESOLVED)
        assert db.session.get(FollowUp, case_id).status == FOLLOW_UP_OPEN
        assert db.session.scalar(select(func.count()).select_from(FollowUpNote)) == 0


def test_overdue(app, case_id):
    due = NOW + timedelta(days=7)
    assert is_overdue(FOLLOW_UP_OPEN, due, due + timedelta(seconds=1))
    assert not is_overdue(FOLLOW_UP_OPEN, due, due)
    assert not is_overdue(FOLLOW_UP_RESOLVED, due, due + timedelta(days=30))
    with app.app_context():
        late = due + timedelta(days=1)
        found = db.session.scalars(
            select(FollowUp.id).where(*follow_up_conditions(overdue=True, now=late))
        ).all()
        assert found == [case_id]
        assert not db.session.scalars(
            select(FollowUp.id).where(*follow_up_conditions(overdue=True, now=NOW))
        ).all()
        assert db.session.scalars(
            select(FollowUp.id).where(*follow_up_conditions(status="open", owner="王伟"))
        ).all() == [case_id]
        with pytest.raises(InvalidInputError):
            follow_up_conditions(status="nope")


# ---------------------------------------------------------------------------
# GraphQL: followUps, updateFollowUp, recovery


def _tokens(app):
    from .graphql_helpers import make_tokens

    with app.app_context():
        tokens = make_tokens()
        db.session.commit()
        return tokens


FOLLOW_UPS = """
  query($status: FollowUpStatus, $overdue: Boolean, $after: String) {
    followUps(status: $status, overdue: $overdue, first: 1, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { id owner status overdue dueAt account { externalId }
        response { answers { aspect score } } notes { author status text } } } } }
"""


def test_graphql_follow_ups_and_update(app, client, case_id):
    from .graphql_helpers import codes, gql

    tokens = _tokens(app)
    with app.app_context():
        account = make_account("KA009", account_manager="刘洋")
        campaign, _ = make_campaign("second", accounts=[account], closes_at=NOW + timedelta(7))
        from survey.follow_ups.cases import open_follow_up

        from .factories import make_response

        response = make_response(campaign, account, {"overall": 2})
        other = open_follow_up(response.id, now=NOW - timedelta(days=30))
        db.session.commit()

    body = gql(client, FOLLOW_UPS, {}, token=tokens["viewer"], lang="en")
    page = body["data"]["followUps"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    node = page["edges"][0]["node"]
    assert (node["id"], node["owner"], node["status"]) == (str(case_id), "王伟", "OPEN")
    assert node["account"] == {"externalId": "KA001"}
    assert {"aspect": "overall", "score": 1} in node["response"]["answers"]
    body = gql(
        client,
        FOLLOW_UPS,
        {"after": page["pageInfo"]["endCursor"]},
        token=tokens["viewer"],
    )
    assert body["data"]["followUps"]["edges"][0]["node"]["id"] == str(other)
    overdue = gql(client, FOLLOW_UPS, {"overdue": True}, token=tokens["viewer"])
    assert [e["node"]["id"] for e in overdue["data"]["followUps"]["edges"]] == [str(other)]
    assert overdue["data"]["followUps"]["edges"][0]["node"]["overdue"] is True

    update = """
      mutation($id: ID!, $status: FollowUpStatus, $note: String, $rootCause: ReasonCode) {
        updateFollowUp(id: $id, status: $status, note: $note, rootCause: $rootCause) {
          status rootCause notes { author status text } }
      }
    """
    refused = gql(
        client, update, {"id": str(case_id), "status": "RESOLVED"}, token=tokens["viewer"]
    )
    assert codes(refused) == ["FORBIDDEN"]
    for lang, said in (("zh", "解决案例需要填写根本原因"), ("en", "Resolving a case needs")):
        no_cause = gql(
            client,
            update,
            {"id": str(case_id), "status": "RESOLVED", "note": "已解决"},
            token=tokens["manager"],
            lang=lang,
        )
        assert codes(no_cause) == ["BAD_USER_INPUT"]
        assert said in no_cause["errors"][0]["message"]
    with app.app_context():  # nothing changed: no status, no note
        assert db.session.get(FollowUp, case_id).status == FOLLOW_UP_OPEN
        assert db.session.scalar(select(func.count()).select_from(FollowUpNote)) == 0
    done = gql(
        client,
        update,
        {"id": str(case_id), "status": "RESOLVED", "note": "已解决", "rootCause": "DELIVERY"},
        token=tokens["manager"],
    )
    assert done["data"]["updateFollowUp"] == {
        "status": "RESOLVED",
        "rootCause": "DELIVERY",
        "notes": [{"author": "manager-user", "status": "RESOLVED", "text": "已解决"}],
    }
    missing = gql(client, update, {"id": "999", "note": "x"}, token=tokens["manager"])
    assert codes(missing) == ["BAD_USER_INPUT"]
    empty = gql(client, update, {"id": str(case_id)}, token=tokens["manager"])
    assert codes(empty) == ["BAD_USER_INPUT"]
    resolved = gql(client, FOLLOW_UPS, {"status": "RESOLVED"}, token=tokens["viewer"])
    assert resolved["data"]["followUps"]["totalCount"] == 1
    recovery = gql(client, "{ recovery { accounts meanChange } }", token=tokens["viewer"])
    assert recovery["data"]["recovery"] == {"accounts": 0, "meanChange": None}


def test_follow_up_page_costs_a_fixed_number_of_statements(app, client):
    from flask_sqlalchemy.record_queries import get_recorded_queries

    from survey.follow_ups.cases import open_follow_up

    from .factories import make_response
    from .graphql_helpers import gql

    tokens = _tokens(app)

    def add_cases(count: int, start: int) -> None:
        with app.app_context():
            accounts = [make_account(f"KB{start + i}") for i in range(count)]
            campaign, _ = make_campaign(f"c{start}", accounts=accounts)
            for account in accounts:
                open_follow_up(make_response(campaign, account, {"overall": 1}).id, now=NOW)
            db.session.commit()

    def cost() -> int:
        with app.app_context():
            before = len(get_recorded_queries())
            body = gql(client, FOLLOW_UPS.replace("first: 1", "first: 50"), token=tokens["viewer"])
            assert "errors" not in body
            return len(get_recorded_queries()) - before

    add_cases(2, 0)
    cost()  # the first request of a token also records when it was used
    small = cost()
    add_cases(8, 100)
    assert cost() == small  # ten cases cost what two do


# ---------------------------------------------------------------------------
# The console page


def test_console_follow_ups_page(app, client, case_id):
    from .test_manage import add_member, sign_in, text

    with app.app_context():
        case = db.session.get(FollowUp, case_id)
        case.due_at = NOW - timedelta(days=1)  # overdue by now
        db.session.commit()
    sign_in(client, add_member(app, "Li", "viewer"))
    page = client.get("/manage/follow-ups?lang=en")
    assert page.status_code == 200
    shown = text(page)
    assert "华东贸易有限公司 KA001" in shown and "Overdue" in shown
    assert "Overall satisfaction 1" in shown  # why, in the row
    assert "No account with a resolved case has answered again yet." in shown
    assert 'name="note"' not in page.get_data(as_text=True)  # no edit form in the list
    assert f'href="/manage/follow-ups/{case_id}"' in page.get_data(as_text=True)
    zh = text(client.get("/manage/follow-ups?lang=zh"))
    assert "跟进" in zh and "已逾期" in zh and "总体满意度 1" in zh
    html = client.get(f"/manage/follow-ups/{case_id}").get_data(as_text=True)
    assert 'name="note"' not in html  # viewers read only
    refused = client.post(
        f"/manage/follow-ups/{case_id}",
        data={"csrf_token": csrf_token_from(html), "status": "resolved", "root_cause": "price"},
    )
    assert refused.status_code == 403

    client.post("/manage/logout", data={"csrf_token": csrf_token_from(html)})
    sign_in(client, add_member(app, "Zhang", "manager"))
    html = client.get(f"/manage/follow-ups/{case_id}?lang=en").get_data(as_text=True)
    assert 'name="root_cause"' in html and 'for="root_cause"' in html
    # Resolving without a root cause: a clear error, and nothing changes.
    refused = client.post(
        f"/manage/follow-ups/{case_id}",
        data={"csrf_token": csrf_token_from(html), "status": "resolved", "note": "已解决"},
    )
    assert refused.status_code == 422
    assert "Choose the root cause to resolve the case. Nothing was changed." in text(refused)
    with app.app_context():
        assert db.session.get(FollowUp, case_id).status == FOLLOW_UP_OPEN
        assert db.session.scalar(select(func.count()).select_from(FollowUpNote)) == 0
    zh_refused = client.post(
        f"/manage/follow-ups/{case_id}?lang=zh",
        data={"csrf_token": csrf_token_from(html), "status": "resolved"},
    )
    assert "请选择根本原因后再标记为已解决。未做任何更改。" in text(zh_refused)
    done = client.post(
        f"/manage/follow-ups/{case_id}?lang=en",
        data={
            "csrf_token": csrf_token_from(html),
            "status": "resolved",
            "note": "已解决",
            "root_cause": "delivery",
            "root_cause_note": "仓库排班",
        },
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/manage/follow-ups/{case_id}")
    after = text(client.get(f"/manage/follow-ups/{case_id}?lang=en"))
    assert "Follow-up updated." in after and "已解决" in after
    assert "Root cause Delivery and logistics 仓库排班" in after
    listed = text(client.get("/manage/follow-ups?status=resolved&lang=en"))
    assert "华东贸易有限公司" in listed and "Root cause: Delivery and logistics" in listed
    empty = client.post(
        f"/manage/follow-ups/{case_id}?lang=en",
        data={"csrf_token": csrf_token_from(html), "owner": "王伟"},
    )
    assert empty.status_code == 422
    assert "Choose a new status or write a note." in text(empty)
    with app.app_context():
        assert db.session.get(FollowUp, case_id).status == FOLLOW_UP_RESOLVED
    assert (
        client.post(
            "/manage/follow-ups/999", data={"csrf_token": csrf_token_from(html), "note": "x"}
        ).status_code
        == 404
    )
    assert client.get("/manage/follow-ups/999").status_code == 404
