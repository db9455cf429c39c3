import pytest

from sources.imports.mapping import MappingError, build_mapping, default_mapping, mapping_to_json

ID_TYPES = {"user_id", "anonymous_id", "email", "phone", "external_id"}


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Email", "email"),
        ("E-mail", "email"),
        ("email_address", "email"),
        ("EMAIL ADDRESS", "email"),
        ("Phone Number", "phone"),
        ("Mobile", "phone"),
        ("First Name", "first_name"),
        ("firstName", "first_name"),
        ("Surname", "last_name"),
        ("Last name", "last_name"),
        ("Zip", "postal_code"),
        ("Post Code", "postal_code"),
        ("DOB", "birthday"),
        ("Date of Birth", "birthday"),
        ("Street Address", "address_line1"),
        ("Address 2", "address_line2"),
        ("State", "region"),
        ("Company Name", "company"),
        ("Country", "country"),
        ("User ID", "id.user_id"),
        ("crm_id", "id.external_id"),
    ],
)
def test_common_header_variants_are_recognised(header, target):
    assert default_mapping([header], kind="customers") == {header: target}


def test_unmapped_columns_become_custom_traits_named_after_the_header():
    mapping = default_mapping(["Email", "Loyalty Tier", "Shoe size"], kind="customers")
    assert mapping == {
        "Email": "email",
        "Loyalty Tier": "trait.loyalty_tier",
        "Shoe size": "trait.shoe_size",
    }


def test_a_second_column_of_the_same_field_becomes_a_trait():
    mapping = default_mapping(["Email", "E-mail", "email"], kind="customers")
    assert mapping == {"Email": "email", "E-mail": "trait.e_mail", "email": "trait.email_2"}


def test_overrides_map_columns_to_fields_traits_identifiers_or_nothing():
    mapping = build_mapping(
        ["Mail", "Ref", "Notes", "Tier"],
        kind="customers",
        overrides={"Ref": "id.external_id", "Notes": "ignore", "Tier": "trait.level"},
        identifier_types=ID_TYPES,
    )
    assert mapping_to_json(mapping) == {
        "Mail": "email",
        "Ref": "id.external_id",
        "Notes": "ignore",
        "Tier": "trait.level",
    }


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"Nope": "email"}, "unknown_column"),
        ({"Ref": "favourite_colour"}, "bad_target"),
        ({"Ref": "id.passport"}, "unknown_identifier_type"),
        ({"Ref": "email"}, "duplicate_target"),
        ({"Ref": "trait.email"}, "reserved_trait"),
        ({"Ref": "property.x"}, "bad_target"),
    ],
)
def test_invalid_mappings_are_refused_with_a_code(overrides, code):
    with pytest.raises(MappingError) as error:
        build_mapping(
            ["Email", "Ref"], kind="customers", overrides=overrides, identifier_types=ID_TYPES
        )
    assert error.value.code == code


def test_event_files_recognise_event_columns_and_keep_the_rest_as_properties():
    mapping = default_mapping(["email", "Event", "Timestamp", "amount", "City"], kind="events")
    assert mapping == {
        "email": "email",
        "Event": "event",
        "Timestamp": "timestamp",
        "amount": "property.amount",
        "City": "property.city",
    }


def test_event_files_need_an_event_column():
    with pytest.raises(MappingError) as error:
        build_mapping(["email", "amount"], kind="events", overrides={}, identifier_types=ID_TYPES)
    assert error.value.code == "missing_event_column"
