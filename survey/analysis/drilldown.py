"""Where dissatisfaction sits: the dissatisfied answers (scores 1-2) split by one
dimension after another, each node with its top reasons and newest comments.

Two GROUP BY queries over the finest cells (counts, reasons) and one for the newest
texts, read newest first only as far as needed, whatever the depth and the number of
nodes (SQL counts; Python adds cells up into nodes). With the aspect as a level, one
tiny read of the aspects' ids and codes comes first: the queries key the aspect by
the answer's own aspect_id (no join of every answer to the aspects) and Python names
it, and the counts come from per-response bit sets (each response and its account
looked up once, not once per answer; SQLite also groups by sorting every row), on
PostgreSQL in one statement with the reasons; under a
weight (ACCOUNTS, REVENUE, DESIGN) one more, a UNION ALL of one GROUP BY per level:
an account can sit in several cells of a node, so a node's Σw² over its accounts is
not the sum of its cells'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import Executable

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
from survey.models import Answer, AnswerReason, Aspect, Contact, KeyAccount, Response
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
    aspects = _aspect_codes() if Dimension.ASPECT in by else {}
    keys = [_read_column(d).label(f"k{i}") for i, d in enumerate(by)]
    group_columns = [_read_column(d) for d in by]
    path_of = _path_maker(by, aspects)

    # Each answer sits in exactly one finest cell, so a coarser node's counts and
    # reasons are the sums of its cells': one pass over the answers, not one per level.
    # No HAVING here: a cell without complaints still counts towards its parent's answers.
    counted = _aspect_masks(by, keys, f, aspects) if Dimension.ASPECT in by else None
    if counted is None:
        cell_rows = _cells(keys, group_columns, f, path_of)
        reason_rows = _reasons(keys, group_columns, f, path_of)
    else:
        cell_rows, masked_reasons = counted
        reason_rows = (
            _reasons(keys, group_columns, f, path_of) if masked_reasons is None else masked_reasons
        )
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


def _run(stmt: Executable, **options: Any) -> CursorResult[Any]:
    """`stmt`'s rows on the session's connection (its transaction) past the ORM's
    result handling, which costs more than reading a row does (as survey.db.read_rows;
    `options` are execution options, e.g. yield_per). Pending changes are flushed first,
    as `db.session.execute` would."""
    session = db.session()
    if session.autoflush:
        session.flush()
    return session.connection().execute(stmt, execution_options=options)


#: An aspect's answers are one bit of a 64-bit integer (see _aspect_masks).
_MASK_BITS = 62

#: A row's key values, as read, to the path of string keys of its cell.
PathMaker = Callable[[Sequence[Any]], tuple[str, ...]]


def _aspect_codes() -> dict[int, str]:
    """Each aspect's code by its id (a handful of rows)."""
    return {int(i): str(code) for i, code in _run(select(Aspect.id, Aspect.code))}


def _read_column(dimension: Dimension) -> Any:
    """The column the drill-down reads `dimension` from: the aspect as the answer's
    aspect_id (named by `_path_maker`; codes are unique, so the same groups), which
    spares joining every answer to the aspects; any other as `group_column`."""
    return Answer.aspect_id if dimension is Dimension.ASPECT else group_column(dimension)


def _path_maker(by: Sequence[Dimension], aspects: dict[int, str]) -> PathMaker:
    """The path of string keys from a row's first len(by) values (`_read_column`'s)."""
    depth = len(by)
    if Dimension.ASPECT not in by:
        return lambda row: tuple(group_key(v) for v in row[:depth])
    at = list(by).index(Dimension.ASPECT)

    def path(row: Sequence[Any]) -> tuple[str, ...]:
        keys = [group_key(v) for v in row[:depth]]
        keys[at] = aspects[int(row[at])]
        return tuple(keys)

    return path


def _cells(
    keys: list[Any], group_columns: list[Any], f: ResponseFilter, path_of: PathMaker
) -> list[tuple[tuple[str, ...], int, int]]:
    """Each finest cell's path of keys, its answers and its dissatisfied answers."""
    dissatisfied = Answer.score <= DISSATISFIED_MAX
    depth = len(keys)
    return [
        (path_of(row), int(row[depth]), int(row[depth + 1] or 0))
        for row in _run(
            matching_answers(
                select(*keys, func.count(Answer.id), func.sum(case((dissatisfied, 1), else_=0))),
                f,
            ).group_by(*group_columns)
        )
    ]


def _reason_terms() -> tuple[Any, ColumnElement[bool]]:
    """The reason column and the dissatisfied condition of the reasons' GROUP BY."""
    if db.session.get_bind().dialect.name == "sqlite":
        # Neither the score nor the reason as an index key: SQLite then reads the
        # reasons in table order and looks each answer up, instead of every aspect's
        # dissatisfied answers through (aspect, score) and their reasons one by one
        # (half the time on the bench data). A filter's indexes still lead.
        return AnswerReason.reason.concat(""), Answer.score + 0 <= DISSATISFIED_MAX
    return AnswerReason.reason, Answer.score <= DISSATISFIED_MAX


def _reasons(
    keys: list[Any], group_columns: list[Any], f: ResponseFilter, path_of: PathMaker
) -> list[tuple[tuple[str, ...], str, int]]:
    """Each finest cell's path, a reason given for its dissatisfied answers, how often."""
    reason, unhappy_answer = _reason_terms()
    depth = len(keys)
    return [
        (path_of(row), str(row[depth]), int(row[depth + 1]))
        for row in _run(
            matching_answers(select(*keys, reason, func.count()), f)
            .join(AnswerReason, AnswerReason.answer_id == Answer.id)
            .where(unhappy_answer)
            .group_by(*group_columns, reason)
        )
    ]


