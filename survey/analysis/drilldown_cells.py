"""The drill-down's counts: each finest cell's answers and dissatisfied answers and
the reasons given for them (survey.analysis.drilldown adds cells up into nodes).

With the aspect as a level the aspect is read as the answer's own aspect_id (named
from one tiny read of the aspects' ids and codes: no join of every answer to the
aspects), and the counts come from per-response bit sets (each response and its
account looked up once, not once per answer), on PostgreSQL in one statement with
the reasons. Statements run past the ORM's result handling (`run_rows`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import Executable

from survey.analysis.filters import (
    Dimension,
    ResponseFilter,
    group_column,
    group_key,
    matching_answers,
)
from survey.db import db
from survey.models import Answer, AnswerReason, Aspect, Contact, KeyAccount, Response
from survey.scale import DISSATISFIED_MAX

#: An aspect's answers are one bit of a 64-bit integer (see _aspect_masks).
_MASK_BITS = 62

#: A row's key values, as read, to the path of string keys of its cell.
PathMaker = Callable[[Sequence[Any]], tuple[str, ...]]
#: A finest cell's path of keys, its answers and its dissatisfied answers.
CellRow = tuple[tuple[str, ...], int, int]
#: A finest cell's path, a reason given for its dissatisfied answers, how often.
ReasonRow = tuple[tuple[str, ...], str, int]


def cells_and_reasons(
    by: Sequence[Dimension],
    keys: list[Any],
    f: ResponseFilter,
    aspects: dict[int, str],
    path_of: PathMaker,
) -> tuple[list[CellRow], list[ReasonRow]]:
    """Every finest cell's counts (a cell without complaints too: it counts towards
    its parent's answers) and its reasons; `keys` are `read_column`'s, labelled k0...,
    `aspects` from `aspect_codes` (empty without the aspect as a level)."""
    group_columns = [read_column(d) for d in by]
    counted = _aspect_masks(by, keys, f, aspects) if Dimension.ASPECT in by else None
    if counted is None:
        return _cells(keys, group_columns, f, path_of), _reasons(keys, group_columns, f, path_of)
    cell_rows, reason_rows = counted
    if reason_rows is None:
        reason_rows = _reasons(keys, group_columns, f, path_of)
    return cell_rows, reason_rows


def run_rows(stmt: Executable, **options: Any) -> CursorResult[Any]:
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


def aspect_codes() -> dict[int, str]:
    """Each aspect's code by its id (a handful of rows)."""
    return {int(i): str(code) for i, code in run_rows(select(Aspect.id, Aspect.code))}


def read_column(dimension: Dimension) -> Any:
    """The column the drill-down reads `dimension` from: the aspect as the answer's
    aspect_id (named by `path_maker`; codes are unique, so the same groups), which
    spares joining every answer to the aspects; any other as `group_column`."""
    return Answer.aspect_id if dimension is Dimension.ASPECT else group_column(dimension)


def path_maker(by: Sequence[Dimension], aspects: dict[int, str]) -> PathMaker:
    """The path of string keys from a row's first len(by) values (`read_column`'s)."""
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
) -> list[CellRow]:
    """Each finest cell's path of keys, its answers and its dissatisfied answers."""
    dissatisfied = Answer.score <= DISSATISFIED_MAX
    depth = len(keys)
    return [
        (path_of(row), int(row[depth]), int(row[depth + 1] or 0))
        for row in run_rows(
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
) -> list[ReasonRow]:
    """Each finest cell's path, a reason given for its dissatisfied answers, how often."""
    reason, unhappy_answer = _reason_terms()
    depth = len(keys)
    return [
        (path_of(row), str(row[depth]), int(row[depth + 1]))
        for row in run_rows(
            matching_answers(select(*keys, reason, func.count()), f)
            .join(AnswerReason, AnswerReason.answer_id == Answer.id)
            .where(unhappy_answer)
            .group_by(*group_columns, reason)
        )
    ]


def _aspect_masks(
    by: Sequence[Dimension], keys: list[Any], f: ResponseFilter, aspects: dict[int, str]
) -> tuple[list[CellRow], list[ReasonRow] | None] | None:
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
    reason_rows: list[ReasonRow] = []
    n = len(others)
    for row in run_rows(union_all(cells, reasons) if joined else cells):
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
