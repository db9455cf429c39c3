"""CRM files where several people share a phone: an office line in a
Salesforce export, a household line in a plain contact list. Each person
keeps a profile of their own, the line is flagged shared, and the preview
lists the rows that would join somebody through the phone alone."""

from customers.models import Customer, DataQualityIssue, Identity, SharedValue
from sources.imports.joins import WEAK_JOIN
from sources.imports.report import summary_lines
from tests.imports.conftest import csv_bytes, vendor_file

OFFICE_LINE = "+15125550100"
HOUSEHOLD_LINE = "+12125550187"


def _shared(value):
    return SharedValue.objects.get(type__name="phone", value=value)


def test_four_colleagues_on_one_office_line_stay_four_people(import_file):
    job = import_file("report1711000000000.csv", vendor_file("salesforce_office_line.csv"))
    assert (job.status, job.rows_new, job.rows_updated, job.rows_invalid) == ("done", 4, 0, 0)
    colleagues = Customer.objects.active().filter(company="Initech").order_by("last_name")
    assert [(c.first_name, c.last_name, c.phone) for c in colleagues] == [
        ("Lucía", "Hernández", OFFICE_LINE),
        ("Björn", "Lindqvist", OFFICE_LINE),
        ("Seamus", "O'Brien", OFFICE_LINE),
        ("Priya", "Raman", OFFICE_LINE),
    ]
    for colleague in colleagues:
        assert colleague.identities.filter(type__name="salesforce_contact_id").count() == 1
        assert colleague.identities.filter(type__name="email").count() == 1
    # the line is an identity of the first colleague only, and data on every profile
    assert Identity.objects.filter(value=OFFICE_LINE).count() == 1
    line = _shared(OFFICE_LINE)
    assert (line.status, line.seen_with) == ("shared", 2)
    # the one conflict that flagged it names both values; then it simply no longer links
    [conflict] = DataQualityIssue.objects.filter(code="conflicting_identifier")
    assert (conflict.field, conflict.value) == ("phone", OFFICE_LINE)
    assert "0035g00000KLMacAAF" in conflict.message


def test_the_office_line_file_imported_again_changes_nobody(import_file):
    content = vendor_file("salesforce_office_line.csv")
    import_file("report1711000000000.csv", content)
    again = import_file("report1711000000001.csv", content)
    assert (again.rows_new, again.rows_merged, again.rows_joined_weakly) == (0, 0, 0)
    assert Customer.objects.active().count() == 4


def test_a_household_sharing_a_phone_stays_two_people(import_file):
    job = import_file("contacts.csv", vendor_file("household_contacts.csv"))
    assert (job.rows_new, job.rows_updated, job.rows_merged) == (2, 0, 0)
    noah = Customer.objects.get(email="noah.johnson@example.com")
    sarah = Customer.objects.get(email="sarah.johnson@example.com")
    assert (noah.first_name, sarah.first_name) == ("Noah", "Sarah")
    assert noah.pk != sarah.pk
    assert (noah.phone, sarah.phone) == (HOUSEHOLD_LINE, HOUSEHOLD_LINE)
    assert _shared(HOUSEHOLD_LINE).status == "shared"
    issue = DataQualityIssue.objects.get(code="conflicting_identifier")
    assert issue.customer_id == sarah.pk
    assert f"profile #{noah.pk}" in issue.message
    assert "sarah.johnson@example.com" in issue.message


def test_a_family_member_in_a_later_file_does_not_rename_the_first(import_file):
    rows = [
        ["First Name", "Last Name", "Email", "Phone"],
        ["Noah", "Johnson", "noah.johnson@example.com", "(212) 555-0187"],
    ]
    import_file("first.csv", csv_bytes(rows))
    rows[1] = ["Sarah", "Johnson", "sarah.johnson@example.com", "(212) 555-0187"]
    later = import_file("later.csv", csv_bytes(rows))
    assert (later.rows_new, later.rows_updated) == (1, 0)
    noah = Customer.objects.get(email="noah.johnson@example.com")
    assert noah.first_name == "Noah"
    assert Customer.objects.get(email="sarah.johnson@example.com").first_name == "Sarah"


def test_the_preview_lists_rows_joining_a_person_through_the_phone_alone(import_file):
    # a person known by phone only (a call-centre list): no email to conflict with
    import_file("callers.csv", csv_bytes([["Phone", "First Name"], ["(212) 555-0187", "Noah"]]))
    noah = Customer.objects.get(phone=HOUSEHOLD_LINE)
    rows = [
        ["First Name", "Last Name", "Email", "Phone"],
        ["Sarah", "Johnson", "sarah.johnson@example.com", "(212) 555-0187"],
        ["Ann", "Lee", "ann.lee@example.com", "(646) 555-0123"],
    ]
    preview = import_file("crm.csv", csv_bytes(rows), dry_run=True)
    assert (preview.status, preview.rows_updated, preview.rows_new) == ("previewed", 1, 1)
    assert preview.rows_joined_weakly == 1
    notice = preview.issues.get(code=WEAK_JOIN)
    assert (notice.row, notice.column, notice.value, notice.severity) == (
        2,
        "Email",
        "sarah.johnson@example.com",
        "notice",
    )
    assert notice.reason.startswith(f"joins profile #{noah.pk} through phone only")
    assert "joined through a less trusted identifier only: 1" in "\n".join(summary_lines(preview))
    # nothing was written
    assert not Customer.objects.filter(email="sarah.johnson@example.com").exists()


def test_rows_joining_through_their_most_trusted_identifier_are_not_listed(import_file):
    rows = [["Email", "Phone"], ["ann.lee@example.com", ""]]
    import_file("first.csv", csv_bytes(rows))
    rows[1] = ["ann.lee@example.com", "(646) 555-0123"]
    job = import_file("second.csv", csv_bytes(rows), dry_run=True)
    assert (job.rows_updated, job.rows_joined_weakly) == (1, 0)
    assert not job.issues.exists()
