"""The panel design of a campaign: census tiers, the coverage goal, open cases, and
each invitation's inclusion probability and selection."""

from __future__ import annotations

import pytest

from survey.campaigns import CampaignRequest, plan_campaign
from survey.db import db
from survey.errors import InvalidInputError

from .factories import make_account


def test_request_validates_census_tiers_and_coverage_goal(app):
    with app.app_context():
        make_account("KA001")
        db.session.commit()
        with pytest.raises(InvalidInputError) as bad_tier:
            plan_campaign(CampaignRequest(name="Q", size=1, census_tiers=("A", "Z")))
        assert bad_tier.value.field == "census_tiers"
        assert "'Z'" in bad_tier.value.message
        for days in (0, 3651):
            with pytest.raises(InvalidInputError) as bad_days:
                plan_campaign(CampaignRequest(name="Q", size=1, cover_within_days=days))
            assert bad_days.value.field == "cover_within_days"
        plan = plan_campaign(
            CampaignRequest(name="Q", size=1, census_tiers=("a",), cover_within_days=3650)
        )
        assert plan.sample_size >= 1
