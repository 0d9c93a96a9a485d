"""An account's timeline: every event from the tables that record it, newest first,
one SQL statement per page, keyset pages that neither skip nor repeat across ties;
and the accounts import leaving an audit entry when it changes a tier."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from graphql import parse
from sqlalchemy import select

from schema.build import schema
from schema.cost import operation_cost
from survey import audit
from survey.analysis import TimelineKind, account_timeline
from survey.analysis.timeline import encode_timeline_cursor
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import AuditEntry, Contact, FollowUp, FollowUpNote, Invitation, KeyAccount
from survey.registry import import_accounts_csv

from .conftest import TEST_NOW
from .factories import make_account, make_campaign, make_defection, make_response
from .graphql_helpers import codes, gql, make_tokens

T = TEST_NOW
K = TimelineKind


def day(n: float):
    return T - timedelta(days=n)


def build_history() -> dict[str, int]:
    """KA1's story over the last month, and a neighbour whose events must not show."""
    account = make_account("KA1", tier="B")
    other = make_account("KA2")
    buyer = Contact(account_id=account.id, name="王芳", role="purchaser", email="wf@ka1.cn")
    boss = Contact(account_id=account.id, name="Tom Li", role="decision_maker", opted_out_at=day(3))
    db.session.add_all([buyer, boss])
    db.session.flush()
    campaign, _ = make_campaign("2026 秋季", accounts=[account, other], opens_at=day(30))
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.account_id == account.id)
    ).one()
    invitation.contact_id = buyer.id
    invitation.opened_at = day(29)
    response = make_response(campaign, account, {"overall": 1, "delivery": 2}, submitted_at=day(28))
    response.contact_id = buyer.id
    make_response(campaign, other, {"overall": 5}, submitted_at=day(28))
    case = FollowUp(
        account_id=account.id,
        response_id=response.id,
        owner="王伟",
        status="resolved",
        opened_at=day(28),  # the same moment as the response: the case comes first
        due_at=day(21),
        escalated_at=day(20),
        escalated_to="赵总",
        resolved_at=day(10),
        root_cause="delivery",
    )
    db.session.add(case)
    db.session.flush()
    db.session.add(
        FollowUpNote(
            follow_up_id=case.id,
            at=day(27),
            author="王伟",
            text="客户说最近三批货都晚到了一周，" + "仓库" * 50,
        )
    )
    audit.record_audits(
        "cli", audit.ACCOUNT_TIER_CHANGE, "account", [("KA1", {"old": "A", "new": "B"})], at=day(5)
    )
    make_defection(account, day(2).date(), ["delivery", "price"], competitor="远东供应链")
    db.session.commit()
    return {
        "account": account.id,
        "campaign": campaign.id,
        "response": response.id,
        "case": case.id,
    }


def midnight(n: int):
    return day(n).replace(hour=0, minute=0, second=0, microsecond=0)


def as_tuples(page) -> list[tuple]:
    return [
        (e.at, e.kind, e.label, e.detail, e.campaign_id, e.response_id, e.follow_up_id)
        for e in page.events
    ]


