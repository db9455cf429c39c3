"""The starting catalogue of purposes (editable in the admin afterwards).

Idempotent: an existing purpose with the same code is left as it is.
"""

from django.db import migrations

PURPOSES = [
    {
        "code": "email_marketing",
        "name": "Email marketing",
        "description": "Newsletters and promotional e-mails.",
        "legal_basis": "consent",
        "tracking_categories": ["email_marketing", "Email"],
    },
    {
        "code": "sms_marketing",
        "name": "SMS marketing",
        "description": "Promotional text messages.",
        "legal_basis": "consent",
        "tracking_categories": ["sms_marketing", "SMS"],
    },
    {
        "code": "personalization",
        "name": "Personalization",
        "description": "Tailoring the website, app and messages to the person.",
        "legal_basis": "consent",
        "tracking_categories": ["personalization", "Functional"],
    },
    {
        "code": "analytics",
        "name": "Analytics",
        "description": "Measuring how the website and app are used.",
        "legal_basis": "legitimate_interest",
        "tracking_categories": ["analytics", "Performance"],
    },
    {
        "code": "advertising",
        "name": "Advertising",
        "description": "Targeted advertising and retargeting audiences.",
        "legal_basis": "consent",
        "tracking_categories": ["advertising", "Targeting"],
    },
    {
        "code": "third_party_sharing",
        "name": "Sharing with third parties",
        "description": "Passing personal data to partners for their own use.",
        "legal_basis": "consent",
        "tracking_categories": ["third_party_sharing", "Data Sharing"],
    },
]


def seed(apps, schema_editor):
    Purpose = apps.get_model("consent", "Purpose")
    for purpose in PURPOSES:
        Purpose.objects.get_or_create(code=purpose["code"], defaults=purpose)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
