from datetime import date

import pytest
from django.test import override_settings

from customers.services.normalize import (
    InvalidValue,
    Issue,
    cleanse_core,
    normalize_birthday,
    normalize_country,
    normalize_date,
    normalize_email,
    normalize_identifier,
    normalize_name,
    normalize_phone,
    normalize_postal_code,
    normalize_text,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("ann+promo@mail.example.co.uk", "ann+promo@mail.example.co.uk"),
        ("mailto:bob@example.org", "bob@example.org"),
        ("o'neil@example.ie", "o'neil@example.ie"),
    ],
)
def test_good_emails_are_lower_cased_and_trimmed(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ann",
        "ann@",
        "@example.com",
        "ann@example",
        "ann@@example.com",
        "ann@exa mple.com",
        "ann..lee@example.com",
        ".ann@example.com",
        "ann@-example.com",
        "ann@example.c",
        "a" * 65 + "@example.com",
    ],
)
def test_bad_emails_are_rejected(raw):
    with pytest.raises(InvalidValue) as error:
        normalize_email(raw)
    assert error.value.code == "invalid_email"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+49 151 23456789", None, "+4915123456789"),
        ("0049 151 23456789", None, "+4915123456789"),
        ("(415) 555-2671", None, "+14155552671"),
        ("415.555.2671", None, "+14155552671"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("020 7946 0018", "GB", "+442079460018"),
    ],
)
def test_good_phones_become_e164(raw, region, expected):
    assert normalize_phone(raw, region=region) == expected


@override_settings(TRIBUTARY_DEFAULT_PHONE_REGION="DE")
def test_phone_without_country_code_uses_configured_default_region():
    assert normalize_phone("0151 23456789") == "+4915123456789"


@pytest.mark.parametrize(
    "raw", ["", "abc", "12", "+1 555", "+49 000 0000000", "555-0000-0000-00000"]
)
def test_bad_phones_are_rejected(raw):
    with pytest.raises(InvalidValue) as error:
        normalize_phone(raw)
    assert error.value.code == "invalid_phone"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann", "Ann"),
        ("  ann   lee ", "Ann Lee"),
        ("ANN-MARIE", "Ann-Marie"),
        ("o'neil", "O'Neil"),
        ("O'NEIL", "O'Neil"),
        ("d'angelo", "D'Angelo"),
        ("mcdonald", "McDonald"),
        ("MCDONALD", "McDonald"),
        ("smith-jones", "Smith-Jones"),
        ("LUDWIG VAN BEETHOVEN", "Ludwig van Beethoven"),
        ("van der berg", "Van der Berg"),
        ("DeShawn", "DeShawn"),
        ("MacKenzie", "MacKenzie"),
        ("josé", "José"),
        ("ÉMILE", "Émile"),
        ("\tMary\n Ann ", "Mary Ann"),
    ],
)
def test_names_are_trimmed_and_cased_sensibly(raw, expected):
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("B1anchet", "Blanchet"),
        ("Mir0slawa", "Miroslawa"),
        ("8ernadette", "Bernadette"),
        ("5øren", "Søren"),
        ("Bé1anger", "Bélanger"),
        ("JO5EFINE", "Josefine"),
        ("LINDQVI5T", "Lindqvist"),
        ("Mü1ler", "Müller"),
        ("Smith-J0nes", "Smith-Jones"),
        ("van der 8erg", "van der Berg"),
        ("Ange1ique Dupont", "Angelique Dupont"),
    ],
)
def test_ocr_digits_in_names_are_read_as_letters(raw, expected):
    # a scanned form's 1 for l, 0 for o, 5 for S, 8 for B: the name is kept,
    # not refused (a refused name hides the duplicate it belongs to)
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    "raw", ["R2D2", "1234", "---", "...", "Jo5", "Room101", "Anna 1", "Agent 007", "Ann4"]
)
def test_values_that_are_not_names_are_rejected(raw):
    with pytest.raises(InvalidValue) as error:
        normalize_name(raw)
    assert error.value.code == "invalid_name"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("  germany ", "DE"),
        ("Deutschland", "DE"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("England", "GB"),
        ("USA", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("the Netherlands", "NL"),
        ("Österreich", "AT"),
        ("Côte d'Ivoire", "CI"),
        ("Bolivia", "BO"),
    ],
)
def test_countries_become_iso_alpha2(raw, expected):
    assert normalize_country(raw) == expected


