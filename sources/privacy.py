"""What ``sources`` holds about a person outside the profile: file imports.

Registered with ``consent.registry`` in ``SourcesConfig.ready``. An uploaded
file holds many people, so erasing one person deletes the stored file and
the row issues of every import that mentions them (the job and its counters
stay), and any other row issue that quotes them.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Q

from consent.registry import Subject
from sources.models import ImportIssue, ImportJob


def _mentions(fields: tuple[str, ...], values: tuple[str, ...]) -> Q:
    return reduce(or_, (Q(**{f"{f}__icontains": v}) for f in fields for v in values), Q(pk__in=[]))


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
