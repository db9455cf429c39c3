import base64
import io
import json

from django.contrib.admin.models import LogEntry
from django.core.management import call_command

from consent.models import (
    ConsentRecord,
    DataSubjectRequest,
    Purpose,
    SuppressedMessageCount,
    Suppression,
)
from consent.services.consent import record_consent
from consent.services.privacy import create_request, process_request
from consent.services.suppression import drop_if_suppressed, identifier_hash, is_suppressed
from customers.models import Customer, Event
from destinations.models import Destination
from destinations.services.dispatch import dispatch_outbox
from destinations.services.operations import save_destination
from sources.models import IntakeMessage
from sources.pipeline import process_message
from sources.services.keys import create_source

from .helpers import ANN, build_ann, media_files_mentioning, message, tables_mentioning


def _erase(identifier, capture):
    with capture(execute=True):
        request = create_request(type="erasure", identifier=identifier)
    request.refresh_from_db()
    return request


def _bob_mentions_ann(client, django_capture_on_commit_callbacks):
    """Bob, another customer, refers Ann: through the tracking API, an event and a
    trait of his that quote her email and phone (outbox entries, history rows and a
    webhook delivery follow)."""
    _source, key = create_source(name="Referral widget", kind="website")
    token = base64.b64encode(f"{key}:".encode()).decode()
    calls = [
        {
            "type": "identify",
            "userId": "user-bob-44120",
            "traits": {"email": "bob.brant@example.com", "referred_by": ANN["email"]},
        },
        {
            "type": "track",
            "userId": "user-bob-44120",
            "event": "Referral Sent",
            "properties": {"referred_email": ANN["email"].upper(), "note": f"call {ANN['phone']}"},
        },
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/v1/batch",
            json.dumps({"batch": calls}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {token}",
        )
    assert response.status_code == 200, response.content
    return Customer.objects.get(email="bob.brant@example.com")


def _uploads_mentioning_ann(media_root):
    """An imported Excel list naming Ann and Bob, and an upload left with no job."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Email", "Phone", "First Name"])
    book.active.append([ANN["email"], ANN["phone"], ANN["first_name"]])
    book.active.append(["bob.brant@example.com", "", "Bob"])
    path = media_root.parent / "crm-export.xlsx"
    book.save(path)
    call_command("import_customers", str(path), stdout=io.StringIO())
    orphan = media_root / "imports" / "2026" / "11" / "30" / "interrupted.csv"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_text(f"email,first name\r\n{ANN['email']},{ANN['first_name']}\r\n")


def test_erasure_leaves_no_trace_of_the_person_in_any_table_file_or_log_line(
    source,
    admin_client,
    client,
    settings,
    captured_logs,
    django_capture_on_commit_callbacks,
):
    ann = build_ann(source)
    record_consent(
        customer=ann,
        purpose="email_marketing",
        state="granted",
        method="web_form",
        ip_address="198.51.100.77",
        user_agent="AnnBrowser/1.0",
    )
    # an admin edit leaves a log entry and a history row naming her
    response = admin_client.post(
        f"/admin/customers/customer/{ann.pk}/change/",
        {
            "first_name": ANN["first_name"],
            "last_name": "Quist-Zyx",
            "email": ANN["email"],
            "phone": ANN["phone"],
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    # a webhook (its receiver is down: the delivery keeps its payload for a retry)
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    save_destination(
        destination=Destination(
            name="CRM",
            url="http://127.0.0.1:9/hook",
            purpose=Purpose.objects.get(code="analytics"),
            track_events=["Referral Sent"],
        )
    )
    bob = _bob_mentions_ann(client, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_outbox()
    _uploads_mentioning_ann(settings.MEDIA_ROOT)
    with django_capture_on_commit_callbacks(execute=True):
        bobs_export = create_request(type="access", identifier="email:bob.brant@example.com")
    # clients look her up (Django logs the 404s with the path)
    lookup = client.get("/api/v1/profiles/email:nobody.else@example.com/")
    assert lookup.status_code in (401, 404)
    needles = [*ANN.values(), "Quist-Zyx", "198.51.100.77", "AnnBrowser"]
    before = tables_mentioning(needles)
    assert {
        "customers_historicalcustomer",
        "customers_dataqualityissue",
        "customers_event",
        "customers_outboxentry",
        "customers_customer",
        "destinations_delivery",
        "sources_intakemessage",
    } <= set(before)
    assert len(media_files_mentioning(settings.MEDIA_ROOT, needles)) == 3

    request = _erase("email:Ann.Quist@example.com", django_capture_on_commit_callbacks)
    client.get(f"/api/v1/profiles/email:{ANN['email']}/")  # asked again after erasure

    assert request.status == "completed"
    assert tables_mentioning(needles) == {}
    assert media_files_mentioning(settings.MEDIA_ROOT, needles) == {}
    logs = captured_logs.getvalue()
    assert "Not Found: /api/v1/profiles/email:" in logs  # the lines were captured …
    assert [n for n in needles if n.lower() in logs.lower()] == []  # … masked
    assert request.identifier == "email:[erased]"
    assert request.summary["profiles"] == 1
    # Bob keeps his data; only the mentions of Ann are gone
    bob.refresh_from_db()
    assert bob.traits["referred_by"] == "[erased]"
    event = Event.objects.get(customer=bob, name="Referral Sent")
    assert event.properties == {"referred_email": "[erased]", "note": "call [erased]"}
    assert IntakeMessage.objects.filter(payload__userId="user-bob-44120").count() == 2
    bobs_export.refresh_from_db()
    assert not bobs_export.result_file  # it quoted Ann: Bob can ask again


def test_erasure_keeps_a_suppression_hash_per_identifier_and_a_minimal_record(
    source, django_capture_on_commit_callbacks
):
    build_ann(source)
    request = _erase(f"user_id:{ANN['user_id']}", django_capture_on_commit_callbacks)
    assert Customer.objects.count() == 0
    assert ConsentRecord.objects.count() == 0
    assert set(Suppression.objects.values_list("identifier_hash", flat=True)) == {
        identifier_hash("email", ANN["email"]),
        identifier_hash("phone", ANN["phone"]),
        identifier_hash("user_id", ANN["user_id"]),
        identifier_hash("anonymous_id", ANN["anonymous_id"]),
    }
    assert request.completed_at is not None
    assert request.summary["identifiers_suppressed"] == 4


def test_erasure_of_an_unknown_identifier_says_no_profile_matched_and_still_suppresses_it(
    db, django_capture_on_commit_callbacks
):
    request = _erase("email:nobody@example.com", django_capture_on_commit_callbacks)
    assert (request.status, request.get_status_display()) == ("no_match", "No profile matched")
    assert request.outcome.startswith("No profile matched this identifier (check it for a typo)")
    assert request.summary["profiles"] == 0
    assert request.identifier == "email:[erased]"
    assert is_suppressed([("email", "nobody@example.com")])


def test_erasure_removes_profiles_merged_into_the_person(
    source, django_capture_on_commit_callbacks
):
    ann = build_ann(source)
    absorbed = Customer.objects.create(first_name="Old Annabelle record", merged_into=None)
    Customer.objects.filter(pk=absorbed.pk).update(merged_into=ann)
    _erase(f"email:{ANN['email']}", django_capture_on_commit_callbacks)
    assert not Customer.objects.filter(pk__in=[ann.pk, absorbed.pk]).exists()


def test_erasure_blanks_earlier_access_requests_for_the_same_person(
    source, django_capture_on_commit_callbacks
):
    build_ann(source)
    with django_capture_on_commit_callbacks(execute=True):
        access = create_request(type="access", identifier=f"email:{ANN['email']}")
    access.refresh_from_db()
    assert access.result_file
    _erase(f"email:{ANN['email']}", django_capture_on_commit_callbacks)
    access.refresh_from_db()
    assert (access.identifier, access.result_file.name) == ("email:[erased]", "")


def test_later_data_for_an_erased_identifier_is_dropped_and_counted_per_source(
    source, django_capture_on_commit_callbacks
):
    build_ann(source)
    _erase(f"email:{ANN['email']}", django_capture_on_commit_callbacks)
    assert drop_if_suppressed(identifiers=[("email", ANN["email"])], source_id=source.pk)
    assert drop_if_suppressed(
        identifiers=[("anonymous_id", ANN["anonymous_id"])], source_id=source.pk
    )
    assert not drop_if_suppressed(identifiers=[("email", "bob@example.com")], source_id=source.pk)
    assert source.suppressed_messages.count == 2


def test_process_request_twice_is_harmless(source, django_capture_on_commit_callbacks):
    build_ann(source)
    request = _erase(f"email:{ANN['email']}", django_capture_on_commit_callbacks)
    again = process_request(request_id=request.pk)
    assert again.status == "completed"
    assert DataSubjectRequest.objects.count() == 1
    assert LogEntry.objects.count() == 0


def test_pipeline_drops_later_messages_for_the_erased_person(
    source, django_capture_on_commit_callbacks
):
    build_ann(source)
    _erase(f"email:{ANN['email']}", django_capture_on_commit_callbacks)

    result = process_message(
        message(source, type="track", event="Came back", anonymous_id=ANN["anonymous_id"])
    )

    assert (result.suppressed, result.customer) == (True, None)
    assert Customer.objects.count() == 0
    assert Event.objects.count() == 0
    assert SuppressedMessageCount.objects.get(source=source).count == 1
    assert tables_mentioning([ANN["anonymous_id"]]) == {}


def test_erasure_removes_import_files_and_row_issues_that_mention_the_person(
    db, tmp_path, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    from sources.models import ImportIssue, ImportJob

    path = tmp_path / "people.csv"
    path.write_text(f"email,phone\n{ANN['email']},not-a-phone-{ANN['user_id']}\nbob@example.com,\n")
    call_command("import_customers", str(path), stdout=io.StringIO())
    job = ImportJob.objects.get()
    assert job.file
    assert ImportIssue.objects.count() == 1

    _erase(f"email:{ANN['email']}", django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert (job.file.name, ImportIssue.objects.count()) == ("", 0)
    assert job.rows_total == 2


def test_batch_suppression_check_names_the_dropped_messages(
    source, django_capture_on_commit_callbacks
):
    from consent.services.suppression import suppressed_indexes

    build_ann(source)
    _erase(f"email:{ANN['email']}", django_capture_on_commit_callbacks)
    dropped = suppressed_indexes(
        identifier_sets={
            0: [("user_id", "someone-else")],
            1: [("user_id", "x"), ("phone", ANN["phone"])],
            2: [],
        },
        source_ids={0: source.pk, 1: source.pk, 2: source.pk},
    )
    assert dropped == {1}
    assert SuppressedMessageCount.objects.get(source=source).count == 1


def test_suppression_hash_is_the_keyed_hmac_suppressions_were_stored_with(settings):
    """Stored suppressions must keep matching: the hash stays Django's salted_hmac."""
    from django.utils.crypto import salted_hmac

    expected = salted_hmac(
        "tributary.consent.suppression", "email:ann@example.com", algorithm="sha256"
    ).hexdigest()
    assert identifier_hash("email", "ann@example.com") == expected
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert identifier_hash("email", "ann@example.com") != expected


def test_erasure_fails_a_waiting_import_whose_file_names_the_person(
    db, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    from sources.imports.jobs import create_import_job
    from sources.models import ImportJob
    from sources.privacy import FILE_ERASED

    waiting = create_import_job(
        file=ContentFile(f"E-mail;Vorname\r\n{ANN['email']};Anna\r\nbo@example.com;Bo\r\n"),
        name="messe-kontakte.csv",
    )
    unrelated = create_import_job(
        file=ContentFile("email\r\ncarl@example.com\r\n"), name="other.csv"
    )

    request = _erase(f"email:{ANN['email']}", django_capture_on_commit_callbacks)

    waiting.refresh_from_db()
    unrelated.refresh_from_db()
    assert request.status == "no_match"  # no profile yet, but her data was in the file
    assert (waiting.file.name, waiting.status, waiting.error) == ("", "failed", FILE_ERASED)
    assert unrelated.file
    assert unrelated.status == ImportJob.Status.UPLOADED


def test_erasing_a_short_id_leaves_other_peoples_text_and_raw_calls_alone(
    source, django_capture_on_commit_callbacks
):
    from sources.models import IntakeMessage

    process_message(message(source, user_id="42", traits={"email": "ann@example.com"}))
    bob = process_message(
        message(source, user_id="bob-77", traits={"shoe_size": "42", "email": "bob@example.com"})
    ).customer
    pending = IntakeMessage.objects.create(
        source=source,
        message_id="m-bob-1",
        type="track",
        payload={"type": "track", "userId": "bob-77", "properties": {"size": "42", "qty": 42}},
    )
    own = IntakeMessage.objects.create(
        source=source, message_id="m-ann-1", type="track", payload={"userId": 42}
    )

    _erase("user_id:42", django_capture_on_commit_callbacks)

    bob.refresh_from_db()
    assert bob.traits["shoe_size"] == "42"
    assert IntakeMessage.objects.get(pk=pending.pk).payload["properties"] == {
        "size": "42",
        "qty": 42,
    }
    assert not IntakeMessage.objects.filter(pk=own.pk).exists()  # her own call, as a number