def test_the_timeline_tells_the_account_story_newest_first_in_either_language(app):
    with app.app_context():
        ids = build_history()
        c, r, f = ids["campaign"], ids["response"], ids["case"]
        note = "王伟: 客户说最近三批货都晚到了一周，" + "仓库" * 32 + "…"
        assert as_tuples(account_timeline(ids["account"], locale="zh")) == [
            (midnight(2), K.DEFECTED, "客户流失", "交货与物流 · 转向 远东供应链", None, None, None),
            (day(3), K.CONTACT_OPTED_OUT, "联系人退订", "Tom Li（决策者）", None, None, None),
            (day(5), K.TIER_CHANGED, "等级变更", "A 级 → B 级", None, None, None),
            (day(10), K.FOLLOW_UP_RESOLVED, "跟进已解决", "根本原因：交货与物流", c, r, f),
            (day(20), K.FOLLOW_UP_ESCALATED, "跟进已升级", "升级至 赵总", c, r, f),
            (day(27), K.FOLLOW_UP_NOTE, "跟进记录", note, c, r, f),
            (day(28), K.FOLLOW_UP_OPENED, "开启跟进", "负责人：王伟", c, r, f),
            (
                day(28),
                K.RESPONDED,
                "已答卷",
                "2026 秋季 · 总体满意度 1 分（极不满意） · 王芳（采购）",
                c,
                r,
                None,
            ),
            (day(29), K.OPENED, "已打开问卷", "2026 秋季 · 王芳（采购）", c, None, None),
            (day(30), K.INVITED, "已邀请", "2026 秋季 · 王芳（采购）", c, None, None),
        ]
        english = account_timeline(ids["account"], locale="en")
        assert [(e.label, e.detail) for e in english.events] == [
            ("Defected", "Delivery and logistics · Went to 远东供应链"),
            ("Contact opted out", "Tom Li (Decision maker)"),
            ("Tier changed", "Tier A → Tier B"),
            ("Follow-up resolved", "Root cause: Delivery and logistics"),
            ("Follow-up escalated", "Escalated to 赵总"),
            ("Follow-up note", note),
            ("Follow-up opened", "Owner: 王伟"),
            (
                "Responded",
                "2026 秋季 · Overall satisfaction: 1 (Very dissatisfied) · 王芳 (Purchaser)",
            ),
            ("Opened the survey", "2026 秋季 · 王芳 (Purchaser)"),
            ("Invited", "2026 秋季 · 王芳 (Purchaser)"),
        ]
        assert english.has_next_page is False
        assert english.end_cursor == english.events[-1].cursor


def test_a_timeline_page_is_one_statement(app):
    with app.app_context():
        ids = build_history()
        before = len(get_recorded_queries())
        page = account_timeline(ids["account"], first=4, locale="en")
        assert len(get_recorded_queries()) - before == 1
        assert len(page.events) == 4 and page.has_next_page
        before = len(get_recorded_queries())
        account_timeline(ids["account"], first=4, after=page.end_cursor, locale="en")
        assert len(get_recorded_queries()) - before == 1


def test_pages_neither_skip_nor_repeat_events_at_the_same_moment(app):
    """Four invitations sent at the same instant (four campaigns) and a response at that
    instant too: pages of one and of two walk the same order, the response first."""
    with app.app_context():
        account = make_account("KA1")
        campaigns = [
            make_campaign(f"C{i}", accounts=[account], opens_at=day(9))[0] for i in range(4)
        ]
        make_response(campaigns[0], account, {"overall": 4}, submitted_at=day(9))
        db.session.commit()
        whole = account_timeline(account.id, locale="en")
        assert [(e.kind, e.campaign_id) for e in whole.events] == [
            (K.RESPONDED, campaigns[0].id),
            *((K.INVITED, c.id) for c in reversed(campaigns)),
        ]
        assert {e.at for e in whole.events} == {day(9)}
        for size in (1, 2, 3):
            seen = []
            after = None
            while True:
                page = account_timeline(account.id, first=size, after=after, locale="en")
                seen.extend(page.events)
                if not page.has_next_page:
                    break
                after = page.end_cursor
            assert seen == list(whole.events), size
        last = account_timeline(account.id, first=5, locale="en")
        assert last.has_next_page is False
        assert account_timeline(account.id, first=0, locale="en").events == ()


def test_an_account_without_history_has_an_empty_timeline(app):
    with app.app_context():
        account = make_account("KA1")
        db.session.commit()
        page = account_timeline(account.id, locale="zh")
        assert (page.events, page.has_next_page, page.end_cursor) == ((), False, None)
        assert account_timeline(999, locale="zh").events == ()


