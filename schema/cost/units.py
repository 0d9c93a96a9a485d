"""The units and shapes of the API's prices: what a statement, a scan, a page cost,
how a field's price is built (`fixed`, `listed`, `connection`, `groups` ...), and the
realistic sizes the schema cannot know from a query (CARDINALITY, aspects, reasons).

The unit is about 0.1 ms of server time on the benchmark's data set (100,000
answers, 100,000 accounts, SQLite, benchmarks/): one object the API builds and
resolves (a row: an account, a response, an answer; a group; a drill-down node)
costs 1; scalars and value objects computed with their parent (intervals,
distributions, page info) cost 0; an aggregate over the answers matching a filter
costs SCAN. `weights.py` prices every field with these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from survey import analysis, scale

Args = Mapping[str, Any]

#: Every operation, before its fields: authentication, parsing, the JSON answer
#: (about 3 ms measured; a flood of tiny requests is still paid for).
REQUEST = 10
#: One aggregate statement over the answers (or accounts) matching a filter:
#: 45-150 ms on the benchmark's 100,000 answers.
SCAN = 1_000
#: Weighting by ACCOUNTS or REVENUE first finds each account's latest campaign and
#: weighs its respondents (measured with its latest response: 750-1,000 ms there).
LATEST_PER_ACCOUNT = 8_000
#: A drill-down adds up every finest cell in Python (counts, reasons, texts).
CELL = 4
#: Defections are few (2% of the accounts): aggregating them is cheap.
DEFECTION_SCAN = 100
#: A page of rows fetched by keyset (LIMIT first + 1 on an index).
STATEMENT = 1
#: A COUNT of every row matching a connection's filter (totalCount).
COUNT = 50
#: Page sizes the API accepts at most (GRAPHQL_MAX_PAGE_SIZE); a larger `first` is
#: refused by the resolver before any SQL, so it is priced at this size.
MAX_PAGE = 200

#: How many groups a dimension realistically has in one installation: closed
#: vocabularies by their size, open ones by a generous estimate (seven regions of
#: China plus one; 50 account managers; three years of quarterly campaigns and of months).
CARDINALITY: dict[str, int] = {
    analysis.Dimension.ASPECT.name: len(scale.DEFAULT_ASPECTS),
    analysis.Dimension.TIER.name: len(scale.TIER_LABELS),
    analysis.Dimension.VALUE_TYPE.name: len(scale.ValueType),
    analysis.Dimension.RELATIONSHIP_STAGE.name: len(scale.RelationshipStage),
    analysis.Dimension.REGION.name: 8,
    analysis.Dimension.ACCOUNT_MANAGER.name: 50,
    analysis.Dimension.CAMPAIGN.name: 12,
    analysis.Dimension.MONTH.name: 36,
    analysis.Dimension.CONTACT_ROLE.name: len(scale.ContactRole),
}
ASPECTS = len(scale.DEFAULT_ASPECTS)
REASONS = len(scale.ReasonCode)
#: Responses per account: at most one per campaign, CAMPAIGN's cardinality.
ACCOUNT_RESPONSES = CARDINALITY[analysis.Dimension.CAMPAIGN.name]
#: An account's timeline: ten indexed SELECTs under one UNION ALL, a page of events.
TIMELINE = 10
#: Our people around one account besides its manager (sponsor, service lead, ...).
TEAM = 5
#: Contacts per account: a buying centre of a few people (decision maker, purchaser,
#: users); loaded for the whole page at once.
ACCOUNT_CONTACTS = 5
#: API tokens listed for an admin (a few per staff member).
TOKENS = 50
#: Schedules in one installation (a few plans), and the cycles one of them has run
#: (three years of quarters); a schedule's campaigns are listed with it.
SCHEDULES = 10
SCHEDULE_CYCLES = 12

#: Launching draws a sample from the whole registry and writes its invitations and
#: e-mails (1.9 s for 5,000 of 100,000 accounts): priced under the cap, as a
#: manager's deliberate act must go through, but dear. Reminders write an e-mail per
#: unanswered invitation; the other mutations write a row or two and an audit entry.
LAUNCH = 5_000
REMIND = 2_000
WRITE = 100
#: __schema / __type (development only): a fixed price, whatever is selected.
INTROSPECTION = 10


@dataclass(frozen=True, slots=True)
class Scope:
    """What a field's children need to know about the fields above them."""

    #: The page size of the connection whose edges are below.
    page: int = 0
    #: Node counts per drill-down level below the current one.
    levels: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Price:
    """One occurrence of a field under one parent item: `own + items × each`, and its
    selection is priced `items` times (with `scope`, or the parent's when None)."""

    own: int = 0
    items: int = 1
    each: int = 0
    scope: Scope | None = None


Weight = Callable[[Args, Scope], Price]


