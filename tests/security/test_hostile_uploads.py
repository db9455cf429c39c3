"""Hostile import files: refused with a 4xx (or a job that ends ``failed`` with
its reason), never a 500, never a job stuck ``previewing``, and no file left
in MEDIA_ROOT once a job has failed or was never created."""

import email.message
import io
import json
import os
import time
import zipfile
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.services.api_keys import create_api_key
from customers.models import Customer
from sources.imports.jobs import (
    ImportStateError,
    create_import_job,
    purge_orphan_uploads,
    start_preview,
)
from sources.imports.reading import MAX_XLSX_INFLATED_BYTES, open_table
from sources.imports.runner import run_import
from sources.models import ImportJob
from tests.api.conftest import assert_error
from tests.imports.conftest import csv_bytes, xlsx_bytes

PEOPLE = [["Email", "First Name"], ["ann@example.com", "Ann"], ["bob@example.com", "Bob"]]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media_root) -> list[str]:
    return sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())


@pytest.fixture
def api(db, django_capture_on_commit_callbacks):
    _key, secret = create_api_key(name="importer", scopes=["imports:write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def upload(name: str, content: bytes, **fields):
        fields.setdefault("dry_run", "true")
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/v1/imports/", {"file": _named(name, content), **fields})

    upload.client = client
    return upload


def _named(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


_SHEET = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    b'<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
    b"</sheetData></worksheet>"
)
_SST_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SST_REL = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def _excel_style_xlsx(write_shared_strings) -> bytes:
    """A workbook laid out as Excel saves it: cells refer to xl/sharedStrings.xml,
    whose content ``write_shared_strings(member)`` writes."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(PEOPLE)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = _SHEET
            elif item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="'
                    + _SST_TYPE
                    + b'" /></Types>',
                )
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Type="'
                    + _SST_REL
                    + b'" Target="sharedStrings.xml" Id="rId9" /></Relationships>',
                )
            target.writestr(item.filename, data)
        with target.open("xl/sharedStrings.xml", "w", force_zip64=True) as member:
            write_shared_strings(member)
    return out.getvalue()


def _xlsx_with_shared_strings(xml: bytes) -> bytes:
    return _excel_style_xlsx(lambda member: member.write(xml))


def test_excel_style_workbook_reads(tmp_path):
    """The fixture's layout is sound: with harmless shared strings it imports."""
    xml = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<si><t>Email</t></si><si><t>First Name</t></si>"
        b"<si><t>ann@example.com</t></si><si><t>Ann</t></si></sst>"
    )
    path = tmp_path / "people.xlsx"
    path.write_bytes(_xlsx_with_shared_strings(xml))
    table = open_table(path)
    assert table.headers == ["Email", "First Name"]
    assert [row.values for row in table.rows()] == [
        {"Email": "ann@example.com", "First Name": "Ann"}
    ]


@pytest.fixture(scope="module")
def xlsx_bomb() -> bytes:
    """Under 1 MB on disk; its shared strings inflate past the 200 MB limit."""

    def write(member):
        member.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
        block = b"<si><t>" + b"A" * (4 << 20) + b"</t></si>"
        for _ in range(MAX_XLSX_INFLATED_BYTES // len(block) + 1):
            member.write(block)
        member.write(b"</sst>")

    return _excel_style_xlsx(write)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4" uniqueCount="4">
<si><t>&lol9;</t></si><si><t>First Name</t></si><si><t>ann@example.com</t></si>
<si><t>Ann</t></si>
</sst>"""


def _xxe(secret_path) -> bytes:
    return (
        b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "file://'
        + str(secret_path).encode()
        + b'">]><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<si><t>&xxe;</t></si><si><t>First Name</t></si>"
        b"<si><t>ann@example.com</t></si><si><t>Ann</t></si></sst>"
    )


def _deep_json(depth: int) -> bytes:
    return b"[" + b'{"a": ' * depth + b"1" + b"}" * depth + b"]"


# --- refused at upload: a 4xx, no job, no file ----------------------------------


def test_file_over_the_upload_limit_is_a_413(api, media_root, settings):
    settings.TRIBUTARY_MAX_UPLOAD_MB = 1
    big = csv_bytes(
        [["Email", "Notes"]] + [[f"u{i}@example.com", "x" * 100] for i in range(12_000)]
    )
    assert len(big) > 2**20
    assert_error(api("people.csv", big), 413, "file_too_large")
    assert not ImportJob.objects.exists()
    assert stored_files(media_root) == []


def test_xlsx_bomb_is_refused_before_any_xml_is_parsed(api, media_root, xlsx_bomb):
    assert len(xlsx_bomb) < 2**20
    assert_error(api("bomb.xlsx", xlsx_bomb), 413, "file_too_large")
    assert not ImportJob.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize("kind", ["billion_laughs", "xxe"])
def test_xml_entities_in_xlsx_are_refused(api, media_root, tmp_path, kind):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    xml = BILLION_LAUGHS if kind == "billion_laughs" else _xxe(secret)
    response = api("people.xlsx", _xlsx_with_shared_strings(xml))
    body = assert_error(response, 400, "unreadable_file")
    assert "TOP-SECRET-VALUE" not in response.content.decode()
    assert "EntitiesForbidden" in body["message"]  # defusedxml refused the DTD
    assert str(media_root) not in body["message"]
    assert not ImportJob.objects.exists()
    assert stored_files(media_root) == []


def test_100k_deep_json_is_refused_quickly(api, media_root):
    response = api("people.json", _deep_json(100_000))
    body = assert_error(response, 400, "invalid_json")
    assert "nested deeper than 32" in body["message"]
    assert not ImportJob.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("people.json", b'[{"email": "ann@example.com"}, {"email": NaN}]', "invalid_json"),
        ("people.json", b'[{"email": "ann@exam', "invalid_json"),
        ("people.xlsx", b"PK\x03\x04 not really a zip", "unreadable_file"),
        ("people.csv", b"a,b\x00\x00\x00", "not_text"),
        ("people.csv", ",".join(f"c{i}" for i in range(1001)).encode(), "too_many_columns"),
    ],
)
def test_unreadable_files_leave_nothing_behind(api, media_root, name, content, code):
    assert_error(api(name, content), 400, code)
    assert not ImportJob.objects.exists()
    assert stored_files(media_root) == []


def test_a_bad_mapping_ends_the_job_failed_and_leaves_no_file(api, media_root):
    response = api("people.csv", csv_bytes(PEOPLE), mapping='{"Nope": "email"}')
    assert_error(response, 400, "unknown_column")
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "Nope" in job.error
    assert stored_files(media_root) == []


def test_admin_upload_of_a_bomb_is_a_form_error_without_a_file(admin_client, media_root, xlsx_bomb):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin_client.post(
        reverse("admin:sources_importjob_add"),
        {"file": SimpleUploadedFile("bomb.xlsx", xlsx_bomb), "kind": "customers"},
    )
    assert response.status_code == 200
    assert "inflates to" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert stored_files(media_root) == []


# --- failing part-way: the job ends failed with its reason, its file deleted -------


def test_csv_field_too_large_fails_the_job_instead_of_leaving_it_previewing(api, media_root):
    rows = [*PEOPLE, ["carl@example.com", "C" * 200_000], ["dora@example.com", "Dora"]]
    response = api("people.csv", csv_bytes(rows))
    assert response.status_code == 202
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "after row 3" in job.error
    assert "field larger than field limit" in job.error
    assert stored_files(media_root) == []
    assert api.client.get(f"/api/v1/imports/{job.pk}/").json()["status"] == "failed"
    with pytest.raises(ImportStateError) as refused:
        start_preview(job=job)
    assert refused.value.code == "file_deleted"


def test_unusable_json_rows_are_reported_and_the_rest_imported(
    api, media_root, django_capture_on_commit_callbacks
):
    rows = [{"email": f"u{i}@example.com"} for i in range(250)]
    text = ", ".join(json.dumps(row) for row in rows)
    deep = '{"email": "deep@example.com", "x": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    huge = '{"email": "huge@example.com", "notes": "' + "n" * 20_000_000 + '"}'
    far = '{"email": "far@example.com", "n": 1e999}'
    content = f"[{text}, {deep}, {huge}, {far}]".encode()
    response = api("people.json", content, dry_run="false")
    assert response.status_code == 202
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.DONE, job.error
    assert job.rows_new == len(rows)
    problems = {issue.row: issue.reason for issue in job.issues.filter(code="malformed_row")}
    assert problems == {
        251: "row is nested deeper than 32 levels",
        252: "a value is longer than 131072 characters",
        253: "a number is beyond the double range",
    }
    assert not Customer.objects.filter(email__in=["deep@example.com", "huge@example.com"]).exists()


# --- the row report download -------------------------------------------------------


def test_report_download_name_cannot_inject_header_parameters(db, admin_client):
    # a browser sends this name quoted in its multipart body; Django keeps it whole
    name = "list\"; filename*=UTF-8''pwn.html; x=\".csv"
    job = create_import_job(file=ContentFile(csv_bytes(PEOPLE)), name=name)
    run_import(job_id=job.pk, dry_run=True)
    response = admin_client.get(reverse("admin:sources_importjob_report", args=[job.pk]))
    header = email.message.Message()
    header["Content-Disposition"] = response["Content-Disposition"]
    assert header.get_content_disposition() == "attachment"
    assert header.get_filename().endswith(f"-report-{job.pk}.csv")
    assert "filename*" not in response["Content-Disposition"].split('"')[0]


# --- orphaned uploads ----------------------------------------------------------------


def test_purge_removes_only_old_files_without_a_job(api, media_root):
    assert api("people.csv", csv_bytes(PEOPLE)).status_code == 202
    kept_job_file = media_root / ImportJob.objects.get().file.name
    folder = media_root / "imports" / "2026" / "01" / "02"
    folder.mkdir(parents=True)
    old_orphan, new_orphan = folder / "old.csv", folder / "new.csv"
    old_orphan.write_bytes(b"email\nann@example.com\n")
    new_orphan.write_bytes(b"email\nbob@example.com\n")
    two_hours_ago = time.time() - 7200
    for path in (old_orphan, kept_job_file):
        os.utime(path, (two_hours_ago, two_hours_ago))
    out = io.StringIO()
    call_command("purge_uploads", stdout=out)
    assert "deleted 1 upload(s)" in out.getvalue()
    assert not old_orphan.exists()
    assert new_orphan.exists()
    assert kept_job_file.exists()
    assert purge_orphan_uploads(older_than=timedelta(0)) == 1  # the new orphan
    assert kept_job_file.exists()


def test_purge_runs_hourly_on_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-orphan-uploads"]
    assert entry == {"task": "sources.tasks.purge_orphan_uploads", "schedule": 3600}


def test_purge_without_any_upload_is_a_no_op(db, media_root):
    assert purge_orphan_uploads() == 0


def test_open_table_reads_a_20_mb_json_string_as_one_unusable_row(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b'[{"email": "a@example.com"}, {"email": "' + b"x" * 20_000_000 + b'"}]')
    table = open_table(path)
    assert [(row.number, row.problem) for row in table.rows()] == [
        (1, ""),
        (2, "a value is longer than 131072 characters"),
    ]
