"""The priority matrix: value band × health band, counts and revenue, accounts per cell."""

from __future__ import annotations

from datetime import date

import pytest

from survey.db import db
from survey.errors import InvalidInputError
from survey.models import MODEL_HEALTH, AccountScore
from survey.scoring import ensure_score_models, load_model, tiering_model
from survey.scoring.priority import (
    HEALTH_BANDS,
    VALUE_BANDS,
    check_cell,
    priority_accounts,
    priority_matrix,
)

from .factories import make_account, make_defection

#: external id, revenue, (value score, band) or None, (health score, band) or None
ACCOUNTS = [
    ("KA01", 9_000_000, (90.0, "A"), (20.0, "poor")),
    ("KA02", 7_000_000, (85.0, "A"), (35.0, "poor")),
    ("KA03", 6_000_000, (80.0, "A"), (75.0, "good")),
    ("KA04", 2_000_000, (60.0, "B"), (50.0, "watch")),
    ("KA05", 1_500_000, (55.0, "B"), None),  # no health row at all
    ("KA06", 800_000, (30.0, "C"), (10.0, "poor")),
    ("KA07", 500_000, None, (80.0, "good")),  # no value row
    ("KA08", 400_000, (None, None), (None, None)),  # rows with insufficient data
    ("KA09", 3_000_000, (88.0, "A"), (15.0, "poor")),  # left: not in the matrix
]


def _load() -> dict[str, int]:
    ensure_score_models()
    value = tiering_model()
    health = load_model(MODEL_HEALTH)
    ids = {}
    for external_id, revenue, value_score, health_score in ACCOUNTS:
        account = make_account(external_id, annual_revenue=revenue)
        ids[external_id] = account.id
        for model, score in ((value, value_score), (health, health_score)):
            if score is None:
                continue
            db.session.add(
                AccountScore(
                    account_id=account.id,
                    model_id=model.model_id,
                    version_id=model.version_id,
                    score=score[0],
                    band=score[1],
                )
            )
        if external_id == "KA09":
            make_defection(account, date(2026, 10, 1), ["price"])
    # Another value model's bands must not count: the pyramid says C for KA01.
    pyramid = load_model("pyramid")
    db.session.add(
        AccountScore(
            account_id=ids["KA01"],
            model_id=pyramid.model_id,
            version_id=pyramid.version_id,
            score=10.0,
            band="C",
        )
    )
    db.session.flush()
    return ids


def test_matrix_counts_and_sums_revenue_per_cell_a_poor_first(app):
    with app.app_context():
        _load()
        matrix = priority_matrix()
        assert matrix.value_model == "scorecard"
        assert len(matrix.cells) == 16
        assert [(c.value_band, c.health_band) for c in matrix.cells[:5]] == [
            ("A", "poor"),
            ("A", "watch"),
            ("A", "good"),
            ("A", "none"),
            ("B", "poor"),
        ]
        assert matrix.cells[0].high_value_poor_health
        assert not any(c.high_value_poor_health for c in matrix.cells[1:])
        filled = {(c.value_band, c.health_band): (c.accounts, c.revenue) for c in matrix.cells}
        assert {k: v for k, v in filled.items() if v != (0, 0)} == {
            ("A", "poor"): (2, 16_000_000),
            ("A", "good"): (1, 6_000_000),
            ("B", "watch"): (1, 2_000_000),
            ("B", "none"): (1, 1_500_000),
            ("C", "poor"): (1, 800_000),
            ("none", "good"): (1, 500_000),
            ("none", "none"): (1, 400_000),
        }
        assert matrix.accounts == 8 and matrix.revenue == 27_200_000
        assert matrix.cell("C", "good").accounts == 0


def test_an_empty_registry_has_sixteen_empty_cells(app):
    with app.app_context():
        ensure_score_models()
        matrix = priority_matrix()
        assert [(c.accounts, c.revenue) for c in matrix.cells] == [(0, 0)] * 16
        assert [c.value_band for c in matrix.cells[::4]] == list(VALUE_BANDS)
        assert [c.health_band for c in matrix.cells[:4]] == list(HEALTH_BANDS)


def test_accounts_behind_a_cell_page_by_id(app):
    with app.app_context():
        ids = _load()
        page = priority_accounts("A", "poor", first=1)
        assert [a.external_id for a in page.rows] == ["KA01"] and page.has_next
        assert page.count() == 2
        assert (page.rows[0].value_score, page.rows[0].health_score) == (90.0, 20.0)
        assert page.rows[0].annual_revenue == 9_000_000
        rest = priority_accounts("A", "poor", first=1, after_id=page.rows[0].id)
        assert [a.external_id for a in rest.rows] == ["KA02"] and not rest.has_next
        unscored = priority_accounts("none", "none")
        assert [(a.external_id, a.value_score, a.health_score) for a in unscored.rows] == [
            ("KA08", None, None)
        ]
        assert [a.id for a in priority_accounts("b", "NONE").rows] == [ids["KA05"]]
        assert priority_accounts("C", "good").rows == []


@pytest.mark.parametrize("value_band, health_band", [("D", "poor"), ("A", "bad"), ("", "")])
def test_unknown_bands_are_refused(value_band, health_band):
    with pytest.raises(InvalidInputError):
        check_cell(value_band, health_band)
