"""Celery wrappers around consent services (inline unless a broker is set)."""

from celery import shared_task

from consent.services.privacy import process_request


@shared_task
def process_privacy_request(request_id: int) -> str:
    return process_request(request_id=request_id).status
