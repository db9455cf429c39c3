"""One batch, any split into batches, one call at a time: the same profiles.

Hypothesis generates call sequences (identify, track, alias, group) over a
few anonymous ids, user ids, emails, phones and external ids, so calls
join, conflict and hit per-profile limits (1 to 3 per type); each way of
sending them must leave the same profiles, with the same identities and
traits. CI runs the default profile (100 examples); ``make test-thorough``
runs 1,000 (the ``thorough`` profile, ``tests/conftest.py``).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from django.db import transaction
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from customers.models import Customer, IdentifierType, Identity
from sources.contracts import NormalizedMessage
from sources.pipeline import apply_messages, process_message

T0 = datetime(2026, 3, 1, tzinfo=UTC)
USERS = ["u1", "u2", "u3"]
ANONYMOUS = ["a1", "a2", "a3"]
EMAILS = ["ann@example.com", "bob@example.com"]
PHONES = ["+14155550101", "+14155550102"]
CRM_IDS = ["c1", "c2"]
LIMITED = ("user_id", "anonymous_id", "email", "phone", "external_id")


def maybe(values):
    return st.one_of(st.none(), st.sampled_from(values))


CALL = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["identify", "identify", "track", "alias", "group"]),
        "user_id": maybe(USERS),
        "anonymous_id": maybe(ANONYMOUS),
        "previous_id": st.sampled_from(USERS + ANONYMOUS),
        "email": maybe(EMAILS),
        "phone": maybe(PHONES),
        "crm_id": maybe(CRM_IDS),
        "plan": maybe(["free", "pro"]),
    }
)


@st.composite
def scenarios(draw):
    calls = draw(st.lists(CALL, min_size=1, max_size=8))
    limits = {name: draw(st.integers(1, 3)) for name in LIMITED}
    cuts = draw(st.sets(st.integers(1, max(1, len(calls) - 1)), max_size=3))
    return calls, limits, sorted(c for c in cuts if c < len(calls))


def to_message(source, index: int, call: dict) -> NormalizedMessage | None:
    """The call as the tracking API would normalize it; None if the spec refuses it."""
    person = {k: call[k] for k in ("email", "phone") if call[k]}
    kind = call["type"]
    user_id, anonymous_id = call["user_id"], call["anonymous_id"]
    if kind == "alias" and not user_id:
        return None
    if not (user_id or anonymous_id):
        return None
    traits = {**person, **({"plan": call["plan"]} if call["plan"] else {})}
    return NormalizedMessage(
        source_id=source.pk,
        message_id=f"m-{index}",
        type=kind,
        timestamp=T0 + timedelta(minutes=index),
        received_at=T0 + timedelta(minutes=index),
        user_id=user_id,
        anonymous_id=anonymous_id,
        event="Viewed" if kind == "track" else "",
        traits=traits if kind == "identify" else ({"name": "Acme"} if kind == "group" else {}),
        context={} if kind == "identify" else {"traits": person},
        previous_id=call["previous_id"] if kind == "alias" else None,
        group_id="g1" if kind == "group" else None,
        external_ids=(("crm", call["crm_id"]),) if call["crm_id"] else (),
    )


def profiles() -> list:
    """Every active profile as (its identities, its traits, its email and phone)."""
    held: dict[int, set] = {}
    for customer_id, type_name, value in Identity.objects.values_list(
        "customer_id", "type__name", "value"
    ):
        held.setdefault(customer_id, set()).add(f"{type_name}:{value}")
    rows = Customer.objects.active().values_list("pk", "traits", "email", "phone")
    return sorted(
        (sorted(held.get(pk, ())), sorted(traits.items()), email, phone)
        for pk, traits, email, phone in rows
    )


def outcome(run) -> list:
    """What ``run`` leaves, then undone (each way starts from an empty database)."""
    with transaction.atomic():
        run()
        result = profiles()
        transaction.set_rollback(True)
    return result


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_a_batch_any_split_and_single_calls_give_the_same_profiles(source, scenario):
    calls, limits, cuts = scenario
    for name, limit in limits.items():
        IdentifierType.objects.filter(name=name).update(max_per_profile=limit)
    messages = [m for i, call in enumerate(calls) if (m := to_message(source, i, call))]
    note(f"limits {limits}, cuts {cuts}")
    for m in messages:
        ids = (m.type, m.user_id, m.anonymous_id, m.previous_id, dict(m.traits), m.context)
        note(f"{m.message_id}: {ids} {m.external_ids}")
    bounds = [0, *cuts, len(messages)]
    chunks = [messages[a:b] for a, b in itertools.pairwise(bounds) if a < b]

    one_at_a_time = outcome(lambda: [process_message(m) for m in messages])
    assert outcome(lambda: apply_messages(messages)) == one_at_a_time
    assert outcome(lambda: [apply_messages(chunk) for chunk in chunks]) == one_at_a_time
