"""What the value-score fields cost (schema/scoring/value.py), added to WEIGHTS.

Kept beside weights.py, whose table they extend: `add_value_weights` runs once when
schema.cost is imported, before any operation is priced.
"""

from __future__ import annotations

from .weights import LAUNCH, MAX_PAGE, ONE, SCAN, WRITE, Weight, fixed, free, listed

#: Measures of a value model (the shipped indicators) and score models listed.
VALUE_PARTS = 8
SCORE_MODELS = 5
#: Recomputing every value model for 100,000 accounts takes seconds: a deliberate
#: admin act, priced like a launch.
RECOMPUTE = LAUNCH


def add_value_weights(weights: dict[str, dict[str, Weight]]) -> None:
    weights["Query"].update(
        {
            # One GROUP BY over the model's account scores.
            "valuePyramid": fixed(SCAN, items=3, each=1),
            # One statement over the tiering model's scores, at most 200 rows.
            "tierSuggestions": fixed(SCAN, items=200, each=1),
            "scoreModels": listed(SCORE_MODELS),
        }
    )
    weights["Mutation"].update(
        {
            "applyTierSuggestions": fixed(WRITE, items=MAX_PAGE, each=1),
            "setScoreModel": fixed(RECOMPUTE, each=1),
        }
    )
    # One statement for the whole page of accounts.
    weights["Account"]["value"] = ONE
    weights.update(
        {
            "AccountValue": {
                **free("model modelLabel version period score band suggestedTier flags"),
                **free("flagLabels computedAt"),
                "parts": listed(VALUE_PARTS),
            },
            "ValuePart": free(
                "perspective perspectiveLabel indicator label value percentile weight contribution"
            ),
            "PyramidBand": free("band label accounts revenue periodRevenue valueShare"),
            "TierSuggestion": {
                **free("currentTier suggestedTier score flags"),
                "parts": listed(VALUE_PARTS),
                "account": ONE,
            },
            "TierChange": free("accountId externalId oldTier newTier"),
            "ScoreModel": {
                **free("code kind label version tiering computedAt"),
                "bandLimits": listed(2),
                "weights": listed(VALUE_PARTS),
            },
            "BandLimit": free("band limit"),
            "ModelWeight": free("measure label perspective perspectiveLabel weight"),
        }
    )
