"""What the comments say: the terms and two-word phrases that occur in the most
comments and reason texts, with how many of those texts come from dissatisfied
customers and the newest of them as examples.

A *text* is one free text a customer typed: the reason text of an answer ("why this
score?", asked of scores 1-2) or the comment of a response. Each text comes with one
score on the five-point scale:

- a reason text: the score of its answer;
- a response's comment: the response's `overall` score, or with `aspect` that
  aspect's score in the response. A comment whose response did not answer that
  aspect has no score and is left out.

Which texts: the reason texts of the answers matching the filter (as every answer
figure reads it; with `aspect`, that aspect's answers only) and the comments of the
responses matching it (as response figures read it: the filter's aspect and score
bounds mean "has such an answer"). One SQL statement gathers them, newest first;
Python splits them into terms (survey.analysis.comment_terms) and counts.

A theme's `count` is the number of texts holding the term (once per text, however
often the text repeats it), `dissatisfied` those of them with a score of 1-2, and
`dissatisfied_share` = dissatisfied / count. Terms in fewer than MIN_THEME_TEXTS
texts are left out. Order: most texts first, then the larger dissatisfied share,
then the term (code-point order).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import aliased

from survey.analysis.comment_terms import text_terms
from survey.analysis.filters import (
    ResponseFilter,
    matching_answers,
    response_conditions,
    validate_response_filter,
)
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import Answer, Aspect, KeyAccount, Response
from survey.scale import DISSATISFIED_MAX, OVERALL

#: A term must occur in at least this many texts to be a theme.
MIN_THEME_TEXTS = 3
#: How many themes one call returns at most, and by default.
MAX_THEMES = 50
DEFAULT_THEMES = 10
#: How many example texts a theme keeps at most (newest first).
MAX_THEME_EXAMPLES = 10

#: Texts are reason texts (kind 0) or comments (kind 1); at the same moment a reason
#: text comes first, as in the drill-down's comments.
_REASON_TEXT = 0
_COMMENT = 1


@dataclass(frozen=True, slots=True)
class ThemeExample:
    """One text holding the term, with the score it comes with (see the module)."""

    text: str
    response_id: int
    score: int
    #: The aspect `score` is of (the answer's, or the one a comment is scored by).
    aspect: str
    submitted_at: datetime
    #: A comment of the response (True) or an answer's reason text (False).
    is_comment: bool


@dataclass(frozen=True, slots=True)
class CommentTheme:
    """A term or two-word phrase and the texts holding it."""

    term: str
    #: Texts holding the term.
    count: int
    #: Of them, texts that come with a score of 1-2.
    dissatisfied: int
    #: The newest texts holding it (at most MAX_THEME_EXAMPLES), newest first.
    examples: tuple[ThemeExample, ...]

    @property
    def dissatisfied_share(self) -> float:
        """dissatisfied / count (0..1)."""
        return self.dissatisfied / self.count


def _check_first(first: int) -> None:
    if not 1 <= first <= MAX_THEMES:
        raise InvalidInputError(f"`first` must be between 1 and {MAX_THEMES}.", field="first")


def comment_themes(
    f: ResponseFilter | None = None,
    aspect: str | None = None,
    first: int = DEFAULT_THEMES,
) -> list[CommentTheme]:
    """The `first` themes of the texts matching `f` (with `aspect`: that aspect's
    reason texts, and comments scored by that aspect); see the module for the rules.
    One SQL statement."""
    f = f or ResponseFilter()
    validate_response_filter(f)
    if aspect is not None:
        validate_response_filter(ResponseFilter(aspect=aspect))
    _check_first(first)
    rows = db.session.execute(_texts(f, scored_by=aspect or OVERALL, aspect=aspect))
    return _themes(rows, first)


def comment_themes_by_aspect(
    f: ResponseFilter | None = None, first: int = DEFAULT_THEMES
) -> dict[str, list[CommentTheme]]:
    """comment_themes(f, aspect, first) for every aspect at once, in one SQL
    statement: each aspect's reason texts and the comments scored by it. Aspects
    without a theme are left out."""
    f = f or ResponseFilter()
    validate_response_filter(f)
    _check_first(first)
    rows = db.session.execute(_texts(f, scored_by=None, aspect=None))
    by_aspect: dict[str, list[Any]] = {}
    for row in rows:
        by_aspect.setdefault(row.aspect, []).append(row)
    themes = {code: _themes(texts, first) for code, texts in by_aspect.items()}
    return {code: found for code, found in themes.items() if found}


def _texts(f: ResponseFilter, *, scored_by: str | None, aspect: str | None) -> Any:
    """The texts, newest first: (aspect, kind, source, response_id, text, score, at).

    `aspect` restricts the reason texts to that aspect's answers; `scored_by` scores
    comments by that aspect (None: one row per answer of the response, each scored
    by its aspect, for comment_themes_by_aspect)."""
    reasons = matching_answers(
        select(
            Aspect.code.label("aspect"),
            literal(_REASON_TEXT).label("kind"),
            Answer.id.label("source"),
            Answer.response_id.label("response_id"),
            Answer.reason_text.label("text"),
            Answer.score.label("score"),
            Response.submitted_at.label("at"),
        ),
        f,
    ).where(Answer.reason_text.is_not(None), Answer.reason_text != "")
    if aspect is not None:
        reasons = reasons.where(Aspect.code == aspect)
    scored = aliased(Answer, name="scored")
    scored_aspect = aliased(Aspect, name="scored_aspect")
    comments = (
        select(
            scored_aspect.code.label("aspect"),
            literal(_COMMENT).label("kind"),
            Response.id.label("source"),
            Response.id.label("response_id"),
            Response.comment.label("text"),
            scored.score.label("score"),
            Response.submitted_at.label("at"),
        )
        .select_from(Response)
        .join(KeyAccount, KeyAccount.id == Response.account_id)
        .join(scored, scored.response_id == Response.id)
        .join(scored_aspect, scored_aspect.id == scored.aspect_id)
        .where(*response_conditions(f), Response.comment.is_not(None), Response.comment != "")
    )
    if scored_by is not None:
        comments = comments.where(scored_aspect.code == scored_by)
    texts = union_all(reasons, comments).subquery("texts")
    return select(texts).order_by(
        texts.c.at.desc(), texts.c.kind, texts.c.source.desc(), texts.c.aspect
    )


def _themes(rows: Iterable[Any], first: int) -> list[CommentTheme]:
    """Count each term once per text (rows newest first); the `first` themes."""
    counts: dict[str, list[int]] = {}
    examples: dict[str, list[ThemeExample]] = {}
    for row in rows:
        unhappy = int(row.score) <= DISSATISFIED_MAX
        example: ThemeExample | None = None
        for term in text_terms(row.text):
            tally = counts.get(term)
            if tally is None:
                tally = counts[term] = [0, 0]
                examples[term] = []
            tally[0] += 1
            tally[1] += unhappy
            kept = examples[term]
            if len(kept) < MAX_THEME_EXAMPLES:
                if example is None:
                    example = ThemeExample(
                        text=row.text,
                        response_id=int(row.response_id),
                        score=int(row.score),
                        aspect=row.aspect,
                        submitted_at=row.at,
                        is_comment=int(row.kind) == _COMMENT,
                    )
                kept.append(example)
    ranked = sorted(
        (term for term, (n, _) in counts.items() if n >= MIN_THEME_TEXTS),
        key=lambda term: (-counts[term][0], -counts[term][1] / counts[term][0], term),
    )
    return [
        CommentTheme(term, counts[term][0], counts[term][1], tuple(examples[term]))
        for term in ranked[:first]
    ]
