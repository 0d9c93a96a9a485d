"""Who is asking, on the customer's pages: the supplier's name, logo and contact.

The ORG_* settings (web.config) name the supplier; `survey.delivery.Organisation`
holds the words the pages and the e-mails share. The logo (ORG_LOGO, a file path) is
read once and served from memory at the stable URL /brand/logo: the pages link it
with `?v=<digest>`, so a changed file is a new URL and browsers may keep the old one
for a day. A missing, unreadable or unsupported file stops the app at start-up
(web.config.check_config) with a message that says which and why.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request, url_for
from flask_babel import get_locale

from survey.delivery import Organisation

bp = Blueprint("branding", __name__)

#: The image types a logo may be, by file suffix.
LOGO_TYPES: dict[str, str] = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
#: A logo is a small picture; anything larger is a mistake (a photo, the wrong file).
MAX_LOGO_BYTES = 512 * 1024
#: Browsers keep the logo this long; a new file is a new ?v= anyway.
LOGO_MAX_AGE = 86_400
#: An SVG opened on its own must not run script or load anything.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


class LogoError(ValueError):
    """ORG_LOGO names a file that cannot be served as a logo."""


@dataclass(frozen=True, slots=True)
class Logo:
    data: bytes
    mimetype: str
    version: str


def read_logo(path: str) -> Logo:
    """The logo file's bytes, type and digest; LogoError says what is wrong."""
    file = Path(path).expanduser()
    mimetype = LOGO_TYPES.get(file.suffix.lower())
    if mimetype is None:
        raise LogoError(f"ORG_LOGO={path!r}: a logo must be one of {', '.join(sorted(LOGO_TYPES))}")
    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise LogoError(f"ORG_LOGO={path!r}: no such file") from exc
    except OSError as exc:
        raise LogoError(f"ORG_LOGO={path!r}: cannot be read ({exc.strerror or exc})") from exc
    if not data:
        raise LogoError(f"ORG_LOGO={path!r}: the file is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoError(
            f"ORG_LOGO={path!r}: {len(data):,} bytes; a logo may be at most {MAX_LOGO_BYTES:,}"
        )
    return Logo(data, mimetype, hashlib.sha256(data).hexdigest()[:12])


def current_logo(app: Flask | None = None) -> Logo | None:
    """The configured logo, read on first use and kept per path; None without one."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    path = str(app.config.get("ORG_LOGO") or "")
    if not path:
        return None
    kept: dict[str, Logo] = app.extensions.setdefault("org_logo", {})
    logo = kept.get(path)
    if logo is None:
        logo = kept[path] = read_logo(path)
    return logo


_SETTINGS = ("ORG_NAME_ZH", "ORG_NAME_EN", "ORG_CONTACT")


def organisation() -> Organisation:
    """The supplier as the settings name it (checked at start-up), made again only
    when one of the settings changed (every survey page asks)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    values = tuple(app.config.get(name) for name in _SETTINGS)
    kept = app.extensions.get("organisation")
    if kept is None or kept[0] != values:
        kept = app.extensions["organisation"] = (values, Organisation.from_config(app.config))
    return kept[1]  # type: ignore[no-any-return]


def branding_key() -> tuple[Organisation, str | None]:
    """Everything branding puts on a page, for caches of rendered pages."""
    logo = current_logo()
    return organisation(), logo.version if logo else None


def template_values() -> dict[str, Any]:
    """`org_name`, `org_contact`, `org_contact_href`, `org_logo_url` for templates."""
    org = organisation()
    logo = current_logo()
    return {
        "org_name": org.name(str(get_locale() or "zh")),
        "org_contact": org.contact,
        "org_contact_href": org.contact_href,
        "org_logo_url": url_for("branding.logo", v=logo.version) if logo else None,
    }


@bp.get("/brand/logo")
def logo() -> Response:
    found = current_logo()
    if found is None:
        abort(404)
    # A browser that has this version already gets 304 and no body.
    unchanged = found.version in request.if_none_match
    response = Response(b"" if unchanged else found.data, mimetype=found.mimetype)
    if unchanged:
        response.status_code = 304
    response.set_etag(found.version)
    response.cache_control.public = True
    response.cache_control.max_age = LOGO_MAX_AGE
    if found.mimetype == "image/svg+xml":
        response.headers["Content-Security-Policy"] = SVG_POLICY
    return response


def init_branding(app: Flask) -> None:
    """Serve the logo and give every template the supplier's name and contact."""
    app.register_blueprint(bp)
    current_logo(app)  # read now: a file that vanished since the check fails here
    app.context_processor(template_values)
