"""The prices of the priorities' fields (schema/scoring/priority.py), added to WEIGHTS.

Kept beside weights.py (whose table is at its size limit); schema/cost/__init__.py
adds them to WEIGHTS when the package is imported, so every reader sees them.
Same unit as weights.py: about 0.1 ms on the benchmark's data set.
"""

from __future__ import annotations

from survey import scale

from .units import CONNECTION, EDGE, FREE, SCAN, Weight, connection, fixed, free, listed

#: Health as of a past day for every account (survey.scoring.health_measures: four
#: set-based statements over responses, invitations and follow-ups, then numpy), as
#: the validation needs it: dear, so one request holds one such field, not two.
HEALTH_AS_OF = 6 * SCAN

QUERY: dict[str, Weight] = {
    # One GROUP BY over the active accounts joined twice to their scores: 16 cells.
    "priorityMatrix": fixed(SCAN, each=1),
    # A cell's keyset page: the same join, filtered.
    "priorityAccounts": connection(50),
    "healthValidation": fixed(HEALTH_AS_OF, each=1),
    # The same, and a logistic regression on the measures.
    "suggestedHealthWeights": fixed(HEALTH_AS_OF + SCAN, each=1),
}

TYPES: dict[str, dict[str, Weight]] = {
    "PriorityMatrix": {"valueModel": FREE, "cells": listed(16)},
    "PriorityCell": free("valueBand healthBand accounts revenue highValuePoorHealth"),
    "PriorityAccount": free(
        "id externalId name tier accountManager annualRevenue valueScore healthScore"
    ),
    "PriorityAccountConnection": CONNECTION,
    "PriorityAccountEdge": EDGE,
    "HealthValidation": {
        **free("cutoff horizonDays auc aucLow aucHigh accounts defections unscored lowSample"),
        "quintiles": listed(5),
    },
    "HealthQuintile": free("quintile accounts defections rate"),
    "SuggestedHealthWeights": {
        **free("auc accounts defections lowSample message"),
        "coefficients": listed(len(scale.HealthMeasure)),
    },
    "SuggestedHealthCoefficient": free("measure label coefficient low high pValue proposedWeight"),
}


def add_priority_weights(weights: dict[str, dict[str, Weight]]) -> None:
    """Add the priorities' prices to the table (schema/cost/__init__.py does, once)."""
    weights["Query"].update(QUERY)
    weights.update(TYPES)
