"""A recompute's ``segment.entered`` chunks reach webhooks one profile at a time."""

from consent.models import Purpose
from consent.services.consent import record_consent
from consent.services.privacy import create_request
from core.models import OutboxEntry
from destinations import tasks
from destinations.models import Delivery
from destinations.services.dispatch import dispatch_outbox
from segments.services import recompute_segment, reevaluate_customers, save_segment

from .conftest import make_destination, new_profile

EXAMPLE = {"has_identifier": "email"}


def example_segment(receiver, run_on_commit, **options):
    segment = save_segment(name="Example people", rule=EXAMPLE)
    destination, _ = make_destination(receiver.url, on_segment_entered=True, **options)
    destination.segments.set([segment])
    OutboxEntry.objects.all().delete()  # profile.created and the like: not wanted here
    return segment, destination


def chunk(segment) -> OutboxEntry:
    return OutboxEntry.objects.get(
        topic="segment.entered", customer__isnull=True, payload__segment_id=segment.pk
    )


def test_a_chunk_becomes_one_delivery_per_profile(receiver, run_on_commit):
    ann, bob, cem = (new_profile(f"{n}@example.com") for n in ("ann", "bob", "cem"))
    segment, destination = example_segment(receiver, run_on_commit)
    run_on_commit(recompute_segment, segment_id=segment.pk)
    assert chunk(segment).payload["customer_ids"] == [ann.pk, bob.pk, cem.pk]

    report = run_on_commit(dispatch_outbox)

    assert (report.entries, report.deliveries) == (1, 3)
    assert sorted(Delivery.objects.values_list("customer_id", "destination_id", "type")) == [
        (ann.pk, destination.pk, "segment.entered"),
        (bob.pk, destination.pk, "segment.entered"),
        (cem.pk, destination.pk, "segment.entered"),
    ]
    assert sorted(r.json["profile"]["id"] for r in receiver.requests) == [ann.pk, bob.pk, cem.pk]
    assert len({r.json["id"] for r in receiver.requests}) == 3


def test_a_chunk_delivery_has_the_body_of_a_one_profile_entry(receiver, run_on_commit):
    ann = new_profile("ann@example.com")
    segment, _ = example_segment(receiver, run_on_commit)
    run_on_commit(recompute_segment, segment_id=segment.pk)
    run_on_commit(dispatch_outbox)
    bob = new_profile("bob@example.com")
    reevaluate_customers(customer_ids=[bob.pk], changes=["identity:email"])
    assert OutboxEntry.objects.get(topic="segment.entered", customer=bob).payload["customer_id"]
    run_on_commit(dispatch_outbox)

    chunked, single = (r.json for r in receiver.requests)

    assert chunked["profile"]["id"] == ann.pk
    assert single["profile"]["id"] == bob.pk
    assert set(chunked) == set(single) == {"id", "type", "version", "created_at", "profile", "data"}
    assert set(chunked["profile"]) == set(single["profile"])
    assert chunked["data"] == {
        "segment_id": segment.pk,
        "segment": "Example people",
        "at": chunk(segment).payload["at"],
    }
    assert set(single["data"]) == set(chunked["data"])
    assert (chunked["type"], chunked["version"]) == ("segment.entered", 1)


def test_consent_is_checked_per_profile_at_dispatch_and_before_each_retry(receiver, run_on_commit):
    ann, bob, cem = (new_profile(f"{n}@example.com") for n in ("ann", "bob", "cem"))
    for person in (ann, bob):
        record_consent(
            customer=person, purpose="email_marketing", state="granted", method="web_form"
        )
    segment, _ = example_segment(
        receiver, run_on_commit, purpose=Purpose.objects.get(code="email_marketing")
    )
    run_on_commit(recompute_segment, segment_id=segment.pk)
    receiver.answer(503, times=2)

    report = run_on_commit(dispatch_outbox)

    assert (report.deliveries, report.skipped_no_consent) == (2, 1)
    assert Delivery.objects.get(customer=cem).status == "skipped_no_consent"
    record_consent(customer=ann, purpose="email_marketing", state="withdrawn", method="web_form")
    due = max(Delivery.objects.filter(status="failed").values_list("next_attempt_at", flat=True))
    run_on_commit(tasks.retry_due, now=due.isoformat())

    statuses = dict(Delivery.objects.values_list("customer_id", "status"))
    assert statuses == {
        ann.pk: "skipped_no_consent",
        bob.pk: "succeeded",
        cem.pk: "skipped_no_consent",
    }
    assert [r.json["profile"]["id"] for r in receiver.requests[2:]] == [bob.pk]
    assert Delivery.objects.get(customer=ann).payload == {}


