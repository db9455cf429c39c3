"""Vendor exports import with no mapping: each layout's columns land in the
right core fields, identifiers, consent and typed traits."""

from datetime import UTC, date, datetime

import pytest

from consent.models import ConsentRecord, ConsentState
from customers.models import Customer, IdentifierType
from sources.imports.layouts import detect_layout
from sources.imports.mapping import default_mapping
from tests.imports.conftest import csv_bytes, vendor_file

APPENDIX = {
    "Shopify customers": "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,"
    "Default Address Company,Default Address Address1,Default Address Address2,"
    "Default Address City,Default Address Province Code,Default Address Country Code,"
    "Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,"
    "Total Orders,Note,Tax Exempt,Tags",
    "Shopify customers, older export": "First Name,Last Name,Email,Accepts Marketing,Company,"
    "Address1,Address2,City,Province,Province Code,Country,Country Code,Zip,Phone,Total Spent,"
    "Total Orders,Tags,Note,Tax Exempt",
    "Mailchimp audience, subscribed": "Email Address,First Name,Last Name,Address,Phone Number,"
    "Birthday,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,"
    "GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS",
    "HubSpot contacts": "Record ID,First Name,Last Name,Email,Phone Number,Company Name,City,"
    "State/Region,Country/Region,Postal Code,Lifecycle Stage,Create Date,"
    "Marketing contact status",
    "Salesforce contacts": "Contact ID,Salutation,First Name,Last Name,Title,Mailing Street,"
    "Mailing City,Mailing State/Province,Mailing Zip/Postal Code,Mailing Country,Phone,Mobile,"
    "Email,Email Opt Out,Birthdate,Account Name",
    "Shopify orders": "Name,Email,Financial Status,Paid at,Currency,Subtotal,Total,Created at,"
    "Lineitem quantity,Lineitem name,Lineitem price,Billing Name,Billing Phone",
}


@pytest.mark.parametrize(("name", "header_row"), APPENDIX.items())
def test_the_vendors_header_rows_are_recognised(name, header_row):
    assert detect_layout(header_row.split(",")).name == name


def test_shopify_customers_without_customer_id_is_still_recognised():
    headers = APPENDIX["Shopify customers"].split(",")[1:]
    assert detect_layout(headers, kind="customers").name == "Shopify customers"


def test_headers_are_recognised_whatever_their_case_and_spacing():
    headers = [h.upper() for h in APPENDIX["HubSpot contacts"].split(",")]
    headers[7] = " state / region "
    assert detect_layout(headers).name == "HubSpot contacts"


def test_a_layout_of_the_other_kind_is_not_applied():
    assert detect_layout(APPENDIX["Shopify orders"].split(","), kind="customers") is None


def test_the_vendor_identifier_types_exist_with_the_shared_names(db):
    names = set(IdentifierType.objects.values_list("name", flat=True))
    assert {
        "shopify_customer_id",
        "hubspot_record_id",
        "salesforce_contact_id",
        "mailchimp_leid",
        "stripe_customer_id",
    } <= names


def test_a_layout_identifier_whose_type_was_removed_becomes_a_trait(db):
    IdentifierType.objects.filter(name="hubspot_record_id").delete()
    mapping = default_mapping(APPENDIX["HubSpot contacts"].split(","), kind="customers")
    assert mapping["Record ID"] == "trait.record_id"


def _person(email):
    return Customer.objects.get(email=email)


def _consent(customer):
    return dict(
        ConsentState.objects.filter(customer=customer).values_list("purpose__code", "state")
    )


def _ids(customer, type_name):
    return list(customer.identities.filter(type__name=type_name).values_list("value", flat=True))


def _issues(job):
    return list(job.issues.values_list("row", "column", "value", "severity", "code"))


def test_shopify_customers_export(import_file):
    job = import_file("customers_export.csv", vendor_file("shopify_customers.csv"))
    assert (job.status, job.rows_new, job.rows_invalid) == ("done", 4, 0)
    zoe = _person("zoe.mueller@example.com")
    assert (zoe.first_name, zoe.last_name, zoe.company) == (
        "Zoë",
        "Müller-Lüdenscheidt",
        "Acme GmbH",
    )
    assert (zoe.address_line1, zoe.address_line2, zoe.city, zoe.region) == (
        "Hauptstraße 5",
        "2. OG",
        "Berlin",
        "BE",
    )
    assert (zoe.postal_code, zoe.country, zoe.phone) == ("10115", "DE", "+4915123456789")
    assert zoe.traits == {
        "total_spent": 1204.5,
        "total_orders": 7,
        "note": "Prefers DHL",
        "tax_exempt": False,
        "tags": "vip, newsletter",
        "address_phone": "+49 30 901820",  # Phone is set: the address phone is kept aside
    }
    assert _ids(zoe, "shopify_customer_id") == ["7359243345"]
    assert _consent(zoe) == {"email_marketing": "granted", "sms_marketing": "denied"}
    jose = _person("jose.nunez@example.com")
    assert (jose.first_name, jose.last_name) == ("José", "Ñúñez")
    assert (jose.postal_code, jose.region, jose.country) == ("02116", "MA", "US")  # 'guard gone
    assert jose.phone == "+16175550142"  # no Phone: the address phone is the phone
    assert (jose.traits["total_spent"], jose.traits["tax_exempt"]) == (512.1, True)
    assert _consent(jose) == {"email_marketing": "denied", "sms_marketing": "granted"}
    ann = _person("ann.oneil@example.com")
    assert _consent(ann) == {}  # "maybe" and an empty SMS cell say nothing
    assert _issues(job) == [(4, "Accepts Email Marketing", "maybe", "warning", "invalid_consent")]
    assert ConsentRecord.objects.filter(customer=zoe).values_list("method", flat=True).first() == (
        "import"
    )


