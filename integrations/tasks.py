"""Celery tasks of outgoing webhooks: thin wrappers around services (STYLE rules 24-30)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone, translation

from contacts.models import Contact
from integrations import bots, services
from integrations.models import WebhookDelivery, WebhookEvent
from tenants.models import Company
from tenants.tasks import company_task

# A queued re-enqueue older than this is dropped: the next beat tick sends a fresh one.
RETRY_EXPIRES_SECONDS = 60
FAN_OUT_BATCH = 2000


@company_task(name="integrations.deliver_webhook", queue="webhooks", soft_time_limit=40, time_limit=60)
def deliver_webhook(company: Company, delivery_id: int) -> str:
    # Errors and disable reasons are stored in the site's language, whatever the worker thread had active.
    with translation.override(settings.LANGUAGE_CODE):
        return services.delivery_attempt(company=company, delivery_id=delivery_id)


@shared_task(name="integrations.retry_due_deliveries", queue="webhooks", soft_time_limit=20, time_limit=30)
def retry_due_deliveries() -> int:
    """Beat fan-out (every 30 s): enqueue every pending delivery whose time has come and that no live worker
    holds. This is the persisted schedule: a worker restart or a lost broker message only delays an attempt."""
    now = timezone.now()
    # all_companies: the beat scan is the one cross-tenant reader here (STYLE rule 30); it reads only ids,
    # and each attempt runs inside its own company's scope.
    due = list(
        WebhookDelivery.all_companies.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at").values_list("company_id", "pk")[:FAN_OUT_BATCH]
    )
    for company_id, delivery_id in due:
        transaction.on_commit(
            lambda args=(company_id, delivery_id): deliver_webhook.apply_async(args=args,
                                                                               expires=RETRY_EXPIRES_SECONDS)
        )
    return len(due)


EXPIRY_BATCH = 500


@company_task(name="integrations.resume_bot_pauses", soft_time_limit=50, time_limit=60)
def resume_bot_pauses(company: Company, contact_ids: list[int]) -> int:
    with translation.override(settings.LANGUAGE_CODE):
        return bots.resume_expired(company=company, contact_ids=contact_ids)


@shared_task(name="integrations.resume_expired_bot_pauses", soft_time_limit=20, time_limit=30)
def resume_expired_bot_pauses() -> int:
    """Beat (every 60 s): hand each company's timed bot pauses that ran out to a task in its own scope."""
    now = timezone.now()
    # all_companies: the beat's scan reads only ids of due pauses; each resume runs in its company's scope.
    due = list(Contact.all_companies.filter(bot_paused=True, bot_paused_until__lte=now)
               .order_by("bot_paused_until").values_list("company_id", "pk")[:EXPIRY_BATCH])
    by_company: dict[int, list[int]] = {}
    for company_id, contact_id in due:
        by_company.setdefault(company_id, []).append(contact_id)
    for company_id, contact_ids in by_company.items():
        transaction.on_commit(lambda args=(company_id, contact_ids): resume_bot_pauses.apply_async(
            args=args, expires=60))
    return len(due)


# A chained purge run waits this long, so a large backlog is deleted in short steps, never in one long run.
PURGE_CHAIN_COUNTDOWN = 5


@company_task(name="integrations.purge_webhook_history", soft_time_limit=50, time_limit=60)
def purge_webhook_history(company: Company) -> int:
    purged = services.retention_purge(company=company, batch_size=services.RETENTION_BATCH,
                                      max_batches=services.RETENTION_MAX_BATCHES)
    if purged.more:
        transaction.on_commit(lambda: purge_webhook_history.apply_async(args=[company.pk],
                                                                        countdown=PURGE_CHAIN_COUNTDOWN))
    return purged.events


@shared_task(name="integrations.purge_old_webhook_history", soft_time_limit=20, time_limit=30)
def purge_old_webhook_history() -> int:
    """Beat (daily): one purge per company that has webhook events past the retention period."""
    cutoff = services.retention_cutoff()
    # all_companies: the daily retention scan reads only the ids of companies with old events; each purge
    # runs inside its own company's scope. EXISTS per company: one short probe of the (company, created_at) index.
    old = WebhookEvent.all_companies.filter(company=OuterRef("pk"), created_at__lt=cutoff)
    company_ids = list(Company.objects.filter(Exists(old)).order_by("pk").values_list("pk", flat=True))
    for company_id in company_ids:
        transaction.on_commit(lambda company_id=company_id: purge_webhook_history.apply_async(args=[company_id]))
    return len(company_ids)
