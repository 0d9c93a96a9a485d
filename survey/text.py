"""Free text that customers and staff type: cleaned the same way everywhere."""

from __future__ import annotations

from survey.errors import InvalidInputError

#: Line breaks and tabs are text; every other control character is refused.
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def clean_text(value: str | None, *, limit: int, field: str) -> str | None:
    """Strip surrounding white space and write line breaks as LF; empty becomes None.

    Raises InvalidInputError when the text is longer than `limit` characters or
    holds control characters that cannot be stored.
    """
    if value is None:
        return None
    # Browsers send CRLF but count a line break as one character towards maxlength.
    text = value.replace("\r\n", "\n").strip()
    if not text:
        return None
    if len(text) > limit:
        raise InvalidInputError(f"{field}: at most {limit} characters", field=field)
    if has_control_characters(text):
        raise InvalidInputError(f"{field}: contains control characters", field=field)
    return text


def has_control_characters(text: str) -> bool:
    """True when `text` holds characters nobody types (NUL, other C0/C1 controls)."""
    return any((ord(c) < 32 or 127 <= ord(c) < 160) and c not in _ALLOWED_CONTROLS for c in text)
