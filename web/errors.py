"""One error page for every HTTP error, in the visitor's language."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from survey.db import db

log = logging.getLogger(__name__)


#: Paths a customer reaches from an invitation: their error pages carry the supplier.
CUSTOMER_PATHS = ("/s/", "/u/")


def render_error(code: int, *, request_id: str | None = None) -> tuple[str, int]:
    customer_page = request.path.startswith(CUSTOMER_PATHS)
    page = render_template(
        "error.html", code=code, request_id=request_id, customer_page=customer_page
    )
    return page, code


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = exc.code or 500
        # A 429's Retry-After travels with the page.
        headers = [(k, v) for k, v in exc.get_headers() if k == "Retry-After"]
        if request.path.startswith("/graphql"):
            return jsonify(errors=[{"message": exc.description or exc.name}]), code, headers
        return (*render_error(code), headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        request_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error, request id %s", request_id)
        db.session.rollback()
        if app.testing and app.config.get("PROPAGATE_EXCEPTIONS"):
            raise exc
        if request.path.startswith("/graphql"):
            err = InternalServerError()
            return jsonify(errors=[{"message": err.name, "requestId": request_id}]), 500
        return render_error(500, request_id=request_id)
