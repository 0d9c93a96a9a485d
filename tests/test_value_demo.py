"""The demo's indicators: the shipped sample file, its import, and what the demo shows."""

from __future__ import annotations

from sqlalchemy import select

from survey.db import db
from survey.demo import load_demo
from survey.demo.dataset import demo_accounts_csv
from survey.demo.metrics import SAMPLE_FILE, demo_metrics_csv
from survey.models import AccountScore, KeyAccount
from survey.scoring.tiers import tier_suggestions
from survey.scoring.value_reads import value_pyramid

from .conftest import TEST_SECRET


def test_sample_file_is_the_generators_output():
    assert SAMPLE_FILE.read_bytes() == demo_metrics_csv(demo_accounts_csv())
    # reproducible: the same account file gives the same indicators
    assert demo_metrics_csv(demo_accounts_csv()) == demo_metrics_csv(demo_accounts_csv())


def test_demo_scores_and_sample_import(app, runner):
    with app.app_context():
        load_demo(secret_key=TEST_SECRET)
        pyramid = value_pyramid()
        assert pyramid.model == "scorecard" and pyramid.period == "2026-Q3"
        assert all(band.accounts > 0 for band in pyramid.bands)
        assert pyramid.insufficient >= 1  # the accounts that report almost nothing
        flagged = db.session.scalars(
            select(KeyAccount.external_id)
            .join(AccountScore, AccountScore.account_id == KeyAccount.id)
            .where(AccountScore.flags == "one_off")
            .distinct()
        ).all()
        assert {"KA-0017", "KA-0064"} <= set(flagged)
        assert 5 <= len(tier_suggestions()) <= 100
    result = runner.invoke(args=["accounts", "metrics", "import", str(SAMPLE_FILE)])
    assert result.exit_code == 0, result.output
    assert "updated 0" in result.output and "created 0" in result.output
