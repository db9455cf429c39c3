import pytest
from django.test import override_settings

from customers.models import Customer, DataQualityIssue, IdentifierType, Identity, Merge
from tests.calls import call


def identities(customer):
    return set(Identity.objects.filter(customer=customer).values_list("type__name", "value"))


def test_unknown_identifiers_create_one_new_profile(resolve):
    result = resolve(("anonymous_id", "dev-1"), ("email", "ann@example.com"))
    assert result.created
    assert identities(result.customer) == {
        ("anonymous_id", "dev-1"),
        ("email", "ann@example.com"),
    }
    assert result.customer.is_identified


def test_anonymous_only_profile_is_not_identified(resolve):
    assert not resolve(("anonymous_id", "dev-1")).customer.is_identified


def test_known_identifier_attaches_new_ones_to_the_same_profile(resolve):
    first = resolve(("anonymous_id", "dev-1"))
    second = resolve(("anonymous_id", "dev-1"), ("user_id", "u-1"))
    assert not second.created
    assert second.customer.pk == first.customer.pk
    assert second.new_identities == ("user_id:u-1",)


def test_identifiers_of_two_profiles_merge_them_into_the_identified_one(resolve):
    anonymous = resolve(("anonymous_id", "dev-1")).customer
    known = resolve(("user_id", "u-1")).customer
    result = resolve(("user_id", "u-1"), ("anonymous_id", "dev-1"), message_id="m-9")
    assert result.customer.pk == known.pk
    assert result.absorbed_ids == (anonymous.pk,)
    anonymous.refresh_from_db()
    assert anonymous.merged_into_id == known.pk
    merge = Merge.objects.get()
    assert (merge.reason, merge.detail["message_id"], merge.detail["identifiers"]) == (
        "identifier",
        "m-9",
        ["anonymous_id:dev-1"],
    )


def test_alias_chain_joins_every_device_into_one_person(resolve):
    devices = [resolve(("anonymous_id", f"dev-{i}")).customer for i in range(3)]
    for i in range(3):
        resolve(("user_id", "u-1"), ("anonymous_id", f"dev-{i}"))
    survivors = {Identity.objects.get(value=f"dev-{i}").customer_id for i in range(3)}
    assert survivors == {devices[0].pk}
    assert Customer.objects.active().count() == 1


def test_a_known_email_with_another_user_id_is_a_conflict_and_stays_with_its_profile(resolve):
    ann = resolve(("user_id", "u-ann"), ("email", "shared@example.com")).customer
    result = resolve(("user_id", "u-bob"), ("email", "shared@example.com"), source_id=None)
    assert result.created
    assert result.customer.pk != ann.pk
    assert identities(result.customer) == {("user_id", "u-bob")}
    assert identities(ann) == {("user_id", "u-ann"), ("email", "shared@example.com")}
    assert Merge.objects.count() == 0
    issue = DataQualityIssue.objects.get()
    assert (issue.customer_id, issue.field, issue.code) == (
        result.customer.pk,
        "email",
        "conflicting_identifier",
    )


def test_a_device_of_another_user_id_stays_with_its_profile(resolve):
    ann = resolve(("user_id", "u-ann")).customer
    other = resolve(("anonymous_id", "dev-1"), ("user_id", "u-other")).customer
    result = resolve(("user_id", "u-ann"), ("anonymous_id", "dev-1"))
    assert result.customer.pk == ann.pk
    assert Identity.objects.get(value="dev-1").customer_id == other.pk
    assert list(DataQualityIssue.objects.values_list("customer", "field", "code")) == [
        (ann.pk, "anonymous_id", "conflicting_identifier")
    ]


def test_limit_conflict_keeps_the_higher_priority_identifier_on_a_known_profile(resolve):
    ann = resolve(("user_id", "u-ann"), ("anonymous_id", "dev-0")).customer
    other = resolve(("anonymous_id", "dev-1"), ("user_id", "u-other")).customer
    # no user id on the call (no conflict), but one profile may hold one user id
    result = resolve(("anonymous_id", "dev-0"), ("anonymous_id", "dev-1"))
    assert result.customer.pk == ann.pk
    assert Identity.objects.get(value="dev-1").customer_id == other.pk
    assert [c.code for c in result.conflicts] == ["limit_conflict"]


