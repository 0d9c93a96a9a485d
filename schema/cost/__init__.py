"""What an operation costs, and admitting it: the per-request cap and the per-token
hourly budget (README: GraphQL API, Cost and budgets)."""

from __future__ import annotations

from .admission import DEFAULT_MAX_COST, QUERY_TOO_COSTLY, RATE_LIMITED, CostLimit
from .estimate import operation_cost
from .priorities import add_priority_weights
from .units import CARDINALITY
from .value_weights import add_value_weights
from .weights import WEIGHTS

add_value_weights(WEIGHTS)
add_priority_weights(WEIGHTS)

__all__ = [
    "CARDINALITY",
    "DEFAULT_MAX_COST",
    "QUERY_TOO_COSTLY",
    "RATE_LIMITED",
    "WEIGHTS",
    "CostLimit",
    "operation_cost",
]
