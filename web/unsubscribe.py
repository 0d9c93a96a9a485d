"""One-click opt-out: `/u/<token>` from every survey e-mail.

GET shows what opting out means and a confirm button (mail scanners follow links,
so a GET must change nothing); POST opts the account out. The POST carries no
CSRF token: RFC 8058 one-click unsubscribe comes from the mail client, and the
token in the URL (an HMAC only the server can make) is what authorises it.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, render_template, request, url_for

from survey.delivery import OptOutTarget, load_optout, opt_out
from survey.scale import DEFAULT_LOCALE, normalise_locale

from .extensions import csrf

bp = Blueprint("unsubscribe", __name__)


def _language(target: OptOutTarget) -> str:
    locale = normalise_locale(request.args.get("lang")) or normalise_locale(target.locale)
    g.locale = locale or DEFAULT_LOCALE
    return str(g.locale)


@bp.errorhandler(404)
def wrong_link(_exc: Exception) -> tuple[str, int]:
    """An opt-out link that opens nothing: the survey's wrong-link page."""
    return render_template("survey/wrong_link.html"), 404


@bp.get("/u/<token>")
def confirm(token: str) -> str:
    target = load_optout(token, current_app.config["SECRET_KEY"])
    if target is None:
        abort(404)
    locale = _language(target)
    return render_template(
        "survey/unsubscribe.html",
        target=target,
        action=url_for(".unsubscribe", token=token, lang=locale),
        done=target.opted_out_at is not None,
    )


@bp.post("/u/<token>")
@csrf.exempt
def unsubscribe(token: str) -> str:
    target = opt_out(token, current_app.config["SECRET_KEY"])
    if target is None:
        abort(404)
    _language(target)
    return render_template("survey/unsubscribe.html", target=target, action=None, done=True)
