"""GET /v1/personalize: allowlist, consent, signed user ids, unknown people, 304s, refusals."""

from __future__ import annotations

import pytest

from segments.models import ComputedTrait, Segment
from segments.services import recompute_segment, save_computed_trait, save_segment
from sources.personalization.secrets import rotate_identity_secret, user_hash
from tests.personalization.conftest import basic, configure, grant, profile

pytestmark = pytest.mark.django_db

ANONYMOUS = "0b7f9c1e-5d2a-4c8e-9f3a-2e6d8b1a7c40"


def test_only_listed_traits_and_never_contact_details(ask, elodie):
    response = ask(userId="cust-1042")
    assert response.status_code == 200
    body = response.json()
    assert body["known"] is True
    assert body["traits"] == {"plan": "gold", "first_name": "Élodie", "favourite_colour": "vert"}
    assert body["consent"]["personalization"] is True
    text = response.content.decode()
    for secret in ("example.fr", "+336", "Marchand", "internal_score", ANONYMOUS, "cust-1042"):
        assert secret not in text
    assert response["Cache-Control"] == "private, max-age=0"


def test_contact_fields_only_when_the_source_lists_them(ask, site, elodie):
    source, _key = site
    configure(source, personalization_traits=["email", "last_name"])
    traits = ask(userId="cust-1042").json()["traits"]
    assert traits == {"email": "elodie.marchand@example.fr", "last_name": "Marchand"}


def test_nothing_listed_by_default(ask, track, client):
    from sources.services.keys import create_source

    _source, key = create_source(name="Blog", kind="website")
    track("identify", {"userId": "u-7", "traits": {"plan": "free"}})
    grant(profile("u-7"))
    body = ask(key=key, userId="u-7").json()
    assert body["known"] is True
    assert body["traits"] == {}
    assert body["segments"] == []


def test_consent_gates_traits_segments_and_computed_traits(ask, track, elodie):
    track("identify", {"userId": "ines-33", "traits": {"plan": "gold", "firstName": "Inès"}})
    body = ask(userId="ines-33").json()
    assert body["known"] is True
    assert body["consent"]["personalization"] is False  # consent purpose: no record means no
    assert (body["traits"], body["computed_traits"], body["segments"]) == ({}, {}, [])


def test_only_segments_flagged_personalize(ask, elodie):
    shown = save_segment(name="Gold members", rule={"trait": "plan", "op": "eq", "value": "gold"})
    hidden = save_segment(
        name="Likely to churn", rule={"trait": "plan", "op": "eq", "value": "gold"}
    )
    Segment.objects.filter(pk=shown.pk).update(personalize=True)
    recompute_segment(segment_id=shown.pk)
    recompute_segment(segment_id=hidden.pk)
    assert ask(userId="cust-1042").json()["segments"] == ["Gold members"]


def test_computed_traits_when_listed(ask, track, elodie):
    save_computed_trait(
        trait=ComputedTrait(name="orders_90d", kind="count", event="Order Completed")
    )
    save_computed_trait(trait=ComputedTrait(name="visits_90d", kind="count", event="Visit"))
    track(
        "track",
        {"userId": "cust-1042", "event": "Order Completed", "properties": {"revenue": 59.9}},
    )
    assert ask(userId="cust-1042").json()["computed_traits"] == {"orders_90d": 1}


def test_unknown_people_get_an_empty_answer(ask, elodie):
    for params in ({"userId": "nobody-here"}, {"anonymousId": "a7c2f1e0-never-seen"}):
        response = ask(**params)
        assert response.status_code == 200
        assert response.json() == {
            "known": False,
            "traits": {},
            "computed_traits": {},
            "segments": [],
            "consent": {},
        }


@pytest.fixture
def signed(site):
    source, _key = site
    secret = rotate_identity_secret(source=source)
    configure(source, require_signed_user_ids=True)
    return secret


def test_signed_user_ids(ask, elodie, signed):
    good = user_hash(secret=signed, user_id="cust-1042")
    assert ask(userId="cust-1042", userHash=good).json()["traits"]["plan"] == "gold"
    assert ask(userId="cust-1042", userHash=good.upper()).status_code == 200
    missing = ask(userId="cust-1042")
    assert missing.status_code == 403
    assert missing.json()["code"] == "user_hash_required"
    for wrong in (user_hash(secret=signed, user_id="cust-1043"), "0" * 64, "x", "é" * 64):
        refused = ask(userId="cust-1042", userHash=wrong)
        assert refused.status_code == 403
        assert refused.json() == {"code": "invalid_user_hash", "message": refused.json()["message"]}
    # a stranger's id is refused the same way: no way to learn who exists
    assert ask(userId="nobody-here", userHash="0" * 64).status_code == 403


