"""Segment's reserved identify traits, split into core fields and custom traits."""

import pytest

from customers.services.reserved_traits import names_from_full_name, split_traits


@pytest.mark.parametrize(
    ("traits", "core", "custom"),
    [
        (
            {
                "company": {
                    "id": "c-9",
                    "name": "Acme",
                    "industry": "Retail",
                    "employee_count": 120,
                    "plan": "enterprise",
                }
            },
            {"company": "Acme"},
            {
                "company_id": "c-9",
                "company_industry": "Retail",
                "company_employee_count": 120,
                "company_plan": "enterprise",
            },
        ),
        ({"company": {"employeeCount": 5}}, {}, {"company_employee_count": 5}),
        ({"company": "Acme SARL"}, {"company": "Acme SARL"}, {}),
        ({"company": 42}, {}, {"company": 42}),
        (
            {"name": "Zoë van der Berg"},
            {"first_name": "Zoë", "last_name": "van der Berg"},
            {"name": "Zoë van der Berg"},
        ),
        ({"name": "Cher"}, {"first_name": "Cher"}, {"name": "Cher"}),
        ({"name": "   "}, {}, {"name": "   "}),
        ({"name": ["a", "b"]}, {}, {"name": ["a", "b"]}),
        (
            {"name": "Ann Smith", "firstName": "Annie"},
            {"first_name": "Annie"},
            {"name": "Ann Smith"},
        ),
        (
            {
                "city": "Lyon",
                "country": "FR",
                "postalCode": "69001",
                "state": "ARA",
                "street": "3 rue de la République",
            },
            {
                "city": "Lyon",
                "country": "FR",
                "postal_code": "69001",
                "region": "ARA",
                "address_line1": "3 rue de la République",
            },
            {},
        ),
        (
            {"address": {"city": "Paris"}, "city": "Lyon"},
            {"city": "Paris"},
            {"city": "Lyon"},
        ),
        ({"address": "12 High St", "city": "Leeds"}, {"city": "Leeds"}, {"address": "12 High St"}),
        (
            {"createdAt": "2024-01-05T10:00:00Z", "plan": "team"},
            {},
            {"createdAt": "2024-01-05T10:00:00Z", "plan": "team"},
        ),
    ],
)
def test_split_traits(traits, core, custom):
    assert split_traits(traits) == (core, custom)


def test_full_name_splits_on_the_first_space_only():
    assert names_from_full_name(" Jean-Luc  Picard ") == {
        "first_name": "Jean-Luc",
        "last_name": "Picard",
    }