@pytest.mark.parametrize(
    "cursor", ["nonsense", "dGw6eHx5fHo", encode_timeline_cursor(T, 1, 2)[:-3]]
)
def test_a_cursor_not_handed_out_is_refused(app, cursor):
    with app.app_context(), pytest.raises(InvalidInputError) as caught:
        account_timeline(1, after=cursor, locale="en")
    assert caught.value.field == "after"


@pytest.mark.parametrize("first", [-1, 201])
def test_the_page_size_is_bounded(app, first):
    with app.app_context(), pytest.raises(InvalidInputError) as caught:
        account_timeline(1, first=first, locale="en")
    assert caught.value.field == "first"


HEADER = (
    "external_id,name,tier,value_type,relationship_stage,region,annual_revenue,"
    "account_manager,contact_name,contact_email,contact_phone,locale\n"
)


def csv_of(*tiers: tuple[str, str]) -> io.BytesIO:
    rows = "".join(
        f"{ext},Account {ext},{tier},strategic,partner,华东,100,王伟,李娜,{ext}@x.cn,,zh\n"
        for ext, tier in tiers
    )
    return io.BytesIO((HEADER + rows).encode())


def test_the_accounts_import_audits_each_tier_change_and_the_timeline_shows_it(app):
    with app.app_context():
        import_accounts_csv(csv_of(("KA1", "A"), ("KA2", "B"), ("KA3", "C")), actor="cli")
        assert db.session.scalars(select(AuditEntry)).all() == []  # new accounts: no change
        report = import_accounts_csv(csv_of(("KA1", "B"), ("KA2", "B"), ("KA3", "a")), actor="cli")
        assert (report.created, report.updated, report.unchanged) == (0, 2, 1)
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [
            (e.actor, e.action, e.target_type, e.target_id, json.loads(e.details)) for e in entries
        ] == [
            ("cli", "account.tier_change", "account", "KA1", {"old": "A", "new": "B"}),
            ("cli", "account.tier_change", "account", "KA3", {"old": "C", "new": "A"}),
        ]
        ka1 = db.session.scalars(select(KeyAccount).where(KeyAccount.external_id == "KA1")).one()
        [event] = account_timeline(ka1.id, locale="en").events
        assert (event.kind, event.detail, event.at) == (
            K.TIER_CHANGED,
            "Tier A → Tier B",
            entries[0].at,
        )
        # The same file again changes nothing and audits nothing.
        import_accounts_csv(csv_of(("KA1", "B"), ("KA2", "B"), ("KA3", "A")), actor="cli")
        assert len(db.session.scalars(select(AuditEntry)).all()) == 2


# --- GraphQL: Account.timeline -----------------------------------------------------------

TIMELINE_QUERY = """query($id: ID!, $first: Int, $after: String) { account(id: $id) {
  timeline(first: $first, after: $after) {
    edges { cursor node { at kind label detail campaignId responseId followUpId } }
    nodes { kind }
    pageInfo { hasNextPage endCursor } } } }"""


