"""Rows written with plain SQL against an older revision of the schema.

Migration tests must not build their data with today's models: a model gains a
column the old table does not have, and the test breaks for the wrong reason.
These helpers reflect the table as it is at the revision under test and insert
plain dicts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

AT = datetime(2026, 11, 1, 9, 0)


def insert(conn: sa.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` into `table` as it exists in the connected database now, leaving
    out keys the table does not have at this revision."""
    reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
    # The row builders below describe the widest schema; a revision without a
    # column (the account's contact columns before 0005 and after 0006) drops it.
    columns = set(reflected.c.keys())
    conn.execute(sa.insert(reflected), [{k: v for k, v in r.items() if k in columns} for r in rows])


def account(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": i,
        "external_id": f"KA{i:03d}",
        "name": f"客户 {i}",
        "tier": "A",
        "value_type": "strategic",
        "relationship_stage": "partner",
        "region": "华东",
        "annual_revenue": 1_000_000 * i,
        "account_manager": "王伟",
        "contact_name": "李娜",
        "contact_email": f"ka{i:03d}@example.com",
        "contact_phone": None,
        "locale": "zh",
        "active": True,
        "opted_out_at": None,
        "created_at": AT,
        "updated_at": AT,
    } | fields


def campaign(i: int, **fields: Any) -> dict[str, Any]:
    """A campaign row; questionnaire `i` must exist."""
    return {
        "id": i,
        "name": f"2026 Q{i}",
        "kind": "satisfaction",
        "status": "open",
        "questionnaire_id": i,
        "opens_at": AT,
        "closes_at": datetime(2026, 12, 1, 9, 0),
        "created_at": AT,
        "method": "simple",
        "seed": 7,
        "frame_size": 3,
        "sample_size": 2,
        "exclude_days": 90,
    } | fields


def seed_first_schema(conn: sa.Connection) -> None:
    """Rows in every table of revision 0001 that holds business data: accounts, a
    questionnaire, a campaign with its invitations, a response with answers and
    reasons, and a defection."""
    insert(
        conn,
        "aspects",
        [
            {
                "id": n,
                "code": code,
                "label_zh": code,
                "label_en": code,
                "question_zh": "?",
                "question_en": "?",
                "position": n,
            }
            for n, code in ((1, "price"), (2, "overall"))
        ],
    )
    insert(conn, "key_accounts", [account(n, name=f"客户 {n}") for n in (1, 2, 3)])
    insert(
        conn, "questionnaires", [{"id": 1, "name": "q", "kind": "satisfaction", "created_at": AT}]
    )
    insert(
        conn,
        "questionnaire_items",
        [{"questionnaire_id": 1, "aspect_id": n, "position": n} for n in (1, 2)],
    )
    insert(conn, "campaigns", [campaign(1)])
    insert(
        conn,
        "invitations",
        [
            {
                "id": n,
                "campaign_id": 1,
                "account_id": n,
                "token_hash": f"{n:064d}",
                "token_nonce": f"nonce{n}",
                "locale": "zh",
                "status": "responded" if n == 1 else "sent",
                "created_at": AT,
                "reminders_sent": 0,
            }
            for n in (1, 2)
        ],
    )
    insert(
        conn,
        "responses",
        [
            {
                "id": 1,
                "invitation_id": 1,
                "campaign_id": 1,
                "account_id": 1,
                "submitted_at": AT,
                "channel": "web",
                "locale": "zh",
                "comment": "=cmd|' /C calc'!A0",
            }
        ],
    )
    insert(
        conn,
        "answers",
        [{"id": n, "response_id": 1, "aspect_id": n, "score": 2} for n in (1, 2)],
    )
    insert(conn, "answer_reasons", [{"answer_id": 1, "reason": "price"}])
    insert(
        conn,
        "defections",
        [
            {
                "id": 1,
                "account_id": 3,
                "defected_on": date(2026, 1, 5),
                "source": "staff",
                "recorded_at": AT,
            }
        ],
    )
    insert(conn, "defection_reasons", [{"defection_id": 1, "reason": "price", "is_primary": True}])
