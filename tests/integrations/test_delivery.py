"""Delivery: signed per Standard Webhooks, retried with backoff from a persisted schedule, disabled on 410
or a day of failures, replayable; the SSRF guard. Real PostgreSQL, a real HTTP receiver, tasks via apply()."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import TestCase
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from config.celery import app
from integrations import services, signing, tasks
from integrations.models import RESPONSE_EXCERPT_LIMIT, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tenants.scoping import company_scope, current_company
from tests.factories import make_member

Status = WebhookDelivery.Status


def emit(company, event_type="contact.created", data=None) -> WebhookDelivery | None:
    with company_scope(company):
        body = services.event_emit(company=company, event_type=event_type, payload=data or {"contact": {"id": "c1"}})
        return WebhookDelivery.objects.filter(event__event_id=body["id"]).first()


def deliver(company, delivery) -> str:
    return tasks.deliver_webhook.apply(args=[company.pk, delivery.pk]).get()


def make_due(company, delivery) -> None:
    """Time travel: the scheduled retry is due now."""
    with company_scope(company):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def fresh(company, obj):
    with company_scope(company):
        obj.refresh_from_db()
    return obj


@pytest.mark.django_db
def test_body_and_signature_verify_with_standardwebhooks(company_a, endpoint_a, receiver):
    delivery = emit(company_a, data={"contact": {"id": "c1", "name": "Ana"}})
    assert deliver(company_a, delivery) == "succeeded"
    request = receiver.requests[0]
    body = Webhook(endpoint_a.secret).verify(request.body, request.headers)
    assert body["type"] == "contact.created" and body["id"].startswith("evt_") and body["version"] == 1
    assert body["company"] == {"id": str(company_a.public_id), "slug": "alpha"}
    assert body["data"] == {"contact": {"id": "c1", "name": "Ana"}}
    assert body["timestamp"].endswith("Z")
    assert request.headers["webhook-id"] == body["id"]
    assert endpoint_a.secret.startswith("whsec_")
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.secret_generate()).verify(request.body, request.headers)
    delivery = fresh(company_a, delivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Status.SUCCEEDED, 1, 200)


@pytest.mark.django_db
def test_event_filter_and_inactive_endpoints(company_a, receiver):
    with company_scope(company_a):
        only_messages = services.endpoint_create(company=company_a, url=receiver.url,
                                                 event_types=["message.received"]).endpoint
        services.endpoint_create(company=company_a, url=receiver.url, is_active=False)
    assert emit(company_a, "contact.created") is None  # nobody wants it: no event row, no delivery
    delivery = emit(company_a, "message.received")
    assert delivery.endpoint_id == only_messages.pk
    with company_scope(company_a):
        assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_receiver_fails_then_recovers_with_backoff(company_a, endpoint_a, receiver):
    receiver.statuses = [500, 503, 200]
    delivery = emit(company_a)
    before = timezone.now()
    assert deliver(company_a, delivery) == "retrying"
    delivery = fresh(company_a, delivery)
    assert delivery.status == Status.PENDING and delivery.last_status_code == 500
    assert timedelta(seconds=4) <= delivery.next_attempt_at - before <= timedelta(seconds=7)
    assert deliver(company_a, delivery) == "skipped"  # not due yet: an early copy of the task does nothing
    make_due(company_a, delivery)
    assert deliver(company_a, delivery) == "retrying"
    delivery = fresh(company_a, delivery)
    assert timedelta(minutes=4) <= delivery.next_attempt_at - timezone.now() <= timedelta(minutes=6)
    endpoint = fresh(company_a, endpoint_a.endpoint)
    assert endpoint.failing_since is not None and "503" in endpoint.last_error
    make_due(company_a, delivery)
    assert deliver(company_a, delivery) == "succeeded"
    assert len(receiver.requests) == 3
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 1  # same event id each time
    endpoint = fresh(company_a, endpoint)
    assert endpoint.failing_since is None and endpoint.last_error == ""
    with company_scope(company_a):
        attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [attempt.status_code for attempt in attempts] == [500, 503, 200]
    assert [attempt.number for attempt in attempts] == [1, 2, 3]
    assert len(attempts[0].response_excerpt) == RESPONSE_EXCERPT_LIMIT


def test_retry_schedule_spans_about_a_day_with_jitter():
    assert services.MAX_ATTEMPTS == 8
    total = sum(services.RETRY_DELAYS)
    assert timedelta(hours=20) < timedelta(seconds=total) < timedelta(hours=30)
    delays = {round(services.retry_delay(1), 3) for _ in range(20)}
    assert len(delays) > 1 and all(4.5 <= delay <= 5.5 for delay in delays)


@pytest.mark.django_db
def test_gives_up_after_the_last_attempt(company_a, endpoint_a, receiver):
    receiver.statuses = [500]
    delivery = emit(company_a)
    for _attempt in range(services.MAX_ATTEMPTS - 1):
        assert deliver(company_a, delivery) == "retrying"
        make_due(company_a, delivery)
    assert deliver(company_a, delivery) == "failed"
    delivery = fresh(company_a, delivery)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Status.FAILED, 8, None)


@pytest.mark.django_db
def test_410_disables_the_endpoint_and_parks_pending_deliveries(company_a, owner_a, endpoint_a, receiver):
    receiver.statuses = [410]
    first, second = emit(company_a), emit(company_a)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert deliver(company_a, first) == "gone"
    endpoint = fresh(company_a, endpoint_a.endpoint)
    assert not endpoint.is_active and endpoint.disabled_at and "410" in endpoint.disabled_reason
    assert fresh(company_a, second).status == Status.DISABLED
    assert fresh(company_a, first).status == Status.FAILED
    assert deliver(company_a, second) == "skipped"
    assert len(receiver.requests) == 1
    assert [message.to for message in mail.outbox] == [["alice@alpha.test"]]
    assert emit(company_a) is None  # a disabled endpoint gets nothing new


@pytest.mark.django_db
def test_a_day_of_failures_disables_and_emails_owners_and_admins(company_a, owner_a, member_a, endpoint_a, receiver):
    make_member(company=company_a, role="admin", email="ada@alpha.test")
    receiver.statuses = [502]
    delivery = emit(company_a)
    with company_scope(company_a):  # the streak started 25 hours ago (timestamps, no sleeping)
        WebhookEndpoint.objects.filter(pk=endpoint_a.endpoint.pk).update(
            failing_since=timezone.now() - timedelta(hours=25))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert deliver(company_a, delivery) == "disabled"
    endpoint = fresh(company_a, endpoint_a.endpoint)
    assert not endpoint.is_active and "24 hours" in endpoint.disabled_reason
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["ada@alpha.test", "alice@alpha.test"]  # not the agent
    assert endpoint.url in mail.outbox[0].body and "502" in mail.outbox[0].body


@pytest.mark.django_db
def test_a_recent_failure_streak_keeps_retrying(company_a, endpoint_a, receiver):
    receiver.statuses = [502]
    delivery = emit(company_a)
    with company_scope(company_a):
        WebhookEndpoint.objects.filter(pk=endpoint_a.endpoint.pk).update(
            failing_since=timezone.now() - timedelta(hours=23))
    assert deliver(company_a, delivery) == "retrying"
    assert fresh(company_a, endpoint_a.endpoint).is_active
    assert mail.outbox == []


@pytest.mark.django_db
def test_network_errors_and_timeouts_retry(company_a, receiver):
    with company_scope(company_a):
        endpoint = services.endpoint_create(company=company_a, url="http://127.0.0.1:9/closed").endpoint
    delivery = emit(company_a)
    assert deliver(company_a, delivery) == "retrying"
    delivery = fresh(company_a, delivery)
    assert delivery.last_status_code is None and delivery.last_error
    with company_scope(company_a):
        attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and attempt.error
    assert fresh(company_a, endpoint).last_error


@pytest.mark.django_db
def test_replay_sends_again_with_the_same_event_id(company_a, endpoint_a, receiver):
    delivery = emit(company_a)
    assert deliver(company_a, delivery) == "succeeded"
    with company_scope(company_a):
        services.delivery_replay(company=company_a, delivery=fresh(company_a, delivery))
    delivery = fresh(company_a, delivery)
    assert (delivery.status, delivery.attempts) == (Status.PENDING, 0)
    assert deliver(company_a, delivery) == "succeeded"
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.event.event_id] * 2
    with company_scope(company_a):
        assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


@pytest.mark.django_db
def test_test_event_goes_to_that_endpoint_whatever_its_filter(company_a, receiver):
    with company_scope(company_a):
        endpoint = services.endpoint_create(company=company_a, url=receiver.url,
                                            event_types=["message.sent"]).endpoint
        delivery = services.endpoint_send_test(company=company_a, endpoint=endpoint)
    assert deliver(company_a, delivery) == "succeeded"
    assert json.loads(receiver.requests[0].body)["type"] == "webhook.test"


@pytest.mark.django_db
def test_rotation_signs_with_both_secrets_for_a_day(company_a, endpoint_a, receiver):
    old_secret = endpoint_a.secret
    with company_scope(company_a):
        new_secret = services.endpoint_rotate_secret(company=company_a, endpoint=endpoint_a.endpoint).secret
    assert new_secret != old_secret
    assert deliver(company_a, emit(company_a)) == "succeeded"
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)
    with company_scope(company_a):  # the overlap ends
        WebhookEndpoint.objects.filter(pk=endpoint_a.endpoint.pk).update(
            previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    assert deliver(company_a, emit(company_a)) == "succeeded"
    request = receiver.requests[-1]
    Webhook(new_secret).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request.body, request.headers)


@pytest.mark.django_db
def test_beat_reenqueues_only_due_unleased_pending_deliveries(company_a, company_b, endpoint_a, receiver):
    now = timezone.now()
    due, leased, later, done = (emit(company_a) for _ in range(4))
    with company_scope(company_a):
        WebhookDelivery.objects.filter(pk=due.pk).update(next_attempt_at=now - timedelta(minutes=1),
                                                         lease_until=now - timedelta(minutes=1))  # worker died
        WebhookDelivery.objects.filter(pk=leased.pk).update(lease_until=now + timedelta(minutes=1))
        WebhookDelivery.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(hours=1))
        WebhookDelivery.objects.filter(pk=done.pk).update(status=Status.SUCCEEDED)
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        assert tasks.retry_due_deliveries.apply().get() == 1
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True)
def test_worker_restart_mid_schedule_loses_nothing(company_a, endpoint_a, receiver):
    """A worker died holding the delivery (lease left behind, broker message gone); the beat scan picks it up
    once the lease expires and a fresh worker delivers it."""
    receiver.statuses = [500, 200]
    delivery = emit(company_a)  # transaction=True: on_commit ran, so a task sits in the broker; drop it
    app.control.purge()
    assert deliver(company_a, delivery) == "retrying"
    app.control.purge()  # the countdown retry is lost with the "crashed" worker too
    with company_scope(company_a):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(minutes=10), lease_until=timezone.now() - timedelta(minutes=8))
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        assert tasks.retry_due_deliveries.apply().get() == 1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and fresh(company_a, delivery).status != Status.SUCCEEDED:
            time.sleep(0.1)
    delivery = fresh(company_a, delivery)
    assert (delivery.status, delivery.attempts) == (Status.SUCCEEDED, 2)
    assert len(receiver.requests) == 2
    assert current_company() is None


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://10.1.2.3/", "http://169.254.169.254/latest",
                                 "http://[::1]/", "http://192.168.0.10/", "http://localhost/",
                                 "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"])
def test_ssrf_guard_refuses_private_addresses_by_default(settings, company_a, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    with company_scope(company_a), pytest.raises(ValidationError) as error:
        services.endpoint_create(company=company_a, url=url)
    assert "url" in error.value.message_dict
    with company_scope(company_a):
        assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_ssrf_guard_runs_again_at_delivery_time(settings, company_a, endpoint_a, receiver):
    """DNS may point elsewhere by the time we send (rebinding): the address is checked on every attempt."""
    delivery = emit(company_a)
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    assert deliver(company_a, delivery) == "retrying"
    assert receiver.requests == []
    assert "private" in fresh(company_a, delivery).last_error


@pytest.mark.django_db
def test_unknown_event_types_are_refused(company_a, receiver):
    with company_scope(company_a):
        with pytest.raises(ValidationError):
            services.endpoint_create(company=company_a, url=receiver.url, event_types=["nope"])
        with pytest.raises(ValueError):
            services.event_emit(company=company_a, event_type="nope", payload={})


@pytest.mark.django_db
def test_a_name_resolving_to_several_addresses_reaches_the_listening_one(company_a, receiver):
    """localhost may resolve to ::1 first while the receiver listens on 127.0.0.1 only; Host keeps the name."""
    port = receiver.server.server_address[1]
    with company_scope(company_a):
        services.endpoint_create(company=company_a, url=f"http://localhost:{port}/hook")
    assert deliver(company_a, emit(company_a)) == "succeeded"
    assert {name.lower(): value for name, value in receiver.requests[0].headers.items()}["host"] == f"localhost:{port}"


@pytest.mark.django_db
def test_an_event_under_a_dedupe_key_is_recorded_and_delivered_once_per_company(company_a, company_b, endpoint_a):
    """The same key again (a redelivered emitter) records nothing and pushes nothing; another company's identical
    key is its own."""
    from integrations.models import WebhookEvent

    with company_scope(company_b):
        endpoint_b = services.endpoint_create(company=company_b, url="http://127.0.0.1:9/b")
    for company in (company_a, company_a, company_b):
        with company_scope(company):
            services.event_emit(company=company, event_type="contact.updated", payload={"contact": {"id": "c1"}},
                                dedupe_key="contact.updated:batch-1:7")
    with company_scope(company_a):
        assert WebhookEvent.objects.filter(dedupe_key="contact.updated:batch-1:7").count() == 1
        assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [endpoint_a.endpoint.pk]
    with company_scope(company_b):
        assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [endpoint_b.endpoint.pk]


# --- deleting an endpoint while one of its deliveries is being sent ------------------------------------------


def _attempt_in_a_thread(company, delivery, outcome: list) -> threading.Thread:
    """A worker's attempt of the delivery on a thread of its own (its own connection), its result or error in
    `outcome`."""
    def attempt() -> None:
        try:
            with company_scope(company):
                outcome.append(services.delivery_attempt(company=company, delivery_id=delivery.pk))
        except Exception as error:  # reported to the test
            outcome.append(error)
        finally:
            connection.close()

    return threading.Thread(target=attempt)


@pytest.mark.django_db(transaction=True)
def test_an_attempt_recorded_while_the_endpoint_is_deleted_cannot_fail_the_delete(
        company_a, company_b, endpoint_a, receiver):
    """The 500: a worker recorded its attempt between the delete's cascade over the attempts and its DELETE of the
    deliveries, so the new attempt pointed at a deleted delivery and the delete's commit failed."""
    delivery = emit(company_a)
    with company_scope(company_b):
        endpoint_b = services.endpoint_create(company=company_b, url=receiver.url).endpoint
    delivery_b = emit(company_b)
    app.control.purge()  # transaction=True: the emits' tasks sit in the broker; this test runs the attempt itself
    outcome: list = []
    threads: list[threading.Thread] = []

    def an_attempt_is_recorded_meanwhile(execute, sql, params, many, context):
        if sql.startswith(f'DELETE FROM "{WebhookDelivery._meta.db_table}"') and not threads:
            threads.append(_attempt_in_a_thread(company_a, delivery, outcome))
            threads[0].start()
            threads[0].join(timeout=2)  # recorded at once (nothing to wait for), or waits for the delete's commit
        return execute(sql, params, many, context)

    with company_scope(company_a), connection.execute_wrapper(an_attempt_is_recorded_meanwhile):
        services.endpoint_delete(company=company_a, endpoint=endpoint_a.endpoint)
    threads[0].join(timeout=10)
    assert outcome == ["deleted"]  # sent, then found its endpoint gone: nothing recorded, no error
    assert len(receiver.requests) == 1
    assert not WebhookEndpoint.all_companies.filter(pk=endpoint_a.endpoint.pk).exists()
    assert not WebhookDelivery.all_companies.filter(endpoint_id=endpoint_a.endpoint.pk).exists()
    assert not WebhookAttempt.all_companies.filter(delivery_id=delivery.pk).exists()
    # The other company's endpoint and delivery are untouched.
    assert WebhookDelivery.all_companies.get(pk=delivery_b.pk).endpoint_id == endpoint_b.pk


