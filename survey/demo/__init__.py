"""Believable demo data for `flask demo` and screenshots: not business logic."""