def test_erasure_takes_the_persons_id_out_of_pending_chunks(
    receiver, run_on_commit, django_capture_on_commit_callbacks
):
    ann, bob = new_profile("ann@example.com"), new_profile("bob@example.com")
    segment, _ = example_segment(receiver, run_on_commit)
    run_on_commit(recompute_segment, segment_id=segment.pk)

    with django_capture_on_commit_callbacks(execute=True):
        request = create_request(type="erasure", identifier="email:ann@example.com")

    request.refresh_from_db()
    assert request.status == "completed"
    assert chunk(segment).payload["customer_ids"] == [bob.pk]
    run_on_commit(dispatch_outbox)
    assert [r.json["profile"]["id"] for r in receiver.requests] == [bob.pk]
    assert list(Delivery.objects.values_list("customer_id", flat=True)) == [bob.pk]
    assert str(ann.pk) not in str(chunk(segment).payload["customer_ids"])


def test_a_chunk_of_only_the_erased_person_is_deleted(
    receiver, run_on_commit, django_capture_on_commit_callbacks
):
    new_profile("ann@example.com")
    segment, _ = example_segment(receiver, run_on_commit)
    run_on_commit(recompute_segment, segment_id=segment.pk)

    with django_capture_on_commit_callbacks(execute=True):
        create_request(type="erasure", identifier="email:ann@example.com")

    assert not OutboxEntry.objects.filter(topic="segment.entered").exists()


def test_dispatching_a_chunk_again_does_not_deliver_twice(receiver, run_on_commit):
    ann, bob = new_profile("ann@example.com"), new_profile("bob@example.com")
    segment, _ = example_segment(receiver, run_on_commit)
    run_on_commit(recompute_segment, segment_id=segment.pk)
    run_on_commit(dispatch_outbox)
    # a dispatch whose mark was lost (or a second dispatcher reading the same entry)
    OutboxEntry.objects.update(dispatched_at=None)

    report = run_on_commit(dispatch_outbox)

    assert (report.entries, report.deliveries, report.skipped_no_consent) == (1, 0, 0)
    assert Delivery.objects.count() == 2
    assert sorted(r.json["profile"]["id"] for r in receiver.requests) == [ann.pk, bob.pk]
    assert chunk(segment).dispatched_at is not None


def test_a_repeated_id_in_a_chunk_is_delivered_once(receiver, run_on_commit):
    ann = new_profile("ann@example.com")
    segment, _ = example_segment(receiver, run_on_commit)
    OutboxEntry.objects.create(
        topic="segment.entered",
        payload={
            "segment_id": segment.pk,
            "segment": segment.name,
            "at": "2026-12-01T00:00:00+00:00",
            "customer_ids": [ann.pk, ann.pk],
        },
    )

    run_on_commit(dispatch_outbox)

    assert Delivery.objects.filter(customer=ann).count() == 1
    assert len(receiver.requests) == 1


def test_dispatch_takes_chunks_within_its_profile_budget(receiver, run_on_commit):
    people = [new_profile(f"p{n}@example.com").pk for n in range(6)]
    segment, _ = example_segment(receiver, run_on_commit)
    for start in (0, 2, 4):
        OutboxEntry.objects.create(
            topic="segment.entered",
            payload={
                "segment_id": segment.pk,
                "segment": segment.name,
                "at": "2026-12-01T00:00:00+00:00",
                "customer_ids": people[start : start + 2],
            },
        )

    first = run_on_commit(dispatch_outbox, profiles_limit=4)
    second = run_on_commit(dispatch_outbox, profiles_limit=4)

    assert (first.entries, first.deliveries, second.entries, second.deliveries) == (2, 4, 1, 2)
    assert sorted(Delivery.objects.values_list("customer_id", flat=True)) == people
