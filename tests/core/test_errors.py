"""One family of domain errors, one API handler (core.errors, core.api.errors)."""

import pytest
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from consent.services.consent import UnknownPurpose
from core.errors import Conflict, DomainError, Forbidden, NotFound
from customers.services.merging import MergeError
from customers.services.normalize import InvalidValue
from segments.stored import TraitNameTaken
from sources.imports.mapping import MappingError
from sources.services.parsing import InvalidMessage, RequestRejected


def _view_raising(error: Exception):
    class Raises(APIView):
        authentication_classes = ()
        permission_classes = ()

        def get(self, request):
            raise error

    return Raises.as_view()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DomainError("bad_thing", "That is bad.", "name"), 400),
        (Forbidden("not_yours", "Not yours."), 403),
        (NotFound("no_such_thing", "No such thing."), 404),
        (Conflict("busy", "Busy."), 409),
        (MergeError("already_merged", "one of these profiles was merged already"), 409),
    ],
)
def test_a_domain_error_reaching_a_view_gets_the_error_shape_and_its_status(error, status):
    response = _view_raising(error)(APIRequestFactory().get("/api/v1/x/"))

    assert response.status_code == status
    details = {"field": error.field} if error.field else {}
    assert response.data == {"code": error.code, "message": error.message, "details": details}


@pytest.mark.parametrize(
    "error",
    [
        InvalidValue("invalid_email", "not an email"),
        InvalidMessage("missing_user_id", "userId or anonymousId is required", "userId"),
        RequestRejected("body_too_large", "too large", 413),
        UnknownPurpose("newsletter"),
        TraitNameTaken("'ltv' is an on-read computed trait"),
        MappingError("bad_target", "no such target", "Email"),
    ],
)
def test_service_errors_are_domain_errors_with_a_code_and_a_message(error):
    assert isinstance(error, DomainError)
    assert error.code
    assert str(error) == error.message


def test_mapping_error_names_its_column_as_the_field():
    error = MappingError("bad_target", "no such target", "Email")
    assert (error.column, error.field) == ("Email", "Email")
