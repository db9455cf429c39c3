"""Conflicting identifiers and shared values: the rules, the steward's list, erasure."""

from datetime import date

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.roles import DATA_STEWARD, MARKETER, VIEWER
from consent.services.privacy import create_request
from customers.models import (
    Customer,
    DataQualityIssue,
    DuplicateSuggestion,
    IdentifierType,
    Identity,
    SharedValue,
)
from customers.services.duplicates import find_duplicates, merge_suggestion
from customers.services.shared_values import digest

PHONE = "+12125550187"
NOAH, SARAH, LIAM = (f"{n}.johnson@example.com" for n in ("noah", "sarah", "liam"))


def identities(customer):
    return set(Identity.objects.filter(customer=customer).values_list("type__name", "value"))


def test_a_new_email_with_a_known_phone_makes_a_second_profile_and_names_both(resolve):
    noah = resolve(("email", NOAH), ("phone", PHONE)).customer
    result = resolve(("email", SARAH), ("phone", PHONE))
    assert result.created
    assert identities(result.customer) == {("email", SARAH)}
    assert identities(noah) == {("email", NOAH), ("phone", PHONE)}
    issue = DataQualityIssue.objects.get(code="conflicting_identifier")
    assert (issue.customer_id, issue.field, issue.value) == (result.customer.pk, "phone", PHONE)
    assert SARAH in issue.message
    assert f"profile #{noah.pk}" in issue.message
    row = SharedValue.objects.get(value=PHONE)
    assert (row.status, row.seen_with) == ("shared", 2)
    assert row.companions == {"email": sorted([digest("email", NOAH), digest("email", SARAH)])}


def test_the_same_conflict_again_records_no_second_issue(resolve):
    IdentifierType.objects.filter(name="phone").update(shared_after=5)
    resolve(("email", NOAH), ("phone", PHONE))
    resolve(("email", SARAH), ("phone", PHONE))
    resolve(("email", SARAH), ("phone", PHONE))
    assert DataQualityIssue.objects.filter(code="conflicting_identifier").count() == 1
    assert SharedValue.objects.get(value=PHONE).status == "watched"


def test_a_value_is_flagged_once_seen_with_shared_after_distinct_values(resolve):
    IdentifierType.objects.filter(name="phone").update(shared_after=3)
    noah = resolve(("email", NOAH), ("phone", PHONE)).customer
    resolve(("email", SARAH), ("phone", PHONE))
    assert SharedValue.objects.get(value=PHONE).status == "watched"
    # still links a call that carries no email
    assert resolve(("anonymous_id", "tv-1"), ("phone", PHONE)).customer.pk == noah.pk
    resolve(("email", LIAM), ("phone", PHONE))
    row = SharedValue.objects.get(value=PHONE)
    assert (row.status, row.seen_with) == ("shared", 3)
    assert resolve(("anonymous_id", "tv-2"), ("phone", PHONE)).created


def test_a_shared_value_is_neither_matched_nor_attached(resolve):
    resolve(("email", NOAH), ("phone", PHONE))
    resolve(("email", SARAH), ("phone", PHONE))
    liam = resolve(("email", LIAM), ("phone", PHONE))
    assert liam.created
    assert identities(liam.customer) == {("email", LIAM)}
    assert Identity.objects.filter(value=PHONE).count() == 1
    # no issue: the value is listed for stewards, not reported on every call
    assert DataQualityIssue.objects.filter(code="conflicting_identifier").count() == 1


def test_a_higher_priority_type_the_profile_does_not_hold_is_no_conflict(resolve):
    caller = resolve(("anonymous_id", "call-centre-7"), ("phone", PHONE)).customer
    result = resolve(("email", NOAH), ("phone", PHONE))
    assert result.customer.pk == caller.pk
    assert not SharedValue.objects.exists()


def test_an_equal_higher_priority_value_is_no_conflict(resolve):
    noah = resolve(("email", NOAH), ("phone", PHONE)).customer
    assert resolve(("email", NOAH), ("phone", PHONE), ("anonymous_id", "d")).customer == noah
    assert not DataQualityIssue.objects.exists()