def test_per_profile_limit_refuses_one_identifier_too_many(resolve):
    IdentifierType.objects.filter(name="email").update(max_per_profile=2)
    ann = resolve(("user_id", "u-1"), ("email", "a1@example.com")).customer
    resolve(("user_id", "u-1"), ("email", "a2@example.com"))
    result = resolve(("user_id", "u-1"), ("email", "a3@example.com"))
    assert result.customer.pk == ann.pk
    assert {v for t, v in identities(ann) if t == "email"} == {"a1@example.com", "a2@example.com"}
    assert [(c.value, c.code) for c in result.conflicts] == [("a3@example.com", "limit_conflict")]


def test_type_that_does_not_merge_attaches_but_never_joins_two_profiles(resolve):
    IdentifierType.objects.filter(name="phone").update(merges=False)
    ann = resolve(("email", "ann@example.com")).customer
    bob = resolve(("phone", "+4915123456789")).customer
    result = resolve(("email", "ann@example.com"), ("phone", "+4915123456789"))
    assert result.customer.pk == ann.pk
    assert Identity.objects.get(value="+4915123456789").customer_id == bob.pk
    assert Customer.objects.active().count() == 2
    assert [c.code for c in result.conflicts] == ["merge_not_allowed"]
    attached = resolve(("email", "ann@example.com"), ("phone", "+4915199999999"))
    assert attached.new_identities == ("phone:+4915199999999",)


def test_blocked_values_are_never_used_and_are_recorded(resolve):
    IdentifierType.objects.filter(name="email").update(blocked_values=["test@example.com"])
    ann = resolve(("user_id", "u-ann"), ("email", "test@example.com")).customer
    bob = resolve(("user_id", "u-bob"), ("email", "TEST@example.com".lower())).customer
    assert ann.pk != bob.pk
    assert not Identity.objects.filter(value="test@example.com").exists()
    assert list(DataQualityIssue.objects.values_list("code", flat=True)) == [
        "blocked_identifier",
        "blocked_identifier",
    ]


@override_settings(TRIBUTARY_MAX_MERGE_PROFILES=2)
def test_one_message_never_absorbs_more_than_the_configured_number(resolve):
    people = [resolve(("anonymous_id", f"dev-{i}")).customer for i in range(4)]
    result = resolve(*[("anonymous_id", f"dev-{i}") for i in range(4)])
    assert result.customer.pk == people[0].pk
    assert result.absorbed_ids == (people[1].pk, people[2].pk)
    assert Identity.objects.get(value="dev-3").customer_id == people[3].pk
    assert [(c.value, c.code) for c in result.conflicts] == [("dev-3", "merge_cap")]


def test_merging_three_profiles_at_once_keeps_one_with_everything(resolve, source):
    people = [resolve(("anonymous_id", f"dev-{i}")).customer for i in range(3)]
    for i, person in enumerate(people):
        call(
            source,
            at=person.first_seen,
            type="track",
            event=f"E{i}",
            message_id=f"m-{i}",
            anonymous_id=f"dev-{i}",
        )
    result = resolve(("user_id", "u-1"), *[("anonymous_id", f"dev-{i}") for i in range(3)])
    survivor = result.customer
    assert survivor.pk == people[0].pk
    assert sorted(result.absorbed_ids) == [people[1].pk, people[2].pk]
    assert sorted(survivor.events.values_list("name", flat=True)) == ["E0", "E1", "E2"]
    assert identities(survivor) == {("user_id", "u-1")} | {
        ("anonymous_id", f"dev-{i}") for i in range(3)
    }
    assert Merge.objects.count() == 2


@pytest.mark.parametrize("type_name", ["user_id", "anonymous_id"])
def test_lookup_by_old_identifier_reaches_the_survivor(resolve, type_name):
    from customers.selectors import customer_ids_matching_identifier

    old = resolve((type_name, "x-1")).customer
    other = resolve(("email", "ann@example.com")).customer
    survivor = resolve((type_name, "x-1"), ("email", "ann@example.com")).customer
    assert customer_ids_matching_identifier(f"{type_name}:x-1") == {survivor.pk}
    assert {old.pk, other.pk} >= {survivor.pk}
