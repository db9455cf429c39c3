import base64
import json

import pytest

from consent.services.consent import record_consent
from customers.models import Customer
from customers.selectors import find_customer_by_identifier
from sources.personalization.config import forget_config
from sources.services import intake
from sources.services.keys import create_source


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Write keys and personalization config are kept a few seconds per process."""
    intake._source_cache.clear()
    forget_config()
    yield
    intake._source_cache.clear()
    forget_config()


@pytest.fixture
def site(db):
    """The shop's website source, its write key, and what its pages may show."""
    source, key = create_source(name="Boutique Élodie (web)", kind="website")
    source.personalization_traits = ["plan", "first_name", "favourite_colour", "orders_90d"]
    source.save()
    return source, key


def basic(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def track(client, site, django_capture_on_commit_callbacks):
    """Send a call as analytics.js does (Basic auth, JSON), processed as after a commit."""
    _source, key = site

    def _track(call_type: str, payload: dict):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/v1/{call_type}",
                json.dumps(payload),
                content_type="application/json",
                **basic(key),
            )
        assert response.status_code == 200, response.content
        return response

    return _track


@pytest.fixture
def ask(client, site):
    """GET /v1/personalize with the site's key (or ``key=``) and query parameters."""
    _source, site_key = site

    def _ask(key: str | None = None, headers: dict | None = None, **params):
        return client.get("/v1/personalize", params, **basic(key or site_key), **(headers or {}))

    return _ask


def profile(user_id: str) -> Customer:
    return find_customer_by_identifier(type_name="user_id", value=user_id)


def grant(customer: Customer, purpose: str = "personalization", state: str = "granted") -> None:
    record_consent(customer=customer, purpose=purpose, state=state, method="web_form")


@pytest.fixture
def elodie(track):
    """A signed-in shopper who allowed personalization."""
    track(
        "identify",
        {
            "userId": "cust-1042",
            "anonymousId": "0b7f9c1e-5d2a-4c8e-9f3a-2e6d8b1a7c40",
            "traits": {
                "email": "elodie.marchand@example.fr",
                "phone": "+33 6 12 34 56 78",
                "firstName": "Élodie",
                "lastName": "Marchand",
                "plan": "gold",
                "favourite_colour": "vert",
                "internal_score": 93,
            },
            "context": {"library": {"name": "analytics.js", "version": "5.2.0"}},
            "messageId": "ajs-next-1f3e5b7c-0001",
            "timestamp": "2026-11-30T09:12:44.120Z",
        },
    )
    customer = profile("cust-1042")
    grant(customer)
    return customer


def configure(source, **fields) -> None:
    """Change a source as the admin does; this process forgets its cached copy."""
    from sources.services import intake

    for name, value in fields.items():
        setattr(source, name, value)
    source.save()
    intake._source_cache.clear()
