from datetime import date

from django.core.management import call_command

from customers.models import Customer, Event, Identity
from sources.demo.generate import seed_demo
from sources.models import Source


def _snapshot():
    customers = sorted(
        Customer.objects.values_list(
            "email",
            "phone",
            "first_name",
            "last_name",
            "birthday",
            "city",
            "country",
            "traits",
            "first_seen",
            "last_seen",
            "is_identified",
        ),
        key=repr,
    )
    identities = sorted(
        Identity.objects.values_list("type__name", "value", "source__name", "first_seen"),
        key=repr,
    )
    events = sorted(
        Event.objects.values_list(
            "message_id", "type", "name", "properties", "timestamp", "source__name"
        ),
        key=repr,
    )
    return customers, identities, events


def test_demo_data_is_deterministic_for_a_seed(db):
    anchor = date(2026, 6, 1)
    seed_demo(customers=150, seed=7, anchor=anchor)
    first = _snapshot()
    Customer.objects.all().delete()
    seed_demo(customers=150, seed=7, anchor=anchor)
    assert _snapshot() == first
    Customer.objects.all().delete()
    seed_demo(customers=150, seed=8, anchor=anchor)
    assert _snapshot() != first


def test_demo_data_spans_sources_with_overlapping_identifiers(db):
    report = seed_demo(customers=400, seed=1, anchor=date(2026, 6, 1))
    assert report.customers == Customer.objects.count() == 400
    assert set(Source.objects.values_list("name", flat=True)) >= {
        "Website",
        "Mobile app",
        "CRM",
        "Shop",
    }
    anonymous = Customer.objects.filter(is_identified=False).count()
    assert 40 < anonymous < 160  # about a quarter are anonymous visitors
    multi_source = [
        c
        for c in Customer.objects.filter(is_identified=True).prefetch_related("identities")
        if len({i.source_id for i in c.identities.all()}) >= 2
    ]
    assert len(multi_source) > 100
    names = set(Event.objects.values_list("name", flat=True))
    assert {"Order Completed", "Product Viewed"} <= names
    days = {e.timestamp.date() for e in Event.objects.only("timestamp")}
    assert min(days) >= date(2026, 3, 3)
    assert max(days) <= date(2026, 6, 1)


def test_seed_demo_if_empty_does_not_duplicate(db, capsys):
    call_command("seed_demo", "--customers", "30", "--if-empty")
    call_command("seed_demo", "--customers", "30", "--if-empty")
    assert Customer.objects.count() == 30
    assert "already present" in capsys.readouterr().out
