"""How dates, times and amounts of money are written: one way per language.

The console, the survey pages and the e-mails all format through here, so a date
reads the same everywhere in a language (``2026年12月6日`` / ``6 Dec 2026``, with
``HH:mm`` after it when the time matters) and every amount carries its currency
(the ``CURRENCY`` setting, ISO 4217, CNY unless set: ``¥1,234,567`` /
``CN¥1,234,567``). Babel does the work (CLDR data); this module only fixes the
patterns, so no page picks its own.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_compact_currency, format_currency, list_currencies

#: The currency of every amount unless the CURRENCY setting names another.
DEFAULT_CURRENCY = "CNY"

#: Babel's locale for each language of the site.
BABEL_LOCALES = {"zh": "zh_Hans_CN", "en": "en"}

#: A day, in each language (CLDR patterns).
DATE_PATTERNS = {"zh": "y年M月d日", "en": "d MMM y"}

#: The time after a day, when the moment matters (24-hour clock in both languages).
TIME_PATTERN = "HH:mm"

#: Whole units of currency: key-account revenue is not read to the cent.
_MONEY_PATTERN = "¤#,##0"


def site_language(locale: str) -> str:
    """The site's language for a locale: ``en`` for any English, else ``zh``."""
    return "en" if str(locale).startswith("en") else "zh"


def babel_locale(locale: str) -> str:
    """Babel's locale for a site language."""
    return BABEL_LOCALES[site_language(locale)]


def date_pattern(locale: str) -> str:
    return DATE_PATTERNS[site_language(locale)]


def datetime_pattern(locale: str) -> str:
    return f"{date_pattern(locale)} {TIME_PATTERN}"


def format_day(day: date | datetime, locale: str, zone: tzinfo | None = None) -> str:
    """A day as the site writes it; a moment is first moved into ``zone``."""
    if isinstance(day, datetime):
        return format_datetime(day, date_pattern(locale), tzinfo=zone, locale=babel_locale(locale))
    return format_date(day, date_pattern(locale), locale=babel_locale(locale))


def format_moment(moment: datetime, locale: str, zone: tzinfo | None = None) -> str:
    """A day and a time (in ``zone``) as the site writes them."""
    return format_datetime(
        moment, datetime_pattern(locale), tzinfo=zone, locale=babel_locale(locale)
    )


def format_moment_in_zone(moment: datetime, locale: str, zone: tzinfo) -> str:
    """A day and a time with the zone's name, for text read anywhere (an e-mail):
    ``2026年12月7日 17:30（中国标准时间）`` / ``7 Dec 2026 17:30 (China Standard Time)``."""
    named = " (zzzz)" if site_language(locale) == "en" else "（zzzz）"
    return format_datetime(
        moment, datetime_pattern(locale) + named, tzinfo=zone, locale=babel_locale(locale)
    )


def check_currency(code: str) -> str:
    """An ISO 4217 code, upper-cased; a clear error for anything else."""
    value = (code or "").strip().upper()
    if value not in list_currencies():
        raise ValueError(
            f"{code!r} is not an ISO 4217 currency code (for example CNY, USD, EUR, HKD)"
        )
    return value


def format_money(
    amount: float | int | Decimal,
    currency: str = DEFAULT_CURRENCY,
    locale: str = "zh",
    *,
    compact: bool = False,
) -> str:
    """An amount with its currency, in whole units (``compact``: ¥123.5万, CN¥1.2M)."""
    if compact:
        return format_compact_currency(
            amount, currency, locale=babel_locale(locale), fraction_digits=1
        )
    return format_currency(
        round(amount),
        currency,
        format=_MONEY_PATTERN,
        currency_digits=False,
        locale=babel_locale(locale),
    )
