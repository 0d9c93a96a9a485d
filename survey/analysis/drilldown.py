"""Where dissatisfaction sits: the dissatisfied answers (scores 1-2) split by one
dimension after another, each node with its top reasons and newest comments.

The finest cells' counts and reasons (survey.analysis.drilldown_cells: two GROUP BY
queries, one on PostgreSQL with the aspect as a level) and one query for the newest
texts, read newest first only as far as needed, whatever the depth and the number of
nodes (SQL counts; Python adds cells up into nodes); under a
weight (ACCOUNTS, REVENUE, DESIGN) one more, a UNION ALL of one GROUP BY per level:
an account can sit in several cells of a node, so a node's Σw² over its accounts is
not the sum of its cells'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from survey.analysis.drilldown_cells import (
    PathMaker,
    aspect_codes,
    cells_and_reasons,
    path_maker,
    read_column,
    run_rows,
)
from survey.analysis.filters import (
    DEFAULT_MIN_GROUP_SIZE,
    Dimension,
    Interval,
    ResponseFilter,
    Weight,
    group_column,
    group_key,
    key_infos,
    matching_answers,
    resolve_locale,
    validate_response_filter,
)
from survey.analysis.reasons import ReasonShare, reason_shares
from survey.analysis.weighting import per_account, weighted_answers
from survey.db import db
from survey.errors import InvalidInputError
from survey.models import Answer, Response
from survey.scale import DISSATISFIED_MAX
from survey.statistics import kish_effective_n, weighted_wilson_interval, wilson_interval

#: How many comments a drill-down node keeps at most (newest first).
MAX_NODE_COMMENTS = 20
#: How many dimensions one drill-down splits by at most: each level multiplies the
#: cells (three levels of the largest dimensions are already thousands of them).
MAX_DRILLDOWN_LEVELS = 3
#: Rows of texts fetched at a time while looking for each cell's newest ones: every row
#: of a batch is fetched and converted, so the reading stops at most this many rows too
#: late (at 100,000 answers it needs about 1,000 rows: batches of 1,000 fetched 2,000,
#: a third of the texts' time on SQLite and PostgreSQL alike).
_TEXT_BATCH = 250


@dataclass(frozen=True, slots=True)
class DrilldownNode:
    """One node; immutable (tuples), so a cached drill-down is safe to share."""

    dimension: Dimension
    key: str
    label: str
    answers: int
    dissatisfied: int
    #: dissatisfied / answers; under a weight, the weighted share of the node's accounts
    #: (None when none of them counts through it: their latest campaign lies elsewhere).
    dissatisfied_share: float | None
    top_reasons: tuple[ReasonShare, ...] = ()
    comments: tuple[str, ...] = ()
    #: The id of the account behind each of `comments`, in the same order.
    comment_accounts: tuple[int, ...] = ()
    children: tuple[DrilldownNode, ...] = ()
    #: Fewer answers (accounts, when weighted) than the minimum group size: still
    #: returned, but flagged.
    low_sample: bool = False
    #: Under a weight: the accounts counted, and Kish's effective n of their weights.
    accounts: int | None = None
    effective_n: float | None = None

    @property
    def dissatisfied_share_interval(self) -> Interval:
        """95% Wilson interval of `dissatisfied_share` (Kish's effective n, weighted)."""
        if self.accounts is None:
            return wilson_interval(self.dissatisfied, self.answers)
        return weighted_wilson_interval(self.dissatisfied_share, self.effective_n or 0.0)


def _validate_levels(by: Sequence[Dimension]) -> None:
    if not by:
        raise InvalidInputError("Give at least one dimension to drill down by.", field="by")
    if len(set(by)) != len(by):
        raise InvalidInputError("Each dimension may appear once in `by`.", field="by")
    if len(by) > MAX_DRILLDOWN_LEVELS:
        raise InvalidInputError(
            f"Drill down by at most {MAX_DRILLDOWN_LEVELS} dimensions at once; "
            "filter by the others instead.",
            field="by",
        )


def dissatisfaction_drilldown(
    by: Sequence[Dimension],
    f: ResponseFilter | None = None,
    *,
    locale: str | None = None,
    comments_limit: int = MAX_NODE_COMMENTS,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    weight: Weight = Weight.ANSWERS,
) -> list[DrilldownNode]:
    """Split the dissatisfied answers (scores 1-2) matching `f` by `by[0]`, each node
    by `by[1]`, and so on; siblings sorted by `dissatisfied`, most first.

    A node exists when it holds at least one dissatisfied answer. `answers` counts
    all its answers matching `f`, so `dissatisfied_share` = dissatisfied / answers.
    Reasons are those given for the node's dissatisfied answers (share of them);
    comments are their reason texts and their responses' comments, newest first
    (an answer's reason text before its response's comment).
    A fixed number of statements over the finest cells, whatever the depth and the
    number of nodes; every coarser node adds up its cells in Python.

    Under a weight other than ANSWERS, `dissatisfied_share` and its interval are the
    weighted ones of the node's accounts (as satisfaction_summary weighs them, Kish's
    effective n for the interval), `accounts` counts them and `low_sample` compares
    them with the minimum; which nodes exist, their order, `answers`, `dissatisfied`
    and the reasons stay raw counts of answers.
    """
    _validate_levels(by)
    f = f or ResponseFilter()
    validate_response_filter(f)
    locale = resolve_locale(locale)
    depth = len(by)
    aspects = aspect_codes() if Dimension.ASPECT in by else {}
    keys = [read_column(d).label(f"k{i}") for i, d in enumerate(by)]
    path_of = path_maker(by, aspects)

    # Each answer sits in exactly one finest cell, so a coarser node's counts and
    # reasons are the sums of its cells': one pass over the answers, not one per level.
    # No HAVING here: a cell without complaints still counts towards its parent's answers.
    cell_rows, reason_rows = cells_and_reasons(by, keys, f, aspects, path_of)
    counts: list[dict[tuple[str, ...], list[int]]] = [defaultdict(lambda: [0, 0]) for _ in by]
    for path, answers, unhappy in cell_rows:
        for level in range(depth):
            total = counts[level][path[: level + 1]]
            total[0] += answers
            total[1] += unhappy
    reason_counts: list[dict[tuple[str, ...], dict[str, int]]] = [
        defaultdict(lambda: defaultdict(int)) for _ in by
    ]
    for path, reason, n in reason_rows:
        for level in range(depth):
            reason_counts[level][path[: level + 1]][reason] += n

    cells = {path for path, c in counts[-1].items() if c[1] > 0}
    texts = _node_comments(keys, f, comments_limit, cells, path_of) if comments_limit > 0 else {}
    weighted = (
        _weighted_levels(weight, [group_column(d) for d in by], f)
        if weight is not Weight.ANSWERS
        else None
    )

    # The deepest level first: a node is made with its children, and never changes.
    children: dict[tuple[str, ...], list[DrilldownNode]] = defaultdict(list)
    for level in range(depth - 1, -1, -1):
        present = {path: c for path, c in counts[level].items() if c[1] > 0}
        infos = key_infos(by[level], {path[-1] for path in present}, locale)
        comments = _merge_comments(texts, level + 1, comments_limit)
        parents: dict[tuple[str, ...], list[DrilldownNode]] = defaultdict(list)
        for path, (answers, unhappy) in present.items():
            info = infos.get(path[-1])
            share: float | None = unhappy / answers
            accounts = effective_n = None
            if weighted is not None:
                w, w_unhappy, w_squared, accounts = weighted.get(path, (0.0, 0.0, 0.0, 0))
                share = w_unhappy / w if w > 0 else None
                effective_n = kish_effective_n(w, w_squared)
            parents[path[:-1]].append(
                DrilldownNode(
                    dimension=by[level],
                    key=path[-1],
                    label=info.label if info else path[-1],
                    answers=answers,
                    dissatisfied=unhappy,
                    dissatisfied_share=share,
                    top_reasons=tuple(
                        reason_shares(dict(reason_counts[level].get(path, {})), unhappy)
                    ),
                    comments=tuple(t.text for t in comments.get(path, [])),
                    comment_accounts=tuple(t.account_id for t in comments.get(path, [])),
                    children=tuple(sorted(children.get(path, []), key=_most_dissatisfied)),
                    low_sample=(answers if accounts is None else accounts) < min_group_size,
                    accounts=accounts,
                    effective_n=effective_n,
                )
            )
        children = parents
    return sorted(children.get((), []), key=_most_dissatisfied)


def _weighted_levels(
    weight: Weight, columns: list[Any], f: ResponseFilter
) -> dict[tuple[str, ...], tuple[float, float, float, int]]:
    """Per node (its path of keys, at every level): Σw and Σw·dissatisfied over its
    accounts, Σw² and how many accounts. One statement: a UNION ALL of one GROUP BY
    per level over each account's weight in the node (see weighting)."""
    depth = len(columns)
    # Each account's latest campaign and each answer's weight once, for every level.
    answers = weighted_answers(weight, f, columns).cte("weighted_answers")
    branches = []
    for level in range(1, depth + 1):
        accounts = per_account(answers, level, name=f"level{level}")
        keys = [accounts.c[f"g{i}"] for i in range(level)]
        branches.append(
            select(
                literal(level, Integer).label("level"),
                *keys,
                # Deeper keys absent at this level: NULLs of the key's own type.
                *(cast(null(), columns[i].type).label(f"g{i}") for i in range(level, depth)),
                func.sum(accounts.c.w).label("w"),
                func.sum(accounts.c.w_unhappy).label("w_unhappy"),
                func.sum(accounts.c.w * accounts.c.w).label("w_squared"),
                func.count().label("accounts"),
            ).group_by(*keys)
        )
    result: dict[tuple[str, ...], tuple[float, float, float, int]] = {}
    for row in db.session.execute(union_all(*branches)):
        level = int(row[0])
        path = tuple(group_key(v) for v in row[1 : 1 + level])
        w, w_unhappy, w_squared, accounts = row[1 + depth :]
        result[path] = (float(w or 0), float(w_unhappy or 0), float(w_squared or 0), int(accounts))
    return result


def _most_dissatisfied(node: DrilldownNode) -> tuple[int, str]:
    return (-node.dissatisfied, node.key)


@dataclass(frozen=True, slots=True)
class _Text:
    """A reason text (kind 0, id of its answer) or a comment (kind 1, id of its response)."""

    at: datetime
    kind: int
    source_id: int
    text: str
    account_id: int

    @property
    def newest_first(self) -> tuple[Any, ...]:
        # The SQL window's order: newest first, reason text before comment, higher id first.
        return (-self.at.timestamp(), self.kind, -self.source_id)


def _merge_comments(
    texts: dict[tuple[str, ...], list[_Text]], length: int, limit: int
) -> dict[tuple[str, ...], list[_Text]]:
    """The newest `limit` texts of each node `length` levels deep, from its cells'.

    A node's newest `limit` are among its cells' newest `limit` each; a response's
    comment can sit in several cells of one node and counts once.
    """
    grouped: dict[tuple[str, ...], dict[tuple[int, int], _Text]] = defaultdict(dict)
    for cell, cell_texts in texts.items():
        unique = grouped[cell[:length]]
        for t in cell_texts:
            unique[(t.kind, t.source_id)] = t
    return {
        path: sorted(unique.values(), key=lambda t: t.newest_first)[:limit]
        for path, unique in grouped.items()
    }


def _node_comments(
    keys: list[Any],
    f: ResponseFilter,
    limit: int,
    cells: set[tuple[str, ...]],
    path_of: PathMaker,
) -> dict[tuple[str, ...], list[_Text]]:
    """The newest `limit` texts per cell of `cells` (those with a dissatisfied answer):
    dissatisfied answers' reason texts and the comments of responses with a
    dissatisfied answer in the cell, newest first (reason text before comment,
    higher id first).

    One statement, read newest first and only as far as needed: reading stops once
    every cell holds `limit` texts (after the last row of the same time, so ties are
    ordered as a window over all texts would order them). Ranking every text of
    every cell (a window over all of them) sorted them all: at 1,000,000 answers
    that sort was a third of the drill-down, while the newest few thousand rows
    usually fill every cell. On PostgreSQL the rows come through a server-side
    cursor, which also asks the planner for a plan that starts fast (the responses
    by their time index).
    """
    n = len(keys)
    has_text = and_(Answer.reason_text.is_not(None), Answer.reason_text != "")
    has_comment = and_(Response.comment.is_not(None), Response.comment != "")
    stmt = (
        matching_answers(
            select(
                *keys,
                Response.submitted_at,
                Answer.id,
                Answer.reason_text,
                Response.id,
                Response.comment,
                Response.account_id,
            ),
            f,
        )
        .where(Answer.score <= DISSATISFIED_MAX, or_(has_text, has_comment))
        .order_by(Response.submitted_at.desc())
    )
    result: dict[tuple[str, ...], list[_Text]] = defaultdict(list)
    open_cells = set(cells)
    seen_comments: set[tuple[tuple[str, ...], int]] = set()
    # The texts of one instant: their order needs all of them (kind, then id).
    batch: list[tuple[tuple[str, ...], _Text]] = []
    at_batch: datetime | None = None

    def flush() -> None:
        batch.sort(key=lambda item: (item[1].kind, -item[1].source_id))
        for cell, text in batch:
            texts = result[cell]
            if len(texts) < limit:
                texts.append(text)
                if len(texts) == limit:
                    open_cells.discard(cell)
        batch.clear()

    rows = run_rows(stmt, yield_per=_TEXT_BATCH)
    try:
        for row in rows:
            at = row[n]
            if at != at_batch:
                flush()
                if not open_cells:
                    break
                at_batch = at
            cell = path_of(row)
            if cell not in open_cells:
                continue
            answer_id, reason_text, response_id, comment, account = row[n + 1 :]
            if reason_text:
                batch.append((cell, _Text(at, 0, int(answer_id), reason_text, int(account))))
            if comment and (cell, response_id) not in seen_comments:
                seen_comments.add((cell, response_id))
                batch.append((cell, _Text(at, 1, int(response_id), comment, int(account))))
        else:
            flush()
    finally:
        rows.close()
    return result
