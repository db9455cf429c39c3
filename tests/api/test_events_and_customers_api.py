from datetime import UTC, datetime

import pytest

from consent.services.consent import record_consent
from customers.models import Customer, Source
from segments.services import add_to_static_segment, save_segment
from sources.services.keys import create_source
from tests.api.conftest import assert_error, send


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def timeline(source):
    send(source, user_id="42", traits={"email": "ann@example.com"}, at=at(1))
    send(source, type="track", user_id="42", event="Order Completed", at=at(2))
    send(source, type="page", user_id="42", event="Home", at=at(3))
    send(source, type="track", user_id="42", event="Cart Viewed", at=at(4))
    send(source, type="track", user_id="other", event="Order Completed", at=at(5))


EVENTS = "/api/v1/profiles/user_id:42/events/"


def test_events_are_newest_first_and_only_the_profiles(make_api_client, timeline):
    body = make_api_client("events:read").get(EVENTS).json()
    assert [(e["type"], e["name"]) for e in body["results"]] == [
        ("track", "Cart Viewed"),
        ("page", "Home"),
        ("track", "Order Completed"),
        ("identify", ""),
    ]
    assert body["results"][0]["source"] == "Test website"


def test_events_filter_by_type_and_name(make_api_client, timeline):
    api = make_api_client("events:read")
    tracks = api.get(EVENTS, {"type": "track"}).json()["results"]
    assert [e["name"] for e in tracks] == ["Cart Viewed", "Order Completed"]
    named = api.get(EVENTS, {"name": "Home"}).json()["results"]
    assert [e["type"] for e in named] == ["page"]


def test_events_filter_by_time_range(make_api_client, timeline):
    response = make_api_client("events:read").get(
        EVENTS, {"since": "2026-11-02T12:00:00Z", "until": "2026-11-04T12:00:00Z"}
    )
    assert [e["name"] for e in response.json()["results"]] == ["Home", "Order Completed"]


def test_events_are_cursor_paginated(make_api_client, timeline):
    api = make_api_client("events:read")
    first = api.get(EVENTS, {"page_size": 3}).json()
    assert len(first["results"]) == 3
    rest = api.get(first["next"]).json()
    assert [e["type"] for e in rest["results"]] == ["identify"]
    assert rest["next"] is None


def test_events_lookup_normalizes_the_identifier(make_api_client, timeline):
    response = make_api_client("events:read").get("/api/v1/profiles/email:ANN@example.com/events/")
    assert len(response.json()["results"]) == 4


def test_events_of_unknown_profile_are_404(make_api_client, timeline):
    response = make_api_client("events:read").get("/api/v1/profiles/user_id:nobody/events/")
    assert_error(response, 404, "profile_not_found")


def test_events_need_events_read(make_api_client, timeline):
    assert_error(make_api_client("profiles:read").get(EVENTS), 403, "missing_scope")


@pytest.mark.parametrize("params", [{"since": "yesterday"}, {"type": "purchase"}])
def test_events_bad_filter_is_400(make_api_client, timeline, params):
    assert_error(make_api_client("events:read").get(EVENTS, params), 400, "invalid")


CUSTOMERS = "/api/v1/customers/"


@pytest.fixture
def people(source):
    crm, _ = create_source(name="CRM", kind="crm")
    ann = send(source, user_id="ann", traits={"email": "ann@example.com", "plan": "pro", "age": 30})
    bob = send(source, user_id="bob", traits={"firstName": "Bob", "plan": "free"}, at=at(20))
    cat = send(crm, user_id="cat", traits={"plan": "pro", "age": "30", "lastName": "Smith"})
    return {"ann": ann.pk, "bob": bob.pk, "cat": cat.pk}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["results"]]


def test_customers_are_listed_newest_first(make_api_client, people):
    listed = ids(make_api_client("profiles:read").get(CUSTOMERS))
    assert listed == [people["cat"], people["bob"], people["ann"]]


def test_customers_filter_by_trait(make_api_client, people):
    api = make_api_client("profiles:read")
    assert ids(api.get(CUSTOMERS, {"trait": "plan:free"})) == [people["bob"]]
    assert ids(api.get(CUSTOMERS, {"trait": ["plan:pro", "age:30"]})) == [
        people["cat"],
        people["ann"],
    ]


def test_customers_filter_by_source(make_api_client, people):
    crm = Source.objects.get(name="CRM")
    assert ids(make_api_client("profiles:read").get(CUSTOMERS, {"source": crm.pk})) == [
        people["cat"]
    ]


def test_customers_filter_by_seen_since(make_api_client, people):
    response = make_api_client("profiles:read").get(
        CUSTOMERS, {"seen_since": "2026-11-10T00:00:00Z"}
    )
    assert ids(response) == [people["bob"]]


@pytest.mark.parametrize(
    ("term", "who"),
    [("email:ANN@example.com", "ann"), ("bob", "bob"), ("Smith", "cat"), ("user_id:cat", "cat")],
)
def test_customers_search_by_identifier_or_name(make_api_client, people, term, who):
    assert ids(make_api_client("profiles:read").get(CUSTOMERS, {"q": term})) == [people[who]]


def test_customers_exclude_merged_away_profiles(make_api_client, source):
    send(source, user_id="u-1")
    send(source, anonymous_id="a-1")
    survivor = send(source, user_id="u-1", anonymous_id="a-1")
    assert ids(make_api_client("profiles:read").get(CUSTOMERS)) == [survivor.pk]


def test_customers_are_cursor_paginated(make_api_client, people):
    api = make_api_client("profiles:read")
    first = api.get(CUSTOMERS, {"page_size": 2}).json()
    assert [c["id"] for c in first["results"]] == [people["cat"], people["bob"]]
    assert ids(api.get(first["next"])) == [people["ann"]]


def test_customer_list_query_count_does_not_grow_with_rows(
    make_api_client, people, django_assert_max_num_queries
):
    api = make_api_client("profiles:read")
    api.get(CUSTOMERS)  # warm the key's last-used write
    with django_assert_max_num_queries(4):
        assert len(api.get(CUSTOMERS).json()["results"]) == 3


@pytest.mark.parametrize(
    "params", [{"trait": "no-colon"}, {"trait": "a__b c:1"}, {"seen_since": "x"}, {"source": "x"}]
)
def test_customers_bad_filter_is_400(make_api_client, people, params):
    assert_error(make_api_client("profiles:read").get(CUSTOMERS, params), 400, "invalid")


def test_customers_need_profiles_read(make_api_client, people):
    assert_error(make_api_client("events:read").get(CUSTOMERS), 403, "missing_scope")


def test_customers_filter_by_purpose_allowed(make_api_client, people):
    ann = Customer.objects.get(pk=people["ann"])
    record_consent(customer=ann, purpose="email_marketing", state="granted", method="api")
    response = make_api_client("profiles:read").get(CUSTOMERS, {"allowed_for": "email_marketing"})
    assert ids(response) == [people["ann"]]


def test_customers_filter_by_unknown_purpose_is_400(make_api_client, people):
    response = make_api_client("profiles:read").get(CUSTOMERS, {"allowed_for": "telepathy"})
    body = assert_error(response, 400, "invalid")
    assert "allowed_for" in body["details"]


def test_customers_filter_by_segment(make_api_client, people):
    vip = save_segment(name="VIP", kind="static")
    add_to_static_segment(segment=vip, customer_ids=[people["bob"], people["cat"]])
    response = make_api_client("profiles:read").get(CUSTOMERS, {"segment": vip.pk})
    assert ids(response) == [people["cat"], people["bob"]]