def test_signed_sources_answer_anonymous_ids_of_anonymous_visitors_only(ask, track, elodie, signed):
    refused = ask(anonymousId=ANONYMOUS)  # Élodie signed in on this browser once
    assert refused.status_code == 403
    assert refused.json()["code"] == "user_hash_required"
    track("page", {"anonymousId": "5e1d-visitor-only", "name": "Home"})
    assert ask(anonymousId="5e1d-visitor-only").json()["known"] is True


def test_rotating_the_identity_secret_invalidates_old_hashes(ask, site, elodie, signed):
    old = user_hash(secret=signed, user_id="cust-1042")
    rotate_identity_secret(source=site[0])
    configure(site[0])  # other processes: within TRIBUTARY_WRITE_KEY_CACHE_SECONDS
    assert ask(userId="cust-1042", userHash=old).status_code == 403


def test_etag_and_304(ask, track, elodie):
    first = ask(userId="cust-1042")
    etag = first["ETag"]
    again = ask(userId="cust-1042", headers={"HTTP_IF_NONE_MATCH": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    weak = ask(userId="cust-1042", headers={"HTTP_IF_NONE_MATCH": f'"other", W/{etag}'})
    assert weak.status_code == 304
    track("identify", {"userId": "cust-1042", "traits": {"plan": "platinum"}})
    changed = ask(userId="cust-1042", headers={"HTTP_IF_NONE_MATCH": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["traits"]["plan"] == "platinum"


def test_keys(ask, client, site, elodie):
    source, _key = site
    unknown = ask(key="wk_not-a-key", userId="cust-1042")
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "invalid_write_key"
    anonymous = client.get("/v1/personalize", {"userId": "cust-1042"})
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"code", "message"}
    malformed = client.get(
        "/v1/personalize", {"userId": "cust-1042"}, HTTP_AUTHORIZATION="Basic %%%"
    )
    assert malformed.status_code == 401
    configure(source, enabled=False)
    assert ask(userId="cust-1042").status_code == 401


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "missing_identifier"),
        ({"userId": "x" * 100_000}, "identifier_too_long"),
        ({"userId": "cust\x00-1042"}, "invalid_character"),
        ({"anonymousId": "undefined"}, "junk_identifier"),
        ({"userId": "   "}, "junk_identifier"),
    ],
)
def test_hostile_identifiers_are_4xx_json(ask, elodie, params, code):
    response = ask(**params)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


def test_only_get(client, site):
    response = client.post("/v1/personalize", {}, **basic(site[1]))
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_origins(ask, site, elodie):
    source, _key = site
    open_answer = ask(userId="cust-1042", headers={"HTTP_ORIGIN": "https://anything.example"})
    assert open_answer.status_code == 200
    assert open_answer["Access-Control-Allow-Origin"] == "*"
    configure(source, personalization_origins=["https://boutique-elodie.fr"])
    ours = ask(userId="cust-1042", headers={"HTTP_ORIGIN": "https://boutique-elodie.fr"})
    assert ours.status_code == 200
    theirs = ask(userId="cust-1042", headers={"HTTP_ORIGIN": "https://evil.example"})
    assert theirs.status_code == 403
    assert theirs.json()["code"] == "origin_not_allowed"


def test_preflight_allows_the_headers_the_script_sends(client):
    response = client.options(
        "/v1/personalize",
        HTTP_ORIGIN="https://boutique-elodie.fr",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, if-none-match",
    )
    assert response.status_code == 200
    assert "if-none-match" in response["Access-Control-Allow-Headers"]


def test_the_demo_page_and_its_setup(client, site):
    from sources.demo.personalization import DEMO_SEGMENT, ensure_demo_personalization

    page = client.get("/demo/personalize/")
    assert page.status_code == 200
    assert b"tributary/personalize.js" in page.content
    assert b'data-tributary-segment="Gold plan"' in page.content
    source, _key = site
    configure(source, personalization_traits=[])
    ensure_demo_personalization(source)
    source.refresh_from_db()
    assert source.personalization_traits == ["first_name", "plan"]
    assert Segment.objects.get(name=DEMO_SEGMENT).personalize is True
