"""`flask campaign ...` commands."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("campaign", help="campaign commands.")
