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
from customers.pointers import find_profile_pointer
from customers.services.normalize import InvalidValue
from sources.personalization.config import current_config
from sources.personalization.documents import profile_document
from sources.personalization.secrets import user_hash_matches
from sources.services.parsing import RequestRejected

PURPOSE = "personalization"


def _empty(*, known: bool, consent: dict) -> dict:
    return {"known": known, "traits": {}, "computed_traits": {}, "segments": [], "consent": consent}


def personalize(
    *, source: Source, user_id: str | None, anonymous_id: str | None, user_hash: str | None
) -> dict:
    """The answer for one visitor; raises ``RequestRejected`` (400 or 403)."""
    if not user_id and not anonymous_id:
        raise RequestRejected("missing_identifier", "send userId or anonymousId")
    signed = source.require_signed_user_ids
    if user_id and signed:
        if not user_hash:
            raise RequestRejected("user_hash_required", "this source requires userHash", 403)
        if not user_hash_matches(source=source, user_id=user_id, given=user_hash):
            raise RequestRejected("invalid_user_hash", "userHash does not match userId", 403)
    type_name, value = ("user_id", user_id) if user_id else ("anonymous_id", anonymous_id)
    try:
        pointer = find_profile_pointer(type_name=type_name, value=value)
    except InvalidValue as exc:
        raise RequestRejected(exc.code, exc.message) from None
    if pointer is None:
        return _empty(known=False, consent={})
    if type_name == "anonymous_id" and signed and pointer.is_identified:
        raise RequestRejected(
            "user_hash_required",
            "this visitor is identified: send userId with its userHash",
            403,
        )
    document = profile_document(pointer)
    if document is None:  # merged or erased since the pointer was read
        return _empty(known=False, consent={})
    return _allowed_part(document, source)


def _allowed_part(document: dict, source: Source) -> dict:
    consent = {row["code"]: row["allowed"] for row in document["consent"]}
    answer = {
        "known": True,
        "traits": {},
        "computed_traits": {},
        "segments": [],
        "consent": consent,
    }
    if not consent.get(PURPOSE):
        return answer
    answer["traits"], answer["computed_traits"] = {}, {}
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
    personalized = current_config().personalized_segments
    answer["segments"] = sorted(s["name"] for s in document["segments"] if s["id"] in personalized)
    return answer
