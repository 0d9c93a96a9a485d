"""`flask staff ...` commands."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("staff", help="staff commands.")
