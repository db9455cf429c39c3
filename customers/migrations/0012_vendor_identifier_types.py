"""The vendor identifier types shared by imports, inbound webhooks and audiences
(DESIGN.md): the ids Shopify, HubSpot, Salesforce, Mailchimp and Stripe give
a person. Like ``external_id`` they are trusted ids from another system.

Idempotent: an existing type of the same name is left as an operator set it.
"""

from django.db import migrations

JUNK = ["null", "undefined", "anonymous", "0", "-1", "nan", "[object object]", "none"]
VENDOR_TYPES = [
    ("shopify_customer_id", "Shopify customer id (Customer ID in customer exports)."),
    ("hubspot_record_id", "HubSpot contact record id (Record ID)."),
    ("salesforce_contact_id", "Salesforce contact id (Contact ID)."),
    ("mailchimp_leid", "Mailchimp audience member id (LEID)."),
    ("stripe_customer_id", "Stripe customer id (cus_…)."),
]


def seed(apps, schema_editor):
    identifier_type = apps.get_model("customers", "IdentifierType")
    for name, description in VENDOR_TYPES:
        identifier_type.objects.get_or_create(
            name=name,
            defaults={
                "priority": 2,
                "max_per_profile": 5,
                "merges": True,
                "description": description,
                "blocked_values": JUNK,
            },
        )


def unseed(apps, schema_editor):
    identifier_type = apps.get_model("customers", "IdentifierType")
    identity = apps.get_model("customers", "Identity")
    unused = [n for n, _ in VENDOR_TYPES if not identity.objects.filter(type__name=n).exists()]
    identifier_type.objects.filter(name__in=unused).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0011_lean_identity_indexes")]
    operations = [migrations.RunPython(seed, unseed)]
