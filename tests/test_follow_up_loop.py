"""Closing the loop (issue 16): why a case was opened, escalation, root causes, the
audit of every change, staff e-mail language and the follow-ups pages."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from survey.analysis import defection_precursors, root_cause_breakdown
from survey.audit import list_audit
from survey.db import db
from survey.delivery import MailSettings
from survey.delivery.backends import FileBackend
from survey.delivery.worker import run_worker
from survey.errors import InvalidInputError, NotFoundError
from survey.follow_ups import (
    KIND_ESCALATION,
    RootCauseRequiredError,
    escalate_overdue,
    list_follow_ups,
    open_follow_up,
    update_follow_up,
    why_for_cases,
)
from survey.models import (
    FOLLOW_UP_CONTACTED,
    FOLLOW_UP_ESCALATED,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_RESOLVED,
    AccountTeamMember,
    AuditEntry,
    Contact,
    FollowUp,
    FollowUpNote,
    KeyAccount,
    OutboxMessage,
    StaffMember,
)
from survey.registry import add_staff, set_staff_locale

from .conftest import BASE_URL, TEST_NOW, TEST_SECRET, csrf_token_from
from .factories import make_account, make_campaign, make_defection, make_response

MAIL = MailSettings(secret_key=TEST_SECRET, base_url=BASE_URL)
LONG_AGO = TEST_NOW - timedelta(days=20)  # opened then, due 13 days ago: escalation is due


def _case(
    external_id: str,
    *,
    opened=LONG_AGO,
    scores=None,
    reasons=None,
    texts=None,
    comment=None,
    role=None,
    tier="A",
    manager="王伟",
    campaign=None,
):
    """A follow-up case for a new account (inside an app context); returns its id."""
    account = make_account(external_id, tier=tier, account_manager=manager)
    campaign, _ = make_campaign(f"c-{external_id}", accounts=[account])
    response = make_response(
        campaign,
        account,
        scores or {"overall": 1, "delivery": 2, "price": 4},
        reasons=reasons,
        reason_texts=texts,
        comment=comment,
        submitted_at=opened,
    )
    if role is not None:
        # make_account gave the account its primary contact, 李娜: give her the role.
        contact = db.session.scalars(
            select(Contact).where(Contact.account_id == account.id, Contact.is_primary)
        ).one()
        contact.role = role
        db.session.flush()
        response.contact_id = contact.id
    else:
        response.contact_id = None  # a response older than contacts

    case_id = open_follow_up(response.id, now=opened)
    db.session.commit()
    return case_id


def _count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


# --- why a case was opened -----------------------------------------------------------


def test_why_names_aspects_reasons_comment_and_role_in_the_request_language(app):
    with app.app_context():
        case_id = _case(
            "KA001",
            scores={"overall": 1, "delivery": 2, "price": 5},
            reasons={"delivery": ["delivery", "service"]},
            texts={"delivery": "三次延迟"},
            comment="请联系我们",
            role="purchaser",
        )
        old = _case("KA002", scores={"overall": 2})
        zh = why_for_cases([case_id, old, 999], "zh")
        assert set(zh) == {case_id, old}
        why = zh[case_id]
        assert [(a.aspect, a.label, a.score, a.score_label) for a in why.aspects] == [
            ("delivery", "交货与物流", 2, "有些不满意"),
            ("overall", "总体满意度", 1, "极不满意"),
        ]
        assert [(r.code, r.label) for r in why.aspects[0].reasons] == [
            ("delivery", "交货与物流"),
            ("service", "服务与响应"),
        ]
        assert why.aspects[0].reason_text == "三次延迟" and why.comment == "请联系我们"
        assert (why.respondent_role, why.respondent_role_label) == ("purchaser", "采购")
        assert (why.external_id, why.account_name) == ("KA001", "Account KA001")
        en = why_for_cases([case_id], "en")[case_id]
        assert en.aspects[0].label == "Delivery and logistics"
        assert en.aspects[0].reasons[1].label == "Service and responsiveness"
        assert en.respondent_role_label == "Purchaser"
        # An old response has no contact: no role.
        assert (zh[old].respondent_role, zh[old].respondent_role_label) == (None, None)


WHY_PAGE = """
  query { followUps(first: 50) { edges { node { id status escalatedAt rootCause
    why { aspects { aspect label score reasons { code label } reasonText } comment
          respondentRole respondentRoleLabel responseId accountId accountExternalId } } } } }
