"""Believable demo data for `flask demo` and screenshots: not business logic.

Outside this package, import from the package; inside it, from the module.
"""

from __future__ import annotations

from survey.demo.contacts import BUYING_CENTRE_CAMPAIGN
from survey.demo.dataset import CLOSED_CAMPAIGN, OPEN_CAMPAIGN, DemoReport, load_demo
from survey.demo.history import LAST_YEAR_CAMPAIGN
from survey.demo.manager import ensure_demo_manager
from survey.demo.schedules import DEMO_SCHEDULE

__all__ = [
    "BUYING_CENTRE_CAMPAIGN",
    "CLOSED_CAMPAIGN",
    "DEMO_SCHEDULE",
    "LAST_YEAR_CAMPAIGN",
    "OPEN_CAMPAIGN",
    "DemoReport",
    "ensure_demo_manager",
    "load_demo",
]
