"""The masking rules of ``accounts.masking``, value by value."""

import pytest

from accounts.masking import (
    is_contact_lookup,
    mask_email,
    mask_field,
    mask_phone,
    mask_trait,
    redact_data,
    redact_text,
)


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("mary.o'neil@example.com", "m•••@•••.com"),
        ("ann@example.co.uk", "a•••@•••.uk"),
        ("zoë.müller@exämple.de", "z•••@•••.de"),
        ("root@localhost", "r•••@•••"),
    ],
)
def test_an_email_keeps_its_first_character_and_top_level_domain(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+4915123456789", "•••89"), ("0151 2345 6789", "•••89"), ("(415) 555-0123", "•••23")],
)
def test_a_phone_keeps_its_last_two_digits(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # the escapes the penetration test found
        ("mary.o'neil@example.com", "m•••@•••.com"),
        ("0151 2345 6789", "•••89"),
        (
            "Prefers calls on 0151 2345 6789, else mary.o'neil@example.com",
            "Prefers calls on •••89, else m•••@•••.com",
        ),
        ("Ann <ann+news@example.org>", "Ann <a•••@•••.org>"),
        (
            "/api/v1/profiles/email:ann%40example.com/?p=%2B4915112345678",
            "/api/v1/profiles/email:a•••@•••.com/?p=•••78",
        ),
        ("0151%202345%206789", "•••89"),
        ("crm-7781234", "crm-•••34"),
        ("+1 415 555 0123", "•••23"),
    ],
)
def test_text_is_masked_where_it_holds_an_email_or_seven_digits(text, masked):
    assert redact_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Mary O'Neil",
        "order 123456",
        "u-42",
        "2026-06-01",
        "2026-06-01T12:00:00Z",
        "2026-06-01 12:00:00.123456+00:00",
        "plan: pro",
    ],
)
def test_text_without_contact_details_is_left_alone(text):
    assert redact_text(text) == text


def test_documents_are_masked_through_with_numbers_and_contact_keys():
    traits = {
        "mobile": "0151 2345 6789",
        "landline": 4930123456,
        "work_email": "weird@intranet",
        "visits": 12,
        "children": [{"note": "call 030 9876 5432"}],
    }
    assert redact_data(traits) == {
        "mobile": "•••89",
        "landline": "•••56",
        "work_email": "w•••@•••",
        "visits": 12,
        "children": [{"note": "call •••32"}],
    }
    assert mask_trait("mobile_number", 4915123456789) == "•••89"
    assert mask_field("email", "x@intranet") == "x•••@•••"
    assert mask_field("customer_id", 12345678) == 12345678  # an id is no phone number


@pytest.mark.parametrize(
    ("term", "contact"),
    [
        ("mary.o'neil@example.com", True),
        ("mary.o'neil@", True),
        ("email:mary", True),
        ("phone:+49", True),
        ("work_email:x", True),
        ("0151 2345 6789", True),
        ("mary.o", False),
        ("u-mary-1", False),
        ("user_id:1234567", False),
        ("Mary", False),
    ],
)
def test_contact_lookups_are_recognised(term, contact):
    assert is_contact_lookup(term) is contact
