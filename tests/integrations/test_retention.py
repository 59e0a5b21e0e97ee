"""Retention of the webhook history (WEBHOOK_EVENT_RETENTION_DAYS): finished deliveries older than the period go
with their attempts, then their events; pending ones stay; each company only by its own rows; batches bounded.
Real PostgreSQL; the beat fan-out and the chained purge run on a real embedded Celery worker."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import TestCase
from django.utils import timezone

from config.celery import app
from integrations import services, tasks
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from tenants.scoping import company_scope, current_company

Status = WebhookDelivery.Status


def endpoint(company, url="http://127.0.0.1:9/hook"):
    with company_scope(company):
        return services.endpoint_create(company=company, url=url).endpoint


def history(company, endpoints, *, days: float, statuses: list[str], touched_days: float | None = None,
            attempts: int = 2) -> WebhookEvent:
    """An event `days` old with one delivery per endpoint (in `statuses`), last touched `touched_days` ago."""
    now = timezone.now()
    created = now - timedelta(days=days)
    touched = now - timedelta(days=days if touched_days is None else touched_days)
    with company_scope(company):
        event = WebhookEvent.objects.create(company=company, event_id=services._event_id(), type="contact.created",
                                            payload={"type": "contact.created"}, created_at=created)
        for target, status in zip(endpoints, statuses, strict=True):
            delivery = WebhookDelivery.objects.create(company=company, endpoint=target, event=event, status=status,
                                                      attempts=attempts, created_at=created, updated_at=touched)
            for number in range(1, attempts + 1):
                WebhookAttempt.objects.create(company=company, delivery=delivery, number=number, status_code=500,
                                              at=created)
    return event


def counts(company) -> tuple[int, int, int]:
    with company_scope(company):
        return WebhookEvent.objects.count(), WebhookDelivery.objects.count(), WebhookAttempt.objects.count()


def exists(company, event) -> bool:
    with company_scope(company):
        return WebhookEvent.objects.filter(pk=event.pk).exists()


def purge(company, **kwargs) -> services.Purged:
    with company_scope(company):
        return services.retention_purge(company=company, **kwargs)


@pytest.mark.django_db
def test_old_finished_history_goes_pending_and_recent_stay(company_a, company_b):
    first, second = endpoint(company_a), endpoint(company_a, "http://127.0.0.1:9/other")
    old = [history(company_a, [first], days=31, statuses=[status])
           for status in (Status.SUCCEEDED, Status.FAILED, Status.DISABLED)]
    old_pending = history(company_a, [first], days=40, statuses=[Status.PENDING])
    half_done = history(company_a, [first, second], days=35, statuses=[Status.SUCCEEDED, Status.PENDING])
    replayed = history(company_a, [first], days=60, touched_days=2, statuses=[Status.SUCCEEDED])  # replayed lately
    recent = history(company_a, [first], days=29, statuses=[Status.SUCCEEDED])
    with company_scope(company_a):  # an old event whose endpoint was deleted: no delivery left
        orphan = WebhookEvent.objects.create(company=company_a, event_id=services._event_id(), type="contact.created",
                                             payload={}, created_at=timezone.now() - timedelta(days=45))
    foreign = history(company_b, [endpoint(company_b)], days=90, statuses=[Status.SUCCEEDED])

    purged = purge(company_a)

    assert (purged.events, purged.deliveries, purged.attempts, purged.more) == (4, 4, 8, False)
    assert not any(exists(company_a, event) for event in [*old, orphan])
    assert all(exists(company_a, event) for event in (old_pending, half_done, replayed, recent))
    with company_scope(company_a):
        assert sorted(WebhookDelivery.objects.filter(event=half_done).values_list("status", flat=True)) == [
            Status.PENDING]
        assert not WebhookAttempt.objects.filter(delivery__event__in=[*old]).exists()
        assert WebhookAttempt.objects.filter(delivery__event=old_pending).count() == 2
    # Company B: untouched by A's purge, even with older rows; its own purge applies its own age.
    assert counts(company_b) == (1, 1, 2)
    assert purge(company_b).events == 1
    assert not exists(company_b, foreign)
    assert current_company() is None


@pytest.mark.django_db
def test_the_period_comes_from_the_setting(settings, company_a):
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 7
    target = endpoint(company_a)
    week_old = history(company_a, [target], days=8, statuses=[Status.SUCCEEDED])
    fresh = history(company_a, [target], days=6, statuses=[Status.FAILED])
    assert purge(company_a).events == 1
    assert not exists(company_a, week_old) and exists(company_a, fresh)


@pytest.mark.django_db
def test_batches_are_bounded_and_the_rest_waits_for_the_next_call(company_a, company_b):
    target = endpoint(company_a)
    for _ in range(7):
        history(company_a, [target], days=40, statuses=[Status.SUCCEEDED], attempts=1)
    blocked = history(company_a, [target], days=50, statuses=[Status.PENDING])  # the oldest: skipped, not stuck on
    history(company_b, [endpoint(company_b)], days=40, statuses=[Status.SUCCEEDED])

    first = purge(company_a, batch_size=3, max_batches=2)
    assert (first.events, first.more) == (5, True)  # 6 events read in 2 batches of 3, the pending one kept
    assert counts(company_a)[0] == 3
    second = purge(company_a, batch_size=3, max_batches=2)
    assert (second.events, second.more) == (2, False)
    assert counts(company_a) == (1, 1, 2) and exists(company_a, blocked)
    assert counts(company_b) == (1, 1, 2)


@pytest.mark.django_db
def test_beat_fans_out_only_to_companies_with_old_events(company_a, company_b):
    history(company_a, [endpoint(company_a)], days=31, statuses=[Status.SUCCEEDED])
    history(company_b, [endpoint(company_b)], days=3, statuses=[Status.SUCCEEDED])
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        assert tasks.purge_old_webhook_history.apply().get() == 1
    assert len(callbacks) == 1
    assert counts(company_a) == (1, 1, 2)  # the beat itself deletes nothing


@pytest.mark.django_db(transaction=True)
def test_beat_and_a_real_worker_purge_everything_in_bounded_chained_runs(company_a, company_b, monkeypatch):
    monkeypatch.setattr(services, "RETENTION_BATCH", 2)
    monkeypatch.setattr(services, "RETENTION_MAX_BATCHES", 1)
    monkeypatch.setattr(tasks, "PURGE_CHAIN_COUNTDOWN", 0)
    target_a, target_b = endpoint(company_a), endpoint(company_b)
    for _ in range(5):
        history(company_a, [target_a], days=31, statuses=[Status.SUCCEEDED], attempts=1)
    kept = history(company_a, [target_a], days=1, statuses=[Status.SUCCEEDED], attempts=1)
    for _ in range(3):
        history(company_b, [target_b], days=31, statuses=[Status.FAILED], attempts=1)
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        assert tasks.purge_old_webhook_history.apply().get() == 2
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (counts(company_a)[0], counts(company_b)[0]) != (1, 0):
            time.sleep(0.1)
    assert counts(company_a) == (1, 1, 1) and exists(company_a, kept)
    assert counts(company_b) == (0, 0, 0)
    assert current_company() is None


@pytest.mark.django_db
def test_the_settings_pages_say_how_long_deliveries_are_kept(settings, client_a, client_b, company_a):
    settings.WEBHOOK_EVENT_RETENTION_DAYS = 14
    target = endpoint(company_a)
    base = f"/c/{company_a.slug}/settings/webhooks/"
    for url in (base, f"{base}{target.public_id}/", f"{base}{target.public_id}/deliveries/"):
        response = client_a.get(url)
        assert response.status_code == 200, url
        assert "kept 14 days after their last attempt" in response.content.decode(), url
    client_a.post("/i18n/setlang/", {"language": "pt-br", "next": base})
    assert "guardadas 14 dias após a última tentativa" in client_a.get(base).content.decode()
    assert client_b.get(f"{base}{target.public_id}/").status_code == 404  # another company's endpoint
