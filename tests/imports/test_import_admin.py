import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer
from sources.models import ImportJob
from sources.services.keys import create_source
from tests.imports.conftest import csv_bytes

ROWS = [
    ["E-mail", "First Name", "Member No", "Shoe size"],
    ["ann@example.com", "Ann", "M-1", "38"],
    ["bob@example", "Bob", "M-2", "44"],
    ["", "Nobody", "", "40"],
]


@pytest.fixture
def uploaded(admin_client):
    """Upload the file through the admin; returns the job."""
    upload = SimpleUploadedFile("members.csv", csv_bytes(ROWS), content_type="text/csv")
    response = admin_client.post(
        reverse("admin:sources_importjob_add"), {"file": upload, "kind": "customers"}
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:sources_importjob_mapping", args=[job.pk])
    return job


def test_mapping_form_offers_the_recognised_defaults(admin_client, uploaded):
    response = admin_client.get(reverse("admin:sources_importjob_mapping", args=[uploaded.pk]))
    form = response.context["form"]
    assert [(field.label, field.initial) for field, _values in form.column_rows] == [
        ("E-mail", "email"),
        ("First Name", "first_name"),
        ("Member No", "trait.member_no"),
        ("Shoe size", "trait.shoe_size"),
    ]


def test_upload_map_preview_confirm_imports_the_file(
    admin_client, uploaded, django_capture_on_commit_callbacks
):
    mapping = {
        "column_0": "email",
        "column_1": "first_name",
        "column_2": "id.external_id",
        "column_3": "trait.shoe_size",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:sources_importjob_mapping", args=[uploaded.pk]), mapping
        )
    status_url = reverse("admin:sources_importjob_status", args=[uploaded.pk])
    assert response.url == status_url
    assert Customer.objects.count() == 0

    preview = admin_client.get(status_url)
    body = preview.content.decode()
    job = preview.context["job"]
    assert (job.status, job.rows_new, job.rows_invalid, job.rows_with_warnings) == (
        "previewed", 2, 1, 1
    )  # fmt: skip
    assert "Confirm import" in body
    assert "&#x27;bob@example&#x27; is not a valid email address" in body

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:sources_importjob_confirm", args=[job.pk]))
    assert response.url == status_url
    done = admin_client.get(status_url).context["job"]
    assert (done.status, done.dry_run, done.rows_new, done.rows_invalid) == ("done", False, 2, 1)
    assert sorted(Customer.objects.values_list("first_name", "traits")) == [
        ("Ann", {"shoe_size": 38}),
        ("Bob", {"shoe_size": 44}),
    ]


def test_error_report_downloads_as_csv(admin_client, uploaded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:sources_importjob_mapping", args=[uploaded.pk]),
            {"column_0": "email", "column_1": "first_name", "column_2": "ignore"}
            | {"column_3": "trait.shoe_size"},
        )
    response = admin_client.get(reverse("admin:sources_importjob_report", args=[uploaded.pk]))
    assert response["Content-Type"] == "text/csv"
    assert 'filename="members-report-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    no_id = "no usable identifier (email, phone or an id column)"
    assert rows == [
        ["row", "column", "value", "severity", "code", "reason"],
        ["3", "E-mail", "bob@example", "warning", "invalid_email", "'bob@example' is not a valid "
         "email address"],
        ["3", "", "", "error", "no_identifier", no_id],
        ["4", "", "", "error", "no_identifier", no_id],
    ]  # fmt: skip


def test_upload_can_pick_an_existing_source(admin_client):
    crm, _ = create_source(name="CRM", kind="crm")
    upload = SimpleUploadedFile("x.csv", b"email\nann@example.com\n")
    admin_client.post(
        reverse("admin:sources_importjob_add"),
        {"file": upload, "kind": "customers", "source": crm.pk},
    )
    assert ImportJob.objects.get().source == crm


def test_an_unreadable_upload_is_refused_on_the_form(admin_client):
    upload = SimpleUploadedFile("list.xlsx", b"this is no spreadsheet")
    response = admin_client.post(
        reverse("admin:sources_importjob_add"), {"file": upload, "kind": "customers"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"file": ["list.xlsx is not an Excel file"]}
    assert ImportJob.objects.count() == 0


def test_a_mapping_error_is_shown_on_the_form(admin_client, uploaded):
    response = admin_client.post(
        reverse("admin:sources_importjob_mapping", args=[uploaded.pk]),
        {"column_0": "email", "column_1": "email", "column_2": "ignore", "column_3": "ignore"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "columns 'E-mail' and 'First Name' both map to email"
    ]


def test_a_running_job_page_refreshes_and_shows_progress(admin_client, uploaded):
    ImportJob.objects.filter(pk=uploaded.pk).update(
        status="running", rows_total=1000, rows_done=500, rows_invalid=3
    )
    response = admin_client.get(reverse("admin:sources_importjob_status", args=[uploaded.pk]))
    body = response.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in body
    assert "Rows done: <strong>500 of 1,000</strong>" in body  # thousands separated
    assert '<progress id="import-progress" max="1000" value="500">' in body
    assert "errors so far: 3" in body


def test_import_job_list_renders_with_bounded_queries(
    admin_client, uploaded, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:sources_importjob_changelist"))
    assert response.status_code == 200
    assert "members.csv" in response.content.decode()


def test_import_job_list_sums_up_the_rows_in_one_column(admin_client, uploaded):
    ImportJob.objects.filter(pk=uploaded.pk).update(
        rows_total=1500, rows_done=1500, rows_new=1200, rows_merged=3, rows_invalid=297
    )
    body = admin_client.get(reverse("admin:sources_importjob_changelist")).content.decode()
    assert "1,200 new · 3 merged · 297 invalid" in body
    assert "1,500 / 1,500" in body


@pytest.mark.parametrize(("role", "sees_values"), [("viewer", False), ("marketer", True)])
def test_the_job_page_lists_the_columns_with_values_only_for_who_may_see_them(
    uploaded, django_user_model, role, sees_values
):
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts.roles import MARKETER, VIEWER

    user = django_user_model.objects.create_user(role, password="pw-123456789", is_staff=True)
    user.groups.add(Group.objects.get(name={"viewer": VIEWER, "marketer": MARKETER}[role]))
    client = Client()
    client.force_login(user)
    response = client.get(reverse("admin:sources_importjob_status", args=[uploaded.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<li>Shoe size → trait.shoe_size" in body
    assert ("ann@example.com" in body) is sees_values
    mapping = client.get(reverse("admin:sources_importjob_mapping", args=[uploaded.pk]))
    assert mapping.status_code == (200 if role == "marketer" else 403)
