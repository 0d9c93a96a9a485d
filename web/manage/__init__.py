"""The manager console: a blueprint at /manage (see routes.py)."""

from . import follow_ups  # noqa: F401  (registers the follow-up pages on bp)
from .routes import bp

__all__ = ["bp"]
