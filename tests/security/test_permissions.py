"""Permissions declared once by the admin and checked again by the services."""

import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.admin_roles import HistoryAdmin, RoleAwareAdmin, RoleAwareInline
from accounts.models import ApiKey
from accounts.services.api_keys import create_api_key, revoke_api_key
from customers.models import Customer, Merge, Source
from customers.services.identity import resolve_identity
from customers.services.merging import MergeError, merge_manually, unmerge
from destinations.models import Destination
from destinations.services.operations import rotate_secret
from segments.services import recompute_segment, save_segment
from sources.services.keys import create_source, rotate_write_key


def _ours(model_admin) -> bool:
    """Written in this project (not Django's or a library's admin)."""
    path = Path(sys.modules[type(model_admin).__module__].__file__).resolve()
    return (
        path.is_relative_to(Path(settings.BASE_DIR).resolve()) and "site-packages" not in path.parts
    )


def test_every_admin_of_ours_keeps_the_role_boundaries():
    for model, model_admin in admin.site._registry.items():
        if not _ours(model_admin):
            continue
        assert isinstance(model_admin, RoleAwareAdmin), model._meta.label
        if getattr(model._meta, "simple_history_manager_attribute", None):
            assert isinstance(model_admin, HistoryAdmin), model._meta.label
        for inline in model_admin.inlines:
            assert issubclass(inline, RoleAwareInline), inline
            assert issubclass(inline, InlineModelAdmin)


def test_every_admin_action_declares_its_permission():
    for model, model_admin in admin.site._registry.items():
        for func, name, _description in model_admin._get_base_actions():
            permissions = getattr(func, "allowed_permissions", ())
            assert permissions, f"{model._meta.label}: action {name} declares no permission"
            for permission in permissions:
                check = getattr(model_admin, f"has_{permission}_permission", None)
                assert callable(check), f"{model._meta.label}: no has_{permission}_permission"


@pytest.fixture
def pair(db):
    at = timezone.now()
    return [
        resolve_identity(identifiers=[("email", e)], source_id=None, seen_at=at).customer
        for e in ("pair.one@example.com", "pair.two@example.com")
    ]


@pytest.mark.parametrize("role", ["viewer", "marketer"])
def test_only_stewards_and_superusers_merge_by_hand(pair, people, role):
    with pytest.raises(PermissionDenied):
        merge_manually(customer_ids=[c.pk for c in pair], actor=people[role])
    with pytest.raises(PermissionDenied):
        merge_manually(customer_ids=[c.pk for c in pair], actor=None)
    assert not Merge.objects.exists()
    assert Customer.objects.filter(pk__in=[c.pk for c in pair], merged_into=None).count() == 2


def test_a_steward_merges_and_a_marketer_cannot_undo(pair, people):
    [merge] = merge_manually(customer_ids=[c.pk for c in pair], actor=people["steward"])
    with pytest.raises(PermissionDenied):
        unmerge(merge=merge, actor=people["marketer"])
    assert Merge.objects.get().undone_at is None


@override_settings(TRIBUTARY_MAX_MERGE_PROFILES=3)
def test_a_hand_merge_takes_at_most_the_cap_and_merges_nothing_above_it(people, db):
    at = timezone.now()
    ids = [
        resolve_identity(
            identifiers=[("user_id", f"cap-{n}")], source_id=None, seen_at=at
        ).customer.pk
        for n in range(4)
    ]
    with pytest.raises(MergeError) as refused:
        merge_manually(customer_ids=ids, actor=people["superuser"])
    assert refused.value.code == "too_many"
    assert "at most 3" in refused.value.message
    assert "TRIBUTARY_MAX_MERGE_PROFILES" in refused.value.message
    assert not Merge.objects.exists()
    assert len(merge_manually(customer_ids=ids[:3], actor=people["superuser"])) == 2


