"""What every console page shares: the page language, the company's time zone and
today, the labels and filters the templates use, and no caching of any page."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, g, request, session
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as HttpResponse

from survey import clock
from survey.scale import TIER_LABELS, ReasonCode, Satisfaction, normalise_locale

from .blueprint import bp
from .charts import PATTERNS

SESSION_LANG = "lang"
STATUS_LABELS: dict[str, Any] = {
    "open": _l("Open"),
    "closed": _l("Closed"),
    "pending": _l("Not sent yet"),
    "sent": _l("Sent"),
    "opened": _l("Opened"),
    "responded": _l("Responded"),
    "bounced": _l("Bounced"),
    "expired": _l("Expired"),
}
STRATIFY_LABELS: dict[str, Any] = {
    "tier": _l("Tier"),
    "value_type": _l("Value type"),
    "relationship_stage": _l("Relationship stage"),
    "region": _l("Region"),
}
KIND_LABELS: dict[str, Any] = {
    "satisfaction": _l("Satisfaction survey"),
    "exit": _l("Exit survey (accounts that left)"),
}


def choose_locale() -> None:
    """?lang= switches the console's language and the choice is remembered in the
    session, so it holds across pages; otherwise the browser's Accept-Language."""
    chosen = normalise_locale(request.args.get("lang"))
    if chosen:
        session[SESSION_LANG] = chosen
    g.locale = chosen or normalise_locale(session.get(SESSION_LANG))


@bp.after_request
def _no_store(response: HttpResponse) -> HttpResponse:
    # Console pages show customers' answers and personal links: keep them out of caches.
    response.headers["Cache-Control"] = "no-store"
    return response


def page_locale() -> str:
    return str(g.get("locale") or "") or (request.accept_languages.best_match(["zh", "en"]) or "zh")


def app_timezone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")


def today() -> date:
    return clock.today(app_timezone())


@bp.app_template_filter("pct")
def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


@bp.context_processor
def _console_helpers() -> dict[str, Any]:
    locale = page_locale()
    return {
        "staff": g.get("staff"),
        "reason_label": lambda code: reason_label(code, locale),
        "status_label": lambda code: STATUS_LABELS.get(code, code),
        "kind_label": lambda code: KIND_LABELS.get(code, code),
        "stratify_label": lambda code: STRATIFY_LABELS.get(code, code) if code else "–",
        "tier_label": lambda code: (
            TIER_LABELS[code][1 if locale == "en" else 0] if code in TIER_LABELS else code
        ),
        "scale": [(int(s), s.label(locale), PATTERNS[s]) for s in reversed(list(Satisfaction))],
        "scale_labels": {int(s): s.label(locale) for s in Satisfaction},
    }


def reason_label(code: str, locale: str) -> str:
    try:
        return ReasonCode(code).label(locale)
    except ValueError:
        return code
