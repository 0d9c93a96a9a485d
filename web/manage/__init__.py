"""The manager console: a blueprint at /manage (see routes.py)."""

from .routes import bp

__all__ = ["bp"]
