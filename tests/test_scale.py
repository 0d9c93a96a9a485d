"""The five-point scale and vocabulary, verbatim from the domain brief."""

from __future__ import annotations

import pytest

from survey.scale import (
    ASPECT_REASON,
    ASPECTS_BY_CODE,
    DEFAULT_ASPECTS,
    OVERALL,
    SCALE,
    ReasonCode,
    RelationshipStage,
    Satisfaction,
    ValueType,
    normalise_locale,
)


def test_scale_labels_are_verbatim_and_ordered_best_first():
    assert [(s.value, s.zh, s.en) for s in SCALE] == [
        (5, "高度满意", "Very satisfied"),
        (4, "一般满意", "Satisfied"),
        (3, "无意见", "No opinion"),
        (2, "有些不满意", "Somewhat dissatisfied"),
        (1, "极不满意", "Very dissatisfied"),
    ]


def test_dissatisfied_and_satisfied_bands():
    assert [s.value for s in Satisfaction if s.is_dissatisfied] == [2, 1]
    assert [s.value for s in Satisfaction if s.is_satisfied] == [5, 4]


def test_reason_vocabulary_is_the_shared_one():
    assert ReasonCode.codes() == [
        "price",
        "product_quality",
        "delivery",
        "service",
        "communication",
        "process",
        "competitor_offer",
        "profitability",
        "customer_business_change",
        "other",
    ]
    assert all(r.zh and r.en for r in ReasonCode)


def test_account_kinds():
    assert ValueType.codes() == ["intrinsic", "extrinsic", "strategic"]
    assert RelationshipStage.codes() == [
        "vendor",
        "preferred_supplier",
        "partner",
        "strategic_alliance",
    ]
    assert RelationshipStage.parse("合作伙伴关系") is RelationshipStage.PARTNER
    assert ValueType.parse("Strategic") is ValueType.STRATEGIC
    with pytest.raises(ValueError):
        ValueType.parse("gold")


def test_default_questionnaire_covers_every_aspect_and_ends_with_overall():
    assert [a.code for a in DEFAULT_ASPECTS][-1] == OVERALL
    assert len(ASPECTS_BY_CODE) == len(DEFAULT_ASPECTS) == 8
    assert set(ASPECT_REASON) == set(ASPECTS_BY_CODE) - {OVERALL}
    for aspect in DEFAULT_ASPECTS:
        assert aspect.label("zh") != aspect.label("en")
        assert aspect.question("en").endswith("?")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("zh", "zh"), ("zh-CN", "zh"), ("zh_Hans", "zh"), ("EN-us", "en"), ("fr", None), ("", None)],
)
def test_normalise_locale(raw, expected):
    assert normalise_locale(raw) == expected
