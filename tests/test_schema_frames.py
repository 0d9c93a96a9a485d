"""Executing an operation with room on CPython's frame stack (schema.frames).

A long list of nested objects, executed from every stack depth a caller may stand
at: with strawberry's plain Schema some depths make each leaf field map and unmap a
chunk of the frame stack (thousands of page faults for 800 leaves); the API's schema
maps at most one chunk per operation, wherever it is called from.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from typing import Any

import pytest
import strawberry

from schema.build import ApiSchema
from schema.frames import ROOMY_LOCALS, in_roomy_frame


@strawberry.type
class Leaf:
    aspect: str
    score: int
    reasons: list[str]
    text: str | None


@strawberry.type
class Node:
    id: strawberry.ID
    leaves: list[Leaf]


@strawberry.type
class Edge:
    node: Node


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Edge]:
        return [
            Edge(
                node=Node(
                    id=strawberry.ID(str(i)),
                    leaves=[Leaf(aspect="a", score=j, reasons=["x"], text=None) for j in range(8)],
                )
            )
            for i in range(100)
        ]


QUERY = "{ items { node { id leaves { aspect score reasons text } } } }"


def _at_depth(depth: int, call: Callable[[], Any]) -> Any:
    return call() if depth == 0 else _at_depth(depth - 1, call)


def _page_faults(schema: strawberry.Schema, depth: int) -> int:
    schema.execute_sync(QUERY)  # warm: caches, and memory the first run keeps
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    result = _at_depth(depth, lambda: schema.execute_sync(QUERY))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert result.errors is None
    assert len(result.data["items"]) == 100
    return faults


def test_the_api_schema_maps_no_frame_chunk_per_field_from_any_depth():
    schema = ApiSchema(query=Query)
    faults = {depth: _page_faults(schema, depth) for depth in range(0, 120, 3)}
    # strawberry.Schema(query=Query) reaches 3,000-25,000 at some of these depths
    # (CPython 3.11); from a roomy frame a run touches a few fresh pages at most.
    assert max(faults.values()) < 200, faults


def test_in_roomy_frame_calls_the_function_and_passes_its_errors():
    assert in_roomy_frame(lambda a, b=0: (a, b), 1, b=2) == (1, 2)
    with pytest.raises(ZeroDivisionError):
        in_roomy_frame(lambda: 1 / 0)
    # 8 bytes a local: the frame needs a 64 KiB chunk, half of it left for the call.
    assert ROOMY_LOCALS * 8 > 32 * 1024
