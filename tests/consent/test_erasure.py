import io

from django.contrib.admin.models import LogEntry

from consent.models import ConsentRecord, DataSubjectRequest, SuppressedMessageCount, Suppression
from consent.services.consent import record_consent
from consent.services.privacy import create_request, process_request
from consent.services.suppression import drop_if_suppressed, identifier_hash, is_suppressed
from customers.models import Customer, Event
from sources.pipeline import process_message

from .helpers import ANN, build_ann, message, tables_mentioning


def _erase(identifier, capture):
    with capture(execute=True):
        request = create_request(type="erasure", identifier=identifier)
    request.refresh_from_db()
    return request


def test_erasure_leaves_no_trace_of_the_person_in_any_table(
    source, admin_client, django_capture_on_commit_callbacks
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
    needles = [*ANN.values(), "Quist-Zyx", "198.51.100.77", "AnnBrowser"]
    before = tables_mentioning(needles)
    assert {"customers_historicalcustomer", "customers_dataqualityissue"} <= set(before)

    request = _erase("email:Ann.Quist@example.com", django_capture_on_commit_callbacks)

    assert request.status == "completed"
    assert tables_mentioning(needles) == {}
    assert request.identifier == "email:[erased]"
    assert request.summary["profiles"] == 1


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


def test_erasure_of_an_unknown_identifier_still_suppresses_it(
    db, django_capture_on_commit_callbacks
):
    request = _erase("email:nobody@example.com", django_capture_on_commit_callbacks)
    assert request.status == "completed"
    assert request.summary["profiles"] == 0
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
