"""The console's webhooks page (admins only): the endpoints, adding one (its secret shown
once, on the answer to the form), deleting one, and the delivery log with "send again"
for a failed delivery. Plain forms, no JavaScript."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from survey.delivery import (
    NewEndpoint,
    create_endpoint,
    delete_endpoint,
    list_deliveries,
    list_endpoints,
    redeliver,
)
from survey.errors import DomainError
from survey.events import EVENT_KINDS
from survey.models import ROLE_ADMIN

from .blueprint import bp
from .campaigns import ActionForm

STATUS_LABELS: dict[str, Any] = {
    "queued": _l("Waiting"),
    "sending": _l("Sending"),
    "delivered": _l("Delivered"),
    "failed": _l("Failed"),
}
PAGE_SIZE = 50


class WebhookForm(FlaskForm):
    url = StringField(
        _l("URL"),
        description=_l("https:// (http:// to this machine only outside production)."),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(message=_l("Please give the URL.")),
            Length(max=500, message=_l("At most %(max)d characters, please.", max=500)),
        ],
    )
    description = StringField(
        _l("What it is for"),
        validators=[
            Optional(),
            Length(max=200, message=_l("At most %(max)d characters, please.", max=200)),
        ],
    )
    events = SelectMultipleField(
        _l("Events"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(message=_l("Choose at least one event."))],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events.choices = [(k, k) for k in EVENT_KINDS]


def _admin_only() -> tuple[str, int] | None:
    if g.staff is None or g.staff.role != ROLE_ADMIN:
        return render_template("manage/webhooks.html", admin_only=True), 403
    return None


def _page(form: WebhookForm, created: NewEndpoint | None = None, status: int = 200) -> Any:
    endpoint = request.args.get("webhook", type=int)
    failed = request.args.get("failed") == "1"
    before = request.args.get("before", type=int)
    page = list_deliveries(
        endpoint_id=endpoint, failed_only=failed, first=PAGE_SIZE, before_id=before
    )
    older = (
        url_for(
            "manage.webhooks",
            webhook=endpoint,
            failed="1" if failed else None,
            before=page.deliveries[-1].id,
            _anchor="deliveries",
        )
        if page.has_next
        else None
    )
    return (
        render_template(
            "manage/webhooks.html",
            endpoints=list_endpoints(),
            deliveries=page.deliveries,
            older=older,
            chosen_endpoint=endpoint,
            failed_only=failed,
            form=form,
            action=ActionForm(),
            created=created,
            status_labels=STATUS_LABELS,
        ),
        status,
    )


@bp.get("/webhooks")
def webhooks() -> Any:
    return _admin_only() or _page(WebhookForm())


@bp.post("/webhooks")
def add_webhook() -> Any:
    refused = _admin_only()
    if refused:
        return refused
    form = WebhookForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    config = current_app.config
    try:
        created = create_endpoint(
            form.url.data or "",
            form.events.data or [],
            secret_key=str(config["SECRET_KEY"]),
            allow_http_loopback=config.get("KEYPULSE_ENV") != "production",
            description=form.description.data,
            actor=g.staff.name,
        )
    except DomainError as exc:
        form.form_errors.append(exc.message)
        return _page(form, status=400)
    # The secret is on this answer only (never in a redirect, the session or the log).
    return _page(WebhookForm(formdata=None), created=created, status=201)


@bp.post("/webhooks/<int:endpoint_id>/delete")
def remove_webhook(endpoint_id: int) -> Any:
    refused = _admin_only()
    if refused:
        return refused
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        delete_endpoint(endpoint_id, actor=g.staff.name)
    except DomainError:
        abort(404)
    flash(_("Webhook #%(id)d deleted.", id=endpoint_id), "success")
    return redirect(url_for("manage.webhooks"), 303)


@bp.post("/webhooks/deliveries/<int:delivery_id>/redeliver")
def redeliver_webhook(delivery_id: int) -> Any:
    refused = _admin_only()
    if refused:
        return refused
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        redeliver(delivery_id, actor=g.staff.name)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("manage.webhooks", _anchor="deliveries"), 303)
    flash(_("Delivery #%(id)d will be sent again.", id=delivery_id), "success")
    return redirect(url_for("manage.webhooks", _anchor="deliveries"), 303)


__all__ = ["WebhookForm"]
