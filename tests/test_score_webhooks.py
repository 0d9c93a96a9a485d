"""Scores tell the other systems: applying a tier suggestion emits account.tier_changed
and a health recompute emits account.health_changed for each account whose band moved,
in the transaction that makes the change, and nothing when nobody subscribes."""

from __future__ import annotations

import json

from sqlalchemy import select

from survey.db import db
from survey.delivery.webhook_admin import create_endpoint
from survey.events import ACCOUNT_HEALTH_CHANGED, ACCOUNT_TIER_CHANGED
from survey.models import WebhookEvent
from survey.scoring import change_model
from survey.scoring.health import recompute_health
from survey.scoring.tiers import apply_tier_suggestions
from survey.scoring.value import recompute_value_scores

from .conftest import TEST_SECRET
from .health_data import build_health_data
from .test_value_scores import _load


def _subscribe(*events: str) -> None:
    create_endpoint(
        "http://127.0.0.1:9/hook", list(events), secret_key=TEST_SECRET, allow_http_loopback=True
    )
    db.session.commit()


def _events(kind: str) -> list[dict]:
    rows = db.session.scalars(select(WebhookEvent).where(WebhookEvent.kind == kind)).all()
    return [json.loads(r.body)["data"] for r in rows]


def test_applying_a_tier_suggestion_emits_tier_changed(app):
    with app.app_context():
        ids = _load()
        change_model("pyramid", actor="admin", tiering=True)
        db.session.commit()
        recompute_value_scores()
        _subscribe(ACCOUNT_TIER_CHANGED)
        apply_tier_suggestions([ids["A5"]], actor="boss")
        (event,) = _events(ACCOUNT_TIER_CHANGED)
        data = event
        assert (data["old_tier"], data["new_tier"], data["source"]) == ("C", "A", "tier_suggestion")
        assert data["account"]["external_id"] == "A5"


def test_a_health_recompute_emits_one_event_per_band_that_moved(app, now):
    with app.app_context():
        build_health_data()
        recompute_health()  # nobody subscribes yet: no event
        assert _events(ACCOUNT_HEALTH_CHANGED) == []
        _subscribe(ACCOUNT_HEALTH_CHANGED)
        recompute_health()  # same bands: still none
        assert _events(ACCOUNT_HEALTH_CHANGED) == []
        # Raise the bar: every "watch" account (scores 40-70) becomes "poor".
        change_model("health", actor="admin", band_limits={"good": 90, "watch": 80})
        db.session.commit()
        recompute_health()
        moved = _events(ACCOUNT_HEALTH_CHANGED)
        assert len(moved) == 3  # the three scored accounts; the fourth has no score
        assert {(m["old_band"], m["new_band"]) for m in moved} == {("watch", "poor")}
        assert {m["model_version"] for m in moved} == {2}
