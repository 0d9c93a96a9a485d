"""The customer-facing survey pages."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("survey", __name__)


@bp.get("/")
def home() -> str:
    return render_template("home.html")
