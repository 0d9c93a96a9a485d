"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, request

from .extensions import SURVEY_LINK_PREFIX

# No inline script anywhere: pages work without JavaScript, and what script there
# is comes from /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        # A page that needs more sets its own (GraphiQL: web.graphiql).
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Survey links carry a personal token: never leak it in a Referer header.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(SURVEY_LINK_PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
