"""Consent columns: recognised headers, consent.PURPOSE[:inverted] mappings, the yes/no
vocabulary; an unreadable answer is a row warning."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from consent.models import ConsentRecord, ConsentState, Purpose
from customers.models import Customer
from sources.imports.mapping import default_mapping
from sources.models import ImportJob
from tests.imports.conftest import csv_bytes


def _states():
    return dict(
        ConsentState.objects.values_list("customer__email", "state").filter(
            purpose__code="email_marketing"
        )
    )


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ("yes", "granted"),
        ("No", "denied"),
        ("y", "granted"),
        ("N", "denied"),
        ("true", "granted"),
        ("FALSE", "denied"),
        ("1", "granted"),
        ("0", "denied"),
        ("subscribed", "granted"),
        ("Unsubscribed", "denied"),
        ("opted in", "granted"),
        ("Opted Out", "denied"),
        ("Marketing contact", "granted"),
        ("Non-marketing contact", "denied"),
    ],
)
def test_the_yes_no_vocabulary(import_file, answer, state):
    rows = [["Email", "Newsletter"], ["ann@example.com", answer]]
    job = import_file("x.csv", csv_bytes(rows), mapping={"Newsletter": "consent.email_marketing"})
    assert _states() == {"ann@example.com": state}
    assert job.issues.count() == 0


@pytest.mark.parametrize(("answer", "state"), [("1", "denied"), ("no", "granted")])
def test_an_inverted_column_reads_yes_as_no(import_file, answer, state):
    rows = [["Email", "Do not email"], ["ann@example.com", answer]]
    import_file(
        "x.csv", csv_bytes(rows), mapping={"Do not email": "consent.email_marketing:inverted"}
    )
    assert _states() == {"ann@example.com": state}


def test_an_unreadable_answer_is_a_row_warning_and_records_nothing(import_file):
    rows = [["Email", "Accepts Marketing"], ["ann@example.com", "ask later"]]
    job = import_file("x.csv", csv_bytes(rows))
    assert (job.rows_new, job.rows_with_warnings) == (1, 1)
    assert list(job.issues.values_list("row", "column", "value", "severity", "code")) == [
        (2, "Accepts Marketing", "ask later", "warning", "invalid_consent")
    ]
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Accepts Email Marketing", "consent.email_marketing"),
        ("Accepts SMS Marketing", "consent.sms_marketing"),
        ("accepts_marketing", "consent.email_marketing"),
        ("Email Opt Out", "consent.email_marketing:inverted"),
        ("Marketing contact status", "consent.email_marketing"),
    ],
)
def test_consent_headers_are_recognised_in_any_file(db, header, target):
    assert default_mapping(["Email", header], kind="customers")[header] == target


def test_a_consent_header_of_an_inactive_purpose_stays_a_trait(db):
    Purpose.objects.filter(code="sms_marketing").update(is_active=False)
    mapping = default_mapping(["Email", "Accepts SMS Marketing"], kind="customers")
    assert mapping["Accepts SMS Marketing"] == "trait.accepts_sms_marketing"


def test_the_command_maps_consent_columns(db, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("E-mail,Opt-in,Unsub\r\nann@example.com,yes,\r\nbob@example.com,,1\r\n")
    out = StringIO()
    call_command(
        "import_customers",
        str(path),
        "--map",
        "Opt-in=consent.sms_marketing",
        "--map",
        "Unsub=consent.email_marketing:inverted",
        stdout=out,
    )
    assert "  Opt-in → consent.sms_marketing: yes" in out.getvalue()
    states = set(ConsentState.objects.values_list("customer__email", "purpose__code", "state"))
    assert states == {
        ("ann@example.com", "sms_marketing", "granted"),
        ("bob@example.com", "email_marketing", "denied"),
    }


def test_the_admin_mapping_step_offers_and_applies_consent_readings(
    admin_client, django_capture_on_commit_callbacks
):
    content = csv_bytes([["Email", "Do not email"], ["ann@example.com", "0"]])
    admin_client.post(
        reverse("admin:sources_importjob_add"),
        {"file": SimpleUploadedFile("list.csv", content), "kind": "customers"},
    )
    job = ImportJob.objects.get()
    url = reverse("admin:sources_importjob_mapping", args=[job.pk])
    form = admin_client.get(url).context["form"]
    offered = {value for _, group in form.fields["column_1"].choices for value, _ in group}
    assert {"consent.email_marketing", "consent.email_marketing:inverted"} <= offered
    assert "consent.email_marketing:granted_at" in offered
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            url, {"column_0": "email", "column_1": "consent.email_marketing:inverted"}
        )
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:sources_importjob_confirm", args=[job.pk]))
    assert _states() == {"ann@example.com": "granted"}
    assert Customer.objects.count() == 1
