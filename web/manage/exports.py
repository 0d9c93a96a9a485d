"""CSV downloads that open cleanly in Excel and cannot smuggle in formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

#: Excel reads a file as UTF-8 (and shows Chinese correctly) only with this mark.
BOM = "\ufeff"
# A cell starting with one of these is a formula to a spreadsheet (CSV injection):
# an account name like "=HYPERLINK(...)" must stay text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: Any) -> str:
    """The cell's text, with a leading ' when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV document: BOM, header, rows, CRLF line ends, every cell made safe."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow([formula_safe(h) for h in header])
    for row in rows:
        writer.writerow([formula_safe(cell) for cell in row])
    return buffer.getvalue()


def csv_download(filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Response:
    """An attachment response; `filename` is plain ASCII chosen by the app."""
    return Response(
        csv_text(header, rows).encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
