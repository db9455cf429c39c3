import io
import json
import zipfile

import pytest

from consent.services.consent import record_consent
from consent.services.privacy import PrivacyRequestError, create_request
from segments.models import Segment, SegmentMembership

from .helpers import ANN, build_ann


def _access(identifier, capture):
    with capture(execute=True):
        request = create_request(type="access", identifier=identifier)
    request.refresh_from_db()
    return request


def _read(request) -> dict:
    with request.result_file.open("rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    return {name: json.loads(archive.read(name)) for name in archive.namelist()}


def test_access_export_holds_profile_identities_events_consent_and_history(
    source, django_capture_on_commit_callbacks
):
    ann = build_ann(source)
    fans = Segment.objects.create(name="Fans", kind="static")
    SegmentMembership.objects.create(segment=fans, customer=ann, entered_at=ann.first_seen)
    record_consent(
        customer=ann,
        purpose="sms_marketing",
        state="granted",
        method="web_form",
        wording_version="v2",
    )

    request = _access(f"phone:{ANN['phone']}", django_capture_on_commit_callbacks)

    assert request.status == "completed"
    files = _read(request)
    assert {
        "request.json",
        "profile.json",
        "identities.json",
        "events.json",
        "consent_history.json",
        "change_history.json",
    } <= set(files)
    assert files["profile.json"][0]["email"] == ANN["email"]
    assert files["profile.json"][0]["traits"] == {"favourite_colour": ANN["colour"]}
    assert {(i["type__name"], i["value"]) for i in files["identities.json"]} == {
        ("anonymous_id", ANN["anonymous_id"]),
        ("user_id", ANN["user_id"]),
        ("email", ANN["email"]),
        ("phone", ANN["phone"]),
    }
    assert [e["type"] for e in files["events.json"]] == ["page", "identify", "track"]
    assert [
        (c["purpose__code"], c["state"], c["wording_version"])
        for c in files["consent_history.json"]
    ] == [("sms_marketing", "granted", "v2")]
    assert files["change_history.json"]["profile"][-1]["first_name"] == ANN["first_name"]
    assert request.summary["events"] == 3
    assert [m["segment__name"] for m in files["segment_memberships.json"]] == ["Fans"]
    assert [i["value"] for i in files["data_quality_issues.json"]] == [ANN["bad_birthday"]]


def test_access_for_an_unknown_person_says_no_profile_matched_with_empty_files(
    db, django_capture_on_commit_callbacks
):
    request = _access("email:nobody@example.com", django_capture_on_commit_callbacks)
    files = _read(request)
    assert request.status == "no_match"
    assert request.outcome.startswith("No profile matched")
    assert files["profile.json"] == []
    assert files["events.json"] == []


@pytest.mark.parametrize(
    ("type_", "identifier", "code"),
    [
        ("access", "ann@example.com", "invalid_identifier"),
        ("access", "shoe_size:42", "unknown_identifier_type"),
        ("access", "email:not-an-email", "invalid_email"),
        ("forget", "email:ann@example.com", "invalid_type"),
    ],
)
def test_bad_requests_are_refused_with_a_code(db, type_, identifier, code):
    with pytest.raises(PrivacyRequestError) as caught:
        create_request(type=type_, identifier=identifier)
    assert caught.value.code == code


def test_access_export_lists_the_accounts_the_person_belongs_to(
    source, django_capture_on_commit_callbacks
):
    from sources.pipeline import process_message

    from .helpers import message

    process_message(message(source, type="group", user_id="u-g", group_id="acme-42"))
    request = _access("user_id:u-g", django_capture_on_commit_callbacks)
    groups = _read(request)["group_memberships.json"]
    assert [g["group__group_id"] for g in groups] == ["acme-42"]
