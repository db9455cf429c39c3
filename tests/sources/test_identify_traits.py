"""Reserved identify traits through the tracking API (issue 20)."""

from customers.models import Customer


def test_identify_reads_company_object_name_and_flat_address(send):
    response = send(
        "/v1/identify",
        {
            "userId": "u-1",
            "traits": {
                "name": "Zoë Ðurić",
                "company": {"id": 77, "name": "Acme", "industry": "Retail", "plan": "pro"},
                "city": "Zagreb",
                "country": "HR",
                "postalCode": "10000",
                "street": "Ilica 1",
                "createdAt": "2023-06-01T08:00:00Z",
            },
        },
    )
    assert response.status_code == 200
    customer = Customer.objects.active().get()
    assert (customer.first_name, customer.last_name, customer.company) == ("Zoë", "Ðurić", "Acme")
    assert (customer.city, customer.country, customer.postal_code, customer.address_line1) == (
        "Zagreb",
        "HR",
        "10000",
        "Ilica 1",
    )
    assert customer.traits == {
        "name": "Zoë Ðurić",
        "company_id": 77,
        "company_industry": "Retail",
        "company_plan": "pro",
        "createdAt": "2023-06-01T08:00:00Z",
    }


def test_identify_reads_company_as_text(send):
    send("/v1/identify", {"userId": "u-2", "traits": {"company": "Initech"}})
    assert Customer.objects.active().get().company == "Initech"


def test_identify_traits_in_context_traits_are_read(send):
    # rudder-sdk-python puts an identify call's traits in context.traits only
    send(
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "identify",
                    "userId": "u-3",
                    "context": {"traits": {"email": "ana@example.com", "firstName": "Ana"}},
                    "traits": {"firstName": "Anna"},
                }
            ]
        },
    )
    customer = Customer.objects.active().get()
    assert (customer.email, customer.first_name) == ("ana@example.com", "Anna")


def test_context_traits_of_a_track_call_change_no_profile_field(send):
    send(
        "/v1/track",
        {"userId": "u-4", "event": "Viewed", "context": {"traits": {"firstName": "Old"}}},
    )
    assert Customer.objects.active().get().first_name == ""