def fixed(own: int = 0, *, items: int = 1, each: int = 0) -> Weight:
    price = Price(own, items, each)
    return lambda _args, _scope: price


#: A scalar, or a value object computed with its parent.
FREE = fixed()
#: An object: a row or group, looked up by key or batched with its siblings.
ONE = fixed(each=1)


def listed(n: int) -> Weight:
    """A list of `n` objects (the realistic most), loaded for the whole page at once."""
    return fixed(items=n, each=1)


def first_of(args: Args, default: int, maximum: int = MAX_PAGE) -> int:
    """The `first` argument as the resolver reads it: null is the default, and sizes
    outside 0..maximum are refused before any SQL (priced at the nearest bound)."""
    first = args.get("first")
    if first is None:
        return default
    return min(max(int(first), 0), maximum)


def connection(default: int) -> Weight:
    """A keyset page: one statement; its `edges` hold `first` nodes."""

    def weight(args: Args, scope: Scope) -> Price:
        return Price(own=STATEMENT, scope=replace(scope, page=first_of(args, default)))

    return weight


#: `accounts(search:)` matches part of every account's name and external id (a LIKE
#: '%…%' no index serves): a pass over the registry, 52-57 ms over 100,000 accounts
#: on SQLite (a page or its count), about half an answers SCAN.
ACCOUNT_SEARCH = SCAN // 2


def price_accounts(args: Args, scope: Scope) -> Price:
    """The accounts page; dearer with a search, which reads every account."""
    price = connection(50)(args, scope)
    return replace(price, own=price.own + ACCOUNT_SEARCH) if args.get("search") else price


def price_edges(_args: Args, scope: Scope) -> Price:
    return Price(items=scope.page)


def first_list(default: int, own: int) -> Weight:
    """A list of objects sized by `first`, after `own` work (an aggregate, say)."""
    return lambda args, _scope: Price(own=own, items=first_of(args, default), each=1)


def price_timeline(args: Args, scope: Scope) -> Price:
    """An account's timeline: one SELECT per kind of event on the account's indexes,
    joined in one statement (shared by the accounts of a page); `first` events."""
    page = first_of(args, 50)
    return Price(own=TIMELINE, scope=replace(scope, page=page))


def price_nodes(_args: Args, scope: Scope) -> Price:
    return Price(items=scope.page, each=1)


def cardinality(dimension: Any) -> int:
    name = dimension.name if isinstance(dimension, Enum) else str(dimension)
    return CARDINALITY[name]


def groups(own: int, *, arg: str = "groupBy", ungrouped: int = 1) -> Weight:
    """One group per key of the `groupBy` dimension (`ungrouped` without one)."""

    def weight(args: Args, _scope: Scope) -> Price:
        dimension = args.get(arg)
        return Price(
            own=own,
            items=cardinality(dimension) if dimension is not None else ungrouped,
            each=1,
        )

    return weight


def price_summary(args: Args, scope: Scope) -> Price:
    weight = args.get("weight")
    by_answers = weight is None or getattr(weight, "name", weight) == "ANSWERS"
    return groups(SCAN if by_answers else SCAN + LATEST_PER_ACCOUNT)(args, scope)


def price_drilldown(args: Args, scope: Scope) -> Price:
    """Three statements over the finest cells (counts, reasons, newest texts), Python
    adding up every cell the `by` list can produce, then one node per group per level."""
    sizes = [cardinality(d) for d in args.get("by") or ()]
    cells = math.prod(sizes) if sizes else 0
    weight = args.get("weight")
    by_answers = weight is None or getattr(weight, "name", weight) == "ANSWERS"
    # Weighted: one more statement weighing each account's latest campaign once per
    # level (a UNION ALL): 385-445 ms a level at 100,000 answers (`python -m
    # benchmarks.design`: [TIER] 585-755 ms weighted, 200-310 ms not), about 0.1 ms a unit.
    weighted = 0 if by_answers else len(sizes) * LATEST_PER_ACCOUNT // 2
    return Price(
        own=3 * SCAN + CELL * cells + weighted,
        items=sizes[0] if sizes else 0,
        each=1,
        scope=replace(scope, levels=tuple(sizes[1:])),
    )


def price_children(_args: Args, scope: Scope) -> Price:
    # Below the last level of `by` there are no children.
    if not scope.levels:
        return Price(items=0)
    return Price(items=scope.levels[0], each=1, scope=replace(scope, levels=scope.levels[1:]))


def free(names: str) -> dict[str, Weight]:
    """Entries for fields that cost nothing: scalars and value objects."""
    return dict.fromkeys(names.split(), FREE)


CONNECTION: dict[str, Weight] = {"edges": price_edges, "pageInfo": FREE, "totalCount": fixed(COUNT)}
EDGE: dict[str, Weight] = {"cursor": FREE, "node": ONE}
