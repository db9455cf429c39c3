"""What ``sources`` holds about a person outside the profile, and how raw calls name them.

Registered with ``consent.registry`` in ``SourcesConfig.ready``:

* raw intake: the person's stored calls (``IntakeMessage``) and refused
  calls (``RejectedMessage``) are deleted; other people's calls that
  mention them keep their payload with each mention replaced;
* file imports: uploaded files (and orphaned uploads) that mention the
  person are deleted, with the row issues that may describe them (see
  ``erase_from_imports``).

``payload_identifiers`` reads the identifiers of a raw call, for the
suppression check at intake.
"""

from __future__ import annotations

import json
from functools import reduce
from operator import or_

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from consent.registry import Subject
from core.mentions import Mentions
from customers.services.normalize import InvalidValue, normalize_identifier
from sources.models import ImportIssue, ImportJob, IntakeMessage, RejectedMessage

# where ImportJob stores uploads (its FileField's upload_to, without the dates)
UPLOADS_FOLDER = "imports"


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
    """The person's raw calls (stored or refused) are deleted; other people's calls
    that mention them are kept with each mention replaced by ``[erased]``."""
    own = set(subject.identifiers)
    mentions = Mentions(subject.identifier_values)
    removed = 0
    for model, text_field in ((IntakeMessage, "error"), (RejectedMessage, "reason")):
        rows = model.objects.annotate(_payload_text=Cast("payload", TextField()))
        candidates = rows.filter(_contains_any("_payload_text", _raw_call_fragments(subject)))
        theirs = [
            pk
            for pk, payload in candidates.values_list("pk", "payload")
            if own.intersection(payload_identifiers(payload))
        ]
        removed += model.objects.filter(pk__in=theirs).delete()[0]
        removed += mentions.redact_rows(model.objects.all(), ("payload", text_field))
    return removed


def _raw_call_fragments(subject: Subject) -> list[str]:
    """Text a raw call naming the person must contain (a superset; parsing decides)."""
    found = Mentions(subject.identifier_values).fragments()
    for type_name, value in subject.identifiers:
        found.append(json.dumps(value))  # short ids too, as JSON strings ("42")
        if value.isdigit():
            found.append(f": {value}")  # … and as JSON numbers
        if type_name == "phone":
            found.append(value[-4:])  # a phone number written any way ends the same
    return list(dict.fromkeys(found))


def _contains_any(field: str, fragments: list[str]) -> Q:
    return reduce(or_, (Q(**{f"{field}__icontains": f}) for f in fragments), Q(pk__in=[]))


FILE_ERASED = (
    "The file named a person whose data was erased, so it was deleted. Upload it again: "
    "their rows will be left out."
)


def erase_from_imports(subject: Subject) -> int:
    """Row issues quoting the person, and the uploaded files that mention them.

    An uploaded file holds many people and has done its job once imported:
    a file that mentions the person is deleted (rewriting a spreadsheet
    without their rows is not worth the risk), with its row report (rows
    are identified by number, so any of them may describe the person). The
    job and its counters stay. A job still waiting for its mapping or its
    confirmation cannot run without its file: it is marked failed and says
    to upload the file again (the erased person's rows are then dropped).
    Upload files no job points at (left behind by an interrupted upload)
    are deleted too when they mention the person.
    """
    mentions = Mentions(subject.identifier_values)
    exact = (Q(value__iexact=value) for value in subject.identifier_values)
    quoting = ImportIssue.objects.filter(reduce(or_, exact, Q(pk__in=[]))).values_list("pk")
    mentioning = [
        pk
        for pk, value, reason in mentions.candidates(
            ImportIssue.objects.all(), ("value", "reason")
        ).values_list("pk", "value", "reason")
        if mentions.found_in(value) or mentions.found_in(reason)
    ]
    removed = ImportIssue.objects.filter(Q(pk__in=quoting) | Q(pk__in=mentioning)).delete()[0]
    for job in ImportJob.objects.exclude(file=""):
        if not _stored_file_mentions(job.file, mentions):
            continue
        removed += job.issues.all().delete()[0] + 1
        job.file.delete(save=False)
        fields = ["file"]
        if job.status in (ImportJob.Status.UPLOADED, ImportJob.Status.PREVIEWED):
            job.status, job.error = ImportJob.Status.FAILED, FILE_ERASED
            fields += ["status", "error"]
        job.save(update_fields=fields)
    removed += mentions.redact_rows(ImportJob.objects.all(), ("original_name", "error"))
    return removed + _erase_orphan_uploads(mentions)


def _stored_file_mentions(stored, mentions: Mentions) -> bool:
    try:
        with stored.open("rb") as handle:
            return mentions.found_in_file(handle)
    except FileNotFoundError:
        return False


def _erase_orphan_uploads(mentions: Mentions) -> int:
    """Files under the uploads folder that no job points at and that mention the person."""
    storage = ImportJob._meta.get_field("file").storage
    kept = set(ImportJob.objects.exclude(file="").values_list("file", flat=True))
    removed = 0
    for name in _stored_files(storage, UPLOADS_FOLDER):
        if name in kept:
            continue
        with storage.open(name, "rb") as handle:
            mentioned = mentions.found_in_file(handle)
        if mentioned:
            storage.delete(name)
            removed += 1
    return removed


def _stored_files(storage, folder: str):
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _stored_files(storage, f"{folder}/{sub}")
