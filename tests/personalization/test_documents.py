"""Profile documents: cached per (profile, version), never stale after a commit.

Each test reads an answer (so the document is cached), makes one kind of
change through its service, and reads again. The cache is poisoned first
in ``test_a_cached_document_is_served_until_the_version_moves`` to show the
answers really come from it.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from consent.services.privacy import create_request
from customers.models import Customer, Merge
from customers.pointers import document_versions
from customers.services.merging import merge_customers
from segments.models import Segment
from segments.services import recompute_segment, save_segment
from segments.stored import StoredValue, declare_stored_trait, write_stored_values
from sources.personalization.config import forget_config
from tests.personalization.conftest import configure, grant, profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def rest(client, django_user_model):
    from accounts.services.api_keys import create_api_key

    _key, secret = create_api_key(name="site renderer", scopes=["profiles:read"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    def _get(identifier: str):
        return client.get(f"/api/v1/profiles/{identifier}/", **auth)

    return _get


def _version(customer: Customer) -> int:
    return document_versions([customer.pk])[customer.pk]


def test_a_cached_document_is_served_until_the_version_moves(ask, track, elodie):
    assert ask(userId="cust-1042").json()["traits"]["plan"] == "gold"
    version, fingerprint, document = cache.get(f"profile-doc:{elodie.pk}")
    assert version == _version(elodie)
    cache.set(
        f"profile-doc:{elodie.pk}",
        (version, fingerprint, {**document, "traits": {**document["traits"], "plan": "cached"}}),
    )
    assert ask(userId="cust-1042").json()["traits"]["plan"] == "cached"
    track("identify", {"userId": "cust-1042", "traits": {"favourite_colour": "bleu"}})
    assert _version(elodie) > version
    fresh = ask(userId="cust-1042").json()["traits"]
    assert fresh == {"plan": "gold", "first_name": "Élodie", "favourite_colour": "bleu"}


def test_the_rest_api_reads_the_same_documents(ask, rest, track, elodie):
    ask(userId="cust-1042")
    _v, _f, document = cache.get(f"profile-doc:{elodie.pk}")
    answer = rest("user_id:cust-1042").json()
    assert answer == document
    assert answer["email"] == "elodie.marchand@example.fr"  # an API key sees everything
    track("identify", {"userId": "cust-1042", "traits": {"plan": "platinum"}})
    assert rest("user_id:cust-1042").json()["traits"]["plan"] == "platinum"
    assert rest("email:Elodie.Marchand@example.fr").json()["id"] == elodie.pk
    assert rest("user_id:nobody").status_code == 404
    assert rest("nonsense").json()["code"] == "invalid_identifier"
    assert rest("shoe_size:42").json()["code"] == "unknown_identifier_type"


def test_new_identities(rest, track, elodie):
    before = {i["value"] for i in rest("user_id:cust-1042").json()["identities"]}
    track("page", {"userId": "cust-1042", "anonymousId": "9c0d-second-browser", "name": "Home"})
    after = {i["value"] for i in rest("user_id:cust-1042").json()["identities"]}
    assert after == {*before, "9c0d-second-browser"}


def test_merges(ask, rest, track, elodie):
    track(
        "identify", {"userId": "guest-9", "traits": {"plan": "trial", "favourite_colour": "rouge"}}
    )
    guest = profile("guest-9")
    rest("user_id:cust-1042")
    merge_customers(survivor=elodie, absorbed=[guest], reason=Merge.Reason.MANUAL)
    identities = {i["value"] for i in rest("user_id:cust-1042").json()["identities"]}
    assert "guest-9" in identities
    # the absorbed id now answers with the survivor's document
    assert ask(userId="guest-9").json()["traits"]["first_name"] == "Élodie"


def test_segment_transitions(ask, elodie):
    segment = save_segment(name="Gold members", rule={"trait": "plan", "op": "eq", "value": "gold"})
    Segment.objects.filter(pk=segment.pk).update(personalize=True)
    assert ask(userId="cust-1042").json()["segments"] == []
    recompute_segment(segment_id=segment.pk)  # no profile write: only the membership moves
    assert ask(userId="cust-1042").json()["segments"] == ["Gold members"]


def test_segment_flag_and_purpose_edits_reach_cached_documents(ask, elodie):
    segment = save_segment(name="Gold members", rule={"trait": "plan", "op": "eq", "value": "gold"})
    recompute_segment(segment_id=segment.pk)
    assert ask(userId="cust-1042").json()["segments"] == []
    Segment.objects.filter(pk=segment.pk).update(personalize=True)
    forget_config()  # other processes: within TRIBUTARY_WRITE_KEY_CACHE_SECONDS
    assert ask(userId="cust-1042").json()["segments"] == ["Gold members"]


def test_consent_withdrawal_takes_effect_on_the_next_request(ask, elodie):
    assert ask(userId="cust-1042").json()["traits"]
    grant(elodie, state="withdrawn")
    body = ask(userId="cust-1042").json()
    assert body["consent"]["personalization"] is False
    assert (body["traits"], body["segments"]) == ({}, [])


def test_stored_traits(ask, site, elodie):
    declare_stored_trait(name="lifecycle_stage", producer="insights", numeric=False)
    configure(site[0], personalization_traits=["lifecycle_stage"])
    assert ask(userId="cust-1042").json()["computed_traits"] == {}
    write_stored_values(
        name="lifecycle_stage",
        values=[StoredValue(customer_id=elodie.pk, value="loyal")],
        computed_at=elodie.last_seen,
    )
    assert ask(userId="cust-1042").json()["computed_traits"] == {"lifecycle_stage": "loyal"}


def test_erasure_removes_the_cached_document(ask, rest, elodie, django_capture_on_commit_callbacks):
    ask(userId="cust-1042")
    assert cache.get(f"profile-doc:{elodie.pk}") is not None
    with django_capture_on_commit_callbacks(execute=True):
        create_request(type="erasure", identifier="user_id:cust-1042")
    assert cache.get(f"profile-doc:{elodie.pk}") is None
    assert ask(userId="cust-1042").json()["known"] is False
    assert rest("user_id:cust-1042").status_code == 404


def test_identities_deleted_in_the_admin(rest, admin_client, elodie):
    from customers.models import Identity

    assert "cust-1042" in {
        i["value"] for i in rest("email:elodie.marchand@example.fr").json()["identities"]
    }
    identity = Identity.objects.get(value="cust-1042")
    response = admin_client.post(
        f"/admin/customers/identity/{identity.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    identities = {i["value"] for i in rest("email:elodie.marchand@example.fr").json()["identities"]}
    assert "cust-1042" not in identities


def test_a_warm_read_costs_one_query_on_either_endpoint(
    ask, rest, elodie, django_assert_num_queries
):
    # warm: the document, the write key, the API key and the config are remembered
    assert ask(userId="cust-1042").status_code == 200
    assert rest("user_id:cust-1042").status_code == 200
    with django_assert_num_queries(1):  # the identifier's profile and version
        assert ask(userId="cust-1042").json()["traits"]["plan"] == "gold"
    with django_assert_num_queries(1):
        assert rest("user_id:cust-1042").json()["id"] == elodie.pk
