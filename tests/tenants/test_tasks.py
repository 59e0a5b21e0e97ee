"""company_task: a Celery task body runs inside its company's scope, and leaves no context behind."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from tenants.models import ApiKey
from tenants.scoping import company_scope, current_company
from tenants.tasks import company_task


@company_task(name="tests.record_scope")
def record_scope(company, label: str) -> str:
    """Create a key named after what the task sees, so the test can observe it from the database."""
    from tenants import services

    seen = current_company()
    services.api_key_create(company=company, name=f"{label}:{seen.slug}:{ApiKey.objects.count()}")
    return seen.slug


@pytest.mark.django_db
def test_task_body_runs_in_its_company_scope(company_a, company_b, api_key_b):
    result = record_scope.apply(args=[company_a.pk, "eager"])
    assert result.get() == "alpha"
    assert current_company() is None
    with company_scope(company_a):
        assert list(ApiKey.objects.values_list("name", flat=True)) == ["eager:alpha:0"]


@pytest.mark.django_db
def test_task_for_a_deleted_company_is_a_no_op(company_a):
    company_id = company_a.pk
    company_a.delete()
    assert record_scope.apply(args=[company_id, "gone"]).get() is None


@pytest.mark.django_db(transaction=True)
def test_task_travels_through_the_real_broker_and_worker(company_a):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        record_scope.delay(company_a.pk, "queued")
        deadline = time.monotonic() + 20
        names: list[str] = []
        while time.monotonic() < deadline and not names:
            with company_scope(company_a):
                names = list(ApiKey.objects.values_list("name", flat=True))
            time.sleep(0.1)
    assert names == ["queued:alpha:0"]
    assert current_company() is None
