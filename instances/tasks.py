"""Celery tasks of instances: thin wrappers around services (STYLE rules 24-30)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from instances import inbound, services
from instances.models import InboundEvent, Instance
from tenants.models import Company
from tenants.tasks import company_task

# A queued poll older than this is dropped: the next beat tick enqueues a fresh one.
POLL_EXPIRES_SECONDS = 30
FAN_OUT_BATCH = 5000


@shared_task(name="instances.poll_due_instances", queue="polling", soft_time_limit=20, time_limit=30)
def poll_due_instances() -> int:
    """Beat fan-out: enqueue one poll per instance that is due (every 5 s while connecting, else every 60 s)."""
    # all_companies: the beat scheduler is the one cross-tenant reader here (STYLE rule 30); it reads only
    # ids, and each poll runs inside its own company's scope.
    due = list(
        Instance.all_companies.filter(services.due_for_poll_filter(timezone.now()))
        .order_by(F("last_polled_at").asc(nulls_first=True))
        .values_list("company_id", "pk")[:FAN_OUT_BATCH]
    )
    for company_id, instance_id in due:
        transaction.on_commit(
            lambda args=(company_id, instance_id): poll_instance.apply_async(args=args, expires=POLL_EXPIRES_SECONDS)
        )
    return len(due)


def _instance(company: Company, instance_id: int) -> Instance | None:
    return Instance.objects.filter(company=company, pk=instance_id).select_related("server").first()


@company_task(name="instances.poll_instance", queue="polling", soft_time_limit=40, time_limit=60)
def poll_instance(company: Company, instance_id: int) -> bool:
    instance = _instance(company, instance_id)
    return bool(instance) and services.instance_poll(company=company, instance=instance)


@company_task(name="instances.connect_instance", soft_time_limit=40, time_limit=60)
def connect_instance(company: Company, instance_id: int, number: str = "") -> None:
    instance = _instance(company, instance_id)
    if instance is not None:
        services.instance_connect_in_background(company=company, instance=instance, number=number)


@company_task(name="instances.process_inbound_event", soft_time_limit=40, time_limit=60)
def process_inbound_event(company: Company, event_id: int) -> str:
    """One stored event by id (the hand-off before the drain; kept for tasks queued by an older release)."""
    return services.inbound_event_process(company=company, event_id=event_id)


@company_task(name="instances.drain_inbound_events", soft_time_limit=40, time_limit=60)
def drain_inbound_events(company: Company, slot: int) -> int:
    """Apply the company's pending gateway events (instances/inbound.py); chains itself while more are left."""
    handled, more = inbound.inbound_drain(company=company, slot=slot)
    if more:
        drain_inbound_events.apply_async(args=[company.pk, slot])
    return handled


@shared_task(name="instances.sweep_pending_inbound", soft_time_limit=20, time_limit=30)
def sweep_pending_inbound() -> int:
    """Beat: wake every drain slot of every company with a gateway event pending for longer than
    INBOUND_SWEEP_AFTER_SECONDS (its drain's task was lost with a worker or the broker); the drains started."""
    cutoff = timezone.now() - timedelta(seconds=settings.INBOUND_SWEEP_AFTER_SECONDS)
    # all_companies: the beat is the one cross-tenant reader here (STYLE rule 30); it reads only company ids
    # (through the partial index of pending events) and each drain runs inside its own company's scope.
    company_ids = (InboundEvent.all_companies.filter(status=InboundEvent.Status.PENDING, received_at__lt=cutoff)
                   .order_by().values_list("company_id", flat=True).distinct())
    return sum(len(inbound.inbound_wake_all(company_id)) for company_id in company_ids)


# A chained purge run waits this long, so a large backlog is deleted in short steps, never in one long run.
PURGE_CHAIN_COUNTDOWN = 5


@company_task(name="instances.purge_inbound_events", soft_time_limit=50, time_limit=60)
def purge_inbound_events(company: Company) -> int:
    deleted, more = services.inbound_event_purge(company=company, batch_size=services.INBOUND_PURGE_BATCH,
                                                 max_batches=services.INBOUND_PURGE_MAX_BATCHES)
    if more:
        transaction.on_commit(lambda: purge_inbound_events.apply_async(args=[company.pk],
                                                                       countdown=PURGE_CHAIN_COUNTDOWN))
    return deleted


@shared_task(name="instances.purge_old_inbound_events", soft_time_limit=20, time_limit=30)
def purge_old_inbound_events() -> int:
    """Beat (daily): one purge per company that has finished raw gateway bodies past the retention period."""
    cutoff = services.inbound_event_retention_cutoff()
    # all_companies: the daily retention scan reads only the ids of companies with old finished bodies;
    # each purge runs inside its own company's scope.
    old = InboundEvent.all_companies.filter(company=OuterRef("pk"), status__in=services.INBOUND_FINISHED,
                                            received_at__lt=cutoff)
    company_ids = list(Company.objects.filter(Exists(old)).order_by("pk").values_list("pk", flat=True))
    for company_id in company_ids:
        transaction.on_commit(lambda company_id=company_id: purge_inbound_events.apply_async(args=[company_id]))
    return len(company_ids)
