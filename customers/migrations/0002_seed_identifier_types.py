from django.db import migrations

# Priorities and limits as Segment's identity resolution uses them: one
# user_id per profile, generous limits for devices and contact points.
DEFAULT_TYPES = [
    ("user_id", 1, 1, True, "Your own stable id for a signed-up person."),
    ("external_id", 2, 5, True, "An id from another system (CRM, shop, POS)."),
    ("email", 3, 5, True, "Email address, lower-cased."),
    ("phone", 4, 5, True, "Phone number in E.164 form."),
    ("anonymous_id", 5, 100, True, "Device or browser id before sign-up."),
]
JUNK = ["null", "undefined", "anonymous", "0", "-1", "nan", "[object object]", "none"]


def seed(apps, schema_editor):
    identifier_type = apps.get_model("customers", "IdentifierType")
    for name, priority, limit, merges, description in DEFAULT_TYPES:
        identifier_type.objects.update_or_create(
            name=name,
            defaults={
                "priority": priority,
                "max_per_profile": limit,
                "merges": merges,
                "description": description,
                "blocked_values": JUNK,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("customers", "IdentifierType").objects.filter(
        name__in=[t[0] for t in DEFAULT_TYPES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
