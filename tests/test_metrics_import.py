"""Importing indicators from CSV (service and CLI) and changing score models from the CLI."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from survey.audit import METRICS_IMPORT, SCORE_MODEL_CHANGE
from survey.db import db
from survey.models import AccountMetric, AccountScore, AuditEntry
from survey.scoring.metrics_import import import_metrics_csv
from survey.scoring.value_reads import account_value

from .factories import make_account

HEADER = "external_id,period,indicator,value"


def csv_bytes(*rows: str) -> io.BytesIO:
    return io.BytesIO(("\n".join([HEADER, *rows]) + "\n").encode("utf-8"))


def _metrics() -> list[tuple]:
    return [
        tuple(r)
        for r in db.session.execute(
            select(
                AccountMetric.account_id,
                AccountMetric.period,
                AccountMetric.indicator,
                AccountMetric.value,
            ).order_by(AccountMetric.account_id, AccountMetric.indicator)
        )
    ]


def test_every_problem_at_once_and_nothing_written(app):
    with app.app_context():
        make_account("KA1")
        db.session.commit()
        report = import_metrics_csv(
            csv_bytes(
                "KA1,2026-Q3,revenue,100",
                "KA9,2026-Q3,revenue,100",
                "KA1,2026-Q5,revenue,1",
                "KA1,2026,nps,1",
                "KA1,2026,orders,many",
                "KA1,2026,orders,inf",
                "KA1,2026-q3,revenue,200",
                "KA1,2026,orders,1e999",
                ",2026,orders,",
            )
        )
        assert not report.imported
        assert [str(p) for p in report.problems] == [
            "line 3: external_id: 'KA9' is not a key account in the registry "
            "(import it with flask accounts import first)",
            "line 4: period: '2026-Q5' is not a period; write a year (2026), "
            "a quarter (2026-Q3) or a month (2026-07)",
            "line 5: indicator: 'nps' is not a known indicator (known: collected, "
            "credit_rating, days_sales_outstanding, gross_profit, growth_potential, orders, "
            "revenue, service_cost)",
            "line 6: value: 'many' is not a number (write 1234.5)",
            "line 7: value: 'inf' is not a number (write 1234.5)",
            "line 8: indicator: revenue for 'KA1' in 2026-Q3 is already on line 2",
            "line 9: value: '1e999' is too large",
            "line 10: external_id: is required",
            "line 10: value: is required (leave the row out when there is no value)",
        ]
        assert _metrics() == []
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_upsert_audit_and_recompute(app):
    with app.app_context():
        a = make_account("KA1")
        b = make_account("KA2")
        db.session.commit()
        first = import_metrics_csv(
            csv_bytes(
                "KA1,2026-Q3,revenue,100",
                "KA2,2026-Q3,revenue,300",
                "KA1,2026-Q3,gross_profit,10",
                "KA2,2026-Q3,gross_profit,5.5",
            ),
            actor="cli",
            source="m.csv",
        )
        assert first.imported
        assert (first.created, first.updated, first.unchanged) == (4, 0, 0)
        assert first.recompute is not None and first.recompute.period == "2026-Q3"
        # revenue 0.35 + gross profit 0.30 of the pyramid's 1.0: enough to score
        assert account_value(a.id, "pyramid").score == pytest.approx((0.35 * 25 + 0.30 * 75) / 0.65)
        second = import_metrics_csv(
            csv_bytes(
                "KA1,2026-Q3,revenue,100",
                "KA2,2026-Q3,revenue,50",
                "KA2,2026-q3,orders,7",
                "KA1,bad,orders,1",
            ),
            skip_invalid=True,
        )
        assert second.imported
        assert (second.created, second.updated, second.unchanged, second.skipped) == (1, 1, 1, 1)
        assert str(second.problems[0]).startswith("line 5: period:")
        assert _metrics() == [
            (a.id, "2026-Q3", "gross_profit", 10.0),
            (a.id, "2026-Q3", "revenue", 100.0),
            (b.id, "2026-Q3", "gross_profit", 5.5),
            (b.id, "2026-Q3", "orders", 7.0),
            (b.id, "2026-Q3", "revenue", 50.0),
        ]
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == METRICS_IMPORT).order_by(AuditEntry.id)
        ).all()
        details = json.loads(entries[0].details)
        assert (entries[0].actor, details["file"], details["rows"]) == ("cli", "m.csv", 4)
        assert details["periods"] == ["2026-Q3"]
        assert account_value(b.id, "pyramid").score == pytest.approx(
            (0.35 * 25 + 0.30 * 25 + 0.15 * 50) / 0.8
        )


def test_cli_import_and_scorecard(app, runner, tmp_path):
    with app.app_context():
        make_account("KA1")
        make_account("KA2")
        db.session.commit()
    good = tmp_path / "m.csv"
    good.write_text(
        HEADER + "\nKA1,2026,revenue,1\nKA2,2026,revenue,2\nKA1,2026,credit_rating,3\n"
        "KA2,2026,credit_rating,4\nKA1,2026,growth_potential,3\nKA2,2026,growth_potential,5\n"
        "KA1,2026,gross_profit,3\nKA2,2026,gross_profit,1\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["accounts", "metrics", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "values created 8, updated 0, unchanged 0, skipped 0" in result.output
    assert "value scores scorecard v1 for 2026: A 1, B 1, C 0; insufficient data 0" in result.output

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\nKA1,2026,revenue,x\n", encoding="utf-8")
    result = runner.invoke(args=["accounts", "metrics", "import", str(bad)])
    assert result.exit_code == 1
    assert "line 2: value: 'x' is not a number" in result.output
    assert "nothing imported: 1 problem(s) on 1 line(s)" in result.output

    result = runner.invoke(args=["scorecard", "show", "scorecard"])
    assert result.exit_code == 0, result.output
    assert "scorecard  Value scorecard / 价值记分卡  (value, version 1 · suggests tiers)" in (
        result.output
    )
    assert "Financial (financial) 35%" in result.output
    assert "bands (cumulative % of total value): A 50, B 80" in result.output

    result = runner.invoke(
        args=[
            "scorecard", "set", "pyramid", "revenue=0.5", "orders=0", "credit_rating=0.2",
            "--perspective", "credit_rating=customer", "--bands", "A=40,B=70",
            "--note", "more revenue",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "pyramid is now at version 2" in result.output
    assert "value scores recomputed for 2026: 2 accounts" in result.output
    result = runner.invoke(args=["scorecard", "show", "pyramid"])
    assert "credit_rating" in result.output and "v2" in result.output
    assert "more revenue" in result.output
    assert "bands (cumulative % of total value): A 40, B 70" in result.output

    result = runner.invoke(args=["scorecard", "set", "pyramid", "nps=1"])
    assert result.exit_code == 1 and "'nps' is not a measure" in result.output
    result = runner.invoke(args=["scorecard", "set", "pyramid", "revenue=lots"])
    assert result.exit_code == 2 and "must be a number" in result.output

    result = runner.invoke(args=["scorecard", "set", "health", "overall_score=0.5"])
    assert result.exit_code == 0, result.output
    assert "health is now at version 2" in result.output
    assert "health recomputed" in result.output
    with app.app_context():
        versions = {s.model_id: s.version_id for s in db.session.scalars(select(AccountScore))}
        assert versions
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == SCORE_MODEL_CHANGE)
            )
            == 2
        )
