"""The strawberry schema, with the abuse limits every request runs under."""

from __future__ import annotations

from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError, IntValueNode, ValueNode
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from .errors import ApiErrors
from .mutations import Mutation
from .queries import Query
from .types import BigInt

#: Ten levels is enough for every real query (a drill-down three deep is seven).
MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000


def _parse_big_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphQLError(f"BigInt cannot represent {value!r}: give a whole number.")
    return value


def _parse_big_int_literal(node: ValueNode, _variables: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise GraphQLError("BigInt must be a whole number.")
    return int(node.value)


SCALARS = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A whole number beyond GraphQL's 32-bit Int (revenue).",
        serialize=int,
        parse_value=_parse_big_int,
        parse_literal=_parse_big_int_literal,
    )
}


def build_schema(*, introspection: bool = False) -> strawberry.Schema:
    """The API schema. Introspection is refused unless asked for (development)."""
    # Factories, not instances: each operation gets its own extension objects.
    extensions: list[Any] = [
        partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        ApiErrors,
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    # Batching stays off: StrawberryConfig's batching_config is None by default.
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )


#: The schema as exported to schema/schema.graphql (extensions do not change the SDL).
schema = build_schema(introspection=True)
