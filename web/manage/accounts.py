"""The console's accounts pages: the list (filters, search, sort, pages) and one
account (profile, contacts, team, satisfaction per aspect over its campaigns, open
follow-ups, defection, and its timeline 50 events at a time). Both are read-only.

E-mail addresses and phone numbers of an account's contacts are shown to managers
and admins only: a viewer's page does not carry them at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField, SubmitField
from wtforms.validators import Length, Optional

from survey.analysis import (
    ACCOUNT_PAGE_SIZE,
    SORT_REVENUE,
    SORT_SCORE,
    account_aspect_history,
    account_list,
    account_timeline,
)
from survey.errors import InvalidInputError, NotFoundError
from survey.follow_ups import is_overdue, unresolved_follow_ups_of_account
from survey.models import Contact
from survey.registry import (
    MAX_SEARCH_LENGTH,
    AccountFilter,
    account_filter_choices,
    get_account_details,
)
from survey.scale import (
    TIER_LABELS,
    TIERS,
    ContactRole,
    HealthBand,
    RelationshipStage,
    TeamRole,
    ValueType,
)
from survey.scoring.value_reads import account_value

from .account_charts import aspect_history_chart, aspect_order
from .account_health import health_section
from .blueprint import bp
from .console import page_locale

LANGUAGES: dict[str, str] = {"zh": "中文", "en": "English"}
#: Timeline events on one page of the account page; "Older events" shows the next.
TIMELINE_SHOWN = 50
SORT_LABELS: dict[str, Any] = {
    SORT_REVENUE: _l("Annual revenue, largest first"),
    SORT_SCORE: _l("Latest overall score, worst first"),
}


class AccountFilterForm(FlaskForm):
    """The list's filter (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    search = SearchField(
        _l("Name or ID"),
        validators=[
            Optional(),
            Length(
                max=MAX_SEARCH_LENGTH,
                message=_l("At most %(max)d characters, please.", max=MAX_SEARCH_LENGTH),
            ),
        ],
    )
    tier = SelectField(_l("Tier"), default="")
    region = SelectField(_l("Region"), default="")
    manager = SelectField(_l("Account manager"), default="")
    stage = SelectField(_l("Relationship stage"), default="")
    defected = SelectField(_l("Lost or active"), default="")
    sort = SelectField(_l("Sort by"), default=SORT_REVENUE)
    submit = SubmitField(_l("Show"))


def _valid(field: Any) -> str | None:
    return field.data or None if not field.errors else None


@bp.get("/accounts")
def accounts() -> str | tuple[str, int]:
    locale = page_locale()
    form = AccountFilterForm(request.args)
    choices = account_filter_choices()
    every = [("", _("All"))]
    form.tier.choices = every + [(t, _tier_label(t, locale)) for t in TIERS]
    form.region.choices = every + [(r, r) for r in choices.regions]
    form.manager.choices = every + [(m, m) for m in choices.account_managers]
    form.stage.choices = every + [(s.value, s.label(locale)) for s in RelationshipStage]
    form.defected.choices = [*every, ("no", _("Active")), ("yes", _("Lost"))]
    form.sort.choices = list(SORT_LABELS.items())
    valid = form.validate() if request.args else True
    defected = _valid(form.defected)
    account_filter = AccountFilter(
        tier=_valid(form.tier),
        region=_valid(form.region),
        account_manager=_valid(form.manager),
        relationship_stage=_valid(form.stage),
        defected=None if defected is None else defected == "yes",
        search=_valid(form.search),
    )
    page_number = request.args.get("page", default=1, type=int) or 1
    page = account_list(
        account_filter,
        sort=_valid(form.sort) or SORT_REVENUE,
        page=page_number,
        page_size=ACCOUNT_PAGE_SIZE,
    )
    query = {k: v for k, v in request.args.items() if k not in ("page", "lang", "submit")}
    html = render_template(
        "manage/accounts.html",
        form=form,
        page=page,
        query=query,
        filtered=any(v for k, v in query.items() if k != "sort"),
        stage_label=lambda code: _stage_label(code, locale),
        health_band_label=lambda code: HealthBand(code).label(locale),
    )
    return (html, 422) if not valid else html


@dataclass(frozen=True, slots=True)
class ContactView:
    """A contact as the page shows it; e-mail and phone None unless the reader may
    see them."""

    name: str
    role: str
    language: str
    is_primary: bool
    opted_out_at: datetime | None
    email: str | None
    phone: str | None


def _contact_view(contact: Contact, locale: str, *, personal: bool) -> ContactView:
    return ContactView(
        name=contact.name,
        role=_role_label(ContactRole, contact.role, locale),
        language=LANGUAGES.get(contact.locale, contact.locale),
        is_primary=contact.is_primary,
        opted_out_at=contact.opted_out_at,
        email=contact.email if personal else None,
        phone=contact.phone if personal else None,
    )


@bp.get("/accounts/<path:external_id>")
def account(external_id: str) -> str | tuple[str, int]:
    locale = page_locale()
    try:
        details = get_account_details(external_id)
    except NotFoundError:
        return render_template("manage/account_not_found.html", external_id=external_id), 404
    personal = bool(g.staff and g.staff.can_manage)
    history = account_aspect_history(details.id, locale=locale)
    cases = unresolved_follow_ups_of_account(details.id)
    after = request.args.get("after") or None
    try:
        timeline = account_timeline(details.id, first=TIMELINE_SHOWN, after=after, locale=locale)
    except InvalidInputError:  # a cursor cut or made up: start from the newest
        after = None
        timeline = account_timeline(details.id, first=TIMELINE_SHOWN, locale=locale)
    team = [
        (m.name, _role_label(TeamRole, m.role, locale), m.email if personal else None)
        for m in details.team
    ]
    return render_template(
        "manage/account.html",
        account=details,
        value_type=_role_label(ValueType, details.value_type, locale),
        stage=_stage_label(details.relationship_stage, locale),
        contacts=[_contact_view(c, locale, personal=personal) for c in details.contacts],
        personal=personal,
        team=team,
        history=history,
        chart=aspect_history_chart(history),
        aspects=aspect_order(history),
        cases=[(c, is_overdue(c.status, c.due_at)) for c in cases],
        timeline=timeline,
        older=after is not None,
        health=health_section(details.id, locale),
        value=account_value(details.id),
    )


def _tier_label(code: str, locale: str) -> str:
    return TIER_LABELS[code][1 if locale == "en" else 0] if code in TIER_LABELS else code


def _stage_label(code: str, locale: str) -> str:
    return _role_label(RelationshipStage, code, locale)


def _role_label(vocabulary: Any, code: str, locale: str) -> str:
    try:
        return str(vocabulary(code).label(locale))
    except ValueError:
        return code
