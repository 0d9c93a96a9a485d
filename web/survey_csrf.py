"""The survey link's CSRF token: bound to the link, kept in no session.

A survey page needs a CSRF token, and Flask-WTF's is stored in the signed session
cookie: every page would set (and every POST read and verify) that cookie, though
the survey link keeps nothing else in a session. This token needs no server-side
or cookie state:

    token = "<issued>.<mac>"
    mac   = HMAC-SHA256(key, "keypulse-survey-csrf" NUL link-token NUL issued)

with `issued` the moment it was made (whole seconds on survey.clock, hex) and `key`
WTF_CSRF_SECRET_KEY or SECRET_KEY. It is checked by recomputing the MAC and
comparing in constant time (`hmac.compare_digest`); when WTF_CSRF_TIME_LIMIT is set
it also expires after that many seconds (KeyPulse leaves it unset: a person may
leave the page open over lunch). A missing, malformed, forged or expired token,
or one made for another link, gets the same 400 page as Flask-WTF's check
(`CSRFError`), and nothing is stored.

Threat model. CSRF is a third-party page making the person's browser post to our
site. On a survey link the browser carries no credential (no cookie, no login):
the personal link in the URL is the only secret, and whoever knows it can answer
anyway. The token therefore has to prove that the POST comes from a page this site
served for *this* link: a forger who does not know the server's key cannot make a
MAC for any link (HMAC-SHA256), and one taken from another link's page (say, the
forger's own invitation) does not verify for this one, since the link token is
part of what is signed. Not defended, as before: someone who has the link itself
(forwarded e-mail, shoulder surfing) can open the page and post; the response is
still stored exactly once (unique constraint), so replaying a token within its
window adds nothing. The key never leaves the server; rotating SECRET_KEY voids
the open pages' tokens, as it voided their session cookies before.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import urlsafe_b64encode
from typing import Any

from flask import current_app, g, request
from flask_wtf.csrf import CSRFError
from wtforms import Form
from wtforms.csrf.core import CSRF, CSRFTokenField
from wtforms.validators import ValidationError

from survey.clock import utcnow

_PURPOSE = b"keypulse-survey-csrf\x00"
#: How far ahead of this server's clock an issued time may be (another worker's clock).
_SKEW_SECONDS = 60
_KEYS = "survey_csrf_key"

MISSING = "The CSRF token is missing."
INVALID = "The CSRF token is invalid."
EXPIRED = "The CSRF token has expired."


def _keyed() -> Any:
    """An HMAC-SHA256 object holding only the key, copied for each token (the key's
    padding is hashed once per process, not per request)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.config["SECRET_KEY"]
    found = app.extensions.get(_KEYS)
    if found is None or found[0] != secret:
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        found = (secret, hmac.new(raw, _PURPOSE, hashlib.sha256))
        app.extensions[_KEYS] = found
    return found[1].copy()


def _mac(link_token: str, issued: str) -> str:
    mac = _keyed()
    mac.update(link_token.encode() + b"\x00" + issued.encode())
    return urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def link_csrf_token(link_token: str) -> str:
    """A new CSRF token for the survey page of `link_token`."""
    issued = format(int(utcnow().timestamp()), "x")
    return f"{issued}.{_mac(link_token, issued)}"


def link_csrf_problem(link_token: str, token: str | None) -> str | None:
    """Why `token` is not a valid CSRF token for `link_token`, or None when it is."""
    if not token:
        return MISSING
    issued, dot, mac = token.partition(".")
    if not dot or not issued or len(issued) > 16:
        return INVALID
    try:
        moment = int(issued, 16)
    except ValueError:
        return INVALID
    # Constant time over the MAC: the comparison tells nothing about how much matched.
    if not hmac.compare_digest(mac.encode(), _mac(link_token, issued).encode()):
        return INVALID
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT")
    if limit:
        age = utcnow().timestamp() - moment
        if age > limit or age < -_SKEW_SECONDS:
            return EXPIRED
    return None


def csrf_enabled() -> bool:
    return bool(current_app.config.get("WTF_CSRF_ENABLED", True))


def check_link_csrf(link_token: str) -> None:
    """On a survey link's POST: accept the posted CSRF token or raise CSRFError
    (the 400 page, as Flask-WTF's check). Marks the request checked, as CSRFProtect
    does (`g.csrf_valid`)."""
    if not csrf_enabled():
        return
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    problem = link_csrf_problem(link_token, request.form.get(field))
    if problem is not None:
        raise CSRFError(problem)
    g.csrf_valid = True


class LinkCSRF(CSRF):
    """WTForms CSRF for the survey forms: the link's token instead of the session's.
    The link is the request's `token` view argument."""

    def generate_csrf_token(self, csrf_token_field: CSRFTokenField) -> str:
        return link_csrf_token(_view_link())

    def validate_csrf_token(self, form: Form, field: CSRFTokenField) -> None:
        if g.get("csrf_valid"):
            return  # checked by the view before the form was built
        problem = link_csrf_problem(_view_link(), field.data)
        if problem is not None:
            raise ValidationError(problem)


def _view_link() -> str:
    return str((request.view_args or {}).get("token", ""))
