"""A campaign's CSV downloads (its survey links, its responses), made to open cleanly
in Excel and unable to smuggle in formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response, abort, current_app, g
from flask_babel import gettext as _
from werkzeug.wrappers import Response as HttpResponse

from survey.analysis import campaign_responses
from survey.campaigns import campaign_links
from survey.errors import NotFoundError
from survey.scale import ContactRole

from .blueprint import bp
from .console import page_locale, reason_label

#: Excel reads a file as UTF-8 (and shows Chinese correctly) only with this mark.
BOM = "\ufeff"
# A cell starting with one of these is a formula to a spreadsheet (CSV injection):
# an account name like "=HYPERLINK(...)" must stay text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: Any) -> str:
    """The cell's text, with a leading ' when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV document: BOM, header, rows, CRLF line ends, every cell made safe."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow([formula_safe(h) for h in header])
    for row in rows:
        writer.writerow([formula_safe(cell) for cell in row])
    return buffer.getvalue()


def csv_download(filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Response:
    """An attachment response; `filename` is plain ASCII chosen by the app."""
    return Response(
        csv_text(header, rows).encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


# --- the downloads -------------------------------------------------------------------


@bp.get("/campaigns/<int:campaign_id>/links.csv")
def links_csv(campaign_id: int) -> HttpResponse:
    # Each link lets its holder answer as the customer: managers only.
    assert g.staff is not None
    if not g.staff.can_manage:
        abort(403)
    try:
        links = campaign_links(
            campaign_id,
            secret_key=current_app.config["SECRET_KEY"],
            base_url=current_app.config["BASE_URL"],
        )
    except NotFoundError:
        abort(404)
    header = [
        _("Account ID"),
        _("Account"),
        _("Contact"),
        _("Role"),
        _("E-mail"),
        _("Phone"),
        _("Language"),
        _("Status"),
        _("Survey link"),
    ]
    rows = [
        (
            link.external_id,
            link.account_name,
            link.contact_name,
            _role_label(link.contact_role, page_locale()),
            link.contact_email,
            link.contact_phone,
            link.locale,
            link.status,
            link.url,
        )
        for link in links
    ]
    return csv_download(f"campaign-{campaign_id}-links.csv", header, rows)


@bp.get("/campaigns/<int:campaign_id>/responses.csv")
def responses_csv(campaign_id: int) -> HttpResponse:
    try:
        export = campaign_responses(campaign_id)
    except NotFoundError:
        abort(404)
    locale = page_locale()
    header: list[str] = [
        _("Response"),
        _("Submitted (UTC)"),
        _("Account ID"),
        _("Account"),
        _("Tier"),
        _("Value type"),
        _("Region"),
        _("Account manager"),
        _("Respondent role"),
        _("Channel"),
        _("Language"),
        _("Entered by"),
        _("Inclusion probability (π)"),
    ]
    for _code, zh, en in export.aspects:
        label = en if locale == "en" else zh
        header += [
            _("%(aspect)s: score", aspect=label),
            _("%(aspect)s: reasons", aspect=label),
            _("%(aspect)s: why", aspect=label),
        ]
    header.append(_("Comment"))
    rows = []
    for r in export.responses:
        row: list[Any] = [
            r.response_id,
            r.submitted_at.strftime("%Y-%m-%d %H:%M"),
            r.account.external_id,
            r.account.name,
            r.account.tier,
            r.account.value_type,
            r.account.region,
            r.account.account_manager,
            _role_label(r.contact_role, locale),
            r.channel,
            r.locale,
            r.entered_by,
            "" if r.inclusion_probability is None else r.inclusion_probability,
        ]
        for code, _zh, _en in export.aspects:
            answer = r.answers.get(code)
            row += (
                [
                    answer.score,
                    "; ".join(reason_label(c, locale) for c in answer.reasons),
                    answer.reason_text,
                ]
                if answer
                else ["", "", ""]
            )
        row.append(r.comment)
        rows.append(row)
    return csv_download(f"campaign-{campaign_id}-responses.csv", header, rows)


def _role_label(code: str | None, locale: str) -> str:
    """The respondent's role in the page's language (an unknown code as it is)."""
    if not code:
        return ""
    try:
        return ContactRole(code).label(locale)
    except ValueError:
        return code
