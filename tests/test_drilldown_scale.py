"""The drill-down reads its newest texts newest first and stops early (issue 20): the
same trees as the window over every text it replaced, ties included, in a fixed
number of statements."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, literal, select, union_all

from survey.analysis import Dimension, ResponseFilter
from survey.analysis import drilldown as module
from survey.analysis import drilldown_cells as counting
from survey.analysis.filters import matching_answers
from survey.clock import utcnow
from survey.db import db
from survey.models import Answer, Response
from survey.scale import DISSATISFIED_MAX

from .factories import make_account, make_campaign, make_response

# The uncached original: the analysis cache would answer a second call from the first.
dissatisfaction_drilldown = module.dissatisfaction_drilldown


def window_texts(
    keys: list[Any],
    f: ResponseFilter,
    limit: int,
    _cells: set[tuple[str, ...]],
    path_of: counting.PathMaker,
) -> dict[tuple[str, ...], list[module._Text]]:
    """The texts as the drill-down read them before: every text of every cell ranked
    by a window (newest first, reason text before comment, higher id first)."""
    dissatisfied = Answer.score <= DISSATISFIED_MAX
    reason_texts = matching_answers(
        select(
            *keys,
            Answer.reason_text.label("text"),
            Response.submitted_at.label("at"),
            literal(0).label("kind"),
            Answer.id.label("tiebreak"),
            Response.account_id.label("account"),
        ),
        f,
    ).where(dissatisfied, Answer.reason_text.is_not(None), Answer.reason_text != "")
    comments = (
        matching_answers(
            select(
                *keys,
                Response.comment.label("text"),
                Response.submitted_at.label("at"),
                literal(1).label("kind"),
                Response.id.label("tiebreak"),
                Response.account_id.label("account"),
            ),
            f,
        )
        .where(dissatisfied, Response.comment.is_not(None), Response.comment != "")
        .distinct()
    )
    texts = union_all(reason_texts, comments).subquery()
    key_columns = [texts.c[f"k{i}"] for i in range(len(keys))]
    ranked = select(
        *key_columns,
        texts.c.text,
        texts.c.at,
        texts.c.kind,
        texts.c.tiebreak,
        texts.c.account,
        func.row_number()
        .over(
            partition_by=key_columns,
            order_by=(texts.c.at.desc(), texts.c.kind, texts.c.tiebreak.desc()),
        )
        .label("rn"),
    ).subquery()
    rows = db.session.execute(
        select(ranked).where(ranked.c.rn <= limit).order_by(ranked.c.rn)
    ).all()
    result: dict[tuple[str, ...], list[module._Text]] = defaultdict(list)
    n = len(keys)
    for row in rows:
        text, at, kind, tiebreak, account = row[n : n + 5]
        result[path_of(row)].append(module._Text(at, int(kind), int(tiebreak), text, int(account)))
    return result


T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=30)
T2 = T1 + timedelta(days=30)


@pytest.fixture
def tied(app: Any) -> None:
    """Six responses, two pairs submitted at the same instant, reasons tied on count."""
    with app.app_context():
        ka = [
            make_account("KA1", tier="A", account_manager="王伟"),
            make_account("KA2", tier="A", account_manager="李强"),
            make_account("KA3", tier="B", account_manager="王伟", region="华北"),
            make_account("KA4", tier="B", account_manager="李强", region="华北"),
            make_account("KA5", tier="A", account_manager="王伟"),
            make_account("KA6", tier="A", account_manager="李强"),
        ]
        campaign, _ = make_campaign("2026 Q1", accounts=ka)
        make_response(
            campaign,
            ka[0],
            {"delivery": 1, "price": 2, "service": 4},
            reasons={"delivery": ["delivery", "process"], "price": ["price"]},
            reason_texts={"delivery": "晚", "price": ""},
            comment="c1",
            submitted_at=T1,
        )
        make_response(
            campaign,
            ka[1],
            {"delivery": 2, "price": 4},
            reasons={"delivery": ["delivery"]},
            reason_texts={"delivery": "慢"},
            comment="c2",
            submitted_at=T1,
        )
        make_response(
            campaign,
            ka[2],
            {"delivery": 1, "overall": 1},
            reasons={"delivery": ["process", "delivery"], "overall": ["service"]},
            reason_texts={"delivery": "x"},
            comment="",
            submitted_at=T2,
        )
        make_response(
            campaign,
            ka[3],
            {"price": 1, "overall": 2},
            reasons={"price": ["price", "competitor_offer"], "overall": ["price"]},
            reason_texts={"price": "贵", "overall": "整体"},
            comment="c4",
            submitted_at=T2,
        )
        make_response(
            campaign,
            ka[4],
            {"delivery": 2, "service": 5},
            reasons={"delivery": ["delivery"]},
            reason_texts={"delivery": "旧"},
            comment="c5",
            submitted_at=T0,
        )
        make_response(campaign, ka[5], {"delivery": 4}, comment="happy", submitted_at=utcnow())
        db.session.commit()


def test_newest_texts_with_ties(app: Any, tied: None) -> None:
    with app.app_context():
        tree = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER], locale="en")
        short = dissatisfaction_drilldown([Dimension.ASPECT], comments_limit=3)
    nodes = {n.key: n for n in tree}
    # T2: KA3's reason text; T1: reason texts (higher answer id first), then comments
    # (higher response id first); T0: KA5's. KA6 (satisfied) adds nothing.
    assert nodes["delivery"].comments == ("x", "慢", "晚", "c2", "c1", "旧", "c5")
    assert [(c.key, c.comments) for c in nodes["delivery"].children] == [
        ("A", ("慢", "晚", "c2", "c1", "旧", "c5")),
        ("B", ("x",)),
    ]
    # KA4's comment sits in two cells (price and overall) of tier B, once in each.
    assert nodes["price"].comments == ("贵", "c4", "c1")
    assert nodes["overall"].comments == ("整体", "c4")
    assert [(r.reason, r.count) for r in nodes["delivery"].top_reasons] == [
        ("delivery", 4),
        ("process", 2),
    ]
    assert {n.key: n.comments for n in short}["delivery"] == ("x", "慢", "晚")


@pytest.mark.parametrize(
    ("by", "f"),
    [
        ([Dimension.ASPECT, Dimension.TIER], None),
        ([Dimension.TIER], None),
        ([Dimension.ACCOUNT_MANAGER, Dimension.ASPECT], None),
        ([Dimension.REGION, Dimension.MONTH, Dimension.ASPECT], None),
        ([Dimension.ASPECT], ResponseFilter(tier="A")),
        ([Dimension.TIER, Dimension.ASPECT], ResponseFilter(score_at_most=1)),
        # Response-level filters and keys around the per-response bit sets.
        ([Dimension.CAMPAIGN, Dimension.ASPECT], ResponseFilter(since=T1.date(), channel="web")),
        ([Dimension.ASPECT, Dimension.MONTH], ResponseFilter(aspect="delivery")),
        ([Dimension.ASPECT, Dimension.CONTACT_ROLE], ResponseFilter(score_at_least=2)),
        ([Dimension.ASPECT, Dimension.REGION, Dimension.TIER], ResponseFilter(region="华北")),
    ],
)
@pytest.mark.parametrize("limit", [1, 2, 3, 20])
def test_same_tree_as_the_window_over_every_text(
    app: Any, tied: None, monkeypatch: pytest.MonkeyPatch, by: list[Dimension], f: Any, limit: int
) -> None:
    with app.app_context():
        new = dissatisfaction_drilldown(by, f, locale="zh", comments_limit=limit)
        # The code before: cells by one GROUP BY over every answer, texts by the window.
        monkeypatch.setattr(counting, "_aspect_masks", lambda *_args: None)
        monkeypatch.setattr(module, "_node_comments", window_texts)
        old = dissatisfaction_drilldown(by, f, locale="zh", comments_limit=limit)
    assert new == old
    assert any(n.comments for n in new)


def test_cells_and_reasons_of_one_statement(app: Any, tied: None) -> None:
    """Exact cells and reasons by aspect and tier (the bit sets and the reasons joined
    to the keyed responses): a cell without a complaint counts towards its parent's
    answers and makes no node; a complaint without a reason makes no reason."""
    with app.app_context():
        tree = dissatisfaction_drilldown([Dimension.ASPECT, Dimension.TIER], locale="en")
    assert [
        (
            n.key,
            n.answers,
            n.dissatisfied,
            [(r.reason, r.count) for r in n.top_reasons],
            [
                (c.key, c.answers, c.dissatisfied, [(r.reason, r.count) for r in c.top_reasons])
                for c in n.children
            ],
        )
        for n in tree
    ] == [
        (
            "delivery",
            5,
            4,
            [("delivery", 4), ("process", 2)],
            [
                ("A", 4, 3, [("delivery", 3), ("process", 1)]),
                ("B", 1, 1, [("delivery", 1), ("process", 1)]),
            ],
        ),
        (
            "overall",
            2,
            2,
            [("price", 1), ("service", 1)],
            [("B", 2, 2, [("price", 1), ("service", 1)])],
        ),
        (
            "price",
            3,
            2,
            [("price", 2), ("competitor_offer", 1)],
            [
                ("A", 2, 1, [("price", 1)]),
                ("B", 1, 1, [("price", 1), ("competitor_offer", 1)]),
            ],
        ),
    ]


def test_an_aspect_id_too_large_for_a_bit_counts_the_plain_way(
    app: Any, tied: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    by = [Dimension.TIER, Dimension.ASPECT]
    with app.app_context():
        masked = dissatisfaction_drilldown(by)
        monkeypatch.setattr(counting, "_MASK_BITS", 1)  # every aspect id is now too large
        assert counting._aspect_masks(by, [], ResponseFilter(), counting.aspect_codes()) is None
        plain = dissatisfaction_drilldown(by)
    assert masked == plain
    assert [(n.key, n.answers, n.dissatisfied) for n in plain] == [("A", 8, 4), ("B", 4, 4)]


def test_statements_do_not_grow_with_the_data(app: Any, tied: None) -> None:
    """Cells, reasons, texts and the labels: a fixed number of statements, however
    many cells, texts and levels (texts are read in batches from one statement)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def count(by: list[Dimension]) -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            dissatisfaction_drilldown(by)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return len(statements)

    with app.app_context():
        small = count([Dimension.ASPECT, Dimension.TIER])
        deep = count([Dimension.ACCOUNT_MANAGER, Dimension.ASPECT, Dimension.TIER])
        accounts_only = count([Dimension.ACCOUNT_MANAGER, Dimension.TIER])
        more = [make_account(f"M{i}", tier="C") for i in range(30)]
        campaign, _ = make_campaign("2026 Q2", accounts=more)
        for i, account in enumerate(more):
            make_response(
                campaign,
                account,
                {"delivery": 1, "price": 2},
                reasons={"delivery": ["delivery"]},
                reason_texts={"delivery": f"t{i}"},
                comment=f"m{i}",
                submitted_at=T2 + timedelta(hours=i),
            )
        db.session.commit()
        large = count([Dimension.ASPECT, Dimension.TIER])
        sqlite = db.engine.dialect.name == "sqlite"
    # With the aspect as a level: the aspects' ids and codes, the cells and the reasons
    # (one statement on PostgreSQL), texts, the aspects' labels (tiers and managers need
    # no query); without it: cells, reasons, texts.
    assert small == large == deep == (5 if sqlite else 4)
    assert accounts_only == 3
