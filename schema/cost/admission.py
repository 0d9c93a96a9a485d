"""Admission: price each operation before it runs, refuse what is too dear for one
request, and charge the rest to the token's hourly budget.

Runs as a strawberry extension at the start of execution: after parsing and
validation (so the document is sound), before any resolver (so a refused
operation runs no SQL). Variables are resolved, so `first: $n` is priced at n.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from ..budget import BudgetState
from ..context import Context
from .estimate import operation_cost

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
RATE_LIMITED = "RATE_LIMITED"
#: One operation may cost at most this much unless GRAPHQL_MAX_COST says otherwise.
DEFAULT_MAX_COST = 10_000


def reset_at_text(moment: datetime) -> str:
    """How resetAt reads in errors, as the DateTime scalar writes it."""
    return moment.isoformat()


def too_costly(cost: int, budget: int) -> GraphQLError:
    return GraphQLError(
        f"This operation costs {cost}; one request may cost at most {budget}. Ask for "
        "fewer items (`first`), fewer `by` dimensions or fewer nested lists, or split it.",
        extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "budget": budget},
    )


def rate_limited(cost: int, state: BudgetState) -> GraphQLError:
    reset_at = reset_at_text(state.reset_at)
    return GraphQLError(
        f"This operation costs {cost} and this token has {state.remaining} of its "
        f"{state.limit} left for this hour; it is renewed at {reset_at}.",
        extensions={
            "code": RATE_LIMITED,
            "cost": cost,
            "limit": state.limit,
            "remaining": state.remaining,
            "resetAt": reset_at,
        },
    )


class CostLimit(SchemaExtension):
    """Refuse operations over `Context.max_cost` (QUERY_TOO_COSTLY) or over what the
    token has left this hour (RATE_LIMITED, HTTP 429 with Retry-After)."""

    def on_execute(self) -> Iterator[None]:
        refusal = self._admit()
        if refusal is not None:
            # A result before execution: strawberry then runs no resolver at all.
            self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def _admit(self) -> GraphQLError | None:
        ec = self.execution_context
        context = ec.context
        if not isinstance(context, Context) or ec.graphql_document is None:
            return None
        cost = operation_cost(
            ec.schema._schema, ec.graphql_document, ec.operation_name, ec.variables
        )
        if cost is None:  # unknown operation or bad variables: execution refuses it
            return None
        context.cost = cost
        max_cost = context.max_cost if context.max_cost is not None else DEFAULT_MAX_COST
        if cost > max_cost:
            return too_costly(cost, max_cost)
        if context.budget is None or context.token_id is None:
            return None
        state = context.budget.charge(context.token_id, context.role, cost)
        context.rate_limit = state
        headers = context.response.headers
        headers["X-RateLimit-Limit"] = str(state.limit)
        headers["X-RateLimit-Remaining"] = str(state.remaining)
        headers["X-RateLimit-Reset"] = str(int(state.reset_at.timestamp()))
        if state.allowed:
            return None
        context.response.status_code = 429
        headers["Retry-After"] = str(state.retry_after)
        return rate_limited(cost, state)
