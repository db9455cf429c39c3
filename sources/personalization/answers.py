"""What one source's browser may learn about one visitor (``GET /v1/personalize``).

Only what the source lists in ``personalization_traits`` (core fields,
custom or computed traits) and segments flagged ``personalize``; nothing
unless the ``personalization`` purpose may use the profile; identities
never. With ``require_signed_user_ids`` a ``userId`` needs its
``userHash``, and an ``anonymousId`` reaches only a profile that never
identified itself: otherwise one visitor could read another's profile.
"""

from __future__ import annotations

from customers.models import CORE_FIELDS, Source
from customers.pointers import ProfilePointer, find_profile_pointer
from customers.services.normalize import InvalidValue
from sources.personalization.config import Config, current_config
from sources.personalization.documents import profile_document
from sources.personalization.secrets import user_hash_matches
from sources.services.parsing import RequestRejected

PURPOSE = "personalization"


def empty_answer(*, known: bool, consent: dict | None = None) -> dict:
    return {
        "known": known,
        "traits": {},
        "computed_traits": {},
        "segments": [],
        "consent": consent or {},
    }


def requested_identifier(
    *, source: Source, user_id: str | None, anonymous_id: str | None, user_hash: str | None
) -> tuple[str, str]:
    """The (type, value) a visitor asks about; raises ``RequestRejected`` (400 or 403)."""
    if not user_id and not anonymous_id:
        raise RequestRejected("missing_identifier", "send userId or anonymousId")
    if user_id and source.require_signed_user_ids:
        if not user_hash:
            raise RequestRejected("user_hash_required", "this source requires userHash", 403)
        if not user_hash_matches(source=source, user_id=user_id, given=user_hash):
            raise RequestRejected("invalid_user_hash", "userHash does not match userId", 403)
    return ("user_id", user_id) if user_id else ("anonymous_id", anonymous_id)


def check_reach(*, source: Source, type_name: str, pointer: ProfilePointer) -> None:
    """With signed user ids, an ``anonymousId`` reaches only a profile that never
    identified itself (else anyone holding the cookie value could read it)."""
    if type_name == "anonymous_id" and source.require_signed_user_ids and pointer.is_identified:
        raise RequestRejected(
            "user_hash_required",
            "this visitor is identified: send userId with its userHash",
            403,
        )


def personalize(
    *, source: Source, user_id: str | None, anonymous_id: str | None, user_hash: str | None
) -> dict:
    """The answer for one visitor; raises ``RequestRejected`` (400 or 403)."""
    type_name, value = requested_identifier(
        source=source, user_id=user_id, anonymous_id=anonymous_id, user_hash=user_hash
    )
    try:
        pointer = find_profile_pointer(type_name=type_name, value=value)
    except InvalidValue as exc:
        raise RequestRejected(exc.code, exc.message) from None
    if pointer is None:
        return empty_answer(known=False)
    check_reach(source=source, type_name=type_name, pointer=pointer)
    document = profile_document(pointer)
    if document is None:  # merged or erased since the pointer was read
        return empty_answer(known=False)
    return allowed_part(document, source, current_config())


def allowed_part(document: dict, source: Source, config: Config) -> dict:
    """What ``source`` may show of a profile document."""
    consent = {row["code"]: row["allowed"] for row in document["consent"]}
    answer = empty_answer(known=True, consent=consent)
    if not consent.get(PURPOSE):
        return answer
    listed = [n for n in source.personalization_traits if isinstance(n, str)]
    traits = document["traits"]
    for name in listed:
        if name in CORE_FIELDS:
            if document.get(name) not in (None, ""):
                answer["traits"][name] = document[name]
        elif name in traits:
            answer["traits"][name] = traits[name]
        if name in document["computed_traits"]:
            answer["computed_traits"][name] = document["computed_traits"][name]
    personalized = config.personalized_segments
    answer["segments"] = sorted(s["name"] for s in document["segments"] if s["id"] in personalized)
    return answer
