"""Read-side queries for insights: a profile's classes and predictions, model reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from insights import traits
from insights.models import PredictiveModel, ScoringPlan
from segments.selectors import stored_trait_values


@dataclass(frozen=True)
class TraitRow:
    name: str
    value: object
    computed_at: datetime
    explanation: dict


@dataclass(frozen=True)
class PredictionRow:
    label: str
    trait: TraitRow
    percentile: object


@dataclass
class ProfileInsights:
    """What the customer page shows: stage, RFM, scores and predictions, each with why."""

    stage: TraitRow | None = None
    rfm: dict[str, TraitRow] = field(default_factory=dict)
    scores: list[tuple[str, TraitRow]] = field(default_factory=list)
    predictions: list[PredictionRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.stage or self.rfm or self.scores or self.predictions)


def profile_insights(customer_id: int) -> ProfileInsights:
    plans = dict(ScoringPlan.objects.values_list("trait_name", "name"))
    rows = {
        row.trait.name: TraitRow(row.trait.name, row.value, row.computed_at, row.explanation)
        for row in stored_trait_values(customer_id, names=[*traits.FIXED_TRAITS, *plans])
    }
    result = ProfileInsights(stage=rows.get(traits.LIFECYCLE_STAGE))
    for key, name in (
        ("segment", traits.RFM_SEGMENT),
        ("recency", traits.RFM_RECENCY),
        ("frequency", traits.RFM_FREQUENCY),
        ("monetary", traits.RFM_MONETARY),
    ):
        if name in rows:
            result.rfm[key] = rows[name]
    result.scores = [(plans[name], rows[name]) for name in sorted(plans) if name in rows]
    for trait, description in traits.PREDICTION_TRAITS.values():
        if trait in rows:
            percentile = rows.get(traits.percentile_name(trait))
            result.predictions.append(
                PredictionRow(description, rows[trait], percentile.value if percentile else None)
            )
    return result


def published_models() -> dict[str, PredictiveModel]:
    return {
        m.target: m for m in PredictiveModel.objects.filter(status=PredictiveModel.Status.PUBLISHED)
    }


def top_decile_lift(model: PredictiveModel, *, which: str = "model") -> float | None:
    lift = model.metrics.get(which, {}).get("lift") or []
    return lift[0]["lift"] if lift else None