"""


def test_graphql_why_loads_a_page_in_a_fixed_number_of_statements(app, client):
    from flask_sqlalchemy.record_queries import get_recorded_queries

    from .graphql_helpers import gql, make_tokens

    with app.app_context():
        tokens = make_tokens()
        first = _case(
            "KA001", reasons={"delivery": ["delivery"]}, comment="太慢", role="decision_maker"
        )
        db.session.commit()

    def cost() -> tuple[int, dict]:
        with app.app_context():
            before = len(get_recorded_queries())
            body = gql(client, WHY_PAGE, token=tokens["viewer"], lang="en")
            assert "errors" not in body, body
            return len(get_recorded_queries()) - before, body

    cost()  # the token's first use also records when it was used
    small, body = cost()
    node = body["data"]["followUps"]["edges"][0]["node"]
    assert node["why"] == {
        "aspects": [
            {
                "aspect": "delivery",
                "label": "Delivery and logistics",
                "score": 2,
                "reasons": [{"code": "DELIVERY", "label": "Delivery and logistics"}],
                "reasonText": None,
            },
            {
                "aspect": "overall",
                "label": "Overall satisfaction",
                "score": 1,
                "reasons": [],
                "reasonText": None,
            },
        ],
        "comment": "太慢",
        "respondentRole": "decision_maker",
        "respondentRoleLabel": "Decision maker",
        "responseId": node["why"]["responseId"],
        "accountId": node["why"]["accountId"],
        "accountExternalId": "KA001",
    }
    assert node["id"] == str(first) and node["status"] == "OPEN"
    with app.app_context():
        for i in range(8):
            _case(f"KB{i}", role="user" if i % 2 else None)
    assert cost()[0] == small  # nine cases cost what one does


# --- resolving needs a root cause; every change is audited ---------------------------


def test_resolving_without_a_root_cause_changes_nothing(app):
    with app.app_context():
        case_id = _case("KA001")
        with pytest.raises(RootCauseRequiredError) as error:
            update_follow_up(case_id, status=FOLLOW_UP_RESOLVED, note="已解决", author="王伟")
        assert error.value.field == "root_cause"
        assert "root cause" in error.value.message and "Nothing was changed" in error.value.message
        with pytest.raises(InvalidInputError) as error:
            update_follow_up(case_id, status=FOLLOW_UP_RESOLVED, root_cause="weather")
        assert error.value.field == "root_cause"
        with pytest.raises(InvalidInputError) as error:
            update_follow_up(case_id, status=FOLLOW_UP_CONTACTED, root_cause="price")
        assert error.value.field == "root_cause"
        with pytest.raises(InvalidInputError) as error:
            update_follow_up(case_id, status=FOLLOW_UP_ESCALATED)  # escalation's own
        assert error.value.field == "status"
        db.session.expire_all()
        case = db.session.get(FollowUp, case_id)
        assert (case.status, case.resolved_at, case.root_cause) == (FOLLOW_UP_OPEN, None, None)
        assert _count(FollowUpNote) == 0 and _count(AuditEntry) == 0


def test_every_change_to_a_case_is_audited(app, now):
    with app.app_context():
        case_id = _case("KA001")
        due = now + timedelta(days=3)
        update_follow_up(case_id, note="已致电", author="王伟", now=now)
        update_follow_up(case_id, status=FOLLOW_UP_CONTACTED, author="王伟", now=now)
        update_follow_up(case_id, owner=" 刘洋 ", due_at=due, author="李经理", now=now)
        update_follow_up(
            case_id,
            status=FOLLOW_UP_RESOLVED,
            root_cause="process",
            root_cause_note="审批太多",
            author="刘洋",
            now=now,
        )
        update_follow_up(case_id, status=FOLLOW_UP_OPEN, author="刘洋", now=now)
        entries = [
            (r.actor, r.action, r.target_type, r.target_id, r.details)
            for r in reversed(list_audit(first=50).records)
        ]
        cid = str(case_id)
        assert entries == [
            ("王伟", "follow_up.update", "follow_up", cid, {"note": "已致电"}),
            ("王伟", "follow_up.update", "follow_up", cid, {"status": ["open", "contacted"]}),
            (
                "李经理",
                "follow_up.update",
                "follow_up",
                cid,
                {
                    "owner": ["王伟", "刘洋"],
                    "due_at": [(LONG_AGO + timedelta(days=7)).isoformat(), due.isoformat()],
                },
            ),
            (
                "刘洋",
                "follow_up.resolve",
                "follow_up",
                cid,
                {
                    "status": ["contacted", "resolved"],
                    "root_cause": [None, "process"],
                    "root_cause_note": [None, "审批太多"],
                },
            ),
            (
                "刘洋",
                "follow_up.update",
                "follow_up",
                cid,
                {"status": ["resolved", "open"], "root_cause": ["process", None]},
            ),
        ]
        case = db.session.get(FollowUp, case_id)
        assert (case.owner, case.due_at, case.root_cause) == ("刘洋", due, None)
        assert _count(FollowUpNote) == 5
        with pytest.raises(NotFoundError):
            update_follow_up(case_id + 1, note="x")


# --- escalation ----------------------------------------------------------------------


def _sponsor(account_id: int, name: str, email: str | None, role="executive_sponsor") -> None:
    db.session.add(AccountTeamMember(account_id=account_id, name=name, email=email, role=role))
    db.session.commit()


def test_escalation_goes_to_the_sponsor_in_their_language_exactly_once(app, now):
    with app.app_context():
        case_id = _case("KA001", reasons={"delivery": ["delivery"]}, comment="太慢")
        account_id = db.session.get(FollowUp, case_id).account_id
        _sponsor(account_id, "Michael Sun", "Michael.Sun@example.com")
        _sponsor(account_id, "Service Lead", "lead@example.com", role="service_lead")
        # The sponsor is also staff, reading English (matched on e-mail, any case).
        db.session.add(StaffMember(name="Sun M.", email="michael.sun@example.com", locale="en"))
        add_staff("Boss", "admin", "boss@example.com")  # not asked: there is a sponsor
        report = escalate_overdue(mail=MAIL, after_days=3, now=now)
        assert [e.follow_up_id for e in report.escalated] == [case_id] and report.mails == 1
        case = db.session.get(FollowUp, case_id)
        assert (case.status, case.escalated_at, case.escalated_to) == (
            FOLLOW_UP_ESCALATED,
            now,
            "Michael Sun",
        )
        message = db.session.scalars(select(OutboxMessage)).one()
        assert (message.kind, message.to_address, message.locale) == (
            KIND_ESCALATION,
            "Michael.Sun@example.com",
            "en",
        )
        assert message.subject == (
            "Escalated follow-up: Account KA001 (KA001) is still dissatisfied"
        )
        body = message.body_text
        assert body.startswith("Dear Michael Sun,")
        assert "(owner: 王伟)" in body
        assert "- Delivery and logistics: 2 (Somewhat dissatisfied) [reasons: Delivery" in body
        assert "太慢" in body and f"{BASE_URL}/manage/follow-ups/{case_id}" in body
        note = db.session.scalars(select(FollowUpNote)).one()
        assert (note.status, note.author) == (FOLLOW_UP_ESCALATED, "system:escalation")
        audit = list_audit(first=5, action="follow_up.escalate").records
        assert [(a.target_id, a.details) for a in audit] == [
            (str(case_id), {"to": ["Michael Sun"], "executive_sponsor": True, "emails": 1})
        ]

        again = escalate_overdue(mail=MAIL, after_days=3, now=now + timedelta(days=1))
        assert (again.escalated, again.mails) == ((), 0)
        assert _count(OutboxMessage) == 1
        # Still workable; never escalated again.
        update_follow_up(case_id, status=FOLLOW_UP_CONTACTED, note="已联系", author="王伟")
        escalate_overdue(mail=MAIL, after_days=3, now=now + timedelta(days=30))
        assert db.session.get(FollowUp, case_id).status == FOLLOW_UP_CONTACTED
        update_follow_up(case_id, status=FOLLOW_UP_RESOLVED, root_cause="delivery")
        assert db.session.get(FollowUp, case_id).escalated_at == now
        assert _count(OutboxMessage) == 1


def test_a_sponsor_who_is_not_staff_reads_chinese(app, now):
    with app.app_context():
        case_id = _case("KA001")
        _sponsor(db.session.get(FollowUp, case_id).account_id, "林总", "lin@example.com")
        escalate_overdue(mail=MAIL, now=now)
        message = db.session.scalars(select(OutboxMessage)).one()
        assert (message.to_address, message.locale) == ("lin@example.com", "zh")
        assert message.subject == "跟进升级：Account KA001 (KA001) 的不满意案例已逾期"
        assert message.body_text.startswith("林总，您好：")
        assert "- 交货与物流: 2 (有些不满意)" in message.body_text


def test_without_a_sponsor_every_active_admin_with_an_email_is_told(app, now):
    with app.app_context():
        case_id = _case("KA001")
        _sponsor(db.session.get(FollowUp, case_id).account_id, "No Mail", None)
        add_staff("Ada", "admin", "ada@example.com", locale="en")
        add_staff("Bo", "admin", "bo@example.com")
        add_staff("Cy", "admin")  # no e-mail
        add_staff("Di", "manager", "di@example.com")
        add_staff("Ed", "admin", "ed@example.com")
        db.session.scalar(select(StaffMember).where(StaffMember.name == "Ed")).active = False
        db.session.commit()
        report = escalate_overdue(mail=MAIL, now=now)
        assert report.mails == 2 and not report.escalated[0].to_sponsor
        sent = db.session.execute(
            select(OutboxMessage.to_address, OutboxMessage.locale).order_by(
                OutboxMessage.to_address
            )
        ).all()
        assert [tuple(r) for r in sent] == [("ada@example.com", "en"), ("bo@example.com", "zh")]
        assert db.session.get(FollowUp, case_id).escalated_to == "Ada, Bo"


def test_what_is_not_escalated(app, now):
    with app.app_context():
        recent = _case("KA001", opened=now - timedelta(days=9))  # due 2 days ago: not yet
        resolved = _case("KA002")
        update_follow_up(resolved, status=FOLLOW_UP_RESOLVED, root_cause="price")
        lonely = _case("KA003")  # nobody to tell yet
        report = escalate_overdue(mail=MAIL, after_days=3, now=now)
        assert (report.escalated, report.nobody_to_tell, report.mails) == ((), (lonely,), 0)
        add_staff("Ada", "admin", "ada@example.com")
        dry = escalate_overdue(mail=MAIL, after_days=3, now=now, dry_run=True)
        assert [e.follow_up_id for e in dry.escalated] == [lonely] and dry.mails == 0
        assert db.session.get(FollowUp, lonely).escalated_at is None
        assert _count(OutboxMessage) == 0 and _count(FollowUpNote) == 1
        assert escalate_overdue(mail=MAIL, after_days=3, now=now).mails == 1
        assert [
            e.follow_up_id for e in escalate_overdue(mail=MAIL, after_days=1, now=now).escalated
        ] == [recent]
        statuses = dict(db.session.execute(select(FollowUp.id, FollowUp.status)).all())
        assert statuses == {
            recent: FOLLOW_UP_ESCALATED,
            resolved: FOLLOW_UP_RESOLVED,
            lonely: FOLLOW_UP_ESCALATED,
        }


def test_cases_of_lost_or_retired_accounts_are_not_escalated(app, now):
    with app.app_context():
        add_staff("Ada", "admin", "ada@example.com")
        lost = _case("KA001")
        retired = _case("KA002")
        live = _case("KA003")
        accounts = {a.external_id: a for a in db.session.scalars(select(KeyAccount))}
        make_defection(accounts["KA001"], (now - timedelta(days=5)).date(), ["price"])
        accounts["KA002"].active = False
        db.session.commit()
        report = escalate_overdue(mail=MAIL, after_days=3, now=now)
        assert [e.follow_up_id for e in report.escalated] == [live]
        statuses = dict(db.session.execute(select(FollowUp.id, FollowUp.status)).all())
        assert statuses[lost] != FOLLOW_UP_ESCALATED
        assert statuses[retired] != FOLLOW_UP_ESCALATED


def test_escalate_cli_is_bilingual_and_idempotent(app, runner):
    with app.app_context():
        case_id = _case("KA001")
        add_staff("Ada", "admin", "ada@example.com")
    dry = runner.invoke(args=["follow-ups", "escalate", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"将升级 / Would escalate: #{case_id} Account KA001 (KA001)" in dry.output
    assert "Dry run: 1 case(s) would be escalated; nothing was changed." in dry.output
    assert "试运行：将升级 1 个案例" in dry.output
    first = runner.invoke(args=["follow-ups", "escalate"])
    assert "已升级 / Escalated: #" in first.output and "Ada <ada@example.com>" in first.output
    assert "Escalated 1 case(s); 1 e-mail(s) queued in the outbox." in first.output
    second = runner.invoke(args=["follow-ups", "escalate"])
    assert second.exit_code == 0
    assert "Escalated 0 case(s); 0 e-mail(s) queued in the outbox." in second.output
    assert "已升级 0 个案例" in second.output
    with app.app_context():
        assert _count(OutboxMessage) == 1


def test_the_outbox_workers_loop_escalates_and_delivers(app, tmp_path):
    from web.cli.follow_ups import escalation_step

    with app.app_context():
        case_id = _case("KA001")
        add_staff("Ada", "admin", "ada@example.com")
        report = run_worker(
            FileBackend(tmp_path), MAIL, periodic=escalation_step(app), periodic_seconds=3600
        )
        assert report.sent == 1
        assert db.session.get(FollowUp, case_id).status == FOLLOW_UP_ESCALATED
        assert db.session.scalars(select(OutboxMessage.status)).all() == ["sent"]
    assert len(list(tmp_path.glob("kp-follow_up_escalation-*.eml"))) == 1


def test_two_concurrent_escalations_send_one_email(app, now, database_url):
    """On PostgreSQL: a run whose UPDATE waits on another's uncommitted claim matches
    nothing once that commits, so it sends nothing."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL")
    import threading
    import time

    from sqlalchemy import text

    with app.app_context():
        case_id = _case("KA001")
        add_staff("Ada", "admin", "ada@example.com")
        engine = db.engine
    results = []
    other = engine.connect()
    other_tx = other.begin()
    # The other run has claimed the case and not committed yet.
    other.execute(
        text(
            "UPDATE follow_ups SET status='escalated', escalated_at=now(), escalated_to='x' "
            "WHERE id=:id AND escalated_at IS NULL"
        ),
        {"id": case_id},
    )

    def run() -> None:
        with app.app_context():
            results.append(escalate_overdue(mail=MAIL, now=now))

    worker = threading.Thread(target=run)
    worker.start()
    with engine.connect() as probe:  # wait until our run waits on the other's row lock
        while worker.is_alive():
            waiting = probe.execute(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ).scalar()
            probe.commit()
            if waiting:
                break
            time.sleep(0.01)
    other_tx.commit()
    other.close()
    worker.join()
    assert results[0].escalated == () and results[0].mails == 0
    with app.app_context():
        assert _count(OutboxMessage) == 0