def test_probable_duplicates_still_merge_and_keep_both_values(db, steward):
    base = {"first_name": "Annabel", "last_name": "Lindqvist", "birthday": date(1988, 4, 12)}
    ann = Customer.objects.create(**base, email="annabel@example.com")
    other = Customer.objects.create(**{**base, "last_name": "Lindquist"}, email="a.l@example.org")
    phone = IdentifierType.objects.get(name="phone")
    email = IdentifierType.objects.get(name="email")
    Identity.objects.create(type=email, value="annabel@example.com", customer=ann)
    Identity.objects.create(type=phone, value=PHONE, customer=ann)
    Identity.objects.create(type=email, value="a.l@example.org", customer=other)
    find_duplicates()
    suggestion = DuplicateSuggestion.objects.get()
    merge = merge_suggestion(suggestion=suggestion, actor=steward)
    survivor = Customer.objects.get(pk=merge.survivor_id)
    assert {v for t, v in identities(survivor) if t == "email"} == {
        "annabel@example.com",
        "a.l@example.org",
    }


# --- the stewards' list ---------------------------------------------------------


def _client(django_user_model, role: str) -> Client:
    user = django_user_model.objects.create_user(role, password="pw-123456789", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def household(resolve):
    noah = resolve(("email", NOAH), ("phone", PHONE)).customer
    resolve(("email", SARAH), ("phone", PHONE))
    return noah, SharedValue.objects.get(value=PHONE)


def _act(client, action, row):
    return client.post(
        reverse("admin:customers_sharedvalue_changelist"),
        {"action": action, "_selected_action": [row.pk]},
    )


def test_a_steward_unflags_a_value_and_it_links_again_for_good(
    household, resolve, django_user_model
):
    noah, row = household
    response = _act(_client(django_user_model, DATA_STEWARD), "unflag_selected", row)
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == "unflagged"
    assert row.history.first().history_user.username == DATA_STEWARD
    assert resolve(("anonymous_id", "tv-1"), ("phone", PHONE)).customer.pk == noah.pk
    # a later conflict is still refused, but the value is not flagged again
    resolve(("email", LIAM), ("phone", PHONE))
    row.refresh_from_db()
    assert (row.status, row.seen_with) == ("unflagged", 3)


def test_a_steward_blocks_a_value_and_it_is_never_used_again(household, resolve, django_user_model):
    _noah, row = household
    _act(_client(django_user_model, DATA_STEWARD), "block_selected", row)
    row.refresh_from_db()
    assert row.status == "blocked"
    assert PHONE in IdentifierType.objects.get(name="phone").blocked_values
    resolve(("email", LIAM), ("phone", PHONE))
    assert DataQualityIssue.objects.filter(code="blocked_identifier", value=PHONE).exists()


@pytest.mark.parametrize("role", [MARKETER, VIEWER])
def test_marketers_and_viewers_read_the_list_but_cannot_change_it(
    household, django_user_model, role
):
    _noah, row = household
    client = _client(django_user_model, role)
    listing = client.get(reverse("admin:customers_sharedvalue_changelist"))
    assert listing.status_code == 200
    body = listing.content.decode()
    assert ("•••87" in body) == (role == VIEWER)
    assert (PHONE in body) == (role == MARKETER)
    assert "unflag_selected" not in body
    _act(client, "unflag_selected", row)
    _act(client, "block_selected", row)
    row.refresh_from_db()
    assert row.status == "shared"
    assert PHONE not in IdentifierType.objects.get(name="phone").blocked_values


def test_the_list_has_bounded_queries(resolve, admin_client, django_assert_max_num_queries):
    for n in range(8):
        phone = f"+1212555{n:04d}"
        resolve(("email", f"a{n}@example.com"), ("phone", phone))
        resolve(("email", f"b{n}@example.com"), ("phone", phone))
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:customers_sharedvalue_changelist"))
    assert len(response.context["cl"].result_list) == 8


# --- erasure ------------------------------------------------------------------------


def test_erasing_the_owner_removes_the_value_and_its_history(
    household, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        create_request(type="erasure", identifier=f"email:{NOAH}")
    assert not SharedValue.objects.exists()
    assert not SharedValue.history.exists()


def test_erasing_another_person_removes_their_trace_from_the_value(
    household, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        create_request(type="erasure", identifier=f"email:{SARAH}")
    row = SharedValue.objects.get(value=PHONE)
    assert (row.companions, row.seen_with) == ({"email": [digest("email", NOAH)]}, 1)
