import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from accounts.roles import DATA_STEWARD, MARKETER, VIEWER, sync_roles


def _perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


@pytest.mark.django_db
def test_migrations_create_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {MARKETER, DATA_STEWARD, VIEWER}


@pytest.mark.django_db
def test_viewer_only_reads_and_does_not_see_contact_details():
    perms = _perms(VIEWER)
    assert "customers.view_customer" in perms
    assert all(p.split(".")[1].startswith("view_") for p in perms)
    assert "accounts.view_contact_details" not in perms


@pytest.mark.django_db
def test_marketer_reads_customers_but_not_identity_rules_or_sources():
    perms = _perms(MARKETER)
    assert {"customers.view_customer", "accounts.view_contact_details"} <= perms
    assert "customers.change_customer" not in perms
    assert "customers.view_identifiertype" not in perms
    assert "customers.view_source" not in perms


@pytest.mark.django_db
def test_data_steward_has_everything_a_marketer_has_plus_rules_and_sources():
    steward = _perms(DATA_STEWARD)
    assert _perms(MARKETER) <= steward
    assert {
        "customers.change_identifiertype",
        "customers.change_customer",
        "customers.change_source",
    } <= steward


@pytest.mark.django_db
def test_sync_gives_a_later_model_to_the_roles_its_pattern_matches():
    content_type = ContentType.objects.create(app_label="segments", model="segmentfolder")
    Permission.objects.create(
        content_type=content_type, codename="add_segmentfolder", name="Can add segment folder"
    )
    sync_roles(app_labels=["segments"])
    assert "segments.add_segmentfolder" in _perms(MARKETER)
    assert "segments.add_segmentfolder" not in _perms(VIEWER)


@pytest.mark.django_db
def test_sync_removes_a_permission_the_table_does_not_grant():
    Group.objects.get(name=VIEWER).permissions.add(
        Permission.objects.get(codename="delete_customer")
    )
    sync_roles()
    assert "customers.delete_customer" not in _perms(VIEWER)


@pytest.mark.django_db
def test_migrate_puts_back_a_permission_removed_by_hand():
    marketer = Group.objects.get(name=MARKETER)
    marketer.permissions.remove(Permission.objects.get(codename="view_customer"))
    call_command("migrate", verbosity=0)
    assert "customers.view_customer" in _perms(MARKETER)
