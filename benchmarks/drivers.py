"""The keyDrivers item: the analysis over HTTP + GraphQL against its floor, the raw
SQL that gathers the observations (one statement on a DBAPI cursor) plus the same
numpy/scipy work (survey.analysis.key_drivers.observations_from_rows and analyse).

Before timing, the item checks that both give the same observations count and the
same importance per aspect.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from survey.analysis.key_drivers import (
    DriverUnit,
    DriverWeight,
    KeyDriverAnalysis,
    analyse,
    observations_from_rows,
)
from survey.scale import OVERALL, SATISFIED_MIN

from .items import ItemResult, Settings, _latency_item, graphql, raw_query

#: A/B at most: the request's fixed cost (auth, GraphQL, the aspects' look-up) on top
#: of a pivot of every answer.
TARGET = 1.5
NAME = "keyDrivers (per response, every aspect)"
_DRIVER_FIELDS = (
    "aspect label n importance importanceLow importanceHigh pValue relativeWeight "
    "performance satisfiedShare satisfiedShareLow satisfiedShareHigh quadrant lowSample"
)
QUERY = f"{{ keyDrivers {{ n r2 lowSample drivers {{ {_DRIVER_FIELDS} }} }} }}"
ASPECTS_SQL = "SELECT id, code, label_zh, label_en FROM aspects ORDER BY position, code"


def observations_sql(aspect_ids: list[int], overall_id: int) -> str:
    """Per response: its account's revenue, each aspect's score and satisfied
    indicator (NULL when not answered), and the overall score."""
    columns = []
    for i in aspect_ids:
        columns.append(f"avg(CASE WHEN a.aspect_id = {i} THEN CAST(a.score AS FLOAT) END)")
        columns.append(
            f"avg(CASE WHEN a.aspect_id = {i} THEN "
            f"CASE WHEN a.score >= {SATISFIED_MIN} THEN 1.0 ELSE 0.0 END END)"
        )
    columns.append(f"avg(CASE WHEN a.aspect_id = {overall_id} THEN CAST(a.score AS FLOAT) END)")
    return (
        "SELECT r.id, max(CAST(k.annual_revenue AS FLOAT)), "
        + ", ".join(columns)
        + " FROM responses r JOIN key_accounts k ON k.id = r.account_id"
        " JOIN answers a ON a.response_id = r.id GROUP BY r.id ORDER BY r.id"
    )


def floor(app: Flask) -> Any:
    """What B does: the aspects are known (read once, untimed); one statement, then numpy."""
    aspects = raw_query(app, ASPECTS_SQL)
    overall_id = next(int(i) for i, code, _, _ in aspects if code == OVERALL)
    drivers = tuple((code, zh, en) for _, code, zh, en in aspects if code != OVERALL)
    sql = observations_sql([int(i) for i, code, _, _ in aspects if code != OVERALL], overall_id)

    def run() -> KeyDriverAnalysis:
        rows = raw_query(app, sql)
        return analyse(
            observations_from_rows(rows, drivers, DriverWeight.ANSWERS),
            DriverUnit.RESPONSE,
            DriverWeight.ANSWERS,
        )

    return run


def drivers_check(app: Flask, client: FlaskClient, token: str, run: Any) -> None:
    """The API's observations and importances equal the floor's."""
    api = graphql(client, token, QUERY)["keyDrivers"]
    raw = run()
    theirs = [(d["aspect"], d["n"], _round(d["importance"])) for d in api["drivers"]]
    ours = [(d.aspect, d.n, _round(d.importance)) for d in raw.drivers]
    if api["n"] != raw.n or theirs != ours:
        raise RuntimeError(f"keyDrivers disagrees with its floor: {theirs} != {ours}")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 9)


def drivers_item(app: Flask, client: FlaskClient, token: str, settings: Settings) -> ItemResult:
    run = floor(app)
    drivers_check(app, client, token, run)
    return _latency_item(NAME, TARGET, lambda: graphql(client, token, QUERY), run, settings)
