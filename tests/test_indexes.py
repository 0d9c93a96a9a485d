"""Every filter and group-by path reads through an index, so a lost index fails CI.

Each case runs the real service code, records the SELECT statements it issues,
and asks the database for their plans (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
PostgreSQL with sequential scans and hash joins priced out, as they would be on
large tables).
The plan must name an index leading with the expected columns; indexes are
looked up in the catalog by their columns, so dropping one fails the test as
surely as a plan that stops using it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, event, text

from survey import analysis as a
from survey.analysis import Dimension, ResponseFilter
from survey.answers import lookups as loaders
from survey.answers.responses import load_invitation
from survey.campaigns.questionnaires import ensure_default_questionnaire
from survey.db import db

Index = tuple[str, tuple[str, ...]]  # table, columns in index order


def index_names(conn: Connection, table: str, columns: tuple[str, ...]) -> list[str]:
    """The indexes of `table` (unique constraints too) that lead with `columns`: any of
    them serves a lookup on those columns."""
    wanted = ",".join(columns)
    if conn.dialect.name == "postgresql":
        names = conn.execute(
            text(
                """
                SELECT i.relname FROM pg_index x
                JOIN pg_class i ON i.oid = x.indexrelid
                JOIN pg_class t ON t.oid = x.indrelid
                WHERE t.relname = :table AND (
                    SELECT string_agg(a.attname, ',' ORDER BY k.n)
                    FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                ) || ',' LIKE :columns || ',%'
                """
            ),
            {"table": table, "columns": wanted},
        ).scalars()
    else:
        names = conn.execute(
            text(
                """
                SELECT il.name FROM pragma_index_list(:table) AS il
                WHERE (SELECT group_concat(name, ',') FROM (
                    SELECT ii.name FROM pragma_index_info(il.name) AS ii ORDER BY ii.seqno
                )) || ',' LIKE :columns || ',%'
                """
            ),
            {"table": table, "columns": wanted},
        ).scalars()
    found = sorted(str(n) for n in names)
    assert found, f"no index on {table}({wanted})"
    return found


def plans(app: Flask, action: Callable[[], Any]) -> str:
    """The plans of every SELECT `action` issues, as one text."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((statement, parameters))

    with app.app_context():
        ensure_default_questionnaire()
        db.session.commit()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            action()
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
            db.session.rollback()
        lines: list[str] = []
        with db.engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                # Empty or tiny tables (and whatever statistics autovacuum gathered on them
                # during the session) make scans and hash joins look free; on real data
                # they are not. Priced out, the plan shows which index serves each lookup.
                for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                    conn.exec_driver_sql(f"SET {setting} = off")
            prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            for statement, parameters in statements:
                for row in conn.exec_driver_sql(prefix + statement, parameters):
                    lines.append(str(row[0] if postgres else row[-1]))
    assert statements, "the action issued no SELECT"
    return "\n".join(lines)


def uses(app: Flask, plan: str, *indexes: Index) -> None:
    with app.app_context(), db.engine.connect() as conn:
        for table, columns in indexes:
            names = index_names(conn, table, columns)
            assert any(n in plan for n in names), (
                f"{table}({', '.join(columns)}) {names} unused:\n{plan}"
            )


JAN = date(2026, 1, 1)
FEB = date(2026, 2, 1)

CASES: dict[str, tuple[Callable[[], Any], tuple[Index, ...]]] = {
    "summary by aspect (group by)": (
        lambda: a.satisfaction_summary(Dimension.ASPECT),
        (("answers", ("aspect_id", "score")),),
    ),
    "filter by campaign": (
        lambda: a.satisfaction_summary(Dimension.ASPECT, ResponseFilter(campaign_id=1)),
        (("responses", ("campaign_id",)), ("answers", ("response_id", "aspect_id"))),
    ),
    "filter by period": (
        lambda: a.satisfaction_summary(Dimension.MONTH, ResponseFilter(since=JAN, until=FEB)),
        (("responses", ("submitted_at",)), ("answers", ("response_id", "aspect_id"))),
    ),
    "filter by aspect": (
        lambda: a.satisfaction_summary(Dimension.TIER, ResponseFilter(aspect="delivery")),
        (("aspects", ("code",)), ("answers", ("aspect_id", "score"))),
    ),
    "filter by tier": (
        lambda: a.satisfaction_summary(Dimension.ASPECT, ResponseFilter(tier="A")),
        (("key_accounts", ("tier",)), ("responses", ("account_id",))),
    ),
    "filter by region": (
        lambda: a.satisfaction_summary(Dimension.ASPECT, ResponseFilter(region="华南")),
        (("key_accounts", ("region",)), ("responses", ("account_id",))),
    ),
    "filter by value type": (
        lambda: a.satisfaction_summary(Dimension.TIER, ResponseFilter(value_type="intrinsic")),
        (("key_accounts", ("value_type",)),),
    ),
    "filter by relationship stage": (
        lambda: a.satisfaction_summary(
            Dimension.ASPECT, ResponseFilter(relationship_stage="partner")
        ),
        (("key_accounts", ("relationship_stage",)),),
    ),
    "drill-down by account manager": (
        lambda: a.dissatisfaction_drilldown(
            [Dimension.ASPECT], ResponseFilter(account_manager="刘洋"), comments_limit=0
        ),
        (
            ("key_accounts", ("account_manager",)),
            ("responses", ("account_id",)),
            ("answer_reasons", ("answer_id", "reason")),
        ),
    ),
    "answers of a page of responses": (
        lambda: loaders.answers_of_responses([1, 2, 3]),
        (("answers", ("response_id", "aspect_id")), ("answer_reasons", ("answer_id", "reason"))),
    ),
    "survey link": (
        lambda: load_invitation("A" * 43),
        (("invitations", ("token_hash",)), ("responses", ("invitation_id",))),
    ),
    "campaign progress": (
        lambda: a.campaign_progress([1]),
        (("invitations", ("campaign_id",)), ("responses", ("invitation_id",))),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_path_reads_through_its_index(app: Flask, case: str) -> None:
    action, indexes = CASES[case]
    uses(app, plans(app, action), *indexes)


def test_a_dropped_index_fails(app: Flask) -> None:
    """The check itself can fail: without the index there is nothing to find."""
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_responses_campaign_id"))
        with db.engine.connect() as conn:
            assert index_names(conn, "responses", ("account_id",)) == [
                "ix_responses_account_id",
                "ix_responses_account_submitted",
            ]
            with pytest.raises(AssertionError, match="no index"):
                index_names(conn, "responses", ("campaign_id",))
