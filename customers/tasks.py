from celery import shared_task
from django.conf import settings

from customers.partitions import drop_expired_partitions, ensure_event_partitions


@shared_task
def maintain_event_partitions() -> dict:
    """Create next months' event partitions and drop those past retention."""
    created = ensure_event_partitions(months_back=1, months_ahead=3)
    dropped = drop_expired_partitions(retention_months=settings.TRIBUTARY_EVENT_RETENTION_MONTHS)
    return {"created": list(created.created), "dropped": list(dropped.dropped)}
