"""Merging by hand and undoing it, clicked through in Chromium: the confirmation page
picks the profile kept, and "Undo merge" on the customer page really splits it
(it used to sit in a form nested in the edit form, so the browser submitted the
edit form and nothing was undone)."""

import pytest
from django.utils import timezone

from customers.models import Customer, Merge
from customers.services.identity import resolve_identity
from customers.services.merging import merge_manually
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def _person(email: str, **fields) -> Customer:
    customer = resolve_identity(
        identifiers=[("email", email)], source_id=None, seen_at=timezone.now()
    ).customer
    Customer.objects.filter(pk=customer.pk).update(email=email, **fields)
    return Customer.objects.get(pk=customer.pk)


def test_steward_undoes_a_merge_with_the_button_on_the_customer_page(login, users):
    kept = _person("bjorn.asgeirsson@example.is", first_name="Björn", last_name="Ásgeirsson")
    other = _person("b.asgeirsson@example.is", first_name="Bjorn", city="Reykjavík")
    [merge] = merge_manually(customer_ids=[kept.pk, other.pk], actor=users["admin"])
    page = login("steward")
    page.goto(f"/admin/customers/customer/{merge.survivor_id}/change/")
    page.click("#bo-merges button:text-is('Undo merge')")
    page.wait_for_selector("text=is separate again")
    merge.refresh_from_db()
    assert merge.undone_by == users["steward"]
    assert Customer.objects.get(pk=merge.absorbed_id).merged_into_id is None
    screenshot(page, "undo-merge")


def test_steward_merges_through_the_confirmation_page_keeping_the_profile_picked(login):
    first = _person("ines.garcia@example.es", first_name="Inés", last_name="García")
    second = _person("ines.g@example.es", first_name="Ines", phone="+34600111222")
    page = login("steward")
    page.goto("/admin/customers/customer/")
    for customer in (first, second):
        page.check(f"input.action-select[value='{customer.pk}']")
    page.select_option("select[name=action]", "merge_selected")
    page.click("button[name=index]")
    page.wait_for_selector("#merge-confirm")
    assert not Merge.objects.exists()
    page.check(f"input[name=survivor][value='{second.pk}']")
    page.click("input[name=_preview]")
    page.wait_for_selector(f"input[name=survivor][value='{second.pk}']:checked")
    screenshot(page, "merge-confirmation")
    page.click("input[name=_confirm_merge]")
    page.wait_for_selector("text=Undo from its page or the merge log")
    merge = Merge.objects.get()
    assert (merge.survivor_id, merge.absorbed_id) == (second.pk, first.pk)
