"""What ``sources`` holds about a person outside the profile, and how raw calls name them.

Registered with ``consent.registry`` in ``SourcesConfig.ready``:

* raw intake: every stored call (``IntakeMessage``) and rejected call
  (``RejectedMessage``) whose text mentions one of the person's identifiers;
* file imports: an uploaded file holds many people, so erasing one person
  deletes the stored file and the row issues of every import that mentions
  them (the job and its counters stay), and any other row issue quoting them.

``payload_identifiers`` reads the identifiers of a raw call, for the
suppression check at intake.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from consent.registry import Subject
from customers.services.normalize import InvalidValue, normalize_identifier
from sources.models import ImportIssue, ImportJob, IntakeMessage, RejectedMessage


def _mentions(fields: tuple[str, ...], values: tuple[str, ...]) -> Q:
    return reduce(or_, (Q(**{f"{f}__icontains": v}) for f in fields for v in values), Q(pk__in=[]))


def payload_identifiers(payload: object) -> list[tuple[str, str]]:
    """(type, normalized value) pairs a raw tracking call carries; junk left out."""
    if not isinstance(payload, dict):
        return []
    traits = _dict(payload.get("traits"))
    context = _dict(payload.get("context"))
    context_traits = _dict(context.get("traits"))
    previous = payload.get("previousId")
    raw: list[tuple[str, object]] = [
        ("user_id", payload.get("userId")),
        ("anonymous_id", payload.get("anonymousId")),
        ("user_id", previous),
        ("anonymous_id", previous),
        ("email", traits.get("email")),
        ("phone", traits.get("phone")),
        ("email", context_traits.get("email")),
        ("phone", context_traits.get("phone")),
    ]
    for external in context.get("externalIds") or []:
        if isinstance(external, dict) and external.get("type"):
            raw.append((str(external["type"]), external.get("id")))
            raw.append(("external_id", f"{external['type']}:{external.get('id')}"))
    found: list[tuple[str, str]] = []
    for type_name, value in raw:
        if value in (None, ""):
            continue
        try:
            found.append((type_name, normalize_identifier(type_name, value)))
        except InvalidValue:
            continue
    return list(dict.fromkeys(found))


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def erase_from_intake(subject: Subject) -> int:
    """Stored and rejected raw calls that mention the person."""
    values = subject.identifier_values
    if not values:
        return 0
    removed = 0
    for model, fields in (
        (IntakeMessage, ("payload_text", "error")),
        (RejectedMessage, ("payload_text", "reason")),
    ):
        rows = model.objects.annotate(payload_text=Cast("payload", TextField()))
        removed += model.objects.filter(
            pk__in=rows.filter(_mentions(fields, values)).values("pk")
        ).delete()[0]
    return removed


def erase_from_imports(subject: Subject) -> int:
    values = subject.identifier_values
    if not values:
        return 0
    removed = ImportIssue.objects.filter(_mentions(("value", "reason"), values)).delete()[0]
    lowered = [v.lower().encode() for v in values]
    for job in ImportJob.objects.exclude(file=""):
        if _file_mentions(job, lowered):
            removed += job.issues.all().delete()[0] + 1
            job.file.delete(save=False)
            job.save(update_fields=["file"])
    return removed


def _file_mentions(job: ImportJob, lowered: list[bytes]) -> bool:
    try:
        with job.file.open("rb") as handle:
            content = handle.read().lower()
    except FileNotFoundError:
        return False
    return any(value in content for value in lowered)
