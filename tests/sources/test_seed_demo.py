from datetime import UTC, date, datetime, timedelta

from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone

from customers.models import Customer, Event, Identity, Source
from sources.demo.generate import seed_demo


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


def test_demo_events_seeded_in_the_morning_are_never_in_the_future(db, monkeypatch):
    morning = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: morning)

    seed_demo(customers=80, seed=2)

    latest = Event.objects.aggregate(timestamp=Max("timestamp"), received=Max("received_at"))
    assert latest["timestamp"] <= morning
    assert latest["received"] <= morning + timedelta(seconds=2)
    assert Customer.objects.aggregate(last=Max("last_seen"))["last"] <= morning + timedelta(
        seconds=2
    )


def test_seed_demo_prints_each_new_source_with_its_purpose_key_and_a_curl_example(db, capsys):
    call_command("seed_demo", "--customers", "5", "--base-url", "http://0.0.0.0:8123/")

    out = capsys.readouterr().out
    for source in Source.objects.all():
        assert f"{source.name}: " in out
    assert out.count("write key: ") == Source.objects.count() == 4
    assert "curl -u '" in out
    assert "http://0.0.0.0:8123/v1/track" in out


def test_ensure_admin_prints_the_address_it_was_given(db, capsys):
    call_command("ensure_admin", "--url", "http://127.0.0.1:8765/admin/")

    assert "Log in at http://127.0.0.1:8765/admin/ with" in capsys.readouterr().out
