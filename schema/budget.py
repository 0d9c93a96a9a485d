"""What the API needs from a per-token budget: the interface, not the storage.

Every accepted operation's cost (schema.cost) is charged to the token that sent it,
within an hourly budget (GitHub's model). Where the counts live is the web layer's
business (Flask-Limiter's storage: memory, or Redis shared by every worker), so
`web` implements `Budget` and hands it to `schema.view.make_graphql_view`: schema
imports nothing from web, and its tests can pass any object with `charge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A token's budget after charging (or refusing) one operation."""

    #: False when the operation's cost does not fit in what remains: refused, and
    #: nothing is charged.
    allowed: bool
    #: The token's budget per window.
    limit: int
    #: What is left in the current window, after this operation.
    remaining: int
    #: When the window ends and `remaining` is back to `limit` (survey.clock's time).
    reset_at: datetime
    #: Whole seconds until then, at least 1 (the Retry-After header).
    retry_after: int


class Budget(Protocol):
    def charge(self, token_id: int, role: str, cost: int) -> BudgetState:
        """Charge `cost` to the token when it fits in its remaining budget."""
        ...
