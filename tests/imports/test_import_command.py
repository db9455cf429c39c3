import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, Identity, Source
from sources.models import ImportJob
from sources.services.keys import create_source
from tests.imports.conftest import FILES


def _run(*args):
    from io import StringIO

    out = StringIO()
    call_command("import_customers", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def people_csv(tmp_path):
    path = tmp_path / "crm export.csv"
    path.write_text(
        "Customer Ref,E-mail,Level,Notes\n"
        "C-1,ann@example.com,gold,likes tea\n"
        "C-2,not-an-email,silver,\n"
        ",,bronze,nobody\n"
    )
    return path


def test_command_imports_and_prints_the_summary(db, people_csv):
    out = _run(str(people_csv), "--map", "Customer Ref=id.external_id")
    assert "new:       2" in out
    assert "invalid:   1" in out
    assert "warning: row 3, E-mail: 'not-an-email' is not a valid email address" in out
    assert "error: row 4: no usable identifier" in out
    assert set(
        Identity.objects.filter(type__name="external_id").values_list("value", flat=True)
    ) == {
        "C-1",
        "C-2",
    }
    assert Source.objects.get(name="File: crm export.csv").kind == "file"


def test_map_option_sends_columns_to_traits_and_ignores_columns(db, people_csv):
    _run(
        str(people_csv),
        "--map",
        "Customer Ref=id.external_id",
        "--map",
        "Level=trait.tier",
        "--map",
        "Notes=ignore",
    )
    assert Customer.objects.get(email="ann@example.com").traits == {"tier": "gold"}


def test_source_option_uses_an_existing_source_or_creates_a_file_source(db, people_csv):
    crm, _ = create_source(name="CRM", kind="crm")
    _run(str(people_csv), "--source", "CRM")
    assert ImportJob.objects.get().source == crm
    _run(str(people_csv), "--source", "Trade show 2026")
    assert Source.objects.get(name="Trade show 2026").kind == "file"


def test_dry_run_prints_the_preview_and_writes_nothing(db, people_csv):
    out = _run(str(people_csv), "--dry-run")
    assert out.startswith("Preview (nothing written) of crm export.csv")
    assert "new:       1" in out  # without the id mapping only ann is identifiable
    assert Customer.objects.count() == 0


def test_report_option_writes_the_row_report(db, people_csv, tmp_path):
    report = tmp_path / "report.csv"
    _run(str(people_csv), "--report", str(report))
    with report.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "column", "value", "severity", "code", "reason"]
    assert [r[:5] for r in rows[1:]] == [
        ["3", "E-mail", "not-an-email", "warning", "invalid_email"],
        ["3", "", "", "error", "no_identifier"],
        ["4", "", "", "error", "no_identifier"],
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [("missing.csv", None), ("broken.xlsx", b"nope"), ("list.pdf", b"%PDF"), ("empty.csv", b"")],
)
def test_a_file_that_cannot_be_read_exits_non_zero(db, tmp_path, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError, match="cannot read"):
        _run(str(path))
    assert ImportJob.objects.count() == 0


def test_a_map_option_naming_an_unknown_column_is_a_usage_error(db, people_csv):
    with pytest.raises(CommandError, match="no column named 'Nope'"):
        _run(str(people_csv), "--map", "Nope=email")


def test_a_map_option_naming_a_bad_target_ends_the_job_failed(db, people_csv):
    with pytest.raises(CommandError, match="is not a core field"):
        _run(str(people_csv), "--map", "Level=favourite_colour")
    job = ImportJob.objects.get()
    assert (job.status, job.finished_at is not None) == ("failed", True)
    assert "favourite_colour" in job.error


def test_the_preview_prints_the_mapping_with_two_values_of_each_column(db, people_csv):
    out = _run(str(people_csv), "--dry-run", "--map", "Customer Ref=id.external_id")
    lines = out.splitlines()
    start = lines.index("Columns:")
    assert lines[start + 1 : start + 5] == [
        "  Customer Ref → id.external_id: C-1 | C-2",
        "  E-mail → email: ann@example.com | not-an-email",
        "  Level → trait.level: gold | silver",
        "  Notes → trait.notes: likes tea | nobody",
    ]


def test_the_mapping_names_the_recognised_layout_and_column_types(db, tmp_path):
    path = tmp_path / "customers_export.csv"
    path.write_bytes((FILES / "shopify_customers.csv").read_bytes())
    out = _run(str(path), "--dry-run")
    assert "Columns (recognised layout: Shopify customers):" in out
    assert "  Total Spent → trait.total_spent (number): 1,204.50 | 512.10" in out
    assert "  Default Address Zip → postal_code: 10115 | 02116" in out


def test_a_dry_run_creates_nothing_not_even_the_source_or_the_job(db, people_csv, settings):
    _run(str(people_csv), "--dry-run", "--source", "Trade show 2026")
    assert (Source.objects.count(), ImportJob.objects.count(), Customer.objects.count()) == (
        0,
        0,
        0,
    )
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_a_dry_run_with_a_bad_mapping_creates_nothing_either(db, people_csv):
    with pytest.raises(CommandError):
        _run(str(people_csv), "--dry-run", "--map", "Level=id.passport")
    assert (Source.objects.count(), ImportJob.objects.count()) == (0, 0)
