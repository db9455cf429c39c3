"""Data-subject requests: access (everything we hold, as JSON in a zip) and erasure.

Both collect their data through ``consent.registry`` so this module never
imports the apps above ``consent``.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import zipfile

from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.permissions import require_permissions
from consent import registry
from consent.models import ConsentRecord, ConsentState, DataSubjectRequest
from consent.services.suppression import suppress_identifiers
from core.errors import DomainError
from core.mentions import ERASED, Mentions
from customers.models import IdentifierType, Identity
from customers.selectors import resolve_survivor_id
from customers.services import privacy as customer_privacy
from customers.services.normalize import InvalidValue, normalize_identifier

logger = logging.getLogger(__name__)


class PrivacyRequestError(DomainError):
    pass


def parse_identifier(text: str) -> tuple[str, str]:
    """``"email:Ann@Example.com"`` → ``("email", "ann@example.com")``."""
    type_name, sep, raw = str(text).partition(":")
    if not sep or not raw.strip():
        raise PrivacyRequestError(
            "invalid_identifier",
            "identifier must be type:value, e.g. email:ann@example.com",
            "identifier",
        )
    if not IdentifierType.objects.filter(name=type_name).exists():
        raise PrivacyRequestError(
            "unknown_identifier_type", f"{type_name!r} is not an identifier type", "identifier"
        )
    try:
        return type_name, normalize_identifier(type_name, raw)
    except InvalidValue as exc:
        raise PrivacyRequestError(exc.code, exc.message, "identifier") from None


@transaction.atomic
def create_request(*, type: str, identifier: str, handled_by=None) -> DataSubjectRequest:
    """File a request; it is processed (as a task) once the transaction commits."""
    # the tasks wrap this module's services: a module-level import would be a cycle
    from consent.tasks import process_privacy_request

    if type not in DataSubjectRequest.Type.values:
        raise PrivacyRequestError("invalid_type", "type must be 'access' or 'erasure'", "type")
    type_name, value = parse_identifier(identifier)
    request = DataSubjectRequest.objects.create(
        type=type, identifier=f"{type_name}:{value}", handled_by=handled_by
    )
    transaction.on_commit(lambda: process_privacy_request.delay(request.pk))
    return request


def run_requests_again(*, requests: QuerySet[DataSubjectRequest], actor=None) -> int:
    """Queue unfinished (failed or stuck) requests again; returns how many
    (finished ones, and those that matched no profile, are left alone)."""
    # the tasks wrap this module's services: a module-level import would be a cycle
    from consent.tasks import process_privacy_request

    require_permissions(
        actor, "consent.change_datasubjectrequest", what="process privacy requests again"
    )
    done = (DataSubjectRequest.Status.COMPLETED, DataSubjectRequest.Status.NO_MATCH)
    pending = list(requests.exclude(status__in=done).values_list("pk", flat=True))
    for pk in pending:
        process_privacy_request.delay(pk)
    return len(pending)


def find_subject(type_name: str, value: str) -> registry.Subject:
    """The person an identifier names: their profiles and all their identifiers."""
    customer_id = (
        Identity.objects.filter(type__name=type_name, value=value)
        .values_list("customer_id", flat=True)
        .first()
    )
    ids = (
        customer_privacy.subject_customer_ids(resolve_survivor_id(customer_id))
        if customer_id
        else []
    )
    identifiers = [(type_name, value), *customer_privacy.subject_identifiers(ids)]
    return registry.Subject(customer_ids=tuple(ids), identifiers=tuple(dict.fromkeys(identifiers)))


def process_request(*, request_id: int) -> DataSubjectRequest:
    """Fulfil a request; safe to run twice (a completed request is left alone)."""
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().get(pk=request_id)
        if request.is_done:
            return request
        request.status = DataSubjectRequest.Status.PROCESSING
        request.save(update_fields=["status"])
    try:
        if request.type == DataSubjectRequest.Type.ACCESS:
            _fulfil_access(request)
        else:
            _fulfil_erasure(request)
    except Exception as exc:
        # The message of a database error can quote personal data: keep the class only.
        logger.exception("privacy request %s failed", request.pk)
        request.status = DataSubjectRequest.Status.FAILED
        request.error = type(exc).__name__
        request.save(update_fields=["status", "error"])
    return request


def _fulfil_access(request: DataSubjectRequest) -> None:
    type_name, _, value = request.identifier.partition(":")
    subject = find_subject(type_name, value)
    buffer = io.BytesIO()
    summary = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "request.json",
            _dumps(
                {
                    "request": request.pk,
                    "identifier": request.identifier,
                    "generated_at": timezone.now(),
                    "profiles": list(subject.customer_ids),
                }
            ),
        )
        for name, exporter in registry.exporters():
            data = exporter(subject)
            archive.writestr(f"{name}.json", _dumps(data))
            summary[name] = len(data)
    request.result_file.save(
        f"access-{request.pk}-{secrets.token_hex(8)}.zip",
        ContentFile(buffer.getvalue()),
        save=False,
    )
    request.summary = summary
    request.status = _done_status(subject)
    request.completed_at = timezone.now()
    request.error = ""
    request.save(update_fields=["result_file", "summary", "status", "completed_at", "error"])


@transaction.atomic
def _fulfil_erasure(request: DataSubjectRequest) -> None:
    type_name, _, value = request.identifier.partition(":")
    subject = find_subject(type_name, value)
    removed = {name: eraser(subject) for name, eraser in registry.erasers()}
    suppressed = suppress_identifiers(identifiers=subject.identifiers, request=request)
    request.refresh_from_db()
    request.identifier = f"{type_name}:{ERASED}"
    request.summary = {
        "profiles": len(subject.customer_ids),
        "rows_removed": removed,
        "identifiers_suppressed": suppressed,
    }
    request.status = _done_status(subject)
    request.completed_at = timezone.now()
    request.error = ""
    request.save(update_fields=["identifier", "summary", "status", "completed_at", "error"])


def _done_status(subject: registry.Subject) -> str:
    """A request whose identifier named no profile says so, rather than "Completed"."""
    if subject.customer_ids:
        return DataSubjectRequest.Status.COMPLETED
    return DataSubjectRequest.Status.NO_MATCH


def _dumps(data) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


# --- what consent and customers hold (registered in ConsentConfig.ready) ----


def erase_consent(subject: registry.Subject) -> int:
    """Consent history and state, the identifier of earlier requests naming them, and
    access exports that mention them (someone else's, e.g. a referral in an event)."""
    ids = list(subject.customer_ids)
    removed = ConsentState.objects.filter(customer_id__in=ids).delete()[0]
    removed += ConsentRecord.objects.filter(customer_id__in=ids).delete()[0]
    named = [f"{t}:{v}" for t, v in subject.identifiers]
    for earlier in DataSubjectRequest.objects.filter(identifier__in=named):
        if earlier.result_file:
            earlier.result_file.delete(save=False)
        earlier.identifier = f"{earlier.identifier.partition(':')[0]}:{ERASED}"
        earlier.save(update_fields=["identifier", "result_file"])
        removed += 1
    mentions = Mentions(subject.identifier_values)
    for export in DataSubjectRequest.objects.exclude(result_file=""):
        if _file_mentions(export.result_file, mentions):
            # the person it was for can ask again; the new export will not name them
            export.result_file.delete(save=False)
            export.save(update_fields=["result_file"])
            removed += 1
    return removed


def _file_mentions(stored, mentions: Mentions) -> bool:
    try:
        with stored.open("rb") as handle:
            return mentions.found_in_file(handle)
    except FileNotFoundError:
        return False


def export_consent(subject: registry.Subject) -> list[dict]:
    return list(
        ConsentRecord.objects.filter(customer_id__in=subject.customer_ids)
        .order_by("occurred_at", "id")
        .values(
            "customer_id",
            "purpose__code",
            "state",
            "method",
            "source_id",
            "occurred_at",
            "recorded_at",
            "ip_address",
            "user_agent",
            "wording",
            "wording_version",
            "actor",
        )
    )


def erase_customers(subject: registry.Subject) -> int:
    return customer_privacy.erase_customers(
        customer_ids=list(subject.customer_ids), identifier_values=list(subject.identifier_values)
    )


def register_builtin() -> None:
    """Erasers and exporters for ``customers`` and ``consent`` (base apps first)."""
    ids = lambda subject: list(subject.customer_ids)  # noqa: E731
    registry.register_eraser("customers", erase_customers)
    registry.register_eraser("consent", erase_consent)
    registry.register_exporter("profile", lambda s: customer_privacy.export_profiles(ids(s)))
    registry.register_exporter("identities", lambda s: customer_privacy.export_identities(ids(s)))
    registry.register_exporter("events", lambda s: customer_privacy.export_events(ids(s)))
    registry.register_exporter(
        "group_memberships", lambda s: customer_privacy.export_group_memberships(ids(s))
    )
    registry.register_exporter(
        "data_quality_issues", lambda s: customer_privacy.export_data_quality_issues(ids(s))
    )
    registry.register_exporter("consent_history", export_consent)
    registry.register_exporter(
        "change_history", lambda s: customer_privacy.export_change_history(ids(s))
    )