@pytest.mark.django_db(transaction=True)
def test_a_delivery_whose_endpoint_is_deleted_while_it_is_on_the_wire_ends_quietly(company_a, endpoint_a, receiver):
    delivery = emit(company_a)
    app.control.purge()

    def delete_the_endpoint() -> None:  # on the receiver's thread, while the worker waits for the answer
        try:
            with company_scope(company_a):
                services.endpoint_delete(company=company_a, endpoint=endpoint_a.endpoint)
        finally:
            connection.close()

    receiver.while_answering = delete_the_endpoint
    assert deliver(company_a, delivery) == "deleted"
    assert len(receiver.requests) == 1
    assert not WebhookEndpoint.all_companies.filter(pk=endpoint_a.endpoint.pk).exists()
    assert not WebhookAttempt.all_companies.filter(delivery_id=delivery.pk).exists()


# --- replaying a delivery while it is being sent --------------------------------------------------------------

BEING_SENT = ("This delivery is being sent right now: replay it once this attempt is over, if it still needs to go "
              "again.")


@pytest.mark.django_db(transaction=True)
def test_a_replay_while_a_worker_sends_the_delivery_is_refused_so_it_goes_once(company_a, endpoint_a, receiver):
    """The replay cleared the lease of the attempt on the wire, so the replay's task claimed the delivery too and
    sent it a second time at once."""
    delivery = emit(company_a)
    app.control.purge()
    meanwhile: list = []

    def replay_and_run_its_task() -> None:  # on the receiver's thread, while the worker waits for the answer
        if meanwhile:
            return
        try:
            with company_scope(company_a):
                try:
                    services.delivery_replay(company=company_a, delivery=fresh(company_a, delivery))
                    meanwhile.append("replayed")
                except services.DeliveryBeingSent as error:
                    meanwhile.append(error.message)
                meanwhile.append(services.delivery_attempt(company=company_a, delivery_id=delivery.pk))
        finally:
            connection.close()

    receiver.while_answering = replay_and_run_its_task
    assert deliver(company_a, delivery) == "succeeded"
    assert meanwhile == [BEING_SENT, "skipped"]
    assert len(receiver.requests) == 1
    delivery = fresh(company_a, delivery)
    assert (delivery.status, delivery.attempts) == (Status.SUCCEEDED, 1)
    with company_scope(company_a):  # once the attempt is over, a replay goes through
        services.delivery_replay(company=company_a, delivery=delivery)
    app.control.purge()
    assert fresh(company_a, delivery).status == Status.PENDING
