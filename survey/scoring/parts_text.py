"""Writing score parts as JSON text fast: each distinct number is formatted once.

A recompute stores every account's parts (8 measures × 4 numbers × 100,000 accounts)
as JSON text. Most columns hold few distinct values (scores 1-5, mid-rank
percentiles of them, the same weights), so each column is formatted per distinct
value (distinct by its bits, so -0.0 and 0.0 keep their own text) and spread back
with numpy's indexing; a part's text is one `str.format` of those texts, an
account's the parts joined. The text is byte for byte what formatting every number
would give.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def json_float(x: float) -> str:
    """A float as Python's JSON encoder writes it, NaN as `null` (health's rule)."""
    if x != x:
        return "null"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    return float.__repr__(x)


def column_texts(column: FloatArray, render: Callable[[float], str]) -> list[str]:
    """`render(x)` for every x of `column`, called once per distinct value."""
    bits = np.ascontiguousarray(column, dtype=np.float64).view(np.int64)
    if bits.size == 0:
        return []
    distinct, inverse = np.unique(bits, return_inverse=True)
    if 2 * len(distinct) > bits.size:  # mostly distinct: format each directly
        return list(map(render, column.tolist()))
    texts = np.array(list(map(render, distinct.view(np.float64).tolist())), dtype=object)
    return texts[inverse.reshape(-1)].tolist()  # type: ignore[no-any-return]


def part_template(head: dict[str, str], fields: Sequence[str], *, first: bool, last: bool) -> str:
    """A `str.format` template for one part: `head`'s keys, then `fields` filled in
    order (each a ready JSON text); opening `[` on the first part, `]` on the last."""
    opening = json.dumps(head, separators=(",", ":"))[:-1]
    text = opening.replace("{", "{{").replace("}", "}}")
    for name in fields:
        text += "," + json.dumps(name).replace("{", "{{").replace("}", "}}") + ":{}"
    return ("[" if first else "") + text + "}}" + ("]" if last else "")


def join_parts(columns: list[list[str]], rows: int) -> list[str]:
    """Each row's parts text: its cells of every column joined by commas (the first
    and last templates hold the brackets); `[]` for every row without columns."""
    if not columns:
        return ["[]"] * rows
    if len(columns) == 1:
        return columns[0]
    return list(map(",".join, zip(*columns, strict=True)))


__all__ = ["column_texts", "join_parts", "json_float", "part_template"]
