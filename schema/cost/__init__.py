"""What an operation costs, and admitting it: the per-request cap and the per-token
hourly budget (README: GraphQL API, Cost and budgets)."""

from __future__ import annotations

from . import priorities  # noqa: F401 (adds the priorities' prices to WEIGHTS)
from .admission import DEFAULT_MAX_COST, QUERY_TOO_COSTLY, RATE_LIMITED, CostLimit
from .estimate import operation_cost
from .weights import CARDINALITY, WEIGHTS

__all__ = [
    "CARDINALITY",
    "DEFAULT_MAX_COST",
    "QUERY_TOO_COSTLY",
    "RATE_LIMITED",
    "WEIGHTS",
    "CostLimit",
    "operation_cost",
]
