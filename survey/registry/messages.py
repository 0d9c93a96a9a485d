"""How registry messages show what a user gave: quoted and shortened, and the
choices they could have given."""

from __future__ import annotations

from collections.abc import Sequence


def quote_input(value: str, limit: int = 40) -> str:
    """A value quoted for a message, shortened so one bad cell can't flood it."""
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return f"'{shown}'"


def join_choices(options: Sequence[str]) -> str:
    """ "A, B or C"."""
    return ", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0]


__all__ = ["join_choices", "quote_input"]
