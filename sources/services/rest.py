"""REST writes: they become normalized messages and go through the pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer, Source
from customers.services.normalize import normalize_identifier
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message
from sources.services.keys import create_source

REST_SOURCE_NAME = "REST API"


def rest_api_source() -> Source:
    """The source REST writes are recorded under (created on first use)."""
    source = Source.objects.filter(kind=Source.Kind.API).order_by("pk").first()
    if source is not None:
        return source
    try:
        with transaction.atomic():
            source, _key = create_source(
                name=REST_SOURCE_NAME,
                kind=Source.Kind.API,
                description="Changes made through the REST API (/api/v1/).",
            )
    except IntegrityError:  # created concurrently, or the name is taken
        source = Source.objects.get(name=REST_SOURCE_NAME)
    return source


def validate_identify_traits(traits: Mapping[str, object]) -> None:
    """Reserved identifier traits must be valid: a REST caller hears about it.

    (The tracking API drops an invalid email or phone and keeps the rest, as
    Segment does; a REST caller gets a 400 instead of a silent drop.)
    """
    for key in ("email", "phone"):
        if traits.get(key) not in (None, ""):
            normalize_identifier(key, traits[key])


@transaction.atomic
def update_profile_traits(*, type_name: str, value: str, traits: Mapping[str, object]) -> Customer:
    """Identify the profile holding ``type_name:value`` with these traits.

    Raises ``InvalidValue`` for an invalid identifier or email/phone trait.
    Returns the profile as it is after the pipeline ran (a merge the traits
    cause returns the survivor).
    """
    validate_identify_traits(traits)
    normalized = normalize_identifier(type_name, value)
    now = timezone.now()
    message = NormalizedMessage(
        source_id=rest_api_source().pk,
        message_id=f"rest-{uuid.uuid4()}",
        type="identify",
        timestamp=now,
        received_at=now,
        traits=dict(traits),
        external_ids=((type_name, normalized),),
    )
    result = process_message(message)
    return result.customer
