"""The typed context every resolver gets: who asks, in which language, which request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Request, Response
from strawberry.types import Info as _Info

from survey.scale import DEFAULT_LOCALE, normalise_locale

from .budget import Budget, BudgetState


@dataclass
class Context:
    staff_id: int
    staff_name: str
    #: viewer, manager or admin (survey.models.ROLES).
    role: str
    #: "zh" or "en", from Accept-Language (default zh): labels follow it.
    locale: str
    #: Logged with unexpected errors and shown in their masked message.
    request_id: str
    max_page_size: int
    request: Request
    response: Response
    #: The API token that authenticated the request: its budget is charged.
    token_id: int | None = None
    #: The most one operation may cost (schema.cost); dearer ones are refused unrun.
    max_cost: int | None = None
    #: Charges each accepted operation's cost to the token (web supplies it).
    budget: Budget | None = None
    #: This operation's cost, set before it runs.
    cost: int = 0
    #: The token's budget after this operation was charged (Query.rateLimit).
    rate_limit: BudgetState | None = None
    #: The token's last use counting this request (its last_used_at is written after
    #: the answer, at most once a minute): what staffTokens shows for it.
    token_last_use: datetime | None = None


Info = _Info[Context, None]


def locale_from(request: Request) -> str:
    """The API speaks the caller's Accept-Language (zh or en), Chinese by default.

    Regional tags count for their language (en-GB is English, zh-TW Chinese), in the
    caller's order of preference, which werkzeug's exact-match-first best_match skips.
    """
    for value, _quality in request.accept_languages:  # highest quality first
        locale = normalise_locale(value)
        if locale is not None:
            return locale
    return DEFAULT_LOCALE
