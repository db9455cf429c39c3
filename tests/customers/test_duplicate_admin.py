from datetime import date

from django.urls import reverse

from customers.models import Customer, DuplicateSuggestion, Merge
from customers.services.duplicates import find_duplicates


def queue(db):
    base = {"first_name": "Annabel", "last_name": "Lindqvist", "birthday": date(1988, 4, 12)}
    Customer.objects.create(**base, city="Berlin")
    Customer.objects.create(**{**base, "last_name": "Lindquist"}, city="Berlin")
    find_duplicates()
    return DuplicateSuggestion.objects.get()


def test_review_page_shows_both_profiles_side_by_side(db, admin_client):
    suggestion = queue(db)
    url = reverse("admin:customers_duplicatesuggestion_change", args=[suggestion.pk])
    body = admin_client.get(url).content.decode()
    assert "Lindqvist" in body
    assert "Lindquist" in body
    assert 'name="_merge"' in body
    assert 'name="_distinct"' in body
    together = suggestion.comparison["together"]
    assert "<th>Fields together</th>" in body
    assert f"{together:+.1f}" in body


def test_review_merge_button_merges_and_records_the_steward(db, admin_client):
    suggestion = queue(db)
    url = reverse("admin:customers_duplicatesuggestion_change", args=[suggestion.pk])
    response = admin_client.post(url, {"_merge": "1"})
    assert response.status_code == 302
    merge = Merge.objects.get()
    assert (merge.reason, merge.actor.username) == ("duplicate", "boss")
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.merge_id) == ("merged", merge.pk)


def test_review_not_the_same_person_button_is_remembered(db, admin_client):
    suggestion = queue(db)
    url = reverse("admin:customers_duplicatesuggestion_change", args=[suggestion.pk])
    admin_client.post(url, {"_distinct": "1"})
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.decided_by.username) == ("distinct", "boss")
    assert Merge.objects.count() == 0


def test_review_queue_list_has_bounded_queries(db, admin_client, django_assert_max_num_queries):
    for i in range(10):
        base = {
            "first_name": f"Person{chr(65 + i)}",
            "last_name": "Lindqvist",
            "birthday": date(1980 + i, 1, 1),
        }
        Customer.objects.create(**base)
        Customer.objects.create(**{**base, "last_name": "Lindquist"})
    find_duplicates()
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:customers_duplicatesuggestion_changelist"))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 10
