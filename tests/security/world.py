"""A small installation with one row of every model an admin shows, built the
way production builds it: tracking calls from an SDK, a CSV import, consent,
segments, a merge, a webhook with deliveries, a privacy request.

Its people carry contact details that masking must hide from Viewers, and
that earlier masking let through: an apostrophe in an email, a phone written
with spaces in a custom trait, an accented email (JSON-escaped as ``\\u00eb``).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client

from accounts.services.api_keys import create_api_key
from consent.models import ConsentRecord, Purpose
from consent.services.consent import record_consent
from consent.services.privacy import create_request
from customers.models import Customer, DuplicateSuggestion, Merge, TraitSourcePriority
from customers.services.merging import merge_manually
from destinations.models import Destination
from destinations.services.dispatch import dispatch_outbox
from destinations.services.operations import save_destination, send_test_event
from insights.models import InsightPolicy, ScoringPlan, ScoringRule
from insights.services.predictions import train_model
from insights.services.rfm import compute_rfm
from insights.services.scoring import save_scoring_plan, save_scoring_rule
from segments.models import ComputedTrait, Segment
from segments.services import recompute_segment, save_computed_trait, save_segment
from sources.exports.service import export_segment_members
from sources.imports.jobs import create_import_job, set_mapping
from sources.imports.runner import run_import
from sources.services.keys import create_source

MARY = "mary.o'neil@example.com"
NAMELESS = "nameless.person@example.org"
ZOE = "zoë.müller@exämple.de"
IMPORTED = "imported.row@example.net"
MERGED_A, MERGED_B = "merge.a@example.net", "merge.b@example.net"
ERASED = "erase.me@example.com"
# a household sharing a phone: the phone becomes a shared value
NOAH, SARAH = "noah.johnson@example.com", "sarah.johnson@example.com"
EMAILS = (MARY, NAMELESS, ZOE, IMPORTED, MERGED_A, MERGED_B, NOAH, SARAH)
# (as written in traits, properties and files; as stored: E.164)
PHONES = (
    ("0151 2345 6789", "+4915123456789"),
    ("+1 415 555 0123", "+14155550123"),
    ("030 9876 5432", "+49309876543"),
    ("(212) 555-0187", "+12125550187"),
)
# A piece of NAMELESS's email that is in no name, company or other field.
EMAIL_FRAGMENT = "nameless.pers"
T0 = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
LIBRARY = {"name": "analytics-python", "version": "2.3.1"}


@dataclass
class World:
    mary: Customer
    nameless: Customer
    merge: Merge
    segment: Segment
    purpose: Purpose


def _call(type_: str, n: int, **fields) -> dict:
    return {
        "type": type_,
        "messageId": f"matrix-{type_}-{n}",
        "timestamp": T0.isoformat().replace("+00:00", "Z"),
        "sentAt": T0.isoformat().replace("+00:00", "Z"),
        "context": {"library": LIBRARY, "ip": "203.0.113.9", **fields.pop("context", {})},
        **fields,
    }


def _send(write_key: str, batch: list[dict], capture) -> None:
    """Calls as analytics-python sends them, to /v1/batch (processed inline)."""
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    with capture(execute=True):
        response = Client().post(
            "/v1/batch",
            json.dumps({"batch": batch}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {token}",
        )
    assert response.status_code == 200, response.content


def _people_calls() -> list[dict]:
    return [
        _call(
            "identify",
            1,
            userId="u-mary-1",
            anonymousId="a0c3e2f4-mary",
            traits={
                "email": MARY,
                "phone": "+49 151 23456789",
                "firstName": "Mary",
                "lastName": "O'Neil",
                "mobile": PHONES[0][0],
                "work_email": ZOE,
                "notes": f"Prefers calls on {PHONES[0][0]}, else {MARY}",
                "plan": "pro",
            },
        ),
        _call(
            "track",
            2,
            userId="u-mary-1",
            event="Order Completed",
            properties={"revenue": 42.5, "contact": MARY, "callback": PHONES[0][0]},
            context={"traits": {"email": MARY, "phone": PHONES[0][0]}},
        ),
        _call(
            "identify",
            3,
            userId="u-nameless-2",
            traits={"email": NAMELESS, "phone": PHONES[1][0], "birthday": "not-a-date"},
        ),
        _call("identify", 4, userId="u-merge-a", traits={"email": MERGED_A}),
        _call("identify", 5, userId="u-merge-b", traits={"email": MERGED_B}),
        {"type": "track", "messageId": "matrix-bad-6", "event": "No identity", "traits": {}},
        _call("identify", 8, userId="u-noah", traits={"email": NOAH, "phone": PHONES[3][0]}),
        _call("identify", 9, userId="u-sarah", traits={"email": SARAH, "phone": PHONES[3][0]}),
    ]


def _import_file(source) -> None:
    """A CRM export with a bad phone cell (a warning with the value in the report)."""
    content = (
        "\ufeffEmail,Phone Number,First Name,Company\r\n"
        f"{IMPORTED},{PHONES[2][0]} ext,Imogen,Acme\r\n"
        f'"{MARY}",{PHONES[0][0]},Mary,\r\n'
    ).encode()
    job = create_import_job(file=ContentFile(content), name="crm-export.csv", source=source)
    set_mapping(job=job, overrides={})
    run_import(job_id=job.pk, dry_run=False)


def _insights() -> None:
    """A scoring plan with a rule, an RFM run and a (too small to publish) model."""
    plan = save_scoring_plan(plan=ScoringPlan(name="Engagement", trait_name="engagement"))
    save_scoring_rule(
        rule=ScoringRule(plan=plan, label="Orders", kind="event", event="Order Completed", points=5)
    )
    InsightPolicy.current()
    compute_rfm()
    train_model(target="purchase_30d")


def build_world(*, superuser, capture, receiver_url: str, media: Path) -> World:
    source, write_key = create_source(name="Website", kind="website")
    purpose = Purpose.objects.get(code="analytics")
    destination = Destination(
        name="CRM hook", url=receiver_url, purpose=purpose, on_profile_updated=True
    )
    save_destination(destination=destination)
    _send(write_key, _people_calls(), capture)
    _import_file(source)
    mary = Customer.objects.get(email=MARY)
    nameless = Customer.objects.get(email=NAMELESS)
    for customer in (mary, nameless):
        record_consent(
            customer=customer,
            purpose=purpose,
            state="granted",
            method=ConsentRecord.Method.ADMIN,
            ip_address="198.51.100.23",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0.6367.91",
            wording=f"Write to me at {customer.email}",
            wording_version="2026-05",
        )
    rule = {
        "any": [
            {"field": "email", "op": "eq", "value": NAMELESS},
            {"trait": "mobile", "op": "eq", "value": PHONES[0][0]},
        ]
    }
    segment = save_segment(name="VIP contacts", rule=rule, description=f"Asked by {MARY}")
    recompute_segment(segment_id=segment.pk)
    export_segment_members(segments=[segment], file_format="csv", purpose=purpose, actor=superuser)
    save_computed_trait(
        trait=ComputedTrait(name="orders_90d", kind="count", event="Order Completed")
    )
    a, b = (Customer.objects.get(email=e) for e in (MERGED_A, MERGED_B))
    [merge] = merge_manually(customer_ids=[a.pk, b.pk], actor=superuser)
    DuplicateSuggestion.objects.create(customer_a=mary, customer_b=nameless, score=0.71)
    TraitSourcePriority.objects.create(source=source, priority=1)
    with capture(execute=True):
        dispatch_outbox()
    send_test_event(destination=destination)
    create_api_key(name="Shop backend", scopes=["profiles:read"], created_by=superuser)
    with capture(execute=True):
        create_request(type="access", identifier=f"email:{MARY}", handled_by=superuser)
        create_request(type="erasure", identifier=f"email:{ERASED}")
    # a call for the erased person is dropped and counted
    _send(write_key, [_call("identify", 7, userId="u-erased", traits={"email": ERASED})], capture)
    _insights()
    # rows made by migrations (identifier types, purposes) get their first version
    call_command("populate_history", auto=True, stdout=io.StringIO())
    return World(mary=mary, nameless=nameless, merge=merge, segment=segment, purpose=purpose)
