"""django-import-export resources: the columns of customer and event exports.

Exports only: files come *in* through import jobs (``sources.imports``), so
that every row goes through the one pipeline. The export service
(``sources.exports.service``) writes these rows to CSV/XLSX, escaped.
"""

from __future__ import annotations

import json

from import_export import fields, resources

from customers.models import CORE_FIELDS, Customer, Event


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


class CustomerResource(resources.ModelResource):
    """Core fields, custom traits (JSON) and every identifier as ``type:value``."""

    identifiers = fields.Field(column_name="identifiers")
    traits = fields.Field(column_name="traits")

    class Meta:
        model = Customer
        fields = ("id", *CORE_FIELDS, "traits", "identifiers", "first_seen", "last_seen")
        export_order = fields

    def dehydrate_identifiers(self, customer: Customer) -> str:
        # relies on the caller's prefetch of identities (and their types)
        pairs = sorted(f"{i.type.name}:{i.value}" for i in customer.identities.all())
        return "; ".join(pairs)

    def dehydrate_traits(self, customer: Customer) -> str:
        return _json(customer.traits)


class EventResource(resources.ModelResource):
    source = fields.Field(column_name="source", attribute="source__name")
    properties = fields.Field(column_name="properties")

    class Meta:
        model = Event
        fields = ("id", "timestamp", "type", "name", "customer", "source", "message_id")
        fields = (*fields, "properties")
        export_order = fields

    def dehydrate_properties(self, event: Event) -> str:
        return _json(event.properties)
