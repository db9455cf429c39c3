"""Identity resolution against an obviously-correct reference (hypothesis)."""

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer, IdentifierType, Identity, SharedValue
from customers.services.identity import resolve_identity

AT = datetime(2026, 1, 1, tzinfo=UTC)
IDENTIFIER = st.one_of(
    st.sampled_from([("anonymous_id", f"a{i}") for i in range(6)]),
    st.sampled_from([("email", f"e{i}@example.com") for i in range(3)]),
)
MESSAGES = st.lists(st.lists(IDENTIFIER, min_size=1, max_size=3, unique=True), max_size=12)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def reference_components(messages):
    """Union-find: identifiers seen together on a message are one person."""
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for message in messages:
        find(message[0])
        for other in message[1:]:
            parent[find(other)] = find(message[0])
    groups = {}
    for identifier in parent:
        groups.setdefault(find(identifier), set()).add(identifier)
    return sorted(sorted(g) for g in groups.values())


def resolve_all(messages):
    Customer.objects.all().delete()
    SharedValue.objects.all().delete()
    for message in messages:
        resolve_identity(identifiers=list(message), source_id=None, seen_at=AT)


def actual_components():
    groups = {}
    for type_name, value, customer in Identity.objects.values_list(
        "type__name", "value", "customer_id"
    ):
        groups.setdefault(customer, set()).add((type_name, value))
    return sorted(sorted(g) for g in groups.values())


@SETTINGS
@given(messages=MESSAGES)
def test_without_limit_conflicts_profiles_are_the_connected_identifiers(db, messages):
    # no type outranks the other: no identifier is ever refused as conflicting
    IdentifierType.objects.filter(name="anonymous_id").update(priority=3)
    resolve_all(messages)
    assert actual_components() == reference_components(messages)
    assert not Identity.objects.filter(customer__merged_into__isnull=False).exists()


@SETTINGS
@given(
    messages=st.lists(
        st.lists(
            st.one_of(IDENTIFIER, st.sampled_from([("user_id", "u1"), ("user_id", "u2")])),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        max_size=12,
    )
)
def test_two_user_ids_never_end_in_one_profile(db, messages):
    resolve_all(messages)
    for customer in Customer.objects.active():
        assert customer.identities.filter(type__name="user_id").count() <= 1
    assert not Identity.objects.filter(customer__merged_into__isnull=False).exists()
