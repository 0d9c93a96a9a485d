"""The floor of `responses(first: N)`: what no design of ours can go below.

GraphQL itself has a price: strawberry resolving ~10,000 fields costs tens of
milliseconds even over plain objects already in memory. So the floor of the nested
read is the raw SQL that fetches the rows **plus** strawberry executing the same
query over plain dataclasses built from them: a tiny standalone schema of the same
shape, no resolver on any field but the root's (which builds the page from the
rows), no permission classes, no extensions but the parse and validation caches the
real schema has too. A second, lower line is the raw SQL plus the same JSON built
in plain Python, so the price of GraphQL itself stays visible.

Both produce exactly the JSON the real endpoint answers (checked before timing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from schema.pagination import encode_cursor
from survey.scale import ReasonCode as DomainReasonCode

# A strawberry enum of the same values: reasons are answered by name ("DELIVERY").
FloorReason = strawberry.enum(
    Enum("FloorReason", [(r.name, r.value) for r in DomainReasonCode]),  # type: ignore[misc]
)
_REASON = {r.value: FloorReason(r.value) for r in DomainReasonCode}
_REASON_NAME = {r.value: r.name for r in DomainReasonCode}


@strawberry.type
class FloorAccount:
    id: strawberry.ID
    name: str
    tier: str
    region: str
    account_manager: str


@strawberry.type
class FloorCampaign:
    id: strawberry.ID
    name: str


@strawberry.type
class FloorAnswer:
    aspect: str
    score: int
    reasons: list[FloorReason]  # type: ignore[valid-type]
    reason_text: str | None


@strawberry.type
class FloorResponse:
    id: strawberry.ID
    submitted_at: datetime
    channel: str
    locale: str
    comment: str | None
    account: FloorAccount
    campaign: FloorCampaign
    answers: list[FloorAnswer]


@strawberry.type
class FloorEdge:
    cursor: str
    node: FloorResponse


@strawberry.type
class FloorPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class FloorConnection:
    edges: list[FloorEdge]
    page_info: FloorPageInfo


@dataclass
class FloorRows:
    """What the raw SQL fetched: the page (size + 1 rows) and its answers' rows."""

    size: int
    page: list[tuple[Any, ...]]
    answers: list[tuple[Any, ...]]


def _aware(value: Any) -> datetime:
    """As the app's UTCDateTime reads it: SQLite text or a naive datetime, as UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def _answers_by_response(rows: Sequence[tuple[Any, ...]]) -> dict[int, list[list[Any]]]:
    """[aspect, score, [reason codes], reason_text] per response, in the SQL's order
    (one row per answer and reason: the LEFT JOIN repeats an answer per reason)."""
    by_response: dict[int, list[list[Any]]] = {}
    last_answer = None
    current: list[Any] = []
    for response_id, answer_id, code, score, reason_text, reason in rows:
        if answer_id != last_answer:
            last_answer = answer_id
            current = [code, int(score), [], reason_text]
            by_response.setdefault(int(response_id), []).append(current)
        if reason is not None:
            current[2].append(reason)
    return by_response


def build_floor_connection(rows: FloorRows) -> FloorConnection:
    """Plain dataclasses of the page, as a design with nothing of ours would build them."""
    answers = _answers_by_response(rows.answers)
    accounts: dict[int, FloorAccount] = {}
    campaigns: dict[int, FloorCampaign] = {}
    edges = []
    for r in rows.page[: rows.size]:
        account = accounts.get(r[5])
        if account is None:
            account = accounts[r[5]] = FloorAccount(
                id=strawberry.ID(str(r[5])), name=r[6], tier=r[7], region=r[8], account_manager=r[9]
            )
        campaign = campaigns.get(r[10])
        if campaign is None:
            campaign = campaigns[r[10]] = FloorCampaign(id=strawberry.ID(str(r[10])), name=r[11])
        node = FloorResponse(
            id=strawberry.ID(str(r[0])),
            submitted_at=_aware(r[1]),
            channel=r[2],
            locale=r[3],
            comment=r[4],
            account=account,
            campaign=campaign,
            answers=[
                FloorAnswer(
                    aspect=code, score=score, reasons=[_REASON[c] for c in codes], reason_text=text
                )
                for code, score, codes, text in answers.get(int(r[0]), [])
            ],
        )
        edges.append(FloorEdge(cursor=encode_cursor(int(r[0])), node=node))
    return FloorConnection(
        edges=edges,
        page_info=FloorPageInfo(
            has_next_page=len(rows.page) > rows.size,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


@strawberry.type
class FloorQuery:
    @strawberry.field
    def responses(self, info: strawberry.Info, first: int | None = 50) -> FloorConnection:
        return build_floor_connection(info.context)


#: The standalone schema: parse and validation cached, as in the real one.
FLOOR_SCHEMA = strawberry.Schema(query=FloorQuery, extensions=[ParserCache, ValidationCache])


def _encode(data: object) -> str:
    # As the real view encodes (schema.view._encode).
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def strawberry_floor(fetch: Callable[[], FloorRows], query: str) -> Callable[[], dict[str, Any]]:
    """Raw SQL, plain dataclasses, strawberry executing `query`, JSON: the GraphQL floor."""

    def run() -> dict[str, Any]:
        result = FLOOR_SCHEMA.execute_sync(query, context_value=fetch())
        if result.errors:
            raise RuntimeError(f"the floor schema failed: {result.errors}")
        body = {"data": result.data}
        _encode(body)
        return body

    return run


def plain_json_floor(fetch: Callable[[], FloorRows]) -> Callable[[], dict[str, Any]]:
    """Raw SQL and the same JSON built in plain Python: no GraphQL at all."""

    def run() -> dict[str, Any]:
        rows = fetch()
        answers = _answers_by_response(rows.answers)
        edges = []
        for r in rows.page[: rows.size]:
            cursor = encode_cursor(int(r[0]))
            edges.append(
                {
                    "cursor": cursor,
                    "node": {
                        "id": str(r[0]),
                        "submittedAt": _aware(r[1]).isoformat(),
                        "channel": r[2],
                        "locale": r[3],
                        "comment": r[4],
                        "account": {
                            "id": str(r[5]),
                            "name": r[6],
                            "tier": r[7],
                            "region": r[8],
                            "accountManager": r[9],
                        },
                        "campaign": {"id": str(r[10]), "name": r[11]},
                        "answers": [
                            {
                                "aspect": code,
                                "score": score,
                                "reasons": [_REASON_NAME[c] for c in codes],
                                "reasonText": text,
                            }
                            for code, score, codes, text in answers.get(int(r[0]), [])
                        ],
                    },
                }
            )
        body = {
            "data": {
                "responses": {
                    "edges": edges,
                    "pageInfo": {
                        "hasNextPage": len(rows.page) > rows.size,
                        "endCursor": edges[-1]["cursor"] if edges else None,
                    },
                }
            }
        }
        _encode(body)
        return body

    return run
