"""Celery tasks of messaging: thin wrappers that load ids and call one service (STYLE rules 24-29)."""

from __future__ import annotations

from django.db import transaction

from messaging import media, services
from messaging.models import Message
from tenants.models import Company
from tenants.tasks import company_task


@company_task(name="messaging.send_message", queue="messaging", soft_time_limit=60, time_limit=90)
def send_message(company: Company, message_id: int) -> str:
    """Send one queued message; a retry (transient failure, throttle, held claim) is a new delayed task."""
    outcome = services.message_deliver(company=company, message_id=message_id)
    if outcome.result == "retry":
        args = [company.pk, message_id]
        transaction.on_commit(lambda: send_message.apply_async(args=args, countdown=outcome.retry_in))
    return outcome.result


@company_task(name="messaging.download_media", soft_time_limit=60, time_limit=90)
def download_media(company: Company, message_id: int) -> bool:
    message = Message.objects.filter(company=company, pk=message_id).first()
    return bool(message) and media.message_download_media(company=company, message=message)