# --- root causes in the figures ------------------------------------------------------


def test_breakdown_by_root_cause_and_fixed_root_causes_of_lost_accounts(app, now):
    with app.app_context():
        fixed_then_left = _case("KA001", scores={"overall": 2})
        recovered = _case("KA002", scores={"overall": 1})
        silent = _case("KA003", scores={"overall": 1})
        other = _case("KA004", scores={"overall": 1})
        update_follow_up(
            fixed_then_left,
            status=FOLLOW_UP_RESOLVED,
            root_cause="price",
            now=now - timedelta(days=10),
        )
        update_follow_up(
            recovered, status=FOLLOW_UP_RESOLVED, root_cause="price", now=now - timedelta(days=10)
        )
        update_follow_up(
            silent, status=FOLLOW_UP_RESOLVED, root_cause="delivery", now=now - timedelta(days=10)
        )
        update_follow_up(other, note="还在处理")
        from survey.models import KeyAccount

        accounts = {a.external_id: a for a in db.session.scalars(select(KeyAccount))}
        later, _ = make_campaign("later", accounts=[accounts["KA001"], accounts["KA002"]])
        make_response(
            later, accounts["KA001"], {"overall": 2}, submitted_at=now - timedelta(days=5)
        )
        make_response(
            later, accounts["KA002"], {"overall": 4}, submitted_at=now - timedelta(days=5)
        )
        make_defection(accounts["KA001"], (now - timedelta(days=2)).date(), ["price"])
        db.session.commit()
        rows = [
            (r.root_cause, r.cases, r.accounts, r.defected, r.answered_again, r.recovered)
            for r in root_cause_breakdown()
        ]
        assert rows == [("price", 2, 2, 1, 2, 1), ("delivery", 1, 1, 0, 0, 0)]
        precursors = defection_precursors([accounts["KA001"].id])
        assert precursors[accounts["KA001"].id].fixed_root_causes == ["price"]


