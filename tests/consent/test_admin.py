"""Privacy requests and consent in the admin."""

import re

from consent.models import DataSubjectRequest
from customers.models import Customer

from .helpers import ANN, build_ann


def test_steward_files_an_erasure_request_in_the_admin(
    admin_client, source, django_capture_on_commit_callbacks
):
    build_ann(source)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/consent/datasubjectrequest/add/",
            {"type": "erasure", "identifier": f"phone:{ANN['phone']}"},
        )
    assert response.status_code == 302, response.content
    request = DataSubjectRequest.objects.get()
    assert (request.status, request.handled_by.username, request.identifier) == (
        "completed",
        "boss",
        "phone:[erased]",
    )
    assert Customer.objects.count() == 0


def test_a_mistyped_erasure_says_no_profile_matched_in_the_admin(
    admin_client, source, django_capture_on_commit_callbacks
):
    build_ann(source)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/consent/datasubjectrequest/add/",
            {"type": "erasure", "identifier": "phone:+14155550132"},  # two digits swapped
        )
    request = DataSubjectRequest.objects.get()

    listing = admin_client.get("/admin/consent/datasubjectrequest/").content.decode()
    page = admin_client.get(f"/admin/consent/datasubjectrequest/{request.pk}/change/")

    assert re.search(r'class="field-status[^"]*"[^>]*>No profile matched</td>', listing)
    assert not re.search(r'class="field-status[^"]*"[^>]*>Completed</td>', listing)
    assert "No profile matched this identifier (check it for a typo)" in page.content.decode()
    assert Customer.objects.count() == 1


def test_admin_refuses_a_malformed_identifier(admin_client):
    response = admin_client.post(
        "/admin/consent/datasubjectrequest/add/", {"type": "access", "identifier": "ann"}
    )
    assert response.status_code == 200
    assert b"identifier must be type:value" in response.content
    assert DataSubjectRequest.objects.count() == 0


def test_access_export_downloads_from_the_admin(
    admin_client, source, django_capture_on_commit_callbacks
):
    build_ann(source)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/consent/datasubjectrequest/add/",
            {"type": "access", "identifier": f"email:{ANN['email']}"},
        )
    request = DataSubjectRequest.objects.get()
    listing = admin_client.get("/admin/consent/datasubjectrequest/")
    assert b"Download export (zip)" in listing.content
    download = admin_client.get(f"/admin/consent/datasubjectrequest/{request.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"


def test_consent_admin_pages_render(admin_client, customer):
    for url in (
        "/admin/consent/purpose/",
        "/admin/consent/consentrecord/",
        f"/admin/consent/consentrecord/?customer__id__exact={customer.pk}",
        "/admin/consent/consentrecord/add/",
        "/admin/consent/datasubjectrequest/",
        "/admin/consent/datasubjectrequest/add/",
        "/admin/consent/suppression/",
        "/admin/consent/suppressedmessagecount/",
    ):
        assert admin_client.get(url).status_code == 200, url