def test_the_merge_action_is_offered_to_stewards_only_and_explains_the_cap(pair, people):
    url = reverse("admin:customers_customer_changelist")
    data = {"action": "merge_selected", "_selected_action": [c.pk for c in pair], "index": 0}
    for role in ("viewer", "marketer"):
        client = Client()
        client.force_login(people[role])
        client.post(url, data)
        client.post(url, {**data, "_confirm_merge": "Merge"})
    assert not Merge.objects.exists()
    client = Client()
    client.force_login(people["steward"])
    with override_settings(TRIBUTARY_MAX_MERGE_PROFILES=1):
        page = client.post(url, data, follow=True).content.decode()
    assert "t most 1 profiles can be merged at once (TRIBUTARY_MAX_MERGE_PROFILES)" in page
    assert not Merge.objects.exists()
    client.post(url, data)  # the confirmation page
    assert not Merge.objects.exists()
    client.post(url, {**data, "_confirm_merge": "Merge"})
    assert Merge.objects.count() == 1


def test_services_recheck_the_permission_of_the_person_acting(people, db):
    viewer = people["viewer"]
    source, _key = create_source(name="Shop", kind="server")
    prefix = source.write_key_prefix
    api_key, _secret = create_api_key(name="Backend", scopes=["profiles:read"])
    segment = save_segment(name="Everyone", rule={"field": "country", "op": "is_set"})
    destination = Destination.objects.create(name="Hook", url="https://hooks.example.com/x")
    secret = destination.secret
    for call in (
        lambda: rotate_write_key(source=source, actor=viewer),
        lambda: revoke_api_key(api_key=api_key, actor=viewer),
        lambda: recompute_segment(segment_id=segment.pk, actor=viewer),
        lambda: rotate_secret(destination=destination, actor=people["steward"]),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert Source.objects.get().write_key_prefix == prefix
    assert ApiKey.objects.get().revoked_at is None
    assert Destination.objects.get().secret == secret
    # the system itself (tasks, commands) passes no actor
    assert rotate_write_key(source=source) != _key


def test_a_history_version_is_read_only_for_every_role(people, pair):
    customer = pair[0]
    customer.first_name = "Before"
    customer.save()
    version = customer.history.order_by("history_id").first()
    url = reverse("admin:customers_customer_simple_history", args=[customer.pk, version.pk])
    for role in ("viewer", "marketer", "steward", "superuser"):
        client = Client()
        client.force_login(people[role])
        assert client.get(url).status_code == 200
        response = client.post(url, {"first_name": "Reverted", "email": "x@example.com"})
        assert response.status_code == 403, role
        assert b"History is read-only" in response.content
        assert "Revert" not in client.get(url).content.decode().split("<form")[-1]
    assert Customer.objects.get(pk=customer.pk).first_name == "Before"


@pytest.fixture
def suggestion(pair):
    from customers.models import DuplicateSuggestion

    return DuplicateSuggestion.objects.create(customer_a=pair[0], customer_b=pair[1], score=0.7)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("viewer", False), ("marketer", False), ("steward", True), ("superuser", True)],
)
def test_only_stewards_and_admins_call_a_suggestion_two_people(suggestion, people, role, allowed):
    from customers.services.duplicates import reject_suggestion

    if allowed:
        reject_suggestion(suggestion=suggestion, actor=people[role])
        suggestion.refresh_from_db()
        assert (suggestion.status, suggestion.decided_by) == ("distinct", people[role])
        return
    with pytest.raises(PermissionDenied):
        reject_suggestion(suggestion=suggestion, actor=people[role])
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.decided_by) == ("pending", None)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("viewer", False), ("marketer", False), ("steward", True), ("superuser", True)],
)
def test_only_stewards_and_admins_merge_a_suggestion(suggestion, people, role, allowed):
    from customers.services.duplicates import merge_suggestion

    if allowed:
        assert merge_suggestion(suggestion=suggestion, actor=people[role]) is not None
        suggestion.refresh_from_db()
        assert suggestion.status == "merged"
        return
    with pytest.raises(PermissionDenied):
        merge_suggestion(suggestion=suggestion, actor=people[role])
    assert not Merge.objects.exists()
