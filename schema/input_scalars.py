"""BigInt, Date and DateTime as the API reads them, refusing bad input in its own words.

strawberry's own scalars answer a bad date with Python's ("Invalid isoformat string",
"month must be in 1..12") and echo the whole value. These keep the names, the
descriptions and what is accepted for a date and time, and say what is wrong in the
caller's language (`InputError`, answered by `schema.errors.ApiErrors`).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode, print_ast

from .errors import InputError, shown
from .scalars import BigInt

#: A date is written YYYY-MM-DD (ASCII digits), as the API documents.
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
DATE_TIME_EXAMPLE = "2026-12-31T18:00:00+08:00"


def not_a_date(value: object, node: ValueNode | None = None) -> InputError:
    echo = shown(value)
    return InputError(
        {
            "en": f"{echo} is not a date; use YYYY-MM-DD.",
            "zh": f"{echo} 不是日期，请使用 YYYY-MM-DD 格式。",
        },
        node,
    )


def no_such_day(value: str, node: ValueNode | None = None) -> InputError:
    echo = shown(value)
    return InputError(
        {
            "en": f"{echo} is not a date: there is no such day.",
            "zh": f"{echo} 不是有效日期：日历上没有这一天。",
        },
        node,
    )


def not_a_date_time(value: object, node: ValueNode | None = None) -> InputError:
    echo = shown(value)
    return InputError(
        {
            "en": f"{echo} is not a date and time; use ISO 8601, e.g. {DATE_TIME_EXAMPLE}.",
            "zh": f"{echo} 不是日期时间，请使用 ISO 8601 格式，例如 {DATE_TIME_EXAMPLE}。",
        },
        node,
    )


def parse_date(value: Any, node: ValueNode | None = None) -> date:
    """A date from YYYY-MM-DD text."""
    if not isinstance(value, str) or not _DATE_TEXT.fullmatch(value):
        raise not_a_date(value, node)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise no_such_day(value, node) from None


def parse_date_time(value: Any, node: ValueNode | None = None) -> datetime:
    """A date and time in ISO 8601 (Python's fromisoformat, as of 3.11)."""
    if not isinstance(value, str):
        raise not_a_date_time(value, node)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise not_a_date_time(value, node) from None


def _literal(parse: Any, refuse: Any) -> Any:
    def parse_literal(node: ValueNode, _variables: Any = None) -> Any:
        if isinstance(node, StringValueNode):
            return parse(node.value, node)
        raise refuse(print_ast(node), node)

    return parse_literal


def _isoformat(value: date) -> str:
    return value.isoformat()


#: BigInt holds a signed 64-bit whole number (what PostgreSQL's BIGINT stores).
BIG_INT_MIN, BIG_INT_MAX = -(2**63), 2**63 - 1
_WHOLE_NUMBER_TEXT = re.compile(r"-?[0-9]{1,19}", re.ASCII)


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        return int(value) if _WHOLE_NUMBER_TEXT.fullmatch(value) else None
    return None


def parse_big_int(value: Any) -> int:
    """A BigInt from a JSON variable: a whole number, also written as an integral
    float (250000.0, as Python and spreadsheets send it) or as digits in a string
    (as JavaScript sends numbers beyond 2**53). Refuses fractions, booleans, other
    text and values outside 64 bits, with the value shown briefly."""
    number = _whole_number(value)
    echo = shown(value)
    if number is None:
        raise InputError(
            {
                "en": f"BigInt cannot represent {echo}: give a whole number.",
                "zh": f"BigInt 无法表示 {echo}：请给出整数。",
            }
        )
    if not BIG_INT_MIN <= number <= BIG_INT_MAX:
        raise InputError(
            {
                "en": f"BigInt cannot represent {echo}: it is outside the 64-bit range "
                f"({BIG_INT_MIN} to {BIG_INT_MAX}).",
                "zh": f"BigInt 无法表示 {echo}：超出了 64 位整数的范围"
                f"（{BIG_INT_MIN} 至 {BIG_INT_MAX}）。",
            }
        )
    return number


def _parse_big_int_literal(node: ValueNode, _variables: Any = None) -> int:
    if isinstance(node, IntValueNode):
        return parse_big_int(int(node.value))
    if isinstance(node, FloatValueNode):
        return parse_big_int(float(node.value))
    if isinstance(node, StringValueNode):
        return parse_big_int(node.value)
    raise InputError({"en": "BigInt must be a whole number.", "zh": "BigInt 必须是整数。"}, node)


SCALARS = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A whole number beyond GraphQL's 32-bit Int (revenue).",
        serialize=int,
        parse_value=parse_big_int,
        parse_literal=_parse_big_int_literal,
    ),
    date: strawberry.scalar(
        name="Date",
        description="Date (isoformat)",
        serialize=_isoformat,
        parse_value=parse_date,
        parse_literal=_literal(parse_date, not_a_date),
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description="Date with time (isoformat)",
        serialize=_isoformat,
        parse_value=parse_date_time,
        parse_literal=_literal(parse_date_time, not_a_date_time),
    ),
}
