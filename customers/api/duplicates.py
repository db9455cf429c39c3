"""Duplicate suggestions over the REST API: the score, and why (issue 22).

    GET /api/v1/duplicates/              suggestions, best first (``?status=pending``…)
    GET /api/v1/duplicates/{id}/         one suggestion: both profiles' compared values
                                         and, per field, the comparison level, its
                                         outcome and its weight in bits

Needs ``profiles:read``: a suggestion is two profiles side by side. A
person without ``accounts.view_contact_details`` (the Viewer role) gets the
profiles' values masked like every other answer; the levels and weights
say nothing about a person and are never masked. Deciding stays in the
review queue (admin), where merging is checked against the merge rules.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from accounts.api.masking import MaskedSerializer
from core.api.router import router
from customers.linkage.clusters import HELD_REASONS
from customers.linkage.comparisons import COMPARED, outcome
from customers.linkage.records import FIELDS
from customers.models import Customer, DuplicateSuggestion


class SideSerializer(MaskedSerializer, serializers.ModelSerializer):
    """One profile of the pair, as compared (it may have merged since)."""

    class Meta:
        model = Customer
        fields = ("id", *FIELDS, "merged_into")
        read_only_fields = fields


class FieldOutcomeSerializer(serializers.Serializer):
    field = serializers.CharField()
    level = serializers.CharField(help_text="The comparison level reached, or `missing`.")
    outcome = serializers.ChoiceField(
        choices=["agreed", "partly agreed", "disagreed", "missing"],
        help_text="`agreed`: the strongest level; `partly agreed`: a level in between "
        "(one typo, an initial, the same postcode); `missing`: either side has no value "
        "(neutral).",
    )
    weight = serializers.FloatField(
        help_text="Evidence in bits, log2(m/u): positive for, negative against."
    )


class SuggestionSerializer(serializers.ModelSerializer):
    profiles = serializers.SerializerMethodField()
    prior = serializers.SerializerMethodField(
        help_text="Bits of the share of true pairs among the compared pairs."
    )
    together = serializers.SerializerMethodField(
        help_text="Bits the fields' going together adds to their own weights: negative "
        "when the pattern is what relatives or namesakes typically show (one last name "
        "and address; one full name and nothing else). Prior, the fields' weights and "
        "this sum to the pair's evidence; the score is 1 / (1 + 2^-evidence). Null for "
        "suggestions stored before it existed."
    )
    comparison = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField(
        help_text="Why a pair that scored above `--merge-above` was not merged "
        "automatically: `merge_cap` (its cluster would pass TRIBUTARY_MAX_MERGE_PROFILES), "
        "`limit_conflict` (an identifier limit, e.g. two user ids), `members_disagree` "
        "(another profile of the cluster is clearly someone else); null otherwise."
    )

    class Meta:
        model = DuplicateSuggestion
        fields = ("id", "status", "score", "created_at", "decided_at", "prior", "together")
        fields += ("comparison",)
        fields += ("held",)
        fields += ("profiles",)
        read_only_fields = fields

    @extend_schema_field(SideSerializer(many=True))
    def get_profiles(self, obj: DuplicateSuggestion) -> list[dict]:
        sides = (obj.customer_a, obj.customer_b)
        return SideSerializer(sides, many=True, context=self.context).data

    def get_prior(self, obj: DuplicateSuggestion) -> float | None:
        prior = (obj.comparison or {}).get("prior")
        return prior if isinstance(prior, int | float) else None

    def get_together(self, obj: DuplicateSuggestion) -> float | None:
        together = (obj.comparison or {}).get("together")
        return together if isinstance(together, int | float) else None

    def get_held(self, obj: DuplicateSuggestion) -> str | None:
        held = (obj.comparison or {}).get("held")
        return held if held in HELD_REASONS else None

    @extend_schema_field(FieldOutcomeSerializer(many=True))
    def get_comparison(self, obj: DuplicateSuggestion) -> list[dict]:
        stored = (obj.comparison or {}).get("fields") or {}
        rows = []
        for name in COMPARED:
            item = stored.get(name)
            if not isinstance(item, dict):
                continue
            level = str(item.get("level", "missing"))
            rows.append(
                {
                    "field": name,
                    "level": level,
                    "outcome": outcome(name, level),
                    "weight": float(item.get("weight") or 0.0),
                }
            )
        return FieldOutcomeSerializer(rows, many=True).data


class SuggestionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DuplicateSuggestion.Status.choices)

    class Meta:
        model = DuplicateSuggestion
        fields = ("status",)


class DuplicateSuggestionViewSet(viewsets.ReadOnlyModelViewSet):
    """Suggested duplicates with the per-field explanation of their score."""

    serializer_class = SuggestionSerializer
    filterset_class = SuggestionFilter
    required_scopes = ["profiles:read"]
    cursor_ordering = ("-score", "id")

    def get_queryset(self):
        return DuplicateSuggestion.objects.select_related("customer_a", "customer_b")


router.register("duplicates", DuplicateSuggestionViewSet, basename="duplicate")