def test_a_viewer_reads_the_timeline_page_by_page_in_the_request_language(app, client):
    with app.app_context():
        ids = build_history()
        tokens = make_tokens()
    variables = {"id": str(ids["account"]), "first": 3}
    body = gql(client, TIMELINE_QUERY, variables, token=tokens["viewer"], lang="en")
    assert "errors" not in body, body
    timeline = body["data"]["account"]["timeline"]
    assert [e["node"] for e in timeline["edges"]] == [
        {
            "at": midnight(2).isoformat(),
            "kind": "DEFECTED",
            "label": "Defected",
            "detail": "Delivery and logistics · Went to 远东供应链",
            "campaignId": None,
            "responseId": None,
            "followUpId": None,
        },
        {
            "at": day(3).isoformat(),
            "kind": "CONTACT_OPTED_OUT",
            "label": "Contact opted out",
            "detail": "Tom Li (Decision maker)",
            "campaignId": None,
            "responseId": None,
            "followUpId": None,
        },
        {
            "at": day(5).isoformat(),
            "kind": "TIER_CHANGED",
            "label": "Tier changed",
            "detail": "Tier A → Tier B",
            "campaignId": None,
            "responseId": None,
            "followUpId": None,
        },
    ]
    assert [n["kind"] for n in timeline["nodes"]] == [
        "DEFECTED",
        "CONTACT_OPTED_OUT",
        "TIER_CHANGED",
    ]
    assert timeline["pageInfo"] == {
        "hasNextPage": True,
        "endCursor": timeline["edges"][-1]["cursor"],
    }

    variables.update(first=50, after=timeline["pageInfo"]["endCursor"])
    rest = gql(client, TIMELINE_QUERY, variables, token=tokens["viewer"], lang="zh")
    nodes = rest["data"]["account"]["timeline"]["edges"]
    assert [(n["node"]["kind"], n["node"]["label"]) for n in nodes] == [
        ("FOLLOW_UP_RESOLVED", "跟进已解决"),
        ("FOLLOW_UP_ESCALATED", "跟进已升级"),
        ("FOLLOW_UP_NOTE", "跟进记录"),
        ("FOLLOW_UP_OPENED", "开启跟进"),
        ("RESPONDED", "已答卷"),
        ("OPENED", "已打开问卷"),
        ("INVITED", "已邀请"),
    ]
    resolved = nodes[0]["node"]
    assert (resolved["campaignId"], resolved["responseId"], resolved["followUpId"]) == (
        str(ids["campaign"]),
        str(ids["response"]),
        str(ids["case"]),
    )
    assert rest["data"]["account"]["timeline"]["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": nodes[-1]["cursor"],
    }


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 201}, "first"), ({"first": -1}, "first"), ({"after": "bm9wZQ"}, "after")],
)
def test_timeline_arguments_out_of_bounds_are_bad_user_input(app, client, variables, field):
    with app.app_context():
        account_id = make_account("KA1").id
        db.session.commit()
        tokens = make_tokens()
    body = gql(client, TIMELINE_QUERY, {"id": str(account_id), **variables}, token=tokens["viewer"])
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field


ACCOUNTS_TIMELINES = """{ accounts(first: 50) { edges { node { externalId
    timeline(first: 2) { nodes { kind detail } pageInfo { hasNextPage } } } } } }"""


def test_a_page_of_accounts_loads_every_timeline_with_one_statement(app, client):
    with app.app_context():
        # Accounts without contacts: the invitations and responses name nobody.
        accounts = [
            make_account(f"KA{i}", contact_name="", contact_email=None) for i in range(1, 5)
        ]
        campaign, _ = make_campaign("C1", accounts=accounts, opens_at=day(9))
        make_response(campaign, accounts[0], {"overall": 5}, submitted_at=day(8))
        db.session.commit()
        tokens = make_tokens()
    with client:
        body = gql(client, ACCOUNTS_TIMELINES, token=tokens["viewer"], lang="en")
        statements = [q.statement for q in get_recorded_queries()]
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["accounts"]["edges"]]
    assert nodes[0]["timeline"] == {
        "nodes": [
            {"kind": "RESPONDED", "detail": "C1 · Overall satisfaction: 5 (Very satisfied)"},
            {"kind": "INVITED", "detail": "C1"},
        ],
        "pageInfo": {"hasNextPage": False},
    }
    assert [n["timeline"]["nodes"] for n in nodes[1:]] == [
        [{"kind": "INVITED", "detail": "C1"}]
    ] * 3
    assert len([s for s in statements if "UNION ALL" in s]) == 1


def test_the_timeline_is_priced_by_its_page():
    query = (
        '{ account(id: "1") { timeline(first: 20) { edges { node { kind } } nodes { kind } } } }'
    )
    # The request, the account, the timeline's statement (10), 20 edges' nodes, 20 nodes.
    assert operation_cost(schema._schema, parse(query), None, None) == 10 + 1 + 10 + 20 + 20
