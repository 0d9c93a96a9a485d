"""The team around each account: `flask accounts team import FILE` (all or nothing,
problems as `line N: column: what is wrong`, upsert by e-mail or name), and
GraphQL Account.team loaded for a whole page with one query."""

from __future__ import annotations

import json
from pathlib import Path

from flask_sqlalchemy.record_queries import get_recorded_queries
from sqlalchemy import select

from survey.analysis import TimelineKind, account_timeline
from survey.db import db
from survey.demo import load_demo
from survey.models import AccountTeamMember, AuditEntry, KeyAccount

from .conftest import TEST_SECRET
from .factories import make_account
from .graphql_helpers import gql, make_tokens

HEADER = "account_external_id,name,role,email"


def write(tmp_path: Path, *lines: str, bom: bool = False) -> str:
    path = tmp_path / "team.csv"
    text = "\n".join((HEADER, *lines)) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return str(path)


def members() -> list[tuple[str, str, str, str | None]]:
    rows = db.session.execute(
        select(KeyAccount.external_id, AccountTeamMember.name, AccountTeamMember.role)
        .add_columns(AccountTeamMember.email)
        .join(KeyAccount, KeyAccount.id == AccountTeamMember.account_id)
        .order_by(AccountTeamMember.id)
    )
    return [tuple(r) for r in rows]


def accounts() -> None:
    make_account("KA1")
    make_account("KA2")
    db.session.commit()


def test_import_creates_then_updates_members_with_a_bilingual_summary(app, runner, tmp_path):
    with app.app_context():
        accounts()
    first = write(
        tmp_path,
        "KA1,陈总,高层支持者,chen@ours.cn",
        "KA1,刘洋,Service lead,",
        "KA2,Anna Wu,sales_support,anna@ours.cn",
        bom=True,
    )
    result = runner.invoke(args=["accounts", "team", "import", first])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "team members created 3, updated 0, unchanged 0, skipped 0\n"
        "团队成员：新增 3，更新 0，未变 0，跳过 0\n"
    )
    with app.app_context():
        assert members() == [
            ("KA1", "陈总", "executive_sponsor", "chen@ours.cn"),
            ("KA1", "刘洋", "service_lead", None),
            ("KA2", "Anna Wu", "sales_support", "anna@ours.cn"),
        ]
    # By e-mail (any case) the name, role and spelling of the address change; by name,
    # 刘洋 gets an e-mail; a row without e-mail keeps the one a member has; a new name is
    # a new member.
    second = write(
        tmp_path,
        "KA1,陈明,executive_sponsor,CHEN@ours.cn",
        "KA1,刘洋,service_lead,liu@ours.cn",
        "KA2,Anna Wu,SALES_SUPPORT,",
        "KA2,Bo Li,other,",
    )
    result = runner.invoke(args=["accounts", "team", "import", second])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "team members created 1, updated 2, unchanged 1, skipped 0"
    )
    with app.app_context():
        assert members() == [
            ("KA1", "陈明", "executive_sponsor", "CHEN@ours.cn"),
            ("KA1", "刘洋", "service_lead", "liu@ours.cn"),
            ("KA2", "Anna Wu", "sales_support", "anna@ours.cn"),
            ("KA2", "Bo Li", "other", None),
        ]
        audits = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(a.actor, a.action, json.loads(a.details)) for a in audits] == [
            (
                "cli",
                "account.team_import",
                {"created": 3, "skipped": 0, "unchanged": 0, "updated": 0},
            ),
            (
                "cli",
                "account.team_import",
                {"created": 1, "skipped": 0, "unchanged": 1, "updated": 2},
            ),
        ]


BAD = (
    "KA1,陈总,executive_sponsor,chen@ours.cn",
    "KA9,王五,service_lead,",
    "KA1,,boss,not-an-address",
    "KA2,Anna Wu,sales_support,anna@ours.cn",
    "KA2,Anna Wu,sales_support,ANNA@ours.cn",
    "KA2,Bo Li,other",
)