# --- staff language ------------------------------------------------------------------


def test_staff_locale_by_cli_and_console(app, runner, client):
    from .test_manage import add_member, sign_in, text

    added = runner.invoke(args=["staff", "add", "Ada", "--role", "admin", "--locale", "en"])
    assert added.exit_code == 0, added.output
    refused = runner.invoke(args=["staff", "add", "Bo", "--role", "admin", "--locale", "fr"])
    assert refused.exit_code != 0
    changed = runner.invoke(args=["staff", "set-locale", "Ada", "zh"])
    assert changed.exit_code == 0 and "Ada now receives e-mails in 中文." in changed.output
    assert runner.invoke(args=["staff", "set-locale", "Nobody", "zh"]).exit_code != 0
    with app.app_context():
        assert (
            db.session.scalar(select(StaffMember.locale).where(StaffMember.name == "Ada")) == "zh"
        )
        assert [r.details for r in list_audit(action="staff.locale").records] == [
            {"locale": ["en", "zh"]}
        ]
        with pytest.raises(InvalidInputError):
            set_staff_locale("Ada", "fr")

    sign_in(client, add_member(app, "Vi", "viewer"))  # a viewer sets their own language too
    page = client.get("/manage/settings?lang=en")
    assert page.status_code == 200
    assert "Language of the e-mails I receive" in text(page)
    html = page.get_data(as_text=True)
    assert (
        'value="zh" checked' in html
        or 'checked type="radio" value="zh"' in html
        or "checked" in html
    )
    saved = client.post(
        "/manage/settings", data={"csrf_token": csrf_token_from(html), "locale": "en"}
    )
    assert saved.status_code == 303
    assert "Settings saved." in text(client.get("/manage/settings?lang=en"))
    bad = client.post(
        "/manage/settings", data={"csrf_token": csrf_token_from(html), "locale": "fr"}
    )
    assert bad.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(StaffMember.locale).where(StaffMember.name == "Vi")) == "en"


