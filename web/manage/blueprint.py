"""The console's blueprint, defined once: every page module registers on it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("manage", __name__, url_prefix="/manage")
