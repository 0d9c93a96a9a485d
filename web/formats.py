"""The template filters that write dates and money, one way per language
(survey.formats holds the patterns; the page's language and the TIMEZONE setting
come from Flask-Babel).

They replace Flask-Babel's own `dateformat` and `datetimeformat` filters, which
take a format per call: here a template cannot choose one, so every page writes a
day the same way. `money` adds the CURRENCY setting to an amount.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask, current_app
from flask_babel import get_locale, get_timezone

from survey.formats import (
    DEFAULT_CURRENCY,
    format_day,
    format_moment,
    format_money,
    site_language,
)


def page_language() -> str:
    """The language Flask-Babel translates this page into (``zh`` or ``en``)."""
    return site_language(str(get_locale() or "zh"))


def currency() -> str:
    return str(current_app.config.get("CURRENCY") or DEFAULT_CURRENCY)


def day_filter(value: date | datetime | None) -> str:
    """`{{ d|dateformat }}`: 2026年12月6日 / 6 Dec 2026 (a moment in TIMEZONE)."""
    if value is None:
        return "–"
    return format_day(value, page_language(), get_timezone())


def moment_filter(value: datetime | None) -> str:
    """`{{ t|datetimeformat }}`: 2026年12月6日 09:30 / 6 Dec 2026 09:30, in TIMEZONE."""
    if value is None:
        return "–"
    return format_moment(value, page_language(), get_timezone())


def money_filter(value: float | int | Decimal | None, compact: bool = False) -> str:
    """`{{ amount|money }}`: ¥1,234,567 / CN¥1,234,567 (`compact=True`: ¥123.5万)."""
    if value is None:
        return "–"
    return format_money(value, currency(), page_language(), compact=compact)


def init_formats(app: Flask) -> None:
    """Register the filters (after Flask-Babel, whose filters of the same name they replace)."""
    app.jinja_env.filters.update(
        dateformat=day_filter, datetimeformat=moment_filter, money=money_filter
    )
    app.jinja_env.globals["currency"] = currency
