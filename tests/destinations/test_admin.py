from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from consent.models import Purpose
from destinations.models import Delivery, Destination
from destinations.services.dispatch import dispatch_outbox

from .conftest import make_destination, new_profile, verify_signature


def test_creating_a_destination_shows_its_secret_once(receiver, admin_client):
    response = admin_client.post(
        reverse("admin:destinations_destination_add"),
        {
            "name": "Email tool",
            "url": receiver.url,
            "enabled": "on",
            "purpose": Purpose.objects.get(code="email_marketing").pk,
            "track_events": "[]",
        },
        follow=True,
    )

    destination = Destination.objects.get()
    body = response.content.decode()
    assert destination.secret.startswith("whsec_")
    assert destination.secret in body
    page = admin_client.get(reverse("admin:destinations_destination_change", args=[destination.pk]))
    assert destination.secret not in page.content.decode()


def test_admin_refuses_an_internal_url(db, admin_client, settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = []
    response = admin_client.post(
        reverse("admin:destinations_destination_add"),
        {"name": "Sneaky", "url": "http://169.254.169.254/latest", "track_events": "[]"},
    )

    assert response.status_code == 200
    assert "link-local" in response.content.decode()
    assert Destination.objects.count() == 0


def test_send_test_event_button_posts_a_signed_test_event(receiver, admin_client):
    destination, secret = make_destination(receiver.url)
    page = admin_client.get(reverse("admin:destinations_destination_change", args=[destination.pk]))
    url = reverse("admin:destinations_destination_send_test", args=[destination.pk])
    assert url in page.content.decode()

    response = admin_client.post(url, follow=True)

    [request] = receiver.requests
    assert request.json["type"] == "test"
    assert request.json["profile"] is None
    assert verify_signature(request.headers["Tributary-Signature"], request.body, secret)
    assert "Test event delivered to CRM hook: HTTP 200" in response.content.decode()
    assert Delivery.objects.get().status == "succeeded"


def test_failed_test_event_is_tried_once_and_reported(receiver, admin_client):
    destination, _ = make_destination(receiver.url)
    receiver.answer(503)

    response = admin_client.post(
        reverse("admin:destinations_destination_send_test", args=[destination.pk]), follow=True
    )

    assert "Test event to CRM hook failed: 503" in response.content.decode()
    assert Delivery.objects.get().status == "dead"


def test_destination_list_shows_success_rate_and_flags_long_failures(
    receiver, admin_client, run_on_commit, django_assert_max_num_queries
):
    make_destination(receiver.url, on_profile_created=True)
    failing, _ = make_destination(receiver.url, name="Broken", on_profile_created=True)
    receiver.answer(200)
    receiver.answer(500)
    new_profile()
    run_on_commit(dispatch_outbox)
    Destination.objects.filter(pk=failing.pk).update(
        failing_since=timezone.now() - timedelta(hours=3)
    )

    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:destinations_destination_changelist"))

    body = response.content.decode()
    assert "100% of 1" in body
    assert "0% of 1" in body
    assert "⚠ failing since" in body


def test_delivery_log_lists_with_bounded_queries(
    receiver, admin_client, run_on_commit, django_assert_max_num_queries
):
    make_destination(receiver.url, on_profile_created=True)
    for n in range(5):
        new_profile(f"p{n}@example.com")
    run_on_commit(dispatch_outbox)

    with django_assert_max_num_queries(10):
        response = admin_client.get(
            reverse("admin:destinations_delivery_changelist"), {"status": "succeeded"}
        )

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 5


def test_delivery_page_shows_the_attempts_log(receiver, admin_client, run_on_commit):
    make_destination(receiver.url, on_profile_created=True)
    receiver.answer(503)
    new_profile()
    run_on_commit(dispatch_outbox)
    delivery = Delivery.objects.get()

    response = admin_client.get(reverse("admin:destinations_delivery_change", args=[delivery.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "failed, will retry" in body
    assert "503" in body


def test_replay_action_queues_dead_deliveries_again(receiver, admin_client, run_on_commit):
    make_destination(receiver.url, on_profile_created=True)
    receiver.answer(400, times=2)
    new_profile("a@example.com")
    new_profile("b@example.com")
    run_on_commit(dispatch_outbox)
    pks = list(Delivery.objects.values_list("pk", flat=True))

    with run_on_commit.capture():
        response = admin_client.post(
            reverse("admin:destinations_delivery_changelist"),
            {"action": "replay", "_selected_action": pks},
            follow=True,
        )

    assert "2 deliveries queued again." in response.content.decode()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert len(receiver.requests) == 4


def test_admin_requires_a_purpose(db, admin_client, receiver):
    response = admin_client.post(
        reverse("admin:destinations_destination_add"),
        {"name": "No purpose", "url": receiver.url, "track_events": "[]"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["purpose"] == ["This field is required."]
    assert Destination.objects.count() == 0
