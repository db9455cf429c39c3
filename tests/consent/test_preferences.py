"""``record_preferences``: many people's yes/no at once, with the rules of one."""

from datetime import timedelta

from django.utils import timezone

from consent.models import ConsentRecord, ConsentState, Purpose
from consent.services.consent import Preference, record_consent, record_preferences
from customers.services.identity import resolve_identity


def _people(source, count):
    now = timezone.now()
    return [
        resolve_identity(
            identifiers=[("email", f"p{n}@example.com")], source_id=source.pk, seen_at=now
        ).customer
        for n in range(count)
    ]


def _yes_no(customer, granted, at, **extra):
    return Preference(
        customer_id=customer.pk,
        purpose=Purpose.objects.get(code="email_marketing"),
        granted=granted,
        method="import",
        occurred_at=at,
        **extra,
    )


def _state(customer):
    return ConsentState.objects.get(customer=customer, purpose__code="email_marketing")


def test_a_batch_sets_each_persons_state_and_records_only_changes(source, customer):
    ann, bob, cem = _people(source, 3)
    now = timezone.now()
    record_consent(customer=bob, purpose="email_marketing", state="granted", method="api")
    written = record_preferences(
        preferences=[
            _yes_no(ann, True, now, ip_address="198.51.100.7"),
            _yes_no(bob, True, now),  # granted already: nothing to record
            _yes_no(cem, False, now),
        ]
    )
    assert written == 2
    assert (_state(ann).state, _state(bob).state, _state(cem).state) == (
        "granted",
        "granted",
        "denied",
    )
    record = ConsentRecord.objects.get(customer=ann)
    assert (record.method, str(record.ip_address), record.occurred_at, record.actor) == (
        "import",
        "198.51.100.7",
        now,
        "system",
    )
    assert _state(ann).record_id == record.pk


def test_later_preferences_in_a_batch_see_earlier_ones(customer):
    now = timezone.now()
    record_preferences(
        preferences=[
            _yes_no(customer, True, now),
            _yes_no(customer, False, now + timedelta(seconds=1)),
        ]
    )
    states = list(
        ConsentRecord.objects.filter(customer=customer)
        .order_by("occurred_at")
        .values_list("state", flat=True)
    )
    assert states == ["granted", "withdrawn"]
    assert _state(customer).state == "withdrawn"


def test_an_older_statement_is_kept_without_moving_the_state(customer):
    now = timezone.now()
    record_consent(
        customer=customer, purpose="email_marketing", state="granted", method="api", occurred_at=now
    )
    record_preferences(preferences=[_yes_no(customer, False, now - timedelta(days=3))])
    assert _state(customer).state == "granted"
    assert ConsentRecord.objects.filter(customer=customer, state="withdrawn").count() == 1


def test_a_withdrawal_without_a_grant_on_record_is_recorded_as_withdrawn(customer):
    at = timezone.now() - timedelta(days=30)
    record_preferences(preferences=[_yes_no(customer, False, at, withdrawal=True)])
    assert (_state(customer).state, _state(customer).occurred_at) == ("withdrawn", at)


def test_a_batch_costs_the_same_few_statements_whatever_its_size(
    source, django_assert_max_num_queries
):
    people = _people(source, 40)
    for person in people[:20]:
        record_consent(customer=person, purpose="email_marketing", state="denied", method="api")
    now = timezone.now()
    preferences = [_yes_no(person, True, now) for person in people]
    # one of them asks which segments read consent (none here), for the listener;
    # two lock and bump the profiles' versions (issue 23)
    with django_assert_max_num_queries(11):
        assert record_preferences(preferences=preferences) == 40
    assert ConsentState.objects.filter(state="granted").count() == 40
