"""Retention of raw gateway webhook bodies (INBOUND_EVENT_RETENTION_DAYS): processed and ignored ones older than
the period are deleted in bounded batches, pending ones never, each company only by its own rows. Real
PostgreSQL; the beat fan-out and the chained purge run on a real embedded Celery worker."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import TestCase
from django.utils import timezone

from config.celery import app
from instances import services, tasks
from instances.models import InboundEvent
from tenants.scoping import company_scope, current_company
from tests.factories import make_instance

Status = InboundEvent.Status
_keys = itertools.count()


def body(instance, *, days: float, status: str) -> InboundEvent:
    with company_scope(instance.company):
        return InboundEvent.objects.create(
            company=instance.company, instance=instance, key=f"key-{next(_keys)}", event="MESSAGES_UPSERT",
            payload={"event": "messages.upsert"}, status=status, received_at=timezone.now() - timedelta(days=days))


def remaining(company) -> list[int]:
    with company_scope(company):
        return sorted(InboundEvent.objects.values_list("pk", flat=True))


def purge(company, **kwargs) -> tuple[int, bool]:
    with company_scope(company):
        return services.inbound_event_purge(company=company, **kwargs)


@pytest.mark.django_db
def test_old_processed_and_ignored_bodies_go_pending_and_recent_stay(company_a, company_b):
    line_a, line_b = make_instance(company=company_a), make_instance(company=company_b)
    old = [body(line_a, days=8, status=Status.PROCESSED), body(line_a, days=30, status=Status.IGNORED)]
    kept = [body(line_a, days=60, status=Status.PENDING),  # never processed: never deleted
            body(line_a, days=6, status=Status.PROCESSED)]
    foreign = body(line_b, days=60, status=Status.PROCESSED)

    assert purge(company_a) == (2, False)
    assert remaining(company_a) == sorted(event.pk for event in kept)
    assert remaining(company_b) == [foreign.pk]  # A's purge never reaches B, however old its rows
    assert purge(company_b) == (1, False)
    assert remaining(company_b) == []
    assert not {event.pk for event in old} & set(remaining(company_a))
    assert current_company() is None


@pytest.mark.django_db
def test_period_from_the_setting_and_bounded_batches(settings, company_a, company_b):
    settings.INBOUND_EVENT_RETENTION_DAYS = 2
    line_a = make_instance(company=company_a)
    for _ in range(5):
        body(line_a, days=3, status=Status.PROCESSED)
    pending = body(line_a, days=9, status=Status.PENDING)
    recent = body(line_a, days=1, status=Status.IGNORED)
    foreign = body(make_instance(company=company_b), days=3, status=Status.PROCESSED)

    assert purge(company_a, batch_size=2, max_batches=2) == (4, True)
    assert purge(company_a, batch_size=2, max_batches=2) == (1, False)
    assert remaining(company_a) == sorted([pending.pk, recent.pk])
    assert remaining(company_b) == [foreign.pk]


@pytest.mark.django_db
def test_beat_fans_out_only_to_companies_with_old_finished_bodies(company_a, company_b):
    body(make_instance(company=company_a), days=8, status=Status.IGNORED)
    body(make_instance(company=company_b), days=30, status=Status.PENDING)  # old, but pending
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        assert tasks.purge_old_inbound_events.apply().get() == 1
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True)
def test_beat_and_a_real_worker_purge_in_chained_runs(company_a, company_b, monkeypatch):
    monkeypatch.setattr(services, "INBOUND_PURGE_BATCH", 2)
    monkeypatch.setattr(services, "INBOUND_PURGE_MAX_BATCHES", 1)
    monkeypatch.setattr(tasks, "PURGE_CHAIN_COUNTDOWN", 0)
    line_a, line_b = make_instance(company=company_a), make_instance(company=company_b)
    for _ in range(5):
        body(line_a, days=10, status=Status.PROCESSED)
    pending = body(line_a, days=10, status=Status.PENDING)
    body(line_b, days=10, status=Status.IGNORED)
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        assert tasks.purge_old_inbound_events.apply().get() == 2
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (remaining(company_a), remaining(company_b)) != ([pending.pk], []):
            time.sleep(0.1)
    assert remaining(company_a) == [pending.pk]
    assert remaining(company_b) == []
