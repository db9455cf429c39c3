from django.urls import reverse

from customers.models import Customer, Merge
from customers.services.merging import merge_manually


def test_admin_action_merges_selected_customers(resolve, admin_client):
    anonymous = resolve(("anonymous_id", "d-1")).customer
    known = resolve(("email", "ann@example.com")).customer
    response = admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {
            "action": "merge_selected",
            "_selected_action": [anonymous.pk, known.pk],
            "_confirm_merge": "Merge",
        },
        follow=True,
    )
    assert response.status_code == 200
    merge = Merge.objects.get()
    assert (merge.survivor_id, merge.absorbed_id, merge.reason) == (
        known.pk,
        anonymous.pk,
        "manual",
    )
    assert merge.actor.username == "boss"
    assert list(Customer.objects.active().values_list("pk", flat=True)) == [known.pk]


def test_admin_action_with_one_customer_explains_instead_of_merging(resolve, admin_client):
    one = resolve(("anonymous_id", "d-1")).customer
    response = admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "merge_selected", "_selected_action": [one.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["pick at least two profiles to merge"]
    assert Merge.objects.count() == 0


def test_merge_log_lists_merges_and_undo_action_unmerges(steward, resolve, admin_client):
    a = resolve(("anonymous_id", "d-1")).customer
    b = resolve(("anonymous_id", "d-2")).customer
    [merge] = merge_manually(customer_ids=[a.pk, b.pk], actor=steward)
    url = reverse("admin:customers_merge_changelist")
    listing = admin_client.get(url)
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [merge]
    detail = admin_client.get(reverse("admin:customers_merge_change", args=[merge.pk]))
    assert detail.status_code == 200
    assert "customers.Identity.customer: 1" in detail.content.decode()
    admin_client.post(url, {"action": "undo_merges", "_selected_action": [merge.pk]}, follow=True)
    merge.refresh_from_db()
    assert merge.undone_by.username == "boss"
    assert Customer.objects.active().count() == 2


def test_merge_log_list_has_bounded_queries(
    steward, resolve, admin_client, django_assert_max_num_queries
):
    for i in range(10):
        a = resolve(("anonymous_id", f"a-{i}")).customer
        b = resolve(("anonymous_id", f"b-{i}")).customer
        merge_manually(customer_ids=[a.pk, b.pk], actor=steward)
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:customers_merge_changelist"))
    assert response.status_code == 200


def test_customer_page_shows_its_merge_history(steward, resolve, admin_client):
    a = resolve(("anonymous_id", "d-1")).customer
    b = resolve(("anonymous_id", "d-2")).customer
    [merge] = merge_manually(customer_ids=[a.pk, b.pk], actor=steward)
    page = admin_client.get(reverse("admin:customers_customer_change", args=[a.pk]))
    body = page.content.decode()
    assert reverse("admin:customers_merge_change", args=[merge.pk]) in body
    assert f"#{b.pk} into #{a.pk}" in body
