"""The fast score writers give what the plain ones give: parts text, bands."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from survey.scoring.normalise import threshold_band, threshold_bands
from survey.scoring.parts_text import column_texts, join_parts, json_float, part_template

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, 83.3333, float("nan")]),
)


@given(st.lists(NUMBERS, max_size=40))
def test_column_texts_formats_every_value_as_one_by_one(values):
    column = np.array(values, dtype=np.float64)
    assert column_texts(column, json_float) == [json_float(v) for v in values]
    assert column_texts(column, "{:.4f}".format) == [f"{v:.4f}" for v in values]


@given(
    st.lists(
        st.lists(st.sampled_from([1.0, 0.25, -0.0, 83.3333, float("nan")]), min_size=2, max_size=2),
        min_size=1,
        max_size=5,
    )
)
def test_parts_text_is_the_json_encoders(rows):
    matrix = np.array(rows, dtype=np.float64)
    heads = [
        {"measure": "overall_score", "perspective": "voice"},
        {"measure": "é", "perspective": ""},
    ]
    columns = [
        list(
            map(
                part_template(heads[j], ("value", "weight"), first=j == 0, last=j == 1).format,
                column_texts(matrix[:, j], json_float),
                column_texts(matrix[:, 1 - j], json_float),
            )
        )
        for j in range(2)
    ]
    texts = join_parts(columns, len(rows))
    encode = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode
    for text, row in zip(texts, rows, strict=True):
        expected = encode(
            [{**heads[j], "value": row[j], "weight": row[1 - j]} for j in range(2)]
        ).replace("NaN", "null")
        assert text == expected
    assert join_parts([], 3) == ["[]", "[]", "[]"]


@given(
    st.lists(st.sampled_from([float("nan"), 0.0, 39.99, 40.0, 55.0, 70.0, 100.0]), max_size=30),
    st.sampled_from([40.0, 50.0, 70.0]),
    st.sampled_from([0.0, 40.0, 70.0]),
)
def test_threshold_bands_choose_as_threshold_band(scores, good, watch):
    limits = {"good": good, "watch": watch}
    expected = [threshold_band(s, limits, "poor") for s in scores]
    assert threshold_bands(np.array(scores, dtype=np.float64), limits, "poor") == expected