@pytest.mark.parametrize("raw", ["", "XX", "Atlantis", "Europe", "12"])
def test_unknown_countries_are_rejected(raw):
    with pytest.raises(InvalidValue) as error:
        normalize_country(raw)
    assert error.value.code == "invalid_country"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1999-12-31", date(1999, 12, 31)),
        ("1999-1-5", date(1999, 1, 5)),
        ("1999-12-31T10:20:30Z", date(1999, 12, 31)),
        ("1999-12-31T10:20:30+02:00", date(1999, 12, 31)),
        ("19991231", date(1999, 12, 31)),
        ("1999/12/31", date(1999, 12, 31)),
        ("31/12/1999", date(1999, 12, 31)),
        ("12/31/1999", date(1999, 12, 31)),
        ("31-12-1999", date(1999, 12, 31)),
        ("31.12.1999", date(1999, 12, 31)),
        ("1.2.1999", date(1999, 2, 1)),
        ("05/05/1999", date(1999, 5, 5)),
        ("31 Dec 1999", date(1999, 12, 31)),
        ("31st December 1999", date(1999, 12, 31)),
        ("December 31, 1999", date(1999, 12, 31)),
        ("31. Dezember 1999", date(1999, 12, 31)),
        ("2000-02-29", date(2000, 2, 29)),
        (date(1999, 12, 31), date(1999, 12, 31)),
    ],
)
def test_common_date_forms_are_read(raw, expected):
    assert normalize_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1999-02-30", "invalid_date"),
        ("1999-13-01", "invalid_date"),
        ("1900-02-29", "invalid_date"),
        ("19991332", "invalid_date"),
        ("31/13/1999", "invalid_date"),
        ("32/12/1999", "invalid_date"),
        ("31 Foo 1999", "invalid_date"),
        ("31/12/99", "invalid_date"),
        ("yesterday", "invalid_date"),
        ("", "invalid_date"),
        ("01/02/1999", "ambiguous_date"),
    ],
)
def test_impossible_or_unreadable_dates_are_rejected(raw, code):
    with pytest.raises(InvalidValue) as error:
        normalize_date(raw)
    assert error.value.code == code


@pytest.mark.parametrize(
    ("dayfirst", "expected"), [(True, date(1999, 2, 1)), (False, date(1999, 1, 2))]
)
def test_ambiguous_dates_follow_the_source_order_when_given(dayfirst, expected):
    assert normalize_date("01/02/1999", dayfirst=dayfirst) == expected


@pytest.mark.parametrize("raw", ["2999-01-01", "1850-06-01"])
def test_implausible_birthdays_are_rejected(raw):
    with pytest.raises(InvalidValue) as error:
        normalize_birthday(raw)
    assert error.value.code == "implausible_birthday"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("sw1a  1aa ", "SW1A 1AA"), (" 10115", "10115"), ("1234 ab", "1234 AB"), ("00-950", "00-950")],
)
def test_postal_codes_are_trimmed_and_upper_cased(raw, expected):
    assert normalize_postal_code(raw) == expected


@pytest.mark.parametrize("raw", ["#12", "12345!", "A" * 40])
def test_bad_postal_codes_are_rejected(raw):
    with pytest.raises(InvalidValue) as error:
        normalize_postal_code(raw)
    assert error.value.code == "invalid_postal_code"


def test_address_text_is_trimmed_and_single_spaced():
    assert normalize_text("  12   Main\tStreet \n") == "12 Main Street"


@pytest.mark.parametrize("raw", ["null", "undefined", "0", "-1", "000", "  ", "[object Object]"])
def test_junk_identifiers_are_rejected(raw):
    with pytest.raises(InvalidValue) as error:
        normalize_identifier("user_id", raw)
    assert error.value.code == "junk_identifier"


def test_cleanse_core_returns_clean_values_and_issues():
    clean, issues = cleanse_core(
        {
            "email": " ANN@Example.com ",
            "phone": "0151 23456789",
            "country": "Germany",
            "first_name": "ANN",
            "last_name": "",
            "birthday": "31/02/1990",
            "postal_code": " 10115 ",
            "city": None,
        }
    )
    assert clean == {
        "email": "ann@example.com",
        "phone": "+4915123456789",
        "country": "DE",
        "first_name": "Ann",
        "postal_code": "10115",
    }
    assert issues == [
        Issue(
            field="birthday",
            value="31/02/1990",
            code="invalid_date",
            message="'31/02/1990' is not a real date",
        )
    ]


def test_cleanse_core_reports_values_too_long_for_the_field():
    clean, issues = cleanse_core({"city": "x" * 121})
    assert clean == {}
    assert [(i.field, i.code) for i in issues] == [("city", "too_long")]


def test_cleanse_core_rejects_structured_values_as_issues():
    clean, issues = cleanse_core({"email": {"home": "a@example.com"}})
    assert clean == {}
    assert [(i.field, i.code) for i in issues] == [("email", "invalid_email")]


def test_cleanse_core_refuses_unknown_fields():
    with pytest.raises(ValueError, match="not core fields"):
        cleanse_core({"shoe_size": "42"})
