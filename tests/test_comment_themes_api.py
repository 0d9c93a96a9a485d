"""commentThemes through the GraphQL endpoint, on the fixed set of tests/theme_data."""

from __future__ import annotations

from typing import Any

import pytest

from .graphql_helpers import codes, gql, make_tokens
from .theme_data import DELAY, FIX_ZH, make_theme_texts

THEMES = """
query($filter: ResponseFilter, $aspect: String, $first: Int, $examples: Int) {
  commentThemes(filter: $filter, aspect: $aspect, first: $first) {
    term count dissatisfiedShare examples(first: $examples) { text responseId score }
  }
}
"""


@pytest.fixture
def setup(app) -> tuple[dict[str, Any], dict[str, str]]:
    texts = make_theme_texts(app)
    with app.app_context():
        tokens = make_tokens()
    return texts, tokens


def themes(client, token: str, **variables: Any) -> list[dict[str, Any]]:
    body = gql(client, THEMES, variables, token=token)
    assert "errors" not in body, body
    return body["data"]["commentThemes"]


def test_themes_with_counts_shares_and_newest_examples(client, setup):
    texts, tokens = setup
    found = themes(client, tokens["viewer"], first=4)
    assert [(t["term"], t["count"], t["dissatisfiedShare"]) for t in found] == [
        ("交货", 5, 0.8),
        ("多次", 3, 1.0),
        ("多次延迟", 3, 1.0),
        ("延迟", 3, 1.0),
    ]
    # Three examples by default, newest first; at the same moment the reason text
    # (its answer's score) before the comment (the overall score).
    assert found[0]["examples"] == [
        {"text": DELAY, "responseId": str(texts["r4"]), "score": 2},
        {"text": DELAY, "responseId": str(texts["r2"]), "score": 2},
        {"text": FIX_ZH, "responseId": str(texts["r2"]), "score": 4},
    ]


def test_ten_themes_by_default_and_examples_first(client, setup):
    _, tokens = setup
    found = themes(client, tokens["viewer"], examples=5)
    assert len(found) == 10
    assert len(found[0]["examples"]) == 5
    assert [e["score"] for e in found[0]["examples"]] == [2, 2, 4, 1, 2]


def test_aspect_and_filter(client, setup):
    _, tokens = setup
    delivery = themes(client, tokens["viewer"], aspect="delivery", first=1)
    assert [(t["term"], t["count"], t["dissatisfiedShare"]) for t in delivery] == [("交货", 5, 1.0)]
    tier_c = themes(client, tokens["viewer"], filter={"tier": "C"})
    assert [(t["term"], t["count"]) for t in tier_c] == [
        ("delivery", 3),
        ("delivery problems", 3),
        ("fix", 3),
        ("problems", 3),
    ]
    assert tier_c[1]["dissatisfiedShare"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 0}, "first"),
        ({"first": 51}, "first"),
        ({"examples": 11}, "first"),
        ({"aspect": "weather"}, "aspect"),
        ({"filter": {"tier": "Z"}}, "tier"),
    ],
)
def test_bad_arguments_are_bad_user_input(client, setup, variables, field):
    _, tokens = setup
    body = gql(client, THEMES, variables, token=tokens["viewer"])
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field


def test_needs_a_token(client, setup):
    body = gql(client, THEMES, token=None, status=401)
    assert "data" not in body or body["data"] is None
