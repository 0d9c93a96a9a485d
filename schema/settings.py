"""What a program needs to know to read the figures: the site's own settings."""

from __future__ import annotations

import strawberry
from flask import current_app

from survey.formats import DEFAULT_CURRENCY


@strawberry.type
class SettingsQuery:
    @strawberry.field(
        description="The ISO 4217 currency of every amount of money in this API "
        "(annualRevenue, revenue, lostAnnualRevenue, expectedLostRevenue...): the "
        "CURRENCY setting, CNY unless set."
    )
    def currency(self) -> str:
        return str(current_app.config.get("CURRENCY") or DEFAULT_CURRENCY)