def test_me_email_locale(app, client):
    from .graphql_helpers import gql, make_tokens

    with app.app_context():
        tokens = make_tokens()
        set_staff_locale("viewer-user", "en")
    body = gql(client, "{ me { locale emailLocale } }", token=tokens["viewer"], lang="zh")
    assert body["data"]["me"] == {"locale": "zh", "emailLocale": "en"}


def test_the_managers_notification_is_in_the_managers_language(app):
    with app.app_context():
        db.session.add(StaffMember(name="Emily", email="emily@example.com", locale="en"))
        account = make_account("KA001", account_manager="Emily")
        campaign, _ = make_campaign(accounts=[account])
        response = make_response(campaign, account, {"overall": 1})
        open_follow_up(response.id, mail=MAIL)
        db.session.commit()
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.locale == "en" and message.body_text.startswith("Dear Emily,")


# --- the follow-ups page -------------------------------------------------------------


def test_follow_ups_page_filters_work_without_javascript(app, client, now):
    from .test_manage import add_member, sign_in, text

    with app.app_context():
        escalated = _case("KA001", tier="A", manager="王伟")
        open_b = _case("KA002", tier="B", manager="刘洋", opened=now - timedelta(days=1))
        late_c = _case("KA003", tier="C", manager="刘洋")
        add_staff("Ada", "admin", "ada@example.com")
        escalate_overdue(mail=MAIL, now=now, after_days=3)
        update_follow_up(late_c, status=FOLLOW_UP_CONTACTED, author="刘洋")
    sign_in(client, add_member(app, "Li", "viewer"))

    def shown(query: str) -> list[str]:
        page = client.get(f"/manage/follow-ups?lang=en&{query}")
        assert page.status_code == 200
        body = text(page)
        found = [ext for ext in ("KA001", "KA002", "KA003") if f"{ext} ·" in body]
        return sorted(found, key=lambda ext: body.index(f"{ext} ·"))

    assert shown("") == ["KA001", "KA003", "KA002"]  # overdue first
    assert shown("status=escalated") == ["KA001"]
    assert shown("status=open") == ["KA002"]
    assert shown("owner=刘洋") == ["KA003", "KA002"]
    assert shown("overdue=1") == ["KA001", "KA003"]
    assert shown("tier=B") == ["KA002"]
    assert shown("tier=C&overdue=1&owner=刘洋") == ["KA003"]
    assert shown("status=bogus&tier=Z") == ["KA001", "KA003", "KA002"]  # ignored
    html = client.get("/manage/follow-ups?lang=en&status=escalated").get_data(as_text=True)
    assert '<form method="get"' in html and '<option value="escalated" selected>' in html
    assert 'for="filter-status"' in html and 'for="filter-overdue"' in html
    page = text(client.get(f"/manage/follow-ups/{escalated}?lang=en"))
    assert "Escalated" in page and "→ Ada" in page and "History" in page
    with app.app_context():
        rows = list_follow_ups(status=FOLLOW_UP_ESCALATED, locale="en")
        assert [r.id for r in rows] == [escalated] and rows[0].escalated_to == "Ada"
        assert rows[0].why.aspects[0].label == "Delivery and logistics"
        assert open_b not in [r.id for r in list_follow_ups(overdue=True)]


