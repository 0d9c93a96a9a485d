"""The GraphQL view that `web.create_app` mounts at /graphql.

Authentication happens here, before anything is parsed or executed: a request
without a live bearer token gets HTTP 401 and a GraphQL-shaped error with
extensions.code UNAUTHENTICATED; a client that has sent too many unknown tokens
gets 429 (RATE_LIMITED, Retry-After) instead, counted by the `failed_lookup`
callable the web layer passes in. Each accepted operation's cost is charged to its
token through the `budget` passed in (schema.budget, schema.cost). The look-up
writes nothing: the token's last_used_at (at most once a minute) is written after
the answer, in a transaction of its own (survey.registry.record_token_use).

GraphiQL (GET, development only) needs no token: the page itself holds no data; its
queries carry the token like any client. The page is the app's own (`web.graphiql`),
passed in as `ide_page`: strawberry's loads React and GraphiQL from a CDN with
inline script.

Each request's database work runs under GRAPHQL_STATEMENT_TIMEOUT_MS
(`survey.db.statement_time_limit`): a field whose statement is cut off answers
extensions.code TIMEOUT, still with HTTP 200 like every other field error (the rest of
the answer, and a mutation committed before the cut, stand), and the session is rolled
back before the response leaves (as after every request: mutations commit themselves).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, current_app, g, request
from flask import Response as FlaskResponse
from sqlalchemy.exc import SQLAlchemyError
from strawberry.flask.views import GraphQLView

from survey.db import TimeLimit, is_statement_timeout, statement_time_limit
from survey.registry import authenticate_token, record_token_use
from survey.transactions import rollback

from .budget import Budget
from .build import build_schema
from .context import Context, locale_from
from .cost import DEFAULT_MAX_COST, RATE_LIMITED
from .errors import TIMEOUT, UNAUTHENTICATED, timeout_message

log = logging.getLogger(__name__)

#: Counts one failed token look-up for the client; the whole seconds it must wait
#: when it has made too many, else None.
FailedLookup = Callable[[], int | None]


def _encode(data: object) -> str:
    # Chinese labels and comments as UTF-8 text, not \u escapes: readable in curl.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _unauthenticated(message: str) -> FlaskResponse:
    body = {"errors": [{"message": message, "extensions": {"code": UNAUTHENTICATED}}]}
    return FlaskResponse(
        _encode(body),
        status=401,
        content_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="keypulse"'},
    )


def _too_many_failed_lookups(retry_after: int) -> FlaskResponse:
    message = "Too many unknown or revoked tokens from this address; try again later."
    body = {"errors": [{"message": message, "extensions": {"code": RATE_LIMITED}}]}
    return FlaskResponse(
        _encode(body),
        status=429,
        content_type="application/json",
        headers={"Retry-After": str(retry_after)},
    )


def _bad_request(message: str) -> FlaskResponse:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    return FlaskResponse(_encode(body), status=400, content_type="application/json")


def _timed_out(limit: TimeLimit) -> FlaskResponse:
    """The answer when the limit cut off work outside any field (authentication)."""
    message = timeout_message(locale_from(request), limit.seconds)
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": TIMEOUT}}]}
    return FlaskResponse(_encode(body), status=200, content_type="application/json")


def bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class KeyPulseGraphQLView(GraphQLView[Context, None]):
    """Sync strawberry view with bearer-token auth and a typed context."""

    def __init__(
        self,
        *args: Any,
        ide_page: Callable[[], FlaskResponse] | None = None,
        budget: Budget | None = None,
        failed_lookup: FailedLookup | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.ide_page = ide_page
        self.budget = budget
        self.failed_lookup = failed_lookup

    def render_graphql_ide(self, request: Request) -> FlaskResponse:
        assert self.ide_page is not None  # strawberry answers 404 when graphql_ide is None
        return self.ide_page()

    def dispatch_request(self) -> Any:
        adapter = self.request_adapter_class(request)
        if self.should_render_graphql_ide(adapter):
            return super().dispatch_request()  # the IDE page, or 404 when it is off
        milliseconds = int(current_app.config.get("GRAPHQL_STATEMENT_TIMEOUT_MS") or 0)
        if milliseconds <= 0:
            response = self._answer()
        else:
            with statement_time_limit(milliseconds / 1000) as limit:
                try:
                    response = self._answer()
                except Exception as exc:
                    if not is_statement_timeout(exc):
                        raise
                    response = _timed_out(limit)
        # Whatever is still open ends here (mutations commit what they did), also a
        # transaction a statement cut off left aborted.
        rollback()
        self._record_token_use()
        return response

    def _record_token_use(self) -> None:
        """The token's last_used_at, written after the answer (at most once a minute):
        the read itself runs no write and no commit."""
        found = g.pop("graphql_token", None)
        if found is None:
            return
        try:
            record_token_use(found)
        except SQLAlchemyError:
            # The answer stands; the next request with this token writes it.
            rollback()
            log.warning("Could not record the use of API token %s", found.token_id, exc_info=True)

    def _answer(self) -> Any:
        token = bearer_token(request)
        if token is None:
            return _unauthenticated("Send an API token: Authorization: Bearer <token>.")
        found = authenticate_token(token)
        if found is None:
            retry_after = self.failed_lookup() if self.failed_lookup is not None else None
            if retry_after is not None:
                return _too_many_failed_lookups(retry_after)
            return _unauthenticated("This API token is unknown or has been revoked.")
        member = found.member
        g.graphql_token = found
        g.graphql_staff = (member.id, member.name, member.role, found.token_id)
        # strawberry expects an object; a JSON string, number or list (batching is off)
        # would otherwise fail inside it as a 500.
        payload = request.get_json(silent=True) if request.is_json else {}
        if request.method == "POST" and not isinstance(payload, dict):
            return _bad_request('Send one JSON object: {"query": "...", "variables": {...}}.')
        return super().dispatch_request()

    def encode_json(self, data: object) -> str:
        return _encode(data)

    def get_context(self, request: Request, response: FlaskResponse) -> Context:
        staff_id, staff_name, role, token_id = g.graphql_staff
        found = g.get("graphql_token")
        config = current_app.config
        return Context(
            staff_id=staff_id,
            staff_name=staff_name,
            role=role,
            locale=locale_from(request),
            request_id=uuid.uuid4().hex[:12],
            max_page_size=int(config["GRAPHQL_MAX_PAGE_SIZE"]),
            request=request,
            response=response,
            token_id=token_id,
            max_cost=int(config.get("GRAPHQL_MAX_COST") or DEFAULT_MAX_COST),
            budget=self.budget,
            token_last_use=found.last_use if found is not None else None,
        )


def make_graphql_view(
    app: Flask,
    ide_page: Callable[[], FlaskResponse] | None = None,
    *,
    budget: Budget | None = None,
    failed_lookup: FailedLookup | None = None,
) -> Any:
    """The /graphql view for `app`: introspection per GRAPHQL_INTROSPECTION, `ide_page`
    (if any) on GET from a browser, queries only by POST (a GET query would land in
    logs). `budget` charges each accepted operation to its token (none: no hourly
    budget); `failed_lookup` counts unknown tokens per client (none: never 429)."""
    schema = build_schema(introspection=bool(app.config.get("GRAPHQL_INTROSPECTION")))
    return KeyPulseGraphQLView.as_view(
        "graphql",
        schema=schema,
        # strawberry renders an IDE only when this is set; which one is ours to say.
        graphql_ide="graphiql" if ide_page is not None else None,
        ide_page=ide_page,
        budget=budget,
        failed_lookup=failed_lookup,
        allow_queries_via_get=False,
    )
