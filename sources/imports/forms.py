"""Admin forms of the import flow: upload, then map the columns."""

from __future__ import annotations

from django import forms

from consent.models import Purpose
from customers.models import CORE_FIELDS, IdentifierType, Source
from sources.imports.mapping import (
    CUSTOMERS,
    EVENT_CORE_FIELDS,
    EVENT_FIELDS,
    IGNORE,
    slug,
)
from sources.models import ImportJob


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV, Excel (.xlsx) or JSON; the first row holds the headers.")
    kind = forms.ChoiceField(choices=ImportJob.Kind.choices, initial=ImportJob.Kind.CUSTOMERS)
    source = forms.ModelChoiceField(
        queryset=Source.objects.all(),
        required=False,
        help_text="Where this data comes from. Leave empty to use a file source named "
        "after the file (created the first time).",
    )


class MappingForm(forms.Form):
    """One choice per column (a core field, an identifier, consent, a
    trait/property or ignore), the date order, and for event files the
    event name every row gets."""

    date_order = forms.ChoiceField(
        choices=[
            ("", "Decide per column (a column of 3/14/1985 reads month first)"),
            *ImportJob.DateOrder.choices,
        ],
        required=False,
        label="Dates written a/b/yyyy",
    )
    event_name = forms.CharField(
        max_length=200,
        required=False,
        label="Event name for every row",
        help_text="Instead of a column: e.g. Order Completed. Order files (a column mapped "
        "to order_id) get the purchase event when this is empty.",
    )

    def __init__(self, *args, job: ImportJob, samples: dict[str, list[str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.identifier_types = list(
            IdentifierType.objects.exclude(name__in=("email", "phone")).values_list(
                "name", flat=True
            )
        )
        self.purposes = list(Purpose.objects.filter(is_active=True).values_list("code", "name"))
        self.fields["date_order"].initial = job.date_order
        if job.kind == CUSTOMERS:
            del self.fields["event_name"]
        else:
            self.fields["event_name"].initial = job.event_name
        self.columns: list[tuple[str, str]] = []
        self.samples = samples
        for index, header in enumerate(job.headers):
            name = f"column_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header, choices=self._choices(header), initial=job.mapping.get(header)
            )
            self.columns.append((name, header))

    @property
    def column_rows(self) -> list[tuple[forms.BoundField, str]]:
        """Each column's field with its first values, for the template."""
        return [
            (self[name], " | ".join(self.samples.get(header, []))) for name, header in self.columns
        ]

    def _choices(self, header: str) -> list:
        own = slug(header)
        current = self.job.mapping.get(header, "")
        if self.job.kind == CUSTOMERS:
            choices = self._customer_choices(own)
        else:
            choices = self._event_choices(own)
        choices.append(("Other", [(IGNORE, "ignore this column")]))
        listed = {value for _, group in choices for value, _ in group}
        if current and current not in listed:
            choices.insert(0, ("Chosen before", [(current, current)]))
        return choices

    def _customer_choices(self, own: str) -> list:
        trait = f"trait.{own}"
        consent = []
        for code, name in self.purposes:
            consent += [
                (f"consent.{code}", f"{name}: yes/no"),
                (f"consent.{code}:inverted", f"{name}: yes means no (an opt-out column)"),
                (f"consent.{code}:granted_at", f"{name}: given at this time"),
                (f"consent.{code}:withdrawn_at", f"{name}: withdrawn at this time"),
            ]
        consent.append(("consent_ip", "where consent was given (IP address)"))
        return [
            (
                "Keep as a custom trait",
                [
                    (trait, f"{trait} (typed: number, yes/no or date when every value is)"),
                    (f"{trait}:text", f"{trait} as text"),
                    (f"{trait}:month_day", f"{trait} as a birthday without year (MM/DD)"),
                ],
            ),
            ("Profile field", [(f, f) for f in CORE_FIELDS]),
            (
                "Profile field unless the row has one",
                [
                    (f"phone|{trait}", f"phone, else {trait}"),
                    (f"email|{trait}", f"email, else {trait}"),
                    ("address", "a whole address in one cell (fills an empty address)"),
                ],
            ),
            ("Identifier", [(f"id.{t}", f"id.{t}") for t in self.identifier_types]),
            ("Consent", consent),
        ]

    def _event_choices(self, own: str) -> list:
        return [
            ("Keep as a property", [(f"property.{own}", f"property.{own}")]),
            ("Person", [(f, f) for f in EVENT_CORE_FIELDS]),
            ("Identifier", [(f"id.{t}", f"id.{t}") for t in self.identifier_types]),
            ("Event", [(f, f) for f in EVENT_FIELDS]),
            (
                "Order (rows of one order become one event)",
                [
                    ("order_id", "order_id"),
                    ("order_id.shopify", "order_id.shopify (Shopify's order Name)"),
                    (f"product.{own}", f"product.{own} (a line item's {own})"),
                ],
            ),
        ]

    def overrides(self) -> dict[str, str]:
        return {header: self.cleaned_data[name] for name, header in self.columns}
