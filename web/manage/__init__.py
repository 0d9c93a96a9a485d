"""The manager console: a blueprint at /manage (defined in blueprint.py), one module
per page family registering on it, and what they share in console.py."""

# Importing each page module registers its pages on bp.
from . import (  # noqa: F401
    accounts,
    auth,
    campaigns,
    console,
    drivers,
    exports,
    follow_ups,
    priorities,
    responses,
    results,
    schedules,
    settings,
    value,
    webhooks,
)
from .blueprint import bp

__all__ = ["bp"]
