"""GET /api/v1/duplicates/: a suggestion's score and why, for every role (issue 22)."""

from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.roles import DATA_STEWARD, MARKETER, VIEWER
from accounts.services.api_keys import create_api_key
from customers.models import Customer, DuplicateSuggestion
from customers.services.duplicates import find_duplicates

ANN = {
    "first_name": "Annabel",
    "last_name": "Lindqvist",
    "email": "annabel.lindqvist@example.com",
    "phone": "+4915123456789",
    "birthday": date(1988, 4, 12),
    "address_line1": "Hauptstraße 12",
    "postal_code": "10115",
    "city": "Berlin",
}
# the same person, typed again: a nickname-free typo, another mailbox, no phone
COPY = {
    **ANN,
    "last_name": "Lindquist",
    "email": "a.lindqvist@example.org",
    "phone": "",
    "birthday": date(1988, 12, 4),
}
ROLES = {"viewer": VIEWER, "marketer": MARKETER, "steward": DATA_STEWARD}


@pytest.fixture
def suggestion(db):
    Customer.objects.create(**ANN)
    Customer.objects.create(**COPY)
    report = find_duplicates()
    assert report.suggested == 1
    return DuplicateSuggestion.objects.get()


@pytest.fixture
def client_as(db, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    def make(role: str) -> Client:
        if role == "admin":
            user = django_user_model.objects.create_superuser("root-dup", "root@staff.invalid")
        else:
            user = django_user_model.objects.create_user(f"{role}-dup", is_staff=True)
            if role in ROLES:
                user.groups.add(Group.objects.get(name=ROLES[role]))
        client = Client()
        client.force_login(user)
        return client

    return make


def url(pk) -> str:
    return f"/api/v1/duplicates/{pk}/"


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code


@pytest.mark.parametrize("role", ["marketer", "steward", "admin"])
def test_roles_that_see_contact_details_read_values_levels_and_weights(suggestion, client_as, role):
    response = client_as(role).get(url(suggestion.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["score"] == suggestion.score
    assert body["status"] == "pending"
    assert body["prior"] == suggestion.comparison["prior"]
    assert body["together"] == suggestion.comparison["together"]
    emails = {side["email"] for side in body["profiles"]}
    assert emails == {ANN["email"], COPY["email"]}
    by_field = {row["field"]: row for row in body["comparison"]}
    stored = suggestion.comparison["fields"]
    assert set(by_field) == set(stored)
    for name, row in by_field.items():
        assert row["level"] == stored[name]["level"]
        assert row["weight"] == stored[name]["weight"]
    assert by_field["first_name"]["outcome"] == "agreed"
    assert by_field["last_name"]["outcome"] == "partly agreed"
    assert by_field["birthday"]["level"] == "close"  # day and month swapped
    assert by_field["phone"]["outcome"] == "missing"
    assert by_field["phone"]["weight"] == 0.0
    assert by_field["email"]["outcome"] in {"partly agreed", "disagreed"}


def test_a_viewer_sees_the_explanation_with_contact_details_masked(suggestion, client_as):
    steward = client_as("steward").get(url(suggestion.pk)).json()
    response = client_as("viewer").get(url(suggestion.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["comparison"] == steward["comparison"]
    assert body["score"] == steward["score"]
    text = response.content.decode()
    assert ANN["email"] not in text
    assert COPY["email"] not in text
    assert "123456789" not in text
    sides = {side["id"]: side for side in body["profiles"]}
    assert all("•" in side["email"] for side in sides.values())


def test_a_staff_user_without_a_role_is_refused(suggestion, client_as):
    assert_error(client_as("nobody").get(url(suggestion.pk)), 403, "missing_scope")


def test_api_keys_need_profiles_read(suggestion):
    _, key = create_api_key(name="reader", scopes=["profiles:read"])
    allowed = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(url(suggestion.pk))
    assert allowed.status_code == 200
    assert ANN["email"] in allowed.content.decode()
    _, other = create_api_key(name="segments only", scopes=["segments:read"])
    refused = Client(HTTP_AUTHORIZATION=f"Bearer {other}").get(url(suggestion.pk))
    assert_error(refused, 403, "missing_scope")


def test_anonymous_is_refused(suggestion):
    response = Client().get(url(suggestion.pk))
    assert response.status_code == 401
    assert "code" in response.json()


@pytest.mark.parametrize("pk", ["999999", "abc", "1%00", "-1"])
def test_unknown_or_hostile_ids_are_404_with_the_error_shape(suggestion, client_as, pk):
    response = client_as("steward").get(url(pk))
    assert response.status_code == 404
    assert "code" in response.json()


def test_the_list_filters_by_status_and_refuses_an_unknown_one(suggestion, client_as):
    client = client_as("steward")
    pending = client.get("/api/v1/duplicates/", {"status": "pending"}).json()
    assert [row["id"] for row in pending["results"]] == [suggestion.pk]
    assert client.get("/api/v1/duplicates/", {"status": "merged"}).json()["results"] == []
    assert_error(client.get("/api/v1/duplicates/", {"status": "bogus"}), 400, "invalid")


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward", "admin"])
def test_a_sure_pair_held_at_the_merge_cap_says_so_to_every_role(db, client_as, role, settings):
    # three copies of one person, merge cap 2: one pair merges, the next
    # sure pair would make a cluster of three and waits for a person
    settings.TRIBUTARY_MAX_MERGE_PROFILES = 2
    Customer.objects.create(**ANN)
    Customer.objects.create(**{**ANN, "first_name": "Anabel", "email": ""})
    Customer.objects.create(**{**ANN, "last_name": "Lindquist", "phone": ""})
    report = find_duplicates(merge_above=0.9)
    assert report.merged == 1
    assert report.not_merged >= 1
    held = DuplicateSuggestion.objects.filter(status="pending", score__gte=0.9).first()
    client = client_as(role)
    body = client.get(url(held.pk)).json()
    assert body["held"] == "merge_cap"
    assert {row["field"] for row in body["comparison"]} == set(held.comparison["fields"])
    listed = client.get("/api/v1/duplicates/", {"status": "pending"}).json()
    assert {row["held"] for row in listed["results"] if row["score"] >= 0.9} == {"merge_cap"}


def test_a_pair_below_the_merge_threshold_is_not_held(suggestion, client_as):
    assert client_as("steward").get(url(suggestion.pk)).json()["held"] is None


def test_prior_weights_and_together_add_up_to_the_score(suggestion, client_as):
    body = client_as("steward").get(url(suggestion.pk)).json()
    evidence = body["prior"] + body["together"] + sum(row["weight"] for row in body["comparison"])
    # each part is rounded to 0.01 bit
    assert 1 / (1 + 2**-evidence) == pytest.approx(body["score"], abs=0.01)
