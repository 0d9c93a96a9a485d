"""The survey page, rendered once per questionnaire and language and reused.

A survey is the same questionnaire for everyone in a campaign and language, so
almost all of its HTML (130 radios and checkboxes, their labels) is the same for
every account. The first request for a (questionnaire, language) renders the real
template (survey/form.html) with placeholders where a request differs: the link
token (in the language switch and the form's action), the account's name, the
closing date and the CSRF token. The result is kept as text split at those
placeholders; a later request joins the parts with its own values, escaped as the
template would have escaped them, so the markup is byte for byte what rendering
would give (tests/test_survey_page_cache.py compares the two).

The key holds the questionnaire's id and its questions as read with the link (so
an edited aspect or a changed question list is a new key), the language, whether
it is a phone interview, the supplier's branding it shows (name, contact, logo
version: web.branding), and the compiled catalogs' modification times and sizes
(new translations are a new key, within a second); with template auto-reload on
(development) also the templates'. Entries live in the process's memory, at most MAX_ENTRIES of
them, least recently used first out. The form classes the POST falls back to for
a page with errors are kept the same way (a class per questionnaire and language).

Only a fresh page comes from here: after a failed POST (or with the database
unavailable) the page shows what was typed and the errors, and is rendered
through the template with a form of the kept class.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, request
from flask_babel import get_babel
from markupsafe import escape

from survey.answers import AspectQuestion, InvitationContext

from .branding import branding_key
from .forms import SurveyForm, survey_form_class
from .survey_csrf import link_csrf_token

#: Entries kept per process (a questionnaire in two languages, web and phone, is four).
MAX_ENTRIES = 128
#: How long the catalogs' modification times are taken as they were last seen.
STAMP_SECONDS = 1.0

_LINK = "kpPageSentinelToken"
_NAME = "kpPageSentinelName"
_CLOSES = "kpPageSentinelCloses"
_CSRF = "kpPageSentinelCsrf"
_HOLES = re.compile(f"({_LINK}|{_NAME}|{_CLOSES}|{_CSRF})")
#: The templates a survey page is made of (their times count under auto-reload).
_TEMPLATES = (
    "base.html",
    "survey/_page.html",
    "survey/_questionnaire.html",
    "survey/_macros.html",
    "survey/form.html",
    "survey/_phone_banner.html",
    "survey/_staff_token.html",
)


@dataclass(frozen=True, slots=True)
class PageKey:
    questionnaire_id: int
    questions: tuple[AspectQuestion, ...]
    locale: str
    phone: bool
    catalogs: Hashable
    #: The supplier's name, contact and logo version the page shows (web.branding).
    branding: Hashable = None


@dataclass(frozen=True, slots=True)
class CachedPage:
    """The page between placeholders: parts[0], hole, parts[1], hole, ... The parts
    are kept encoded (UTF-8, the response's charset): encoding the whole page for each
    response costs more than everything else the cache leaves to do."""

    parts: tuple[bytes, ...]
    holes: tuple[str, ...]

    def render(self, values: dict[str, str]) -> bytes:
        out = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            out.append(values[hole].encode())
            out.append(part)
        return b"".join(out)


class _Lru:
    """A small thread-safe LRU map."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        value = make()  # outside the lock: rendering takes a while; a race makes it twice
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class SurveyPageCache:
    """The app's kept pages and form classes (app.extensions["survey_page_cache"])."""

    pages: _Lru
    forms: _Lru
    dates: _Lru
    files: tuple[Path, ...] | None = None
    #: The files' last stamps and when they were taken (time.monotonic()).
    stamps: tuple[Hashable, float] | None = None

    def catalogs(self, app: Flask) -> Hashable:
        """What identifies the translations (and, under auto-reload, the templates):
        the files' modification times and sizes, looked at most once a second."""
        now = time.monotonic()
        if self.stamps is not None and now - self.stamps[1] < STAMP_SECONDS:
            return self.stamps[0]
        if self.files is None:
            files = [
                path
                for directory in get_babel(app).translation_directories
                for path in sorted(Path(directory).glob("*/LC_MESSAGES/*.mo"))
            ]
            if app.jinja_env.auto_reload and app.template_folder:
                folder = Path(app.root_path) / app.template_folder
                files += [folder / name for name in _TEMPLATES]
            self.files = tuple(files)
        stamps = []
        for path in self.files:
            try:
                stat = os.stat(path)
            except OSError:
                stamps.append((str(path), None, None))
            else:
                stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
        self.stamps = (tuple(stamps), now)
        return self.stamps[0]


def page_cache(app: Flask | None = None) -> SurveyPageCache:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("survey_page_cache")
    if cache is None:
        cache = app.extensions.setdefault(
            "survey_page_cache",
            SurveyPageCache(_Lru(MAX_ENTRIES), _Lru(MAX_ENTRIES), _Lru(MAX_ENTRIES)),
        )
    return cache  # type: ignore[no-any-return]


def worded_date(closes_at: datetime, locale: str, word: Callable[[], str]) -> str:
    """A campaign's closing time as the page words it in `locale` (`word()` formats
    it in the request's locale and the app's time zone), formatted once per process."""
    return page_cache().dates.get_or_make((closes_at, locale), word)  # type: ignore[no-any-return]


def survey_form_class_for(
    questionnaire_id: int, questions: Sequence[AspectQuestion], locale: str
) -> type[SurveyForm]:
    """The kept form class for a questionnaire and language (built on first use)."""
    cache = page_cache()
    key = PageKey(questionnaire_id, tuple(questions), locale, False, None)
    return cache.forms.get_or_make(key, lambda: survey_form_class(questions, locale))  # type: ignore[no-any-return]


def fresh_page(
    token: str,
    ctx: InvitationContext,
    questions: Sequence[AspectQuestion],
    locale: str,
    *,
    phone: bool,
    closes_on: str,
    render: Callable[[str, InvitationContext, SurveyForm, str], str],
) -> bytes:
    """The survey page before anything was posted: the kept page with this request's
    token, account name, closing date and CSRF token, as the response's UTF-8 body.

    `render(token, ctx, form, locale)` renders the page through the template (the
    view's own renderer); it is called with placeholders on the first request for a
    key. `closes_on` is the closing date as the page words it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = page_cache(app)
    key = PageKey(
        ctx.questionnaire_id,
        tuple(questions),
        locale,
        phone,
        cache.catalogs(app),
        branding_key(),
    )

    def make() -> CachedPage:
        form = survey_form_class_for(ctx.questionnaire_id, questions, locale)(formdata=None)
        if form.meta.csrf:  # off only where WTF_CSRF_ENABLED is False
            form.csrf_token.current_token = _CSRF
        placeholder_ctx = replace(ctx, account_name=_NAME)
        view_args = request.view_args
        request.view_args = {**(view_args or {}), "token": _LINK}
        try:
            html = render(_LINK, placeholder_ctx, form, _CLOSES)
        finally:
            request.view_args = view_args
        pieces = _HOLES.split(html)
        return CachedPage(tuple(p.encode() for p in pieces[0::2]), tuple(pieces[1::2]))

    page: CachedPage = cache.pages.get_or_make(key, make)
    return page.render(
        {
            _LINK: token,  # a link token is URL-safe as it is (survey.tokens)
            _NAME: str(escape(ctx.account_name)),
            _CLOSES: str(escape(closes_on)),
            _CSRF: str(escape(link_csrf_token(token))) if _CSRF in page.holes else "",
        }
    )
