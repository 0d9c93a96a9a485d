"""Who is asking: the supplier's name, in zh and en, and whom a customer contacts.

Every page a customer opens and every e-mail they receive names the company that
sends the survey (ORG_NAME_ZH, ORG_NAME_EN; either one alone serves both languages)
and its contact (ORG_CONTACT: an e-mail address or a phone number). Without them the
wording falls back to a neutral "we" / "our company", never the software's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from survey.scale import normalise_locale

CONTACT_EMAIL = "email"
CONTACT_PHONE = "phone"

_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
#: A phone number as people write it: digits, spaces, dashes, dots, brackets, a
#: leading + and an extension ("ext. 12"); at least five digits.
_PHONE = re.compile(r"^\+?[0-9 ()\-./]+((ext\.?|x|转)\s*[0-9]+)?$", re.IGNORECASE)
_EXTENSION = re.compile(r"(?:ext\.?|x|转)", re.IGNORECASE)
MAX_NAME_LENGTH = 120


class OrganisationError(ValueError):
    """A branding setting that cannot be used as it is."""


@dataclass(frozen=True, slots=True)
class Organisation:
    """The supplier a customer hears from (all fields optional)."""

    name_zh: str = ""
    name_en: str = ""
    contact: str = ""

    def __post_init__(self) -> None:
        for setting, name in (("ORG_NAME_ZH", self.name_zh), ("ORG_NAME_EN", self.name_en)):
            if len(name) > MAX_NAME_LENGTH:
                raise OrganisationError(
                    f"{setting} is {len(name)} characters long; at most {MAX_NAME_LENGTH}"
                )
            if any(ch in name for ch in "\r\n"):
                raise OrganisationError(f"{setting} must be one line")
        if self.contact:
            contact_kind(self.contact)  # raises for what is neither

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Organisation:
        """Read ORG_NAME_ZH, ORG_NAME_EN and ORG_CONTACT (stripped; empty = unset)."""
        return cls(
            name_zh=str(config.get("ORG_NAME_ZH") or "").strip(),
            name_en=str(config.get("ORG_NAME_EN") or "").strip(),
            contact=str(config.get("ORG_CONTACT") or "").strip(),
        )

    def name(self, locale: str | None) -> str:
        """The company's name in `locale`, else in the other language, else ""."""
        if normalise_locale(locale) == "en":
            return self.name_en or self.name_zh
        return self.name_zh or self.name_en

    @property
    def contact_kind(self) -> str | None:
        """CONTACT_EMAIL, CONTACT_PHONE, or None without a contact."""
        return contact_kind(self.contact) if self.contact else None

    @property
    def contact_href(self) -> str | None:
        """A mailto: link for an e-mail address, a tel: link for a phone number."""
        kind = self.contact_kind
        if kind == CONTACT_EMAIL:
            return f"mailto:{self.contact}"
        if kind == CONTACT_PHONE:
            number = _EXTENSION.split(self.contact, maxsplit=1)[0]
            digits = re.sub(r"[^0-9]", "", number)
            return f"tel:{'+' if number.startswith('+') else ''}{digits}"
        return None


def contact_kind(contact: str) -> str:
    """Whether `contact` is an e-mail address or a phone number; raise otherwise."""
    if "@" in contact:
        if _EMAIL.match(contact):
            return CONTACT_EMAIL
        raise OrganisationError(f"ORG_CONTACT={contact!r} is not a valid e-mail address")
    if _PHONE.match(contact) and sum(ch.isdigit() for ch in contact) >= 5:
        return CONTACT_PHONE
    raise OrganisationError(
        f"ORG_CONTACT={contact!r} is neither an e-mail address nor a phone number "
        "(e.g. surveys@example.com or +86 21 5555 0100)"
    )


__all__ = [
    "CONTACT_EMAIL",
    "CONTACT_PHONE",
    "Organisation",
    "OrganisationError",
    "contact_kind",
]
