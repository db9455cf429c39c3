"""Issue 19's bugs: a batch and single calls disagreed, an alias could not
rename a user id, and two rules decided which value wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from customers.models import (
    Customer,
    DataQualityIssue,
    IdentifierType,
    Identity,
    TraitSourcePriority,
)
from customers.selectors import find_customer_by_identifier
from sources.services.keys import create_source
from tests.calls import call

T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)


def identities(customer_id: int) -> set[str]:
    rows = Identity.objects.filter(customer_id=customer_id).values_list("type__name", "value")
    return {f"{t}:{v}" for t, v in rows}


def active_identity_sets() -> list[set[str]]:
    return sorted(
        (identities(pk) for pk in Customer.objects.active().values_list("pk", flat=True)),
        key=sorted,
    )


RENAME = [
    {"type": "identify", "userId": "u9", "traits": {"email": "nia@example.com"}},
    {"type": "alias", "previousId": "u9", "userId": "u10"},
]


def test_identify_then_alias_in_one_batch_gives_no_spurious_anonymous_id(send):
    response = send("/v1/batch", {"batch": RENAME})

    assert response.status_code == 200
    assert active_identity_sets() == [{"email:nia@example.com", "user_id:u9", "user_id:u10"}]
    assert not Identity.objects.filter(type__name="anonymous_id", value="u9").exists()


def test_identify_then_alias_one_call_at_a_time_gives_the_same_profile(send):
    for payload in RENAME:
        assert send(f"/v1/{payload['type']}", payload).status_code == 200

    assert active_identity_sets() == [{"email:nia@example.com", "user_id:u9", "user_id:u10"}]


def test_with_three_user_ids_allowed_a_batch_leaves_one_profile_as_single_calls_do(send):
    IdentifierType.objects.filter(name="user_id").update(max_per_profile=3)

    send("/v1/batch", {"batch": RENAME})

    assert active_identity_sets() == [{"email:nia@example.com", "user_id:u9", "user_id:u10"}]
    assert Identity.objects.get(value="u9").superseded_at is not None  # renamed all the same


def test_alias_of_a_former_user_id_joins_the_two_profiles(source):
    legacy = call(source, at=T0, user_id="legacy-7", traits={"email": "old@example.com"})
    current = call(source, at=T0 + timedelta(minutes=1), user_id="u-1")

    result = call(
        source, at=T0 + timedelta(minutes=2), type="alias", previous_id="legacy-7", user_id="u-1"
    )

    survivor = result.customer
    assert {legacy.customer.pk, current.customer.pk} == {survivor.pk, *result.merged_ids}
    assert identities(survivor.pk) == {
        "user_id:legacy-7",
        "user_id:u-1",
        "email:old@example.com",
    }
    renamed = Identity.objects.get(type__name="user_id", value="legacy-7")
    assert renamed.superseded_at == T0 + timedelta(minutes=2)
    assert Identity.objects.get(type__name="user_id", value="u-1").superseded_at is None
    assert not DataQualityIssue.objects.filter(code="limit_conflict").exists()


def test_a_superseded_user_id_still_finds_the_profile(source):
    call(source, at=T0, user_id="legacy-7")
    alias = call(
        source, at=T0 + timedelta(minutes=1), type="alias", previous_id="legacy-7", user_id="u-1"
    )

    assert find_customer_by_identifier(type_name="user_id", value="legacy-7") == alias.customer
    later = call(source, at=T0 + timedelta(minutes=2), user_id="legacy-7", traits={"plan": "pro"})
    assert later.customer.pk == alias.customer.pk
    assert Customer.objects.active().count() == 1


def test_a_superseded_user_id_does_not_count_toward_the_limit(source):
    call(source, at=T0, user_id="legacy-7")
    call(source, at=T0 + timedelta(minutes=1), type="alias", previous_id="legacy-7", user_id="u-1")

    # the profile holds one counted user id: renaming it again is allowed too
    result = call(
        source, at=T0 + timedelta(minutes=2), type="alias", previous_id="u-1", user_id="u-2"
    )

    assert identities(result.customer.pk) == {"user_id:legacy-7", "user_id:u-1", "user_id:u-2"}
    assert set(
        Identity.objects.filter(superseded_at__isnull=True).values_list("value", flat=True)
    ) == {"u-2"}
    assert not DataQualityIssue.objects.exists()


def test_a_refused_alias_shows_on_the_profile_and_the_source_page(source, admin_client):
    IdentifierType.objects.filter(name="email").update(max_per_profile=1)
    call(source, at=T0, user_id="legacy-7", traits={"email": "old@example.com"})
    current = call(
        source, at=T0 + timedelta(minutes=1), user_id="u-1", traits={"email": "new@example.com"}
    )

    call(source, at=T0 + timedelta(minutes=2), type="alias", previous_id="legacy-7", user_id="u-1")

    issue = DataQualityIssue.objects.get(code="limit_conflict")
    assert (issue.customer_id, issue.source_id) == (current.customer.pk, source.pk)
    profile_page = admin_client.get(f"/admin/customers/customer/{current.customer.pk}/change/")
    assert (
        "limit_conflict" in profile_page.content.decode()
        or "legacy-7" in profile_page.content.decode()
    )
    sources_page = admin_client.get("/admin/customers/source/")
    assert sources_page.context["cl"].result_list[0].identity_refusals_last_day == 1


def test_a_later_unranked_value_does_not_overwrite_a_ranked_one(source):
    crm, _key = create_source(name="CRM", kind="crm")
    TraitSourcePriority.objects.create(source=crm, priority=1)
    call(crm, at=T0, user_id="u-1", traits={"lastName": "Lee", "plan": "gold"})

    call(
        source, at=T0 + timedelta(days=1), user_id="u-1", traits={"lastName": "Li", "plan": "free"}
    )

    customer = Customer.objects.get()
    assert (customer.last_name, customer.traits["plan"]) == ("Lee", "gold")
    assert customer.trait_provenance["last_name"] == {
        "source": crm.pk,
        "at": T0.isoformat(),
    }


def test_a_lower_rank_wins_and_equal_ranks_take_the_later_timestamp(source):
    crm, _key = create_source(name="CRM", kind="crm")
    shop, _key = create_source(name="Shop", kind="server")
    TraitSourcePriority.objects.create(source=crm, priority=1)
    TraitSourcePriority.objects.create(source=shop, priority=2)
    call(shop, at=T0, user_id="u-1", traits={"plan": "shop"})
    call(
        crm, at=T0 - timedelta(days=1), user_id="u-1", traits={"plan": "crm"}
    )  # older, but ranked higher
    assert Customer.objects.get().traits["plan"] == "crm"

    call(crm, at=T0 - timedelta(days=2), user_id="u-1", traits={"plan": "crm-older"})
    assert Customer.objects.get().traits["plan"] == "crm"  # same rank: the later timestamp

    call(crm, at=T0 + timedelta(days=1), user_id="u-1", traits={"plan": "crm-newer"})
    assert Customer.objects.get().traits["plan"] == "crm-newer"
