"""The rows the bulk path writes for new people, pinned against
django-simple-history's own: profiles, identities and their history."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from simple_history.models import HistoricalRecords

from core.audit import acting_as, source_label
from customers.models import Customer, Identity
from customers.services.bulk import NewPerson, create_profiles
from customers.services.profiles import ProfileChanges

WHEN = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def steward_request(db, rf):
    """A request by an admin user, as simple-history's middleware leaves it."""
    request = rf.get("/")
    request.user = get_user_model().objects.create_user("steward")
    HistoricalRecords.context.request = request
    yield request
    del HistoricalRecords.context.request


def _history(model) -> list[dict]:
    rows = model.history.order_by("id", "history_id").values()
    return [{k: v for k, v in row.items() if k != "history_id"} for row in rows]


def _as_simple_history_writes(model, objs, date) -> list[dict]:
    """The history rows ``bulk_history_create`` writes for ``objs`` at ``date``."""
    model.history.all().delete()
    model.history.bulk_history_create(objs, default_date=date)
    return _history(model)


def test_new_peoples_rows_and_history_match_simple_historys_own(source, steward_request):
    people = [
        NewPerson(
            identifiers=(("email", "ann@example.com"), ("phone", "+447700900123")),
            source_id=source.pk,
            seen_at=WHEN,
        ),
        NewPerson(identifiers=(("anonymous_id", "a-1"),), source_id=None, seen_at=LATER),
    ]
    with acting_as(source_label(source.pk)), transaction.atomic():
        made = create_profiles(people=people)
        changes = ProfileChanges()
        for customer in made:
            changes.created(customer)
        changes.set_traits(
            customer=made[0],
            core={"first_name": "Ann"},
            traits={"tier": "gold"},
            source_id=source.pk,
            observed_at=WHEN,
        )
        changes.save()

    identities = list(Identity.objects.order_by("pk"))
    assert [
        (i.type.name, i.value, i.customer_id, i.source_id, i.first_seen, i.superseded_at)
        for i in identities
    ] == [
        ("email", "ann@example.com", made[0].pk, source.pk, WHEN, None),
        ("phone", "+447700900123", made[0].pk, source.pk, WHEN, None),
        ("anonymous_id", "a-1", made[1].pk, None, LATER, None),
    ]
    profiles = list(Customer.objects.filter(pk__in=[c.pk for c in made]).order_by("pk"))
    assert [(c.first_name, c.traits, c.is_identified) for c in profiles] == [
        ("Ann", {"tier": "gold"}, True),
        ("", {}, False),
    ]

    identity_history = _history(Identity)
    profile_history = _history(Customer)
    assert {(r["history_type"], r["history_actor"]) for r in identity_history} == {
        ("+", f"source:{source.pk}")
    }
    assert {r["history_user_id"] for r in profile_history} == {steward_request.user.pk}
    with acting_as(source_label(source.pk)):
        assert identity_history == _as_simple_history_writes(
            Identity, identities, identity_history[0]["history_date"]
        )
        assert profile_history == _as_simple_history_writes(
            Customer, profiles, profile_history[0]["history_date"]
        )
