"""Every endpoint registered on the API router follows the same rules."""

import pytest
from django.test import Client
from django.test.client import RequestFactory
from rest_framework import mixins

from accounts.api.permissions import HasScope, required_scopes_for
from core.api.pagination import CursorPagination
from core.api.router import router

# importing the URL conf registers every app's endpoints
pytest.importorskip("cdp_site.api_urls")


def _routes(only: str | None = None):
    for _prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            for method, action in route.mapping.items():
                if hasattr(viewset, action) and only in (None, action):
                    yield pytest.param(viewset, method, action, id=f"{basename}.{action}")


@pytest.mark.parametrize(("viewset", "method", "action"), list(_routes()))
def test_every_action_requires_known_scopes(viewset, method, action):
    view = viewset(action=action, action_map={method: action})
    view.request = RequestFactory().generic(method.upper(), "/")
    assert any(isinstance(p, HasScope) for p in view.get_permissions())
    scopes = required_scopes_for(view, method)
    assert scopes, f"{viewset.__name__}.{action} needs at least one scope"


@pytest.mark.parametrize(("viewset", "method", "action"), list(_routes(only="list")))
def test_every_list_is_cursor_paginated(viewset, method, action):
    if not issubclass(viewset, mixins.ListModelMixin):
        pytest.skip("answers with one document, not a collection")
    assert issubclass(viewset.pagination_class, CursorPagination)


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return response.json()


def test_every_operation_documents_the_error_shape(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "parameters" or path.startswith("/api/v1/auth/"):
                continue
            responses = operation["responses"]
            for code in ("401", "403", "429"):
                assert code in responses, f"{method.upper()} {path} lacks {code}"
            for code, response in responses.items():
                if code.startswith("4"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", f"{method} {path} {code}"


def test_paginated_lists_have_no_count(schema):
    pages = {k: v for k, v in schema["components"]["schemas"].items() if k.startswith("Paginated")}
    assert pages
    for name, page in pages.items():
        assert "count" not in page["properties"], name
        assert {"next", "previous", "results"} <= set(page["properties"]), name
