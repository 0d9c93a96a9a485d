"""Composing the e-mails KeyPulse sends: invitations and reminders, in zh and en.

Plain Jinja2 (survey/ is not Flask): text templates without escaping, HTML
templates with autoescape, both under survey/delivery/templates/mail/. Every message
carries the personal survey link, the closing date, the account manager as the
contact, the supplier's name and contact (`Organisation`, the ORG_* settings) and a
one-click opt-out link.

The opt-out link is `/u/<invitation id>.<mac>` where the mac is an HMAC of the
secret key and the invitation nonce under a purpose string of its own: it cannot
be turned into the survey token (or back), and the database alone forges neither.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape

from survey.delivery.organisation import Organisation
from survey.formats import format_moment_in_zone
from survey.scale import DEFAULT_LOCALE, normalise_locale
from survey.tokens import derive_token

KIND_INVITATION = "invitation"
KIND_REMINDER = "reminder"
MAIL_KINDS: tuple[str, ...] = (KIND_INVITATION, KIND_REMINDER)

_TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"
_env = Environment(
    loader=FileSystemLoader(str(_TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

#: Subjects by (kind, language): the neutral one, and one naming the company ({org}).
_SUBJECTS: dict[tuple[str, str], tuple[str, str]] = {
    (KIND_INVITATION, "zh"): (
        "客户满意度调查：请告诉我们您的看法",
        "{org}客户满意度调查：请告诉我们您的看法",
    ),
    (KIND_INVITATION, "en"): (
        "Customer satisfaction survey: please tell us what you think",
        "{org} customer satisfaction survey: please tell us what you think",
    ),
    (KIND_REMINDER, "zh"): (
        "提醒：客户满意度调查即将截止",
        "提醒：{org}客户满意度调查即将截止",
    ),
    (KIND_REMINDER, "en"): (
        "Reminder: our customer satisfaction survey closes soon",
        "Reminder: the {org} customer satisfaction survey closes soon",
    ),
}
_EXIT_SUBJECTS: dict[tuple[str, str], tuple[str, str]] = {
    (KIND_INVITATION, "zh"): ("我们想了解您离开的原因", "{org}想了解您离开的原因"),
    (KIND_INVITATION, "en"): ("Please tell us why you left", "{org}: please tell us why you left"),
    (KIND_REMINDER, "zh"): ("提醒：我们仍想了解您离开的原因", "提醒：{org}仍想了解您离开的原因"),
    (KIND_REMINDER, "en"): (
        "Reminder: please tell us why you left",
        "Reminder from {org}: please tell us why you left",
    ),
}


@dataclass(frozen=True, slots=True)
class MailSettings:
    """What composing and sending need from the configuration (no Flask here)."""

    secret_key: str
    base_url: str
    mail_from: str = "KeyPulse <surveys@localhost>"
    timezone: str = "Asia/Shanghai"
    #: The supplier every message names, and its contact (ORG_* settings).
    organisation: Organisation = field(default_factory=Organisation)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        """Read SECRET_KEY, BASE_URL, MAIL_FROM, BABEL_DEFAULT_TIMEZONE and ORG_*."""
        return cls(
            secret_key=str(config["SECRET_KEY"]),
            base_url=str(config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            mail_from=str(config.get("MAIL_FROM") or "KeyPulse <surveys@localhost>"),
            timezone=str(config.get("BABEL_DEFAULT_TIMEZONE") or "UTC"),
            organisation=Organisation.from_config(config),
        )

    @property
    def sender_domain(self) -> str:
        """The domain of MAIL_FROM, for Message-IDs."""
        _name, address = parseaddr(self.mail_from)
        return address.rpartition("@")[2] or "localhost"


def optout_mac(secret_key: str, nonce: str) -> str:
    """The opt-out MAC of an invitation: HMAC-SHA256 under the "unsubscribe:" purpose,
    so it differs from the survey token derived from the same nonce."""
    digest = hmac.digest(secret_key.encode(), f"unsubscribe:{nonce}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def optout_token(secret_key: str, invitation_id: int, nonce: str) -> str:
    """The token in an opt-out link: `<invitation id>.<mac>`."""
    return f"{invitation_id}.{optout_mac(secret_key, nonce)}"


def parse_optout_token(token: str) -> tuple[int, str] | None:
    """Split an opt-out token into (invitation id, mac); None when malformed."""
    head, dot, mac = token.partition(".")
    if not dot or not head.isascii() or not head.isdigit() or len(head) > 12:
        return None
    if len(mac) != 43 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in mac):
        return None
    return int(head), mac


def check_optout_mac(secret_key: str, nonce: str, mac: str) -> bool:
    return hmac.compare_digest(optout_mac(secret_key, nonce), mac)


def survey_link(base_url: str, secret_key: str, nonce: str) -> str:
    return f"{base_url.rstrip('/')}/s/{derive_token(secret_key, nonce)}"


def optout_link(base_url: str, secret_key: str, invitation_id: int, nonce: str) -> str:
    return f"{base_url.rstrip('/')}/u/{optout_token(secret_key, invitation_id, nonce)}"


@dataclass(frozen=True, slots=True)
class MailContext:
    """One recipient's facts, as the templates use them."""

    invitation_id: int
    nonce: str
    locale: str
    account_name: str
    contact_name: str
    account_manager: str
    manager_email: str | None
    closes_at: datetime
    campaign_kind: str = "satisfaction"


@dataclass(frozen=True, slots=True)
class ComposedMail:
    subject: str
    text: str
    html: str
    locale: str


