"""The console's webhooks page: admins only; the secret shown once on the answer to the
form; delete; the delivery log with "send again" for a failed delivery; zh and en."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from survey.db import db
from survey.events import RESPONSE_SUBMITTED, emit
from survey.models import WebhookDelivery, WebhookEndpoint

from .conftest import csrf_token_from
from .test_manage import add_member, manager, sign_in  # noqa: F401 (fixtures)


def _admin(app, client):
    sign_in(client, add_member(app, "Ada", "admin"))
    return client


def test_managers_are_refused_and_see_no_link(app, manager):  # noqa: F811
    page = manager.get("/manage/webhooks", headers={"Accept-Language": "en"})
    assert page.status_code == 403
    assert "Only administrators can see webhooks" in page.get_data(as_text=True)
    campaigns = manager.get("/manage/campaigns").get_data(as_text=True)
    assert "/manage/webhooks" not in campaigns
    refused = manager.post("/manage/webhooks", data={"url": "https://x.example.com"})
    assert refused.status_code in (400, 403)
    with app.app_context():
        assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_add_shows_the_secret_once_then_log_send_again_and_delete(app, client):
    _admin(app, client)
    page = client.get("/manage/webhooks?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "No webhook yet." in html
    assert 'href="/manage/webhooks"' in html  # in the admin's navigation
    form = {
        "csrf_token": csrf_token_from(html),
        "url": "https://crm.example.com/hooks",
        "description": "CRM",
        "events": [RESPONSE_SUBMITTED, "follow_up.escalated"],
    }
    bad = client.post("/manage/webhooks", data={**form, "url": "http://crm.example.com/"})
    assert bad.status_code == 400 and "https://" in bad.get_data(as_text=True)
    none = client.post("/manage/webhooks", data={**form, "events": []})
    assert none.status_code == 400 and "Choose at least one event." in none.get_data(as_text=True)

    added = client.post("/manage/webhooks", data=form)
    assert added.status_code == 201
    assert added.headers["Cache-Control"] == "no-store"
    secret = re.search(r'value="(whsec_[A-Za-z0-9_-]{43})"', added.get_data(as_text=True))
    assert secret is not None
    again = client.get("/manage/webhooks").get_data(as_text=True)
    assert secret.group(1) not in again and "https://crm.example.com/hooks" in again
    assert "response.submitted, follow_up.escalated" in again

    with app.app_context():
        emit(RESPONSE_SUBMITTED, {"n": 1}, account_id=1)
        db.session.execute(
            update(WebhookDelivery).values(status="failed", attempts=3, last_error="HTTP 500")
        )
        db.session.commit()
        delivery_id = db.session.scalars(select(WebhookDelivery.id)).one()
    log = client.get("/manage/webhooks?failed=1&lang=zh").get_data(as_text=True)
    assert "重新发送" in log and "HTTP 500" in log and "投递记录" in log
    sent = client.post(
        f"/manage/webhooks/deliveries/{delivery_id}/redeliver",
        data={"csrf_token": csrf_token_from(log)},
    )
    assert sent.status_code == 303
    with app.app_context():
        assert db.session.get(WebhookDelivery, delivery_id).status == "queued"
    gone = client.post("/manage/webhooks/1/delete", data={"csrf_token": csrf_token_from(log)})
    assert gone.status_code == 303
    assert "No webhook yet." in client.get("/manage/webhooks?lang=en").get_data(as_text=True)
