"""Query.rateLimit: what this operation cost and what the token has left."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError

from ..context import Info


@strawberry.type(
    description="This token's hourly budget, after this operation was charged (README: "
    "GraphQL API, Cost and budgets)."
)
class RateLimit:
    cost: int = strawberry.field(description="What this operation cost.")
    limit: int = strawberry.field(description="The token's budget per hour.")
    remaining: int = strawberry.field(description="What is left until resetAt.")
    reset_at: datetime = strawberry.field(description="When remaining is back to limit.")


@strawberry.type
class RateLimitQuery:
    @strawberry.field(
        description="What this operation costs and what this token has left this hour."
    )
    def rate_limit(self, info: Info) -> RateLimit:
        state = info.context.rate_limit
        if state is None:
            raise GraphQLError("No budget is kept for this request.")
        return RateLimit(
            cost=info.context.cost,
            limit=state.limit,
            remaining=state.remaining,
            reset_at=state.reset_at,
        )
