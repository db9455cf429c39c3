from consent.models import Purpose
from consent.services.consent import record_consent
from consent.services.privacy import create_request
from destinations import tasks
from destinations.models import Delivery, DeliveryAttempt
from destinations.services.dispatch import dispatch_outbox

from .conftest import make_destination, new_profile


def email_destination(receiver):
    destination, _ = make_destination(
        receiver.url, on_profile_created=True, purpose=Purpose.objects.get(code="email_marketing")
    )
    return destination


def test_customer_without_consent_is_never_sent_and_counted(receiver, run_on_commit):
    email_destination(receiver)
    new_profile("ann@example.com")

    report = run_on_commit(dispatch_outbox)

    delivery = Delivery.objects.get()
    assert (report.deliveries, report.skipped_no_consent) == (0, 1)
    assert receiver.requests == []
    assert (delivery.status, delivery.payload, delivery.attempts) == ("skipped_no_consent", {}, 0)


def test_customer_who_granted_consent_is_sent(receiver, run_on_commit):
    email_destination(receiver)
    ann = new_profile("ann@example.com")
    record_consent(customer=ann, purpose="email_marketing", state="granted", method="web_form")
    new_profile("bob@example.com")

    report = run_on_commit(dispatch_outbox)

    assert (report.deliveries, report.skipped_no_consent) == (1, 1)
    assert [r.json["profile"]["id"] for r in receiver.requests] == [ann.pk]


def test_objection_stops_a_legitimate_interest_purpose(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_created=True)  # analytics: legitimate interest
    ann = new_profile("ann@example.com")
    record_consent(customer=ann, purpose="analytics", state="withdrawn", method="web_form")
    bob = new_profile("bob@example.com")

    run_on_commit(dispatch_outbox)

    assert [r.json["profile"]["id"] for r in receiver.requests] == [bob.pk]
    assert Delivery.objects.get(customer=ann).status == "skipped_no_consent"


def test_withdrawal_before_a_retry_stops_it(receiver, run_on_commit):
    email_destination(receiver)
    ann = new_profile("ann@example.com")
    record_consent(customer=ann, purpose="email_marketing", state="granted", method="web_form")
    receiver.answer(503)
    run_on_commit(dispatch_outbox)
    delivery = Delivery.objects.get()
    record_consent(customer=ann, purpose="email_marketing", state="withdrawn", method="web_form")

    run_on_commit(tasks.retry_due, now=delivery.next_attempt_at.isoformat())

    delivery.refresh_from_db()
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.payload) == ("skipped_no_consent", {})


def test_inactive_purpose_sends_no_one(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_created=True)
    Purpose.objects.filter(code="analytics").update(is_active=False)
    new_profile("ann@example.com")

    report = run_on_commit(dispatch_outbox)

    assert (report.deliveries, report.skipped_no_consent) == (0, 1)
    assert receiver.requests == []


def test_destination_without_purpose_sends_no_customer(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_created=True, purpose=None)
    new_profile("ann@example.com")

    report = run_on_commit(dispatch_outbox)

    assert report.skipped_no_consent == 1
    assert receiver.requests == []


def test_erasure_removes_the_persons_deliveries_and_attempts(
    receiver, run_on_commit, django_capture_on_commit_callbacks
):
    make_destination(receiver.url, on_profile_created=True)
    new_profile("ann@example.com")
    bob = new_profile("bob@example.com")
    receiver.answer(500)
    run_on_commit(dispatch_outbox)
    assert DeliveryAttempt.objects.count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        request = create_request(type="erasure", identifier="email:ann@example.com")

    request.refresh_from_db()
    assert request.status == "completed"
    assert request.summary["rows_removed"]["destinations"] >= 1
    assert list(Delivery.objects.values_list("customer_id", flat=True)) == [bob.pk]
    assert DeliveryAttempt.objects.count() == 1
    assert "ann@example.com" not in str(list(Delivery.objects.values_list("payload", flat=True)))


def test_skipped_deliveries_show_in_the_destination_list(receiver, run_on_commit, admin_client):
    from django.urls import reverse

    email_destination(receiver)
    new_profile("ann@example.com")
    new_profile("bob@example.com")
    run_on_commit(dispatch_outbox)

    response = admin_client.get(reverse("admin:destinations_destination_changelist"))

    [row] = response.context["cl"].result_list
    assert row.skipped == 2
    assert "Email marketing" in response.content.decode()