def test_escalate_after_days_is_validated():
    from web.config import ConfigError, check_config

    check_config({"ESCALATE_AFTER_DAYS": 0, "ANALYSIS_CACHE_SIZE": 1, "ANALYSIS_CACHE_TTL": 1})
    for bad in (-1, 366, "3"):
        with pytest.raises(ConfigError, match="ESCALATE_AFTER_DAYS"):
            check_config(
                {"ESCALATE_AFTER_DAYS": bad, "ANALYSIS_CACHE_SIZE": 1, "ANALYSIS_CACHE_TTL": 1}
            )


def test_audit_details_are_json(app):
    with app.app_context():
        case_id = _case("KA001")
        update_follow_up(case_id, status=FOLLOW_UP_RESOLVED, root_cause="other", note="好")
        raw = db.session.scalars(select(AuditEntry.details)).one()
        assert json.loads(raw)["root_cause"] == [None, "other"]


def test_the_demo_has_escalated_and_resolved_cases(app, now):
    from survey.demo import load_demo

    with app.app_context():
        load_demo(secret_key=TEST_SECRET)
        statuses = dict(
            db.session.execute(
                select(FollowUp.status, func.count()).group_by(FollowUp.status)
            ).all()
        )
        assert statuses[FOLLOW_UP_ESCALATED] > 0 and statuses[FOLLOW_UP_CONTACTED] == 2
        resolved = db.session.scalars(
            select(FollowUp).where(FollowUp.status == FOLLOW_UP_RESOLVED)
        ).all()
        assert all(c.root_cause for c in resolved)
        # Two escalated cases were resolved after escalation, with notes.
        assert len([c for c in resolved if c.escalated_at is not None]) == 2
        assert all(c.resolved_at <= now for c in resolved)
        sponsored = db.session.scalars(
            select(FollowUp.escalated_to).where(FollowUp.escalated_to == "Michael Sun")
        ).all()
        assert sponsored == ["Michael Sun"]
        assert _count(OutboxMessage) >= statuses[FOLLOW_UP_ESCALATED]
        assert [r.root_cause for r in root_cause_breakdown()]  # the page has figures
        assert escalate_overdue(mail=MAIL, now=now).escalated == ()  # all done already


