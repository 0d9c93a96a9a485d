"""The console's page of one response: who answered (account, campaign, the
respondent's role), when and how, every answer with its score and reasons, and the
comment. Read-only; every signed-in staff member may see it. Comment themes on the
results page link their examples here."""

from __future__ import annotations

import contextlib

from flask import render_template

from survey.answers import get_response_details
from survey.errors import NotFoundError
from survey.scale import Channel, ContactRole

from .blueprint import bp
from .console import page_locale


def _label(vocabulary: type[Channel] | type[ContactRole], code: str | None, locale: str) -> str:
    if code is None:
        return "–"
    try:
        return str(vocabulary(code).label(locale))
    except ValueError:
        return code


@bp.get("/responses/<response_id>")
def response(response_id: str) -> str | tuple[str, int]:
    locale = page_locale()
    details = None
    if response_id.isascii() and response_id.isdigit():
        with contextlib.suppress(NotFoundError):
            details = get_response_details(int(response_id))
    if details is None:
        return render_template("manage/response_not_found.html", response_id=response_id), 404
    return render_template(
        "manage/response.html",
        response=details,
        locale=locale,
        channel=_label(Channel, details.channel, locale),
        role=_label(ContactRole, details.contact_role, locale),
    )