def format_closing(closes_at: datetime, locale: str, timezone: str) -> str:
    """The closing time in the reader's language and the business's time zone."""
    return format_moment_in_zone(closes_at, locale, ZoneInfo(timezone))


def _values(kind: str, ctx: MailContext, settings: MailSettings) -> tuple[str, dict[str, Any]]:
    """The message's language and the values its templates are rendered with."""
    locale = normalise_locale(ctx.locale) or DEFAULT_LOCALE
    organisation = settings.organisation
    return locale, {
        "org_name": organisation.name(locale),
        "org_contact": organisation.contact,
        "org_contact_href": organisation.contact_href,
        "kind": kind,
        "exit_survey": ctx.campaign_kind == "exit",
        "account_name": ctx.account_name,
        "contact_name": ctx.contact_name or ctx.account_name,
        "account_manager": ctx.account_manager,
        "manager_email": ctx.manager_email,
        "closes": _closing(ctx.closes_at, locale, settings.timezone),
        "survey_url": survey_link(settings.base_url, settings.secret_key, ctx.nonce),
        "optout_url": optout_link(
            settings.base_url, settings.secret_key, ctx.invitation_id, ctx.nonce
        ),
    }


@lru_cache(maxsize=64)
def _closing(closes_at: datetime, locale: str, timezone: str) -> str:
    # babel's time zone names cost more than the rest of a message: a campaign has one.
    return format_closing(closes_at, locale, timezone)


def _subject(kind: str, locale: str, values: Mapping[str, Any]) -> str:
    """The neutral subject, or the one naming the supplier when ORG_* names it."""
    neutral, named = (_EXIT_SUBJECTS if values["exit_survey"] else _SUBJECTS)[(kind, locale)]
    return named.format(org=values["org_name"]) if values["org_name"] else neutral


def compose(kind: str, ctx: MailContext, settings: MailSettings) -> ComposedMail:
    """An invitation or reminder for one recipient, in their language."""
    if kind not in MAIL_KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    locale, values = _values(kind, ctx, settings)
    return ComposedMail(
        subject=_subject(kind, locale, values),
        text=_env.get_template(f"message.{locale}.txt").render(values),
        html=_env.get_template(f"message.{locale}.html").render(values),
        locale=locale,
    )


# --- many at once ----------------------------------------------------------------------
#
# A campaign's messages in one language differ only in a few values per recipient: each
# template is rendered once per shape with a marker in place of each of those values and
# cut at the markers; a message is then the pieces joined with its values (escaped as
# autoescape would in the HTML). A shape fixes everything a template may branch on:
# kind, language, the closing, the survey kind, and which personal values are empty
# (those are rendered as they are). A shape's first message is also rendered in full
# and compared, so a template that does more with a personal value than print it is
# rendered message by message, as before.

#: The values that differ from one recipient to the next.
PERSONAL: tuple[str, ...] = (
    "account_name",
    "contact_name",
    "account_manager",
    "manager_email",
    "survey_url",
    "optout_url",
)
# Private-use characters: no template text contains them, and escaping leaves them be.
_MARKER = re.compile("\ue000([a-z_]+)\ue001")


def _pieces(template: str, values: Mapping[str, Any]) -> list[str]:
    """The template rendered with markers for the personal values, cut at them: text,
    name, text, name, ..., text."""
    marked = {**values, **{name: f"\ue000{name}\ue001" for name in PERSONAL if values[name]}}
    return _MARKER.split(_env.get_template(template).render(marked))


def _fill(pieces: list[str], values: Mapping[str, Any], html: bool) -> str:
    out = pieces[:]
    for i in range(1, len(out), 2):
        value = values[out[i]]
        out[i] = str(escape(value)) if html else str(value)
    return "".join(out)


def compose_many(
    kind: str, contexts: Sequence[MailContext], settings: MailSettings
) -> list[ComposedMail]:
    """`compose` for each context, in order, with the same result: the templates are
    rendered once per shape (language, closing, ...) rather than once per message."""
    if kind not in MAIL_KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    shapes: dict[tuple[Any, ...], tuple[list[str], list[str]] | None] = {}
    composed: list[ComposedMail] = []
    for ctx in contexts:
        locale, values = _values(kind, ctx, settings)
        shape = (
            locale,
            values["exit_survey"],
            values["closes"],
            # An empty value is printed as it is (None and "" differ): part of the shape.
            *(True if values[name] else values[name] for name in PERSONAL),
        )
        if shape not in shapes:
            pieces = (
                _pieces(f"message.{locale}.txt", values),
                _pieces(f"message.{locale}.html", values),
            )
            full = compose(kind, ctx, settings)
            same = (full.text, full.html) == (
                _fill(pieces[0], values, False),
                _fill(pieces[1], values, True),
            )
            shapes[shape] = pieces if same else None
        pieces_or_none = shapes[shape]
        if pieces_or_none is None:
            composed.append(compose(kind, ctx, settings))
            continue
        composed.append(
            ComposedMail(
                subject=_subject(kind, locale, values),
                text=_fill(pieces_or_none[0], values, False),
                html=_fill(pieces_or_none[1], values, True),
                locale=locale,
            )
        )
    return composed


__all__ = [
    "KIND_INVITATION",
    "KIND_REMINDER",
    "ComposedMail",
    "MailContext",
    "MailSettings",
    "check_optout_mac",
    "compose",
    "compose_many",
    "format_closing",
    "optout_link",
    "optout_token",
    "parse_optout_token",
    "survey_link",
]
