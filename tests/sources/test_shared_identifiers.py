"""Tracking calls from people who share a phone: the same profiles and the
same shared-value flags whether the calls arrive in one /v1/batch or one
call at a time (issue 25), and a property test over random call sequences."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer, DataQualityIssue, Identity, SharedValue
from sources.contracts import NormalizedMessage
from sources.pipeline import apply_messages

T0 = datetime(2026, 4, 2, 9, tzinfo=UTC)
COLLEAGUES = [
    ("0035g00000KLMabAAF", "Lucía", "lucia.hernandez@initech.example.com"),
    ("0035g00000KLMacAAF", "Björn", "bjorn.lindqvist@initech.example.com"),
    ("0035g00000KLMadAAF", "Priya", "priya.raman@initech.example.com"),
    ("0035g00000KLMaeAAF", "Seamus", "seamus.obrien@initech.example.com"),
]
HOUSEHOLD = [
    ("u-noah", "Noah", "noah.johnson@example.com"),
    ("u-sarah", "Sarah", "sarah.johnson@example.com"),
]


def _colleague_calls():
    return [
        {
            "type": "identify",
            "messageId": f"sf-{n}",
            "anonymousId": f"crm-sync-{n}",
            "timestamp": (T0 + timedelta(minutes=n)).isoformat(),
            "traits": {"email": email, "firstName": name, "phone": "(512) 555-0100"},
            "context": {"externalIds": [{"id": contact, "type": "salesforce_contact_id"}]},
        }
        for n, (contact, name, email) in enumerate(COLLEAGUES)
    ]


def _household_calls():
    calls = [
        {
            "type": "identify",
            "messageId": f"home-{n}",
            "userId": user_id,
            "timestamp": (T0 + timedelta(minutes=n)).isoformat(),
            "traits": {
                "email": email,
                "firstName": name,
                "lastName": "Johnson",
                "phone": "+1 (212) 555-0187",
            },
        }
        for n, (user_id, name, email) in enumerate(HOUSEHOLD)
    ]
    calls.append(
        {
            "type": "track",
            "messageId": "home-track",
            "userId": "u-sarah",
            "event": "Order Completed",
            "timestamp": (T0 + timedelta(minutes=5)).isoformat(),
            "properties": {"revenue": 20},
            "context": {"traits": {"phone": "212-555-0187"}},
        }
    )
    return calls


def _send_all(send, calls, *, one_at_a_time):
    if one_at_a_time:
        for payload in calls:
            path = f"/v1/{payload['type']}"
            assert send(path, payload).status_code == 200
    else:
        assert send("/v1/batch", {"batch": calls}).status_code == 200


@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["batch", "single"])
def test_four_colleagues_sharing_an_office_line_stay_four_profiles(send, one_at_a_time):
    _send_all(send, _colleague_calls(), one_at_a_time=one_at_a_time)
    people = Customer.objects.active()
    assert sorted(people.values_list("first_name", flat=True)) == [
        "Björn",
        "Lucía",
        "Priya",
        "Seamus",
    ]
    assert set(people.values_list("phone", flat=True)) == {"+15125550100"}
    line = SharedValue.objects.get(type__name="phone", value="+15125550100")
    assert (line.status, line.seen_with) == ("shared", 2)
    assert DataQualityIssue.objects.filter(code="conflicting_identifier").count() == 1


@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["batch", "single"])
def test_a_household_sharing_a_phone_stays_two_profiles(send, one_at_a_time):
    _send_all(send, _household_calls(), one_at_a_time=one_at_a_time)
    noah = Customer.objects.get(email="noah.johnson@example.com")
    sarah = Customer.objects.get(email="sarah.johnson@example.com")
    assert (noah.first_name, sarah.first_name) == ("Noah", "Sarah")
    assert Customer.objects.active().count() == 2
    assert SharedValue.objects.get(value="+12125550187").status == "shared"
    assert list(Customer.objects.get(pk=sarah.pk).events.values_list("name", flat=True)) == [
        "Order Completed",
        "",
    ]
    assert not noah.events.filter(name="Order Completed").exists()


def test_a_shared_phone_no_longer_links_a_call_that_carries_only_the_phone(send):
    _send_all(send, _household_calls()[:2], one_at_a_time=False)
    call = {
        "type": "identify",
        "messageId": "later",
        "anonymousId": "kiosk-1",
        "traits": {"phone": "212 555 0187"},
    }
    send("/v1/identify", call)
    kiosk = Identity.objects.get(value="kiosk-1").customer
    assert kiosk.email == ""
    assert kiosk.phone == "+12125550187"  # kept as data
    assert Identity.objects.filter(value="+12125550187").count() == 1


# --- batch = one at a time, for any sequence ----------------------------------------

IDENTIFIER = st.one_of(
    st.sampled_from([("anonymous_id", f"a{i}") for i in range(4)]),
    st.sampled_from([("email", f"e{i}@example.com") for i in range(3)]),
    st.sampled_from([("phone", f"+4930123456{i}") for i in range(2)]),
    st.sampled_from([("user_id", f"u{i}") for i in range(2)]),
)
CALLS = st.lists(st.lists(IDENTIFIER, min_size=1, max_size=3, unique_by=lambda p: p[0]), max_size=8)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _message(source, n, pairs, run):
    values = dict(pairs)
    traits = {k: values[k] for k in ("email", "phone") if k in values}
    return NormalizedMessage(
        source_id=source.pk,
        message_id=f"{run}-{n}",
        type="identify",
        timestamp=T0 + timedelta(minutes=n),
        received_at=T0 + timedelta(minutes=n),
        user_id=values.get("user_id"),
        anonymous_id=values.get("anonymous_id"),
        traits=traits,
    )


def _outcome():
    groups: dict[int, set] = {}
    for type_name, value, customer in Identity.objects.values_list(
        "type__name", "value", "customer_id"
    ):
        groups.setdefault(customer, set()).add((type_name, value))
    flags = set(SharedValue.objects.values_list("type__name", "value", "status", "seen_with"))
    return sorted(sorted(g) for g in groups.values()), flags


def _reset():
    Customer.objects.all().delete()
    SharedValue.objects.all().delete()
    DataQualityIssue.objects.all().delete()


@SETTINGS
@given(calls=CALLS)
def test_one_batch_and_single_calls_give_the_same_profiles_and_flags(source, calls):
    _reset()
    apply_messages([_message(source, n, pairs, "batch") for n, pairs in enumerate(calls)])
    together = _outcome()
    _reset()
    for n, pairs in enumerate(calls):
        apply_messages([_message(source, n, pairs, "single")])
    assert _outcome() == together
