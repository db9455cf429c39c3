from django.utils import timezone

from core.audit import acting_as, api_key_label, source_label
from customers.models import Customer
from customers.services.identity import resolve_identity
from tests.calls import call


def test_admin_change_is_attributed_to_the_user(admin_client, customer):
    response = admin_client.post(
        f"/admin/customers/customer/{customer.pk}/change/",
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    latest = Customer.history.filter(id=customer.pk).latest("history_date")
    assert (latest.last_name, latest.history_actor, latest.history_user.username) == (
        "Lee",
        "user:boss",
        "boss",
    )


def test_changes_inside_acting_as_are_attributed_to_that_actor(customer, source):
    with acting_as(api_key_label("crm-sync")):
        call(source, at=timezone.now(), traits={"city": "Oslo", "email": "ann@example.com"})
    call(source, at=timezone.now(), traits={"city": "Bergen", "email": "ann@example.com"})
    actors = list(
        Customer.history.filter(id=customer.pk)
        .order_by("history_id")
        .values_list("city", "history_actor")
    )
    assert actors[-2:] == [("Oslo", "api_key:crm-sync"), ("Bergen", f"source:{source.pk}")]


def test_profile_created_during_ingestion_is_attributed_to_the_source(source):
    with acting_as(source_label(source.pk)):
        customer = resolve_identity(
            identifiers=[("email", "cy@example.com")], source_id=source.pk, seen_at=timezone.now()
        ).customer
    assert Customer.history.get(id=customer.pk, history_type="+").history_actor == (
        f"source:{source.pk}"
    )


def test_ingested_changes_are_attributed_to_the_source(source):
    from sources.pipeline import process_message

    from .helpers import message

    result = process_message(message(source, user_id="u-9", traits={"firstName": "Cy"}))
    latest = Customer.history.filter(id=result.customer.pk).latest("history_id")
    assert (latest.first_name, latest.history_actor) == ("Cy", f"source:{source.pk}")


def test_api_change_is_attributed_to_the_api_key(customer):
    from django.core.cache import cache
    from django.test import Client

    from accounts.services.api_keys import create_api_key

    cache.clear()
    _key, secret = create_api_key(name="shop-backend", scopes=["profiles:write"])
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").patch(
        "/api/v1/profiles/email:ann@example.com/",
        {"traits": {"lastName": "Lovelace"}},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    latest = Customer.history.filter(id=customer.pk).latest("history_id")
    assert (latest.last_name, latest.history_actor) == ("Lovelace", "api_key:shop-backend")


def test_profile_history_page_shows_who_changed_it(admin_client, source):
    from sources.pipeline import process_message

    from .helpers import message

    customer = process_message(message(source, user_id="u-7", traits={"firstName": "Di"})).customer
    with acting_as(api_key_label("billing")):
        call(source, at=timezone.now(), traits={"city": "Turku"}, user_id="u-7")
    page = admin_client.get(f"/admin/customers/customer/{customer.pk}/history/")
    assert page.status_code == 200
    assert f"source:{source.pk}".encode() in page.content
    assert b"api_key:billing" in page.content
