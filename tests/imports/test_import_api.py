import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services.api_keys import create_api_key
from customers.models import Customer
from sources.models import ImportJob
from sources.services.keys import create_source
from tests.api.conftest import assert_error
from tests.imports.conftest import csv_bytes

ROWS = [["Email", "Name", "crm"], ["ann@example.com", "Ann", "C-1"], ["", "Nobody", ""]]


class _Api:
    """A client with an imports:write key; queued tasks run when the request commits."""

    def __init__(self, client, capture):
        self.client, self.capture = client, capture

    def get(self, url):
        return self.client.get(url)

    def post(self, url, data=None):
        with self.capture(execute=True):
            return self.client.post(url, data or {})


@pytest.fixture
def api(db, django_capture_on_commit_callbacks):
    from django.test import Client

    _key, secret = create_api_key(name="importer", scopes=["imports:write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return _Api(client, django_capture_on_commit_callbacks)


def _upload(api, *, name="people.csv", content=None, **fields):
    upload = SimpleUploadedFile(name, content if content is not None else csv_bytes(ROWS))
    return api.post("/api/v1/imports/", {"file": upload, **fields})


def test_upload_imports_the_file_and_the_job_can_be_polled(api):
    response = _upload(api, mapping='{"crm": "id.external_id"}')
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert accepted["mapping"] == {"Email": "email", "Name": "trait.name", "crm": "id.external_id"}
    body = api.get(f"/api/v1/imports/{accepted['id']}/").json()
    assert (body["status"], body["rows_total"], body["rows_done"]) == ("done", 2, 2)
    assert (body["batches_total"], body["batches_done"]) == (1, 1)
    assert (body["rows_new"], body["rows_invalid"], body["dry_run"]) == (1, 1, False)
    customer = Customer.objects.get()
    assert set(customer.identities.values_list("type__name", "value")) == {
        ("email", "ann@example.com"),
        ("external_id", "C-1"),
    }


def test_dry_run_then_confirm(api):
    job_id = _upload(api, dry_run="true").json()["id"]
    body = api.get(f"/api/v1/imports/{job_id}/").json()
    assert (body["status"], body["dry_run"], body["rows_new"]) == ("previewed", True, 1)
    assert Customer.objects.count() == 0
    confirmed = api.post(f"/api/v1/imports/{job_id}/confirm/")
    assert (confirmed.status_code, confirmed.json()["status"]) == (202, "queued")
    assert api.get(f"/api/v1/imports/{job_id}/").json()["status"] == "done"
    assert Customer.objects.count() == 1
    assert_error(api.post(f"/api/v1/imports/{job_id}/confirm/"), 409, "conflict")


def test_the_row_report_is_listed_in_row_order(api):
    job_id = _upload(api).json()["id"]
    response = api.get(f"/api/v1/imports/{job_id}/issues/")
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "row": 3,
            "column": "",
            "value": "",
            "severity": "error",
            "code": "no_identifier",
            "reason": "no usable identifier (email, phone or an id column)",
        }
    ]


def test_upload_into_a_chosen_source(api):
    crm, _ = create_source(name="CRM", kind="crm")
    body = _upload(api, source=str(crm.pk)).json()
    assert (body["source"], body["source_name"]) == (crm.pk, "CRM")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"name": "list.xlsx", "content": b"not excel"}, "unreadable_file"),
        ({"name": "list.pdf", "content": b"%PDF"}, "unsupported_format"),
        ({"mapping": '{"nope": "email"}'}, "unknown_column"),
        ({"mapping": '{"crm": "id.passport"}'}, "unknown_identifier_type"),
        ({"mapping": '["email"]'}, "invalid"),
        ({"kind": "spaceships"}, "invalid"),
    ],
)
def test_bad_uploads_are_4xx_with_a_code(api, fields, code):
    assert_error(_upload(api, **fields), 400, code)
    assert ImportJob.objects.filter(status="done").count() == 0


def test_a_key_without_the_imports_scope_is_refused(db):
    from django.test import Client

    _key, secret = create_api_key(name="reader", scopes=["profiles:read"])
    reader = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert reader.get("/api/v1/imports/").status_code == 403


def test_a_job_whose_mapping_is_refused_ends_failed_with_the_reason(api):
    assert_error(_upload(api, mapping='{"crm": "id.passport"}'), 400, "unknown_identifier_type")
    job = ImportJob.objects.get()
    assert job.status == "failed"
    assert "id.passport" in job.error
    assert api.get(f"/api/v1/imports/{job.pk}/").json()["status"] == "failed"


def test_an_event_file_upload_takes_its_event_name_and_date_order(api):
    rows = [["email", "date", "amount"], ["ann@example.com", "03/04/2024", "12.5"]]
    response = _upload(
        api,
        name="visits.csv",
        content=csv_bytes(rows),
        kind="events",
        event_name="Store Visit",
        date_order="DMY",
        mapping='{"date": "timestamp"}',
    )

    assert response.status_code == 202
    body = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (body["status"], body["event_name"], body["date_order"]) == (
        "done",
        "Store Visit",
        "DMY",
    )
    event = Customer.objects.get().events.get()
    assert event.name == "Store Visit"
    assert (event.timestamp.month, event.timestamp.day) == (4, 3)


def test_an_unknown_date_order_is_a_400(api):
    assert_error(_upload(api, date_order="YMD"), 400, "invalid")