def test_shopify_customers_older_export(import_file):
    job = import_file("export.csv", vendor_file("shopify_customers_older.csv"))
    assert (job.rows_new, job.rows_invalid, job.issues.count()) == (2, 0, 0)
    chloe = _person("chloe.dubois@example.fr")
    assert (chloe.address_line1, chloe.city, chloe.region, chloe.country) == (
        "8 Rue de Rivoli",
        "Paris",
        "",
        "FR",
    )
    hiro = _person("hiro.tanaka@example.com")
    assert (hiro.company, hiro.address_line2, hiro.region, hiro.postal_code) == (
        "Tanaka KK",
        "Apt 2",
        "MA",  # the code, not "Massachusetts"
        "01103",
    )
    assert hiro.traits["total_spent"] == 1020.75
    assert (_consent(chloe), _consent(hiro)) == (
        {"email_marketing": "granted"},
        {"email_marketing": "denied"},
    )


def test_salesforce_contacts_report(import_file):
    job = import_file("report1700000000000.csv", vendor_file("salesforce_contacts.csv"))
    assert (job.rows_new, job.rows_invalid) == (4, 0)
    ines = _person("ines.faure@example.com")
    assert (ines.address_line1, ines.address_line2) == ("123 Market St", "Suite 400")
    assert (ines.city, ines.region, ines.postal_code, ines.country) == (
        "San Francisco",
        "CA",
        "94105",
        "US",
    )
    assert (ines.phone, ines.traits["mobile"]) == ("+14155550100", "(415) 555-0101")
    assert (ines.company, ines.birthday) == ("Globex Corp", date(1985, 3, 14))
    assert (ines.traits["salutation"], ines.traits["title"]) == ("Ms.", "VP Marketing")
    assert _ids(ines, "salesforce_contact_id") == ["0035g00000ABCdeAAF"]
    dmitri = _person("dmitri.ivanov@example.com")
    assert (dmitri.phone, "mobile" in dmitri.traits) == ("+15125550177", False)
    # the column reads month first (3/14, 12/25), so 01/02/1980 is the 2nd of January
    assert _person("greta.olsen@example.com").birthday == date(1980, 1, 2)
    # Email Opt Out: 0 → may email, 1 / true → may not
    assert _consent(ines) == {"email_marketing": "granted"}
    assert _consent(dmitri) == {"email_marketing": "denied"}
    assert _consent(_person("greta.olsen@example.com")) == {"email_marketing": "denied"}
    assert _issues(job) == [(5, "Email Opt Out", "perhaps", "warning", "invalid_consent")]
    assert job.column_types["Birthdate"] == "MDY"


def test_hubspot_contacts_export(import_file):
    job = import_file("hubspot-crm-exports-all-contacts.csv", vendor_file("hubspot_contacts.csv"))
    assert (job.rows_new, job.issues.count()) == (3, 0)
    asa = _person("asa.lindqvist@example.se")
    assert (asa.first_name, asa.company, asa.region, asa.country, asa.postal_code) == (
        "Åsa",
        "Nordic AB",
        "Stockholm",
        "SE",
        "111 22",
    )
    assert asa.traits == {"lifecycle_stage": "customer", "create_date": "2023-05-01 10:22"}
    assert _ids(asa, "hubspot_record_id") == ["51"]
    oliver = _person("oliver.smith@example.co.uk")
    assert (oliver.country, oliver.phone) == ("GB", "+442079460958")
    assert _consent(asa) == {"email_marketing": "granted"}  # Marketing contact
    assert _consent(oliver) == {"email_marketing": "denied"}  # Non-marketing contact
    assert _consent(_person("eva.novak@example.com")) == {}


