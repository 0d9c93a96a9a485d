"""What the comments say: segmentation of the demo's Chinese and English texts, and
comment themes on a small fixed set (counts, the threshold of three texts, phrases,
dissatisfied shares, examples newest first, filter and aspect)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.analysis import ResponseFilter, comment_terms
from survey.analysis.comment_terms import stop_words, text_terms, words
from survey.analysis.comment_themes import (
    MIN_THEME_TEXTS,
    CommentTheme,
    comment_themes,
    comment_themes_by_aspect,
)
from survey.db import db
from survey.demo.dataset import _COMMENTS, _REASON_TEXT
from survey.errors import InvalidInputError
from survey.models import Campaign, KeyAccount

from .conftest import TEST_NOW
from .factories import make_response
from .theme_data import DELAY, FIX_ZH, make_theme_texts

# --- segmentation of the demo's texts -----------------------------------------------------

DEMO_TERMS = {
    # Chinese: jieba's words, stop words and quantities (近, 三个, 月, 了, 我们, 的) out,
    # adjacent words as phrases written together.
    _REASON_TEXT["delivery"][0]: (
        "多次",
        "延迟",
        "交货",
        "影响",
        "销售",
        "多次延迟",
        "延迟交货",
    ),
    _REASON_TEXT["communication"][0]: (
        "客户经理",
        "很少",
        "联系",
        "感觉",
        "重视",
        "客户经理很少",
        "很少联系",
    ),
    _REASON_TEXT["profitability"][0]: (
        "利润",
        "空间",
        "太薄",
        "支持",
        "不够",
        "利润空间",
        "空间太薄",
        "支持不够",
    ),
    # The repository's corrections to jieba: 次品率 one word, 价格比 two (比 a stop
    # word); a single character (货, 高, 少) is a term only inside a phrase.
    _REASON_TEXT["product_quality"][0]: ("最近", "次品率", "偏高", "货次品率", "次品率偏高"),
    _REASON_TEXT["price"][0]: ("价格", "同类", "供应商", "返点", "同类供应商", "供应商高"),
    _COMMENTS[2][0]: ("交货", "问题", "尽快", "解决", "交货问题", "尽快解决"),
    _COMMENTS[1][0]: ("总体", "不错", "继续", "保持", "总体不错", "继续保持"),
    # English: lower case, punctuation and stop words out; a comma breaks a phrase.
    _REASON_TEXT["product_quality"][1]: ("last", "batches", "defects", "last batches"),
    _REASON_TEXT["delivery"][1]: ("deliveries", "late"),
    _REASON_TEXT["price"][1]: ("prices", "suppliers"),
    _REASON_TEXT["communication"][1]: ("rarely", "hear", "manager", "rarely hear"),
    _COMMENTS[1][1]: ("good", "overall", "keep", "good overall"),
    _COMMENTS[2][1]: (
        "fix",
        "delivery",
        "problems",
        "soon",
        "delivery problems",
        "problems soon",
    ),
}


@pytest.mark.parametrize("text", list(DEMO_TERMS))
def test_demo_texts_split_into_these_terms(text):
    assert text_terms(text) == DEMO_TERMS[text]


def test_mixed_full_width_and_typographic_text():
    # Full-width letters are read as ASCII, a Chinese word next to an English one
    # makes a phrase with a space, and a number is not a theme.
    assert text_terms("交货delay了2026次，ＰＲＩＣＥ太贵!") == (
        "交货",
        "delay",
        "price",
        "太贵",
        "交货 delay",
        "price 太贵",
    )
    assert text_terms("Suppliers’ prices don’t drop") == (
        "suppliers",
        "prices",
        "drop",
        "suppliers prices",
    )


def test_white_space_does_not_separate_words_but_punctuation_and_stop_words_do():
    assert words("交货 问题") == ["交货", "问题"]
    assert words("交货。问题") == ["交货", None, "问题"]
    assert words("the delivery") == [None, "delivery"]
    assert text_terms("Delivery, problems") == ("delivery", "problems")


def test_a_term_repeated_in_a_text_is_one_term():
    assert text_terms("late late LATE") == ("late", "late late")


def test_stop_lists_hold_both_languages():
    stop = stop_words()
    assert {"the", "please", "的", "我们", "请"} <= stop
    assert not {"delivery", "交货", "价格"} & stop


def test_segmenter_loads_once_and_logs_nothing(caplog):
    comment_terms._segmenter.cache_clear()
    with caplog.at_level(logging.DEBUG):
        assert words("供应链协同") == ["供应链", "协同"]
        first = comment_terms._segmenter()
    assert comment_terms._segmenter() is first
    assert [r.getMessage() for r in caplog.records if r.name.startswith("jieba")] == []


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_distinct_non_empty_terms_without_stop_words(text):
    terms = text_terms(text)
    assert len(set(terms)) == len(terms)
    assert all(t and t == t.strip() for t in terms)
    assert not set(terms) & stop_words()


# --- themes on a small fixed set -----------------------------------------------------------


@pytest.fixture
def texts(app) -> dict[str, Any]:
    return make_theme_texts(app)


def summary(themes: list[CommentTheme]) -> list[tuple[str, int, int]]:
    return [(t.term, t.count, t.dissatisfied) for t in themes]


#: Every text, comments scored by the overall score. 交货: r1 (reason 1, comment 2),
#: r2 (reason 2, comment 4), r4 (reason 2): 5 texts, 4 dissatisfied. The words of DELAY:
#: r1, r2, r4, all dissatisfied. 交货问题 is in two texts only (r1's and r2's
#: comments): left out. "delivery problems": r5 (overall 3), r6 (1), r7 (2).
ALL_THEMES = [
    ("交货", 5, 4),
    ("多次", 3, 3),
    ("多次延迟", 3, 3),
    ("延迟", 3, 3),
    ("延迟交货", 3, 3),
    ("影响", 3, 3),
    ("销售", 3, 3),
    ("delivery", 3, 2),
    ("delivery problems", 3, 2),
    ("fix", 3, 2),
    ("problems", 3, 2),
]


def test_themes_count_texts_holding_each_term(app, texts):
    with app.app_context():
        themes = comment_themes(first=50)
    assert summary(themes) == ALL_THEMES
    assert themes[0].dissatisfied_share == 0.8
    assert themes[-1].dissatisfied_share == pytest.approx(2 / 3)


def test_first_cuts_the_list(app, texts):
    with app.app_context():
        assert summary(comment_themes(first=3)) == ALL_THEMES[:3]
        assert len(comment_themes()) == 10


def test_terms_in_fewer_than_three_texts_are_left_out(app, texts):
    assert MIN_THEME_TEXTS == 3
    with app.app_context():
        terms = {t.term for t in comment_themes(first=50)}
        assert {"交货问题", "尽快", "deliveries", "soon", "problems soon"}.isdisjoint(terms)
        # One more text (r8, satisfied) with "尽快" and "交货问题" brings both to three.
        make_response(
            db.session.get(Campaign, texts["campaign"]),
            db.session.get(KeyAccount, texts["spare"]),
            {"overall": 5},
            comment=FIX_ZH,
            submitted_at=TEST_NOW - timedelta(hours=1),
        )
        db.session.commit()
        found = {t.term: (t.count, t.dissatisfied) for t in comment_themes(first=50)}
    assert found["交货问题"] == (3, 1)
    assert found["尽快解决"] == (3, 1)
    assert found["交货"] == (6, 4)


def test_examples_are_newest_first_reason_text_before_comment(app, texts):
    with app.app_context():
        delivery = comment_themes(first=1)[0]
    assert delivery.term == "交货"
    assert [(e.response_id, e.is_comment, e.score, e.aspect) for e in delivery.examples] == [
        (texts["r4"], False, 2, "delivery"),
        (texts["r2"], False, 2, "delivery"),
        (texts["r2"], True, 4, "overall"),
        (texts["r1"], False, 1, "delivery"),
        (texts["r1"], True, 2, "overall"),
    ]
    assert delivery.examples[0].text == DELAY
    assert delivery.examples[2].text == FIX_ZH


def test_with_an_aspect_comments_are_scored_by_it(app, texts):
    with app.app_context():
        themes = comment_themes(aspect="delivery", first=50)
        price = comment_themes(aspect="price", first=50)
    # 交货 now counts r1's and r2's comments with their delivery scores 1 and 2;
    # "delivery problems" r5 (delivery 1), r6 (4), r7 (2).
    assert summary(themes) == [
        ("交货", 5, 5),
        *[(term, 3, 3) for term in ("多次", "多次延迟", "延迟", "延迟交货", "影响", "销售")],
        ("delivery", 3, 2),
        ("delivery problems", 3, 2),
        ("fix", 3, 2),
        ("problems", 3, 2),
    ]
    # Price: one reason text and the one comment of a response that rated price.
    assert price == []


def test_the_filter_applies_to_reason_texts_and_comments(app, texts):
    with app.app_context():
        tier_a = comment_themes(ResponseFilter(tier="A"), first=50)
        tier_c = comment_themes(ResponseFilter(tier="C"), first=50)
        since = comment_themes(ResponseFilter(since=(TEST_NOW - timedelta(days=2)).date()))
    assert summary(tier_a) == ALL_THEMES[:7]
    assert summary(tier_c) == ALL_THEMES[7:]
    # From two days ago on: r3..r7; DELAY only in r4.
    assert summary(since) == ALL_THEMES[7:]


def test_score_bounds_of_the_filter(app, texts):
    with app.app_context():
        # Reason texts of answers scored 1-2 (all of them) and the comments of
        # responses with such an answer: every response has one (r3 rated price 2).
        low = comment_themes(ResponseFilter(score_at_most=2), first=50)
        # Only the comments of responses with an answer of 4-5 (r2, r3, r6), and no
        # reason text (every reason text is for a score of 1-2).
        high = comment_themes(ResponseFilter(score_at_least=4), first=50)
    assert summary(low) == ALL_THEMES
    assert high == []


def test_by_aspect_is_each_aspect_on_its_own_in_one_statement(app, texts):
    with app.app_context():
        expected = {
            "delivery": comment_themes(aspect="delivery"),
            "overall": comment_themes(aspect="overall"),
        }
        before = len(get_recorded_queries())
        by_aspect = comment_themes_by_aspect()
        statements = len(get_recorded_queries()) - before
    assert statements == 1
    assert set(by_aspect) == {"delivery", "overall"}
    assert by_aspect == expected
    # Overall: only the comments (no reason text of overall in the set).
    assert summary(by_aspect["overall"]) == [
        ("delivery", 3, 2),
        ("delivery problems", 3, 2),
        ("fix", 3, 2),
        ("problems", 3, 2),
    ]


def test_one_statement_without_an_aspect(app, texts):
    with app.app_context():
        before = len(get_recorded_queries())
        comment_themes(first=5)
        assert len(get_recorded_queries()) - before == 1


def test_nothing_to_read_is_no_theme(app):
    with app.app_context():
        assert comment_themes() == []
        assert comment_themes_by_aspect() == {}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"first": 0}, "first"),
        ({"first": 51}, "first"),
        ({"aspect": "nonsense"}, "aspect"),
        ({"f": ResponseFilter(tier="Z")}, "tier"),
    ],
)
def test_bad_arguments_are_refused(app, kwargs, field):
    with app.app_context(), pytest.raises(InvalidInputError) as error:
        comment_themes(**kwargs)
    assert error.value.field == field
