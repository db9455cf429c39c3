"""The marketer's insights screens: the store's policy, scoring plans, models.

Predictive models are read-only records: each shows its validation (AUC,
calibration, lift by decile) next to the RFM-only baseline. Training (which
publishes what passes the gate) needs ``insights.train_predictivemodel``
(Data stewards); scoring plans are marketing work; the policy is changed by
those holding ``insights.change_insightpolicy``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.admin_roles import HistoryAdmin, RoleAwareAdmin, RoleAwareInline
from insights import tasks
from insights.models import InsightPolicy, PredictiveModel, RfmRun, ScoringPlan, ScoringRule
from insights.selectors import top_decile_lift
from insights.services.scoring import (
    plan_errors,
    rule_errors,
    save_scoring_plan,
    save_scoring_rule,
)

TRAIN_PERMISSION = "insights.train_predictivemodel"


@admin.register(InsightPolicy)
class InsightPolicyAdmin(HistoryAdmin):
    list_display = (
        "__str__",
        "rfm_window_days",
        "new_days",
        "active_days",
        "at_risk_days",
        "lapsed_days",
        "min_auc",
    )

    def has_add_permission(self, request):
        return False  # one row, made by a migration (or on first use): edit it

    def has_delete_permission(self, request, obj=None):
        return False


class ScoringPlanForm(forms.ModelForm):
    class Meta:
        model = ScoringPlan
        fields = (
            "name",
            "trait_name",
            "description",
            "decay_percent_per_day",
            "window_days",
            "is_active",
        )

    def clean(self):
        cleaned = super().clean()
        for field, message in plan_errors(self.instance).items():
            self.add_error(field, message)
        return cleaned


class ScoringRuleForm(forms.ModelForm):
    class Meta:
        model = ScoringRule
        fields = ("label", "kind", "event", "where", "condition", "points")

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            rule = ScoringRule(**{k: cleaned.get(k) for k in self.Meta.fields})
            rule.where, rule.condition = rule.where or [], rule.condition or {}
            if rule.kind == ScoringRule.Kind.EVENT and not rule.event:
                self.add_error("event", "A per-event rule needs the event name.")
            elif rule.kind == ScoringRule.Kind.CONDITION and not rule.condition:
                self.add_error("condition", "A condition rule needs a segment rule.")
            else:
                for field, message in rule_errors(rule).items():
                    self.add_error(field, message)
        return cleaned


class ScoringRuleInline(RoleAwareInline, admin.TabularInline):
    model = ScoringRule
    form = ScoringRuleForm
    extra = 1


@admin.register(ScoringPlan)
class ScoringPlanAdmin(HistoryAdmin):
    form = ScoringPlanForm
    inlines = [ScoringRuleInline]
    list_display = ("name", "trait_name", "decay_percent_per_day", "window_days", "is_active")
    search_fields = ("name", "trait_name")

    def save_model(self, request, obj, form, change):
        save_scoring_plan(plan=obj)

    def save_formset(self, request, form, formset, change):
        for rule in formset.save(commit=False):
            try:
                save_scoring_rule(rule=rule)
            except ValidationError as error:  # validated by the form; a race is shown
                messages.error(request, f"{rule.label}: {error}")
        for rule in formset.deleted_objects:
            rule.delete()


@admin.register(RfmRun)
class RfmRunAdmin(RoleAwareAdmin):
    list_display = ("computed_at", "window_days", "buyers")
    readonly_fields = ("computed_at", "window_days", "buyers", "boundaries")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PredictiveModel)
class PredictiveModelAdmin(RoleAwareAdmin):
    change_form_template = "admin/insights/predictivemodel/change_form.html"
    change_list_template = "admin/insights/predictivemodel/change_list.html"
    list_display = (
        "pk",
        "target",
        "status",
        "shown_auc",
        "shown_baseline_auc",
        "shown_gain",
        "shown_lift",
        "trained_at",
        "scored_profiles",
    )
    list_filter = ("target", "status")
    readonly_fields = (
        "target",
        "status",
        "reason",
        "trained_at",
        "train_cutoff",
        "validation_cutoff",
        "train_rows",
        "validation_rows",
        "validation_positives",
        "auc",
        "baseline_auc",
        "published_at",
        "scored_at",
        "scored_profiles",
    )
    fields = readonly_fields

    @admin.display(description="AUC")
    def shown_auc(self, obj):
        return "—" if obj.auc is None else f"{obj.auc:.3f}"

    @admin.display(description="RFM baseline AUC")
    def shown_baseline_auc(self, obj):
        return "—" if obj.baseline_auc is None else f"{obj.baseline_auc:.3f}"

    @admin.display(description="gain")
    def shown_gain(self, obj):
        return "—" if obj.auc_gain is None else f"{obj.auc_gain:+.3f}"

    @admin.display(description="top-decile lift")
    def shown_lift(self, obj):
        lift = top_decile_lift(obj)
        return "—" if lift is None else f"{lift:.2f}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.train_view))
        return [path("train/", view, name="insights_predictivemodel_train"), *super().get_urls()]

    def train_view(self, request):
        if not request.user.has_perm(TRAIN_PERMISSION):
            raise PermissionDenied
        tasks.train_models.delay()
        messages.success(
            request,
            "Training started: models that beat the RFM-only baseline are published.",
        )
        return HttpResponseRedirect(reverse("admin:insights_predictivemodel_changelist"))

    def changelist_view(self, request, extra_context=None):
        extra = {"can_train": request.user.has_perm(TRAIN_PERMISSION), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        model = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if model is not None:
            extra["report"] = {
                "model": model.metrics.get("model", {}),
                "baseline": model.metrics.get("baseline", {}),
                "rows": _side_by_side(model.metrics),
            }
        return super().change_view(request, object_id, form_url, extra_context=extra)


def _side_by_side(metrics: dict) -> list[dict]:
    model, baseline = metrics.get("model", {}), metrics.get("baseline", {})
    rows = []
    for index, line in enumerate(model.get("lift", [])):
        other = baseline.get("lift", [])
        rows.append(
            {
                "decile": line["decile"],
                "rate": line["rate"],
                "lift": line["lift"],
                "baseline_rate": other[index]["rate"] if index < len(other) else None,
                "baseline_lift": other[index]["lift"] if index < len(other) else None,
            }
        )
    return rows
