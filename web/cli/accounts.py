"""`flask accounts ...` commands."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("accounts", help="accounts commands.")
