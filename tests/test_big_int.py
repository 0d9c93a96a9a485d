"""BigInt takes whole numbers however a JSON client writes them, within 64 bits."""

from __future__ import annotations

import math

import pytest
from graphql import GraphQLError
from hypothesis import given
from hypothesis import strategies as st

from schema.errors import MAX_ECHO
from schema.input_scalars import BIG_INT_MAX, BIG_INT_MIN, parse_big_int

from .graphql_helpers import gql
from .test_graphql_mutations import RECORD, _defection_input, setup  # noqa: F401

in_range = st.integers(BIG_INT_MIN, BIG_INT_MAX)
outside = st.one_of(st.integers(max_value=BIG_INT_MIN - 1), st.integers(min_value=BIG_INT_MAX + 1))


@given(in_range)
def test_whole_numbers_in_64_bits_pass_as_they_are(number):
    assert parse_big_int(number) == number
    assert parse_big_int(str(number)) == number


@given(st.integers(-(2**53), 2**53))
def test_integral_floats_are_whole_numbers(number):
    assert parse_big_int(float(number)) == number


@given(outside)
def test_outside_64_bits_is_refused_with_the_range(number):
    with pytest.raises(GraphQLError, match="outside the 64-bit range"):
        parse_big_int(number)


@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not f.is_integer()))
def test_fractions_nan_and_infinity_are_refused(value):
    with pytest.raises(GraphQLError, match="give a whole number"):
        parse_big_int(value)


@given(st.text().filter(lambda t: not t.strip("-").isascii() or not t.lstrip("-").isdigit()))
def test_text_that_is_not_digits_is_refused(value):
    with pytest.raises(GraphQLError, match="give a whole number"):
        parse_big_int(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (250000.5, "give a whole number"),
        (True, "give a whole number"),
        (False, "give a whole number"),
        ("25万", "give a whole number"),
        ("١٢٣", "give a whole number"),  # digits, but not ASCII ones
        (None, "give a whole number"),
        ([1], "give a whole number"),
        (2.0**63, "outside the 64-bit range"),
        (-(2.0**64), "outside the 64-bit range"),
        ("9" * 20, "give a whole number"),
    ],
)
def test_refused(value, message):
    with pytest.raises(GraphQLError, match=message):
        parse_big_int(value)


def test_boundaries_exactly():
    assert parse_big_int(BIG_INT_MAX) == BIG_INT_MAX
    assert parse_big_int(BIG_INT_MIN) == BIG_INT_MIN
    assert parse_big_int(float(2**62)) == 2**62
    assert math.isfinite(float(BIG_INT_MAX))


def test_a_long_bad_value_is_not_echoed_whole():
    with pytest.raises(GraphQLError) as caught:
        parse_big_int("x" * 250_000)
    assert "'" + "x" * MAX_ECHO + "…'" in caught.value.message
    assert len(caught.value.message) < MAX_ECHO + 60


def test_record_defection_takes_an_integral_float(app, client, setup):  # noqa: F811
    data, tokens = setup
    body = gql(
        client,
        RECORD,
        _defection_input(data, lostAnnualRevenue=250000.0),
        token=tokens["manager"],
    )
    assert "errors" not in body, body
    assert body["data"]["recordDefection"]["lostAnnualRevenue"] == 250000


@pytest.mark.parametrize("bad", [250000.5, True, "abc"])
def test_record_defection_refuses_what_is_not_a_whole_number(app, client, setup, bad):  # noqa: F811
    data, tokens = setup
    variables = _defection_input(data, lostAnnualRevenue=bad)
    body = gql(client, RECORD, variables, token=tokens["manager"], lang="en")
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"].startswith("$input.lostAnnualRevenue: BigInt cannot represent")
    assert "give a whole number" in error["message"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "lostAnnualRevenue"}
    body = gql(client, RECORD, variables, token=tokens["manager"], lang="zh")
    assert "请给出整数" in body["errors"][0]["message"]
