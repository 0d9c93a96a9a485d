"""Flask extensions, created unbound and bound to the app in `create_app`."""

from __future__ import annotations

from flask import Flask, Request, g, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from survey.scale import DEFAULT_LOCALE, LOCALES, normalise_locale

migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
# No default limits: each route that faces the internet says what it allows.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def select_locale() -> str:
    """The invitation's language (set by the view), then the visible switch, then the
    browser's Accept-Language, then Chinese."""
    chosen = g.get("locale")
    if chosen:
        return str(chosen)
    switched = normalise_locale(request.args.get("lang"))
    if switched:
        return switched
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


#: Where the personal survey links live (web.survey_pages).
SURVEY_LINK_PREFIX = "/s/"


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, but none at all on a survey link.

    A survey link keeps nothing in a session (its CSRF token is bound to the link:
    web.survey_csrf), so its requests neither read nor verify the cookie a browser
    may carry (a manager's login) and never set one. The session there is Flask's
    null session (Flask saves none): writing to it fails loudly rather than
    replacing a login cookie."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(SURVEY_LINK_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)