def test_graphql_escalation_root_causes_and_breakdown(app, client, now):
    from .graphql_helpers import gql, make_tokens

    with app.app_context():
        tokens = make_tokens()
        escalated = _case("KA001")
        resolved = _case("KA002")
        add_staff("Ada", "admin", "ada@example.com")
        escalate_overdue(mail=MAIL, now=now, after_days=3)
        update_follow_up(
            resolved, status=FOLLOW_UP_RESOLVED, root_cause="price", root_cause_note="折扣"
        )
        account = db.session.get(FollowUp, resolved).account_id
        from survey.models import KeyAccount

        make_defection(db.session.get(KeyAccount, account), now.date(), ["price"])
        db.session.commit()
    query = """
      query($status: FollowUpStatus) {
        followUps(status: $status) { edges { node { id status escalatedAt escalatedTo
          rootCause rootCauseNote } } }
        recovery { byRootCause { rootCause label cases accounts answeredAgain recovered
          defected } }
      }
    """
    body = gql(client, query, {"status": "ESCALATED"}, token=tokens["viewer"], lang="zh")
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["followUps"]["edges"]]
    assert [(n["id"], n["status"], n["escalatedTo"]) for n in nodes] == [
        (str(escalated), "ESCALATED", "Ada")
    ]
    assert nodes[0]["escalatedAt"] is not None and nodes[0]["rootCause"] is None
    assert body["data"]["recovery"]["byRootCause"] == [
        {
            "rootCause": "PRICE",
            "label": "价格",
            "cases": 1,
            "accounts": 1,
            "answeredAgain": 0,
            "recovered": 0,
            "defected": 1,
        }
    ]
    body = gql(client, query, {"status": "RESOLVED"}, token=tokens["viewer"])
    node = body["data"]["followUps"]["edges"][0]["node"]
    assert (node["rootCause"], node["rootCauseNote"]) == ("PRICE", "折扣")
