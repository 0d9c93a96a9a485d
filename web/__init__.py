"""The Flask application factory: reads top to bottom as a list of init steps."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import get_locale
from werkzeug.middleware.proxy_fix import ProxyFix

from survey.checkpoints import watch as watch_checkpoints
from survey.db import db

from .analysis_cache import init_analysis_cache
from .branding import init_branding
from .config import check_config, load_config
from .extensions import CookieSessions, babel, csrf, limiter, migrate, select_locale
from .formats import init_formats

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the KeyPulse app. `config` overrides what the environment says."""
    app = Flask(__name__, instance_relative_config=True)
    init_config(app, config)
    init_extensions(app)
    init_analysis_cache(app)
    init_blueprints(app)
    init_branding(app)
    init_graphql(app)
    init_errors(app)
    init_security_headers(app)
    init_cli(app)
    return app


def init_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(instance))
    if overrides:
        app.config.from_mapping(overrides)
    check_config(app.config)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )


def init_extensions(app: Flask) -> None:
    import survey.models  # noqa: F401  (registers the tables on db.metadata)

    app.session_interface = CookieSessions()
    db.init_app(app)
    with app.app_context():
        watch_checkpoints(db.engine)  # SQLite: its log checkpointed in the background
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    init_formats(app)
    limiter.init_app(app)

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        return {"current_locale": str(get_locale() or "zh")}


def init_blueprints(app: Flask) -> None:
    from .manage import bp as manage_bp
    from .survey_pages import bp as survey_bp
    from .unsubscribe import bp as unsubscribe_bp

    app.register_blueprint(survey_bp)
    app.register_blueprint(unsubscribe_bp)
    app.register_blueprint(manage_bp)


def init_graphql(app: Flask) -> None:
    from schema.view import make_graphql_view

    ide_page = None
    if app.debug:  # GraphiQL and the SDL for developers; never in production
        from .graphiql import bp as api_docs_bp
        from .graphiql import graphiql_page

        app.register_blueprint(api_docs_bp)
        ide_page = graphiql_page
    from .limits import TokenBudget, count_failed_lookup

    # schema/ imports nothing from web/: the budget and the failed look-up count, kept
    # in Flask-Limiter's storage, are handed to it.
    view = make_graphql_view(
        app, ide_page=ide_page, budget=TokenBudget(), failed_lookup=count_failed_lookup
    )
    # The API authenticates with a bearer token, not a cookie: no CSRF token needed.
    csrf.exempt(view)
    app.add_url_rule("/graphql", view_func=view, methods=["GET", "POST"])


def init_errors(app: Flask) -> None:
    from .errors import register_error_handlers

    register_error_handlers(app)


def init_security_headers(app: Flask) -> None:
    from .security import register_security_headers

    register_security_headers(app)


def init_cli(app: Flask) -> None:
    from .cli import register_cli

    register_cli(app)