def test_any_problem_imports_nothing_and_each_is_reported_by_line_and_column(app, runner, tmp_path):
    with app.app_context():
        accounts()
    result = runner.invoke(args=["accounts", "team", "import", write(tmp_path, *BAD)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "line 3: account_external_id: 'KA9' is not an account",
        "line 4: name: is required",
        "line 4: role: 'boss' is not a team role; use executive_sponsor, service_lead, "
        "sales_support or other (or the Chinese or English label)",
        "line 4: email: 'not-an-address' is not a valid e-mail address",
        "line 5: email: 'anna@ours.cn' of this account is also on line 6",
        "line 6: email: 'ANNA@ours.cn' of this account is also on line 5",
        "line 7: has 3 cells but the header has 4",
    ]
    assert result.stderr == (
        "Error: nothing imported: 7 problems on 5 lines; fix them and import again, "
        "or use --skip-invalid to import the valid rows\n"
        "未导入任何内容：5 行共 7 个问题；请改正后重新导入，或用 --skip-invalid 导入有效的行\n"
    )
    with app.app_context():
        assert members() == []
        assert db.session.scalars(select(AuditEntry)).all() == []


def test_skip_invalid_imports_the_good_rows(app, runner, tmp_path):
    with app.app_context():
        accounts()
    path = write(tmp_path, *BAD)
    result = runner.invoke(args=["accounts", "team", "import", path, "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "team members created 1, updated 0, unchanged 0, skipped 5",
        "团队成员：新增 1，更新 0，未变 0，跳过 5",
    ]
    with app.app_context():
        assert members() == [("KA1", "陈总", "executive_sponsor", "chen@ours.cn")]


def test_a_file_with_the_wrong_header_is_refused_whole(app, runner, tmp_path):
    path = tmp_path / "team.csv"
    path.write_text("account,name,role,email\nKA1,陈总,other,\n", encoding="utf-8")
    result = runner.invoke(args=["accounts", "team", "import", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "line 1: account: unknown column; the columns are account_external_id,name,role,email",
        "line 1: account_external_id: column is missing from the header",
    ]


TEAMS = """{ accounts(first: 10) { edges { node { externalId accountManager
    team { name role roleLabel email } } } } }"""


def test_account_team_in_graphql_one_query_for_the_page(app, client):
    with app.app_context():
        ka1, ka2 = make_account("KA1"), make_account("KA2")
        make_account("KA3")
        db.session.add_all(
            [
                AccountTeamMember(
                    account_id=ka1.id, name="陈总", role="executive_sponsor", email="c@o.cn"
                ),
                AccountTeamMember(account_id=ka1.id, name="刘洋", role="service_lead"),
                AccountTeamMember(account_id=ka2.id, name="Bo Li", role="sales_support"),
            ]
        )
        db.session.commit()
        tokens = make_tokens()
    with client:
        body = gql(client, TEAMS, token=tokens["viewer"], lang="en")
        statements = [q.statement for q in get_recorded_queries()]
    assert "errors" not in body, body
    assert [
        (e["node"]["externalId"], e["node"]["team"]) for e in body["data"]["accounts"]["edges"]
    ] == [
        (
            "KA1",
            [
                {
                    "name": "陈总",
                    "role": "EXECUTIVE_SPONSOR",
                    "roleLabel": "Executive sponsor",
                    "email": "c@o.cn",
                },
                {
                    "name": "刘洋",
                    "role": "SERVICE_LEAD",
                    "roleLabel": "Service lead",
                    "email": None,
                },
            ],
        ),
        (
            "KA2",
            [
                {
                    "name": "Bo Li",
                    "role": "SALES_SUPPORT",
                    "roleLabel": "Sales support",
                    "email": None,
                }
            ],
        ),
        ("KA3", []),
    ]
    assert len([s for s in statements if "account_team_members" in s]) == 1
    zh = gql(client, TEAMS, token=tokens["viewer"], lang="zh")
    assert zh["data"]["accounts"]["edges"][0]["node"]["team"][0]["roleLabel"] == "高层支持者"


def test_the_demo_gives_strategic_accounts_a_team_and_re_tiers_a_few(app):
    with app.app_context():
        load_demo(secret_key=TEST_SECRET)
        teams = db.session.execute(
            select(KeyAccount.value_type, AccountTeamMember.role)
            .join(KeyAccount, KeyAccount.id == AccountTeamMember.account_id)
            .where(AccountTeamMember.name != "Michael Sun")
        ).all()
        # Michael Sun also sponsors the account of the oldest overdue case
        # (survey/demo/follow_ups.py), whichever it is; the rest is this module's.
        assert len(teams) == 16
        assert {value_type for value_type, _ in teams} == {"strategic"}
        assert sorted({role for _, role in teams}) == ["executive_sponsor", "service_lead"]
        changes = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "account.tier_change")
        ).all()
        assert sorted((d["old"], d["new"]) for d in (json.loads(c.details) for c in changes)) == [
            ("A", "B"),
            ("A", "B"),
            ("B", "A"),
            ("B", "A"),
        ]
        account_id = db.session.scalar(
            select(KeyAccount.id).where(KeyAccount.external_id == changes[0].target_id)
        )
        kinds = [e.kind for e in account_timeline(account_id, locale="zh").events]
        assert TimelineKind.TIER_CHANGED in kinds
