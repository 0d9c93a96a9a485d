"""The GraphQL view that `web.create_app` mounts at /graphql.

Authentication happens here, before anything is parsed or executed: a request
without a live bearer token gets HTTP 401 and a GraphQL-shaped error with
extensions.code UNAUTHENTICATED. GraphiQL (GET, development only) needs no token:
the page itself holds no data; its queries carry the token like any client. The page
is the app's own (`web.graphiql`), passed in as `ide_page`: strawberry's loads
React and GraphiQL from a CDN with inline script.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, current_app, g, request
from flask import Response as FlaskResponse
from strawberry.flask.views import GraphQLView

from survey.registry import authenticate

from .build import build_schema
from .context import Context, locale_from
from .errors import UNAUTHENTICATED


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


def _bad_request(message: str) -> FlaskResponse:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    return FlaskResponse(_encode(body), status=400, content_type="application/json")


def bearer_token(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class KeyPulseGraphQLView(GraphQLView[Context, None]):
    """Sync strawberry view with bearer-token auth and a typed context."""

    def __init__(
        self, *args: Any, ide_page: Callable[[], FlaskResponse] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.ide_page = ide_page

    def render_graphql_ide(self, request: Request) -> FlaskResponse:
        assert self.ide_page is not None  # strawberry answers 404 when graphql_ide is None
        return self.ide_page()

    def dispatch_request(self) -> Any:
        adapter = self.request_adapter_class(request)
        if self.should_render_graphql_ide(adapter):
            return super().dispatch_request()  # the IDE page, or 404 when it is off
        token = bearer_token(request)
        if token is None:
            return _unauthenticated("Send an API token: Authorization: Bearer <token>.")
        member = authenticate(token)
        if member is None:
            return _unauthenticated("This API token is unknown or has been revoked.")
        # Read once: authenticate may have committed, which expires the row.
        g.graphql_staff = (member.id, member.name, member.role)
        # strawberry expects an object; a JSON string, number or list (batching is off)
        # would otherwise fail inside it as a 500.
        payload = request.get_json(silent=True) if request.is_json else {}
        if request.method == "POST" and not isinstance(payload, dict):
            return _bad_request('Send one JSON object: {"query": "...", "variables": {...}}.')
        return super().dispatch_request()

    def encode_json(self, data: object) -> str:
        return _encode(data)

    def get_context(self, request: Request, response: FlaskResponse) -> Context:
        staff_id, staff_name, role = g.graphql_staff
        return Context(
            staff_id=staff_id,
            staff_name=staff_name,
            role=role,
            locale=locale_from(request),
            request_id=uuid.uuid4().hex[:12],
            max_page_size=int(current_app.config["GRAPHQL_MAX_PAGE_SIZE"]),
            request=request,
            response=response,
        )


def make_graphql_view(app: Flask, ide_page: Callable[[], FlaskResponse] | None = None) -> Any:
    """The /graphql view for `app`: introspection per GRAPHQL_INTROSPECTION, `ide_page`
    (if any) on GET from a browser, queries only by POST (a GET query would land in
    logs)."""
    schema = build_schema(introspection=bool(app.config.get("GRAPHQL_INTROSPECTION")))
    return KeyPulseGraphQLView.as_view(
        "graphql",
        schema=schema,
        # strawberry renders an IDE only when this is set; which one is ours to say.
        graphql_ide="graphiql" if ide_page is not None else None,
        ide_page=ide_page,
        allow_queries_via_get=False,
    )
