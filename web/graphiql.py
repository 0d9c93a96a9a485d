"""API tools for developers, served in development (the app's debug mode) only:
GraphiQL on GET /graphql and the schema's SDL at /graphql/schema.graphql.

GraphiQL and React are vendored under static/graphiql (`make graphiql-assets`), so
the page works without internet access, and a small static script starts it: the
page carries no inline script and a Content-Security-Policy of its own.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template, send_file

from schema.build import SDL_PATH

from .security import CONTENT_SECURITY_POLICY

bp = Blueprint("api_docs", __name__)

#: The app's policy plus data: fonts, which GraphiQL's stylesheet embeds. Styles stay
#: 'self': GraphiQL sets inline styles through the DOM, which CSP allows; the one
#: <style> element it injects (react-remove-scroll, locking the page's scrolling while
#: a dialog is open) is blocked and not missed, since GraphiQL fills the window.
GRAPHIQL_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY + "; font-src 'self' data:"


def graphiql_page() -> Response:
    """The GraphiQL page that the /graphql view shows to a browser's GET."""
    response = make_response(render_template("graphiql.html"))
    response.headers["Content-Security-Policy"] = GRAPHIQL_CONTENT_SECURITY_POLICY
    return response


@bp.get("/graphql/schema.graphql")
def schema_sdl() -> Response:
    """The API's schema as SDL, read-only (the file `flask graphql export-schema` writes)."""
    return send_file(SDL_PATH, mimetype="text/plain", max_age=0)