def _aspect_masks(
    by: Sequence[Dimension], keys: list[Any], f: ResponseFilter, aspects: dict[int, str]
) -> (
    tuple[list[tuple[tuple[str, ...], int, int]], list[tuple[tuple[str, ...], str, int]] | None]
    | None
):
    """The cells and, on PostgreSQL, their reasons (as `_cells` and `_reasons`; None
    on SQLite) in one statement when one level is the aspect: None when an aspect's id
    is too large to be a bit.

    Grouping every answer by its cell joined every answer to its response and account
    (on PostgreSQL a hash of the whole registry, on SQLite two look-ups per answer)
    and, on SQLite, sorted every answer (at 1,000,000 answers most of the drill-down,
    spilling to disk). Here the matching answers are grouped by response (on SQLite
    in the order of the (response, aspect) index) into two bit sets, the aspects
    answered and those answered 1-2; each response then looks up its other keys once
    (its account by primary key), and that table of responses is grouped by those
    keys and the bit sets, a few rows per key (Python counts each bit of each group).
    On PostgreSQL the table is materialised once and also joined to the dissatisfied
    answers' reasons for their keys, instead of a second join of every reason to the
    responses and accounts (raw, 100,000 answers: 84 -> 72 ms for both).
    """
    if any(not 0 <= aspect_id < _MASK_BITS for aspect_id in aspects):
        return None
    at = list(by).index(Dimension.ASPECT)
    others = [key for i, key in enumerate(keys) if i != at]
    bit = cast(literal_column("1"), BigInteger).op("<<")(Answer.aspect_id)
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    # (response, aspect) is unique: within a response the bits are distinct, so their
    # sum is their union; PostgreSQL's sum of bigints would be a numeric, bit_or is not.
    union = func.sum if sqlite else func.bit_or
    per_response = (
        matching_answers(
            select(
                Answer.response_id.label("response_id"),
                union(bit).label("answered"),
                union(case((Answer.score <= DISSATISFIED_MAX, bit), else_=0)).label("unhappy"),
            ),
            f,
        )
        .group_by(Answer.response_id)
        .subquery("per_response")
    )
    keyed_responses = _with_response_keys(
        select(per_response, *others).select_from(per_response), per_response.c.response_id
    )
    # SQLite reads such a table back slower than its reasons' own look-ups cost (they
    # follow each reason's answer, response and account by primary key): there the
    # reasons keep their own statement.
    joined = not sqlite
    keyed = (
        keyed_responses.cte("keyed").prefix_with("MATERIALIZED")
        if joined
        else keyed_responses.subquery("keyed")
    )
    rest = [keyed.c[key.name] for key in others]
    cells = select(
        literal(0, Integer).label("kind"),
        *rest,
        keyed.c.answered.label("a"),
        keyed.c.unhappy.label("b"),
        cast(null(), String).label("reason"),
        func.count().label("n"),
    ).group_by(*rest, keyed.c.answered, keyed.c.unhappy)
    reason, unhappy_answer = _reason_terms()
    # Every condition of `f` again: the keyed responses hold every answer of theirs.
    reasons = (
        matching_answers(
            select(
                literal(1, Integer).label("kind"),
                *rest,
                cast(Answer.aspect_id, BigInteger).label("a"),
                cast(null(), BigInteger).label("b"),
                reason.label("reason"),
                func.count().label("n"),
            ),
            f,
        )
        .join(AnswerReason, AnswerReason.answer_id == Answer.id)
        .join(keyed, keyed.c.response_id == Answer.response_id)
        .where(unhappy_answer)
        .group_by(*rest, Answer.aspect_id, reason)
    )
    counts: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    reason_rows: list[tuple[tuple[str, ...], str, int]] = []
    n = len(others)
    for row in _run(union_all(cells, reasons) if joined else cells):
        kind, keys_of_rest = row[0], tuple(group_key(v) for v in row[1 : 1 + n])
        a, b, reason_code, count = row[1 + n :]
        if kind == 1:
            path = (*keys_of_rest[:at], aspects[int(a)], *keys_of_rest[at:])
            reason_rows.append((path, str(reason_code), int(count)))
            continue
        answered, unhappy, responses = int(a), int(b), int(count)
        for aspect_id, code in aspects.items():
            if answered >> aspect_id & 1:
                cell = counts[(*keys_of_rest[:at], code, *keys_of_rest[at:])]
                cell[0] += responses
                if unhappy >> aspect_id & 1:
                    cell[1] += responses
    return [(path, c[0], c[1]) for path, c in counts.items()], reason_rows if joined else None


def _with_response_keys(stmt: Select[Any], response_id: Any) -> Select[Any]:
    """`stmt` over rows of one response each (`response_id`), with the response, its
    account and its respondent joined when its columns read them (as
    matching_answers joins them: every response has one account; a respondent may be
    gone)."""
    read = set(stmt.columns_clause_froms)
    need_account = KeyAccount.__table__ in read
    need_contact = Contact.__table__ in read
    if need_account or need_contact or Response.__table__ in read:
        stmt = stmt.join(Response, Response.id == response_id)
    if need_account:
        stmt = stmt.join(KeyAccount, KeyAccount.id == Response.account_id)
    if need_contact:
        stmt = stmt.outerjoin(Contact, Contact.id == Response.contact_id)
    return stmt


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

    rows = _run(stmt, yield_per=_TEXT_BATCH)
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
