"""Scalars, enums and ids shared by every area of the API.

The enums mirror survey.scale and survey.analysis, so their names and values have
one source of truth.
"""

from __future__ import annotations

from enum import Enum
from typing import NewType

import strawberry

from survey import analysis, scale
from survey import models as m

from .errors import bad_input, shown

#: Revenue in the company's currency units: GraphQL's Int stops at 2^31 - 1.
BigInt = NewType("BigInt", int)

Satisfaction = strawberry.enum(
    Enum("Satisfaction", [(s.name, s.value) for s in scale.SCALE]),  # type: ignore[misc]
    description="The five-point scale: 5 very satisfied ... 1 very dissatisfied.",
)
Dimension = strawberry.enum(
    Enum("Dimension", [(d.name, d.value) for d in analysis.Dimension]),  # type: ignore[misc]
    description="What answers, drill-down nodes or defections are grouped by. CONTACT_ROLE "
    "(the respondent's role; answers without a contact under other) groups answers only.",
)
ReasonCode = strawberry.enum(
    Enum("ReasonCode", [(r.name, r.value) for r in scale.ReasonCode]),  # type: ignore[misc]
    description="Why an account is dissatisfied or left: one vocabulary for both.",
)


Channel = strawberry.enum(
    Enum("Channel", [(c.name, c.value) for c in scale.Channel]),  # type: ignore[misc]
    description="How a response was collected: WEB (the contact) or PHONE (staff).",
)


@strawberry.enum(description="Who gave a defection reason.")
class ReasonSource(Enum):
    STAFF = m.SOURCE_STAFF
    EXIT_SURVEY = m.SOURCE_EXIT_SURVEY


def reason_enum(code: str) -> Enum:
    """A stored reason code as the enum; a code outside the vocabulary reads as OTHER."""
    try:
        return ReasonCode(code)  # type: ignore[no-any-return]
    except ValueError:
        return ReasonCode.OTHER  # type: ignore[attr-defined,no-any-return]


def domain_dimension(value: Enum) -> analysis.Dimension:
    return analysis.Dimension(value.value)


def parse_id(value: strawberry.ID | str, field: str = "id") -> int:
    try:
        parsed = int(str(value))
    except ValueError:
        raise bad_input(f"{shown(value)} is not an id.", field) from None
    if not 0 < parsed < 2**63:  # ids are positive BIGINTs at most
        raise bad_input(f"{shown(value)} is not an id.", field)
    return parsed
