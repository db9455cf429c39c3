"""Merging by hand: a confirmation page shows the profile the merge would leave and
lets the steward pick the profile kept; "Undo merge" on the customer page splits it
back. Both go through the merge services, which check the permission; Viewers and
Marketers are refused."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from accounts.roles import DATA_STEWARD, MARKETER, VIEWER
from customers.models import Customer, Merge
from customers.services.merging import merge_manually, preview_manual_merge, unmerge

ROLES = {"viewer": VIEWER, "marketer": MARKETER, "steward": DATA_STEWARD}
CHANGELIST = "admin:customers_customer_changelist"


@pytest.fixture
def pair(resolve):
    """The same woman twice: a CRM row (older, no phone) and a shop account."""
    crm = resolve(("email", "ines.garcia-lopez@example.es")).customer
    Customer.objects.filter(pk=crm.pk).update(
        first_name="Inés", last_name="García López", city="Sevilla"
    )
    shop = resolve(("email", "ines.gl@example.es")).customer
    Customer.objects.filter(pk=shop.pk).update(
        first_name="Ines", last_name="Garcia", phone="+34600111222", traits={"plan": "premium"}
    )
    return Customer.objects.get(pk=crm.pk), Customer.objects.get(pk=shop.pk)


@pytest.fixture
def staff(db, django_user_model):
    def make(role: str):
        if role == "superuser":
            return django_user_model.objects.create_superuser(role, password="pw-123456789")
        user = django_user_model.objects.create_user(role, password="pw-123456789", is_staff=True)
        user.groups.add(Group.objects.get(name=ROLES[role]))
        return user

    return make


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _action(client, pair, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": "merge_selected", "_selected_action": [c.pk for c in pair], **extra},
        follow=True,
    )


# --- the confirmation page ------------------------------------------------------------


def test_the_action_first_shows_the_resulting_profile_and_merges_nothing(staff, pair):
    crm, _shop = pair
    page = _action(_signed_in(staff("steward")), pair)
    body = page.content.decode()
    assert page.templates[0].name == "admin/customers/customer/merge_confirm.html"
    assert not Merge.objects.exists()
    assert Customer.objects.active().count() == 2
    # the older profile is kept by default, and takes the shop's phone and plan
    assert re.search(rf'value="{crm.pk}" checked', body)
    result = page.context["preview"].result
    assert (result.pk, result.first_name, result.phone, result.city) == (
        crm.pk,
        "Inés",  # no newer or ranked source on either: the kept value stays
        "+34600111222",
        "Sevilla",
    )
    assert result.traits == {"plan": "premium"}
    assert "ines.gl@example.es" in body
    assert "ines.garcia-lopez@example.es" in body


def test_picking_the_other_profile_shows_it_as_the_result(staff, pair):
    _crm, shop = pair
    page = _action(_signed_in(staff("steward")), pair, survivor=str(shop.pk), _preview="1")
    assert page.context["preview"].survivor.pk == shop.pk
    assert re.search(rf'value="{shop.pk}" checked', page.content.decode())
    assert page.context["preview"].result.city == "Sevilla"
    assert not Merge.objects.exists()


def test_confirming_merges_into_the_profile_picked_and_records_who(staff, pair):
    crm, shop = pair
    steward = staff("steward")
    page = _action(_signed_in(steward), pair, survivor=str(shop.pk), _confirm_merge="Merge")
    assert "Merged 1 profiles" in page.content.decode()
    merge = Merge.objects.get()
    assert (merge.survivor_id, merge.absorbed_id, merge.actor, merge.reason) == (
        shop.pk,
        crm.pk,
        steward,
        "manual",
    )
    survivor = Customer.objects.get(pk=shop.pk)
    assert survivor.city == "Sevilla"
    assert survivor.history.latest().history_actor == "user:steward"


def test_a_survivor_that_was_not_picked_is_refused(staff, pair, resolve):
    stranger = resolve(("email", "someone.else@example.org")).customer
    page = _action(
        _signed_in(staff("steward")), pair, survivor=str(stranger.pk), _confirm_merge="Merge"
    )
    assert [str(m) for m in page.context["messages"]] == [
        "the profile kept must be one of those picked"
    ]
    assert not Merge.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "marketer"])
def test_viewers_and_marketers_are_refused_by_the_page_and_the_service(staff, pair, role):
    user = staff(role)
    client = _signed_in(user)
    listing = client.get(reverse(CHANGELIST))
    assert b"merge_selected" not in listing.content
    page = _action(client, pair, _confirm_merge="Merge")
    assert page.status_code in (200, 403)
    assert "merge_confirm.html" not in [t.name for t in page.templates]
    with pytest.raises(PermissionDenied):
        preview_manual_merge(customer_ids=[c.pk for c in pair], actor=user)
    with pytest.raises(PermissionDenied):
        merge_manually(customer_ids=[c.pk for c in pair], actor=user, survivor_id=pair[1].pk)
    assert not Merge.objects.exists()


@pytest.mark.parametrize("role", ["steward", "superuser"])
def test_stewards_and_superusers_merge_through_the_page(staff, pair, role):
    _action(_signed_in(staff(role)), pair, _confirm_merge="Merge")
    assert Merge.objects.get().actor.username == role


# --- undo from the customer page -----------------------------------------------------------


@pytest.fixture
def merged(django_user_model, pair):
    root = django_user_model.objects.create_superuser("merging-root", password="pw-123456789")
    [merge] = merge_manually(customer_ids=[c.pk for c in pair], actor=root)
    return merge


def _page(client, merge):
    return client.get(reverse("admin:customers_customer_change", args=[merge.survivor_id]))


def test_the_undo_button_submits_its_own_form_not_the_edit_form(staff, merged):
    client = _signed_in(staff("steward"))
    undo_url = reverse("admin:customers_customer_undo_merge", args=[merged.survivor_id, merged.pk])
    body = _page(client, merged).content.decode()
    # the page reads first: no edit form around the merge table…
    assert 'id="customer_form"' not in body
    # …and the button sits in a form of its own that posts to the undo view
    own = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', body, re.S)
    assert own
    assert own.group(1) == undo_url
    assert "Undo merge" in own.group(2)
    # the edit form (behind "Edit") holds no undo form to submit by mistake
    editing = client.get(
        f"{reverse('admin:customers_customer_change', args=[merged.survivor_id])}?edit=1"
    )
    assert 'id="customer_form"' in editing.content.decode()
    assert undo_url not in editing.content.decode()


@pytest.mark.parametrize("role", ["steward", "superuser"])
def test_stewards_undo_a_merge_from_the_customer_page(staff, merged, role):
    user = staff(role)
    client = _signed_in(user)
    url = reverse("admin:customers_customer_undo_merge", args=[merged.survivor_id, merged.pk])
    response = client.post(url, follow=True)
    assert "is separate again" in response.content.decode()
    merged.refresh_from_db()
    assert (merged.undone_by, Customer.objects.active().count()) == (user, 2)


@pytest.mark.parametrize("role", ["viewer", "marketer"])
def test_viewers_and_marketers_cannot_undo_a_merge(staff, merged, role):
    user = staff(role)
    client = _signed_in(user)
    assert b"Undo merge" not in _page(client, merged).content
    url = reverse("admin:customers_customer_undo_merge", args=[merged.survivor_id, merged.pk])
    assert client.post(url).status_code == 403
    with pytest.raises(PermissionDenied):
        unmerge(merge=merged, actor=user)
    merged.refresh_from_db()
    assert merged.undone_at is None
