"""The computed traits insights publishes (as stored traits of ``segments``)."""

from __future__ import annotations

from segments.stored import declare_stored_trait

PRODUCER = "insights"

RFM_RECENCY = "rfm_recency"
RFM_FREQUENCY = "rfm_frequency"
RFM_MONETARY = "rfm_monetary"
RFM_SEGMENT = "rfm_segment"
LIFECYCLE_STAGE = "lifecycle_stage"

# prediction target → (trait, description)
PREDICTION_TRAITS = {
    "purchase_30d": ("purchase_propensity_30d", "Likelihood to purchase in the next 30 days"),
    "churn_90d": ("churn_risk", "Likelihood of no purchase in the next 90 days (buyers)"),
    "revenue_90d": ("predicted_revenue_90d", "Predicted revenue of the next 90 days"),
}

FIXED_TRAITS: dict[str, tuple[bool, str]] = {
    RFM_RECENCY: (True, "RFM recency quintile (5: most recent buyers)"),
    RFM_FREQUENCY: (True, "RFM frequency quintile (5: most purchases)"),
    RFM_MONETARY: (True, "RFM monetary quintile (5: most revenue)"),
    RFM_SEGMENT: (False, "RFM segment name, from the R and F quintiles"),
    LIFECYCLE_STAGE: (False, "new, active, at risk, lapsed or churned"),
}
for _trait, _description in PREDICTION_TRAITS.values():
    FIXED_TRAITS[_trait] = (True, _description)
    FIXED_TRAITS[f"{_trait}_percentile"] = (True, f"{_description}: percentile (0-100)")


def percentile_name(trait: str) -> str:
    return f"{trait}_percentile"


def declare_fixed_traits() -> None:
    """Make sure every fixed trait exists in ``segments`` (idempotent)."""
    for name, (numeric, description) in FIXED_TRAITS.items():
        declare_stored_trait(name=name, numeric=numeric, producer=PRODUCER, description=description)