def test_mailchimp_subscribed_export(import_file):
    job = import_file(
        "subscribed_members_export_1a2b3c.csv", vendor_file("mailchimp_subscribed.csv")
    )
    assert (job.rows_new, job.rows_invalid) == (2, 0)
    maria = _person("maria.garcia@example.com")
    assert (maria.address_line1, maria.address_line2, maria.city, maria.region) == (
        "123 Peachtree St",
        "Apt 4",
        "Atlanta",
        "GA",
    )
    assert (maria.postal_code, maria.country) == ("30301", "US")
    assert maria.traits["address_text"] == "123 Peachtree St  Apt 4  Atlanta  GA  30301  US"
    assert maria.traits["birthday_month_day"] == "03/14"
    assert (maria.traits["member_rating"], maria.traits["latitude"]) == (4, 33.749)
    assert _ids(maria, "mailchimp_leid") == ["123456789"]
    record = ConsentRecord.objects.get(customer=maria)
    assert (record.purpose.code, record.state, record.occurred_at, record.ip_address) == (
        "email_marketing",
        "granted",
        datetime(2023, 1, 15, 10, 0, tzinfo=UTC),
        "203.0.113.5",
    )
    wei = _person("li.wei@example.com")
    assert (wei.country, "birthday_month_day" in wei.traits) == ("CN", False)
    assert _issues(job) == [(3, "Birthday", "02/30", "warning", "invalid_month_day")]


def test_mailchimp_unsubscribed_export_records_a_withdrawal_at_the_unsubscribe_time(
    import_file,
):
    import_file("unsubscribed_members_export.csv", vendor_file("mailchimp_unsubscribed.csv"))
    pierre = _person("pierre.martin@example.fr")
    state = ConsentState.objects.get(customer=pierre, purpose__code="email_marketing")
    assert (state.state, state.occurred_at) == (
        "withdrawn",
        datetime(2024, 2, 20, 18, 30, tzinfo=UTC),
    )
    assert pierre.traits["unsub_reason"] == "NORMAL"


def test_an_unsubscribe_file_withdraws_consent_granted_by_the_subscribed_file(import_file):
    header = APPENDIX["Mailchimp audience, subscribed"].split(",")
    row = dict.fromkeys(header, "")
    row.update({"Email Address": "pat@example.com", "LEID": "1", "EUID": "e1"})
    subscribed = {**row, "OPTIN_TIME": "2023-01-01 09:00:00"}
    import_file("subscribed.csv", csv_bytes([header, list(subscribed.values())]))
    unsubscribed_header = [*header, "UNSUB_TIME"]
    unsubscribed = [*row.values(), "2024-01-01 09:00:00"]
    import_file("unsubscribed.csv", csv_bytes([unsubscribed_header, unsubscribed]))
    pat = _person("pat@example.com")
    history = ConsentRecord.objects.filter(customer=pat).order_by("occurred_at")
    assert list(history.values_list("state", flat=True)) == ["granted", "withdrawn"]
    assert _consent(pat) == {"email_marketing": "withdrawn"}


def test_a_one_cell_address_never_overwrites_a_structured_address(import_file):
    import_file("customers_export.csv", vendor_file("shopify_customers.csv"))
    header = APPENDIX["Mailchimp audience, subscribed"].split(",")
    row = dict.fromkeys(header, "")
    row.update(
        {
            "Email Address": "zoe.mueller@example.com",
            "Address": "1 Other Rd  Springfield  IL  62701  US",
            "LEID": "77",
            "EUID": "e77",
        }
    )
    import_file("mailchimp.csv", csv_bytes([header, list(row.values())]))
    zoe = _person("zoe.mueller@example.com")
    assert (zoe.address_line1, zoe.city, zoe.postal_code, zoe.country) == (
        "Hauptstraße 5",
        "Berlin",
        "10115",
        "DE",
    )
    assert zoe.traits["address_text"] == "1 Other Rd  Springfield  IL  62701  US"


def test_mapping_a_column_to_address_keeps_a_cell_that_does_not_split_as_text(import_file):
    rows = [["Email", "Where"], ["kim@example.com", "somewhere near the station"]]
    import_file("x.csv", csv_bytes(rows), mapping={"Where": "address"})
    kim = _person("kim@example.com")
    assert (kim.address_line1, kim.traits) == ("", {"address_text": "somewhere near the station"})


def test_reimporting_a_vendor_file_changes_nothing(import_file):
    import_file("customers_export.csv", vendor_file("shopify_customers.csv"))
    records = ConsentRecord.objects.count()
    job = import_file("customers_export.csv", vendor_file("shopify_customers.csv"))
    assert (job.rows_unchanged, job.rows_new, job.rows_updated) == (4, 0, 0)
    assert ConsentRecord.objects.count() == records


def test_a_vendor_file_with_its_header_row_in_other_case_imports_the_same(import_file):
    lines = vendor_file("hubspot_contacts.csv").decode("utf-8").split("\n")
    lines[0] = lines[0].upper()
    job = import_file("contacts.csv", "\n".join(lines).encode("utf-8"))
    assert job.mapping["RECORD ID"] == "id.hubspot_record_id"
    asa = _person("asa.lindqvist@example.se")
    assert (asa.country, asa.company) == ("SE", "Nordic AB")
    assert _consent(asa) == {"email_marketing": "granted"}
