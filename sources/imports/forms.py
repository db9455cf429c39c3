"""Admin forms of the import flow: upload, then map the columns."""

from __future__ import annotations

from django import forms

from customers.models import CORE_FIELDS, IdentifierType
from sources.imports.mapping import CUSTOMERS, EVENT_CORE_FIELDS, EVENT_FIELDS, IGNORE, slug
from sources.models import ImportJob, Source


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
    """One choice per column: a core field, an identifier, a trait/property or ignore."""

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.identifier_types = list(
            IdentifierType.objects.exclude(name__in=("email", "phone")).values_list(
                "name", flat=True
            )
        )
        self.columns: list[tuple[str, str]] = []
        for index, header in enumerate(job.headers):
            name = f"column_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header, choices=self._choices(header), initial=job.mapping.get(header)
            )
            self.columns.append((name, header))

    def _choices(self, header: str) -> list:
        kind = self.job.kind
        keep = "trait" if kind == CUSTOMERS else "property"
        own = f"{keep}.{slug(header)}"
        current = self.job.mapping.get(header, own)
        fields = CORE_FIELDS if kind == CUSTOMERS else EVENT_CORE_FIELDS
        choices: list = [
            (f"Keep as a {'custom trait' if kind == CUSTOMERS else 'property'}", [(own, own)]),
            ("Profile field", [(f, f) for f in fields]),
            ("Identifier", [(f"id.{t}", f"id.{t}") for t in self.identifier_types]),
        ]
        if kind != CUSTOMERS:
            choices.append(("Event", [(f, f) for f in EVENT_FIELDS]))
        choices.append(("Other", [(IGNORE, "ignore this column")]))
        listed = {value for _, group in choices for value, _ in group}
        if current not in listed:
            choices.insert(0, ("Chosen before", [(current, current)]))
        return choices

    def overrides(self) -> dict[str, str]:
        return {header: self.cleaned_data[name] for name, header in self.columns}
