"""The hot path of gateway events: the hook served from ASGI without the middleware, and the drain that applies
stored events (instances/inbound.py). Real PostgreSQL, Redis, broker and worker; the simulator's real bodies."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from datetime import timedelta

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.utils import timezone

from config.asgi import application
from config.celery import app
from instances import inbound
from instances.models import InboundEvent, InstanceState
from instances.tasks import sweep_pending_inbound
from tenants import redis_scripts
from tenants.scoping import company_scope
from tests.instances.conftest import create_instance
from tests.instances.test_hooks import bodies, connect_and_scan, hook_path, refreshed
from tests.realtime_listener import Listener

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _broker_left_empty():
    """Drains woken here and not run by a test are dropped, so no later test's worker picks them up."""
    yield
    app.control.purge()


def asgi_post(path: str, body: bytes | object, *, host: str = "testserver", method: str = "POST") -> httpx.Response:
    """A request through config.asgi.application, as uvicorn would hand it over."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return await client.request(method, path, content=content, headers={"Content-Type": "application/json"})

    return asyncio.run(send())


def state_bodies(simulator, instance, count: int) -> list[dict]:
    """`count` distinct connection.update bodies (each its own date_time, so each is a new event)."""
    opened = bodies(simulator, instance, "CONNECTION_UPDATE")[-1]
    made = []
    for number in range(count):
        body = copy.deepcopy(opened)
        body["date_time"] = f"2026-01-01T00:00:{number:02d}.000Z"
        made.append(body)
    return made


def slot_held(company_id: int, slot: int) -> bool:
    return bool(redis_scripts.client().exists(f"{inbound._slot_prefix(company_id)}{slot}"))


def test_the_asgi_hook_stores_once_and_answers_like_the_view(company_a, company_b, gateway_server, simulator,
                                                             settings):
    instance_a, instance_b = create_instance(company_a, "sales"), create_instance(company_b, "sales")
    connect_and_scan(company_a, instance_a, simulator)
    body = bodies(simulator, instance_a, "CONNECTION_UPDATE")[-1]
    path_a, path_b = hook_path(simulator, instance_a), hook_path(simulator, instance_b)

    stored = asgi_post(path_a, body)
    assert (stored.status_code, stored.json()) == (200, {"status": "stored"})
    assert asgi_post(path_a, body).json() == {"status": "duplicate"}
    # Company B's secret with company A's body: stored for B's instance, never A's.
    assert asgi_post(path_b, body).json() == {"status": "stored"}
    assert sorted(InboundEvent.all_companies.values_list("company_id", "instance_id")) == sorted(
        [(company_a.pk, instance_a.pk), (company_b.pk, instance_b.pk)])
    # The "webhook by events" suffix names the event when the body does not.
    unnamed = {key: value for key, value in body.items() if key != "event"} | {"date_time": "2026-01-02T00:00:00Z"}
    assert asgi_post(path_a + "connection-update", unnamed).json() == {"status": "stored"}
    assert InboundEvent.all_companies.filter(instance=instance_a).order_by("pk").last().event == "CONNECTION_UPDATE"

    assert asgi_post("/hooks/evolution/not-a-secret/", body).status_code == 404
    assert asgi_post(path_a, b"not json").status_code == 400
    assert asgi_post(path_a, ["a list"]).status_code == 400
    refused = asgi_post(path_a, body | {"date_time": "2026-01-04T00:00:00Z", "note": "a\u0000b"})
    assert refused.status_code == 400 and "cannot be stored" in refused.json()["error"]  # PostgreSQL's jsonb
    # JSON in UTF-16 (which json.loads reads) is stored as the object it is.
    utf16 = asgi_post(path_a, json.dumps(body | {"date_time": "2026-01-05T00:00:00Z"}).encode("utf-16"))
    assert utf16.json() == {"status": "stored"}
    assert InboundEvent.all_companies.order_by("pk").last().payload["date_time"] == "2026-01-05T00:00:00Z"
    assert asgi_post(path_a, body, host="evil.example").status_code == 400  # ALLOWED_HOSTS still applies
    assert asgi_post(path_a, b"", method="GET").status_code == 405  # not a POST: Django's own route answers
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert asgi_post(path_a, body | {"date_time": "2026-01-03T00:00:00Z"}).status_code == 413
    assert InboundEvent.all_companies.count() == 4


def test_a_wake_takes_the_first_free_slot_and_none_when_all_are_held(company_a, company_b, settings):
    settings.INBOUND_DRAIN_SLOTS = 2
    assert [inbound.inbound_wake(company_a.pk) for _ in range(3)] == [0, 1, None]
    assert inbound.inbound_wake(company_b.pk) == 0  # slots are per company
    assert slot_held(company_a.pk, 0) and slot_held(company_a.pk, 1) and slot_held(company_b.pk, 0)


def test_the_drain_applies_its_company_s_events_and_gives_its_slot_back(company_a, company_b, gateway_server,
                                                                       simulator):
    instance_a, instance_b = create_instance(company_a, "sales"), create_instance(company_b, "sales")
    connect_and_scan(company_a, instance_a, simulator)
    connect_and_scan(company_b, instance_b, simulator)
    for body in state_bodies(simulator, instance_a, 5):
        assert asgi_post(hook_path(simulator, instance_a), body).json() == {"status": "stored"}
    asgi_post(hook_path(simulator, instance_b), state_bodies(simulator, instance_b, 1)[0])
    assert slot_held(company_a.pk, 0) and slot_held(company_b.pk, 0)  # each hook woke its own company's drain

    with company_scope(company_a):
        assert inbound.inbound_drain(company=company_a, slot=0) == (5, False)
    assert not slot_held(company_a.pk, 0)
    applied = list(InboundEvent.all_companies.filter(company=company_a).order_by("pk")
                   .values_list("status", "processed_at"))
    assert [status for status, _ in applied] == ["processed"] * 5
    assert [moment for _, moment in applied] == sorted(moment for _, moment in applied)  # oldest first
    assert refreshed(instance_a).state == InstanceState.OPEN
    # Company B's event is not touched by A's drain.
    assert InboundEvent.all_companies.get(company=company_b).status == "pending"
    assert refreshed(instance_b).state != InstanceState.OPEN
    assert slot_held(company_b.pk, 0)


def test_an_event_stored_while_every_slot_is_held_is_left_to_the_running_drain(company_a, gateway_server, simulator,
                                                                               settings):
    """The hook sends no task when the slots are held; the drain holding one finds the event before it stops."""
    settings.INBOUND_DRAIN_SLOTS = 1
    instance = create_instance(company_a, "sales")
    connect_and_scan(company_a, instance, simulator)
    assert inbound.inbound_wake(company_a.pk) == 0  # a drain is running (or queued) for the company
    app.control.purge()
    assert asgi_post(hook_path(simulator, instance), state_bodies(simulator, instance, 1)[0]).json() == {
        "status": "stored"}
    assert redis_scripts.client().llen("default") == 0  # the hook's wake enqueued no drain (the broker's queue)
    with company_scope(company_a):
        assert inbound.inbound_drain(company=company_a, slot=0) == (1, False)
    assert InboundEvent.all_companies.get().status == "processed"
    assert not slot_held(company_a.pk, 0)


def test_a_drain_that_found_nothing_lingers_and_the_next_event_s_hook_wakes_it_instead_of_sending_a_task(
        company_a, company_b, gateway_server, simulator, settings):
    """While a drain lingers (INBOUND_DRAIN_LINGER_MS), the hook of the next event of its partition leaves a
    wake-up in Redis instead of a task: the same drain applies it and goes on lingering until its deadline.
    Company B's hook, meanwhile, starts B's own drain."""
    settings.INBOUND_DRAIN_SLOTS, settings.INBOUND_DRAIN_LINGER_MS = 1, 5000
    instance, instance_b = create_instance(company_a, "sales"), create_instance(company_b, "sales")
    connect_and_scan(company_a, instance, simulator)
    connect_and_scan(company_b, instance_b, simulator)
    first, second = state_bodies(simulator, instance, 2)
    assert asgi_post(hook_path(simulator, instance), first).json() == {"status": "stored"}
    app.control.purge()  # the first event's task: this test runs that drain itself, in a thread
    result: list = []

    def drain() -> None:
        try:
            with company_scope(company_a):
                result.append(inbound.inbound_drain(company=company_a, slot=0, seconds=3))
        finally:
            connection.close()

    runner = threading.Thread(target=drain)
    runner.start()
    events = InboundEvent.all_companies.filter(company=company_a).order_by("pk")
    for _ in range(100):  # the first event applied: the drain now lingers
        if events.first().status == "processed":
            break
        time.sleep(0.02)
    assert asgi_post(hook_path(simulator, instance), second).json() == {"status": "stored"}
    assert redis_scripts.client().llen("default") == 0  # the hook sent no task: it woke the lingering drain
    asgi_post(hook_path(simulator, instance_b), state_bodies(simulator, instance_b, 1)[0])
    assert redis_scripts.client().llen("default") == 1  # B's event: B's own drain, as always
    runner.join(timeout=10)
    # Both applied by that one drain, which lingered on to its deadline and stopped with nothing left (had the
    # wake-up not come, it would have waited there with the second event still pending: (1, True)).
    assert result == [(2, False)]
    assert list(events.values_list("status", flat=True)) == ["processed", "processed"]
    assert InboundEvent.all_companies.get(company=company_b).status == "pending"


def test_a_lingering_drain_nobody_wakes_gives_its_slot_back(company_a, gateway_server, simulator, settings):
    settings.INBOUND_DRAIN_SLOTS, settings.INBOUND_DRAIN_LINGER_MS = 1, 300
    instance = create_instance(company_a, "sales")
    connect_and_scan(company_a, instance, simulator)
    assert asgi_post(hook_path(simulator, instance), state_bodies(simulator, instance, 1)[0]).json() == {
        "status": "stored"}
    with company_scope(company_a):
        assert inbound.inbound_drain(company=company_a, slot=0) == (1, False)
    assert not slot_held(company_a.pk, 0)
    assert not redis_scripts.client().exists(f"{inbound._slot_prefix(company_a.pk)}0:wake")


@pytest.mark.parametrize(("batch", "frames"), [(20, 1), (2, 3)])
def test_a_backlog_is_applied_in_batches_with_one_inbox_frame_each(company_a, company_b, gateway_server, simulator,
                                                                   settings, batch, frames):
    """Five customers' messages waiting: applied INBOUND_DRAIN_BATCH per transaction, and every open inbox gets
    one frame per batch carrying each message's row in arrival order. Company B's inbox hears nothing."""
    settings.INBOUND_DRAIN_BATCH, settings.INBOUND_DRAIN_SLOTS = batch, 1  # one partition: one drain takes all
    instance = create_instance(company_a, "sales")
    connect_and_scan(company_a, instance, simulator)
    ear_a, ear_b = Listener().join(company_a, "inbox"), Listener().join(company_b, "inbox")
    for number in range(5):
        simulator.inbound(instance.gateway_name, **{"from": f"5511990000{number:03d}", "push_name": f"Cliente {number}",
                                                     "text": f"batch-marker-{number}"})
    for body in bodies(simulator, instance, "MESSAGES_UPSERT"):
        assert asgi_post(hook_path(simulator, instance), body).json() == {"status": "stored"}

    with company_scope(company_a):
        assert inbound.inbound_drain(company=company_a, slot=0) == (5, False)
    assert list(InboundEvent.all_companies.filter(company=company_a, event="MESSAGES_UPSERT")
                .values_list("status", flat=True)) == ["processed"] * 5
    received = ear_a.drain()
    assert len(received) == frames
    everything = "".join(received)
    positions = [everything.index(f"batch-marker-{number}") for number in range(5)]
    assert positions == sorted(positions)
    assert ear_b.drain() == []


def test_each_chat_belongs_to_one_drain_slot_which_its_hook_wakes(company_a, company_b, gateway_server, simulator,
                                                                   settings):
    """Two slots: every chat's events go to one slot (its partition), the hook wakes that slot, and each drain
    applies its own partition alone, oldest first. Company B's events are in no drain of A's."""
    settings.INBOUND_DRAIN_SLOTS = 2
    instance, instance_b = create_instance(company_a, "sales"), create_instance(company_b, "sales")
    connect_and_scan(company_a, instance, simulator)
    connect_and_scan(company_b, instance_b, simulator)
    app.control.purge()
    redis_scripts.client().delete(f"{inbound._slot_prefix(company_a.pk)}0", f"{inbound._slot_prefix(company_a.pk)}1")
    InboundEvent.all_companies.update(status="processed")  # the connection's own events: not this test's
    chats = [f"5511990001{number:03d}" for number in range(8)]
    for round_ in range(2):
        for chat in chats:
            simulator.inbound(instance.gateway_name, **{"from": chat, "text": f"round {round_} of {chat}"})
    simulator.inbound(instance_b.gateway_name, **{"from": chats[0], "text": "b's own"})
    for body in bodies(simulator, instance, "MESSAGES_UPSERT"):
        asgi_post(hook_path(simulator, instance), body)
    asgi_post(hook_path(simulator, instance_b), bodies(simulator, instance_b, "MESSAGES_UPSERT")[-1])
    stored = list(InboundEvent.all_companies.filter(company=company_a, status="pending").order_by("pk"))
    assert len(stored) == 16

    applied_by = {}
    for slot in (0, 1):
        assert slot_held(company_a.pk, slot)  # the hook woke both partitions' drains: each has chats here
        before = set(InboundEvent.all_companies.filter(company=company_a, status="pending").values_list("pk",
                                                                                                          flat=True))
        with company_scope(company_a):
            handled, more = inbound.inbound_drain(company=company_a, slot=slot)
        done = before - set(InboundEvent.all_companies.filter(company=company_a, status="pending")
                            .values_list("pk", flat=True))
        assert (handled, more) == (len(done), False) and 0 < handled < 16
        applied_by.update(dict.fromkeys(done, slot))
    chat_of = {event.pk: event.payload["data"]["key"]["remoteJid"] for event in stored}
    slots_of_chat = {}
    for pk, slot in applied_by.items():
        slots_of_chat.setdefault(chat_of[pk], set()).add(slot)
    assert len(applied_by) == 16 and all(len(slots) == 1 for slots in slots_of_chat.values())
    assert InboundEvent.all_companies.get(company=company_b, event="MESSAGES_UPSERT").status == "pending"


def test_a_drain_out_of_time_keeps_its_slot_and_says_more(company_a, gateway_server, simulator):
    instance = create_instance(company_a, "sales")
    connect_and_scan(company_a, instance, simulator)
    asgi_post(hook_path(simulator, instance), state_bodies(simulator, instance, 1)[0])
    with company_scope(company_a):
        assert inbound.inbound_drain(company=company_a, slot=0, seconds=0) == (0, True)
    assert slot_held(company_a.pk, 0)
    assert InboundEvent.all_companies.get().status == "pending"


@pytest.fixture
def refuse_processing():
    """PostgreSQL refuses to mark one event processed or ignored: a real failure inside the apply's
    transaction (the drain's code is not touched)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION test_refuse_event() RETURNS trigger AS $$
            BEGIN
              IF NEW.status IN ('processed', 'ignored') AND NEW.payload->>'date_time' = '2026-01-01T00:00:01.000Z' THEN
                RAISE EXCEPTION 'refused by the test';
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_refuse_event BEFORE UPDATE ON instances_inboundevent
              FOR EACH ROW EXECUTE FUNCTION test_refuse_event();
        """)
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_refuse_event ON instances_inboundevent; DROP FUNCTION test_refuse_event()")


def test_an_event_that_raises_is_retried_then_kept_as_failed_without_blocking_the_rest(
        company_a, gateway_server, simulator, settings, refuse_processing):
    settings.INBOUND_MAX_ATTEMPTS = 2
    instance = create_instance(company_a, "sales")
    connect_and_scan(company_a, instance, simulator)
    for body in state_bodies(simulator, instance, 3):
        asgi_post(hook_path(simulator, instance), body)
    events = InboundEvent.all_companies.order_by("pk")

    with company_scope(company_a):
        assert inbound.inbound_drain(company=company_a, slot=0) == (3, False)
    assert [(event.status, event.attempts) for event in events] == [("processed", 0), ("pending", 1), ("processed", 0)]
    assert "refused by the test" in events[1].note

    with company_scope(company_a):  # the sweep's next drain tries it again; the second failure is the last
        assert inbound.inbound_drain(company=company_a, slot=0) == (1, False)
        assert inbound.inbound_drain(company=company_a, slot=0) == (0, False)
    failed = InboundEvent.all_companies.order_by("pk")[1]
    assert (failed.status, failed.attempts) == ("failed", 2)


def test_the_sweep_wakes_only_companies_whose_events_waited_too_long(company_a, company_b, gateway_server,
                                                                     simulator, settings):
    instance_a, instance_b = create_instance(company_a, "sales"), create_instance(company_b, "sales")
    for company, instance in ((company_a, instance_a), (company_b, instance_b)):
        connect_and_scan(company, instance, simulator)
        asgi_post(hook_path(simulator, instance), state_bodies(simulator, instance, 1)[0])
    redis_scripts.client().flushdb()  # as if both hooks' wakes had been lost with their tasks
    app.control.purge()
    InboundEvent.all_companies.filter(company=company_a).update(
        received_at=timezone.now() - timedelta(seconds=settings.INBOUND_SWEEP_AFTER_SECONDS + 1))

    # Which partition waits is not known to the sweep: every slot of company A gets a drain, none of B's.
    assert sweep_pending_inbound() == settings.INBOUND_DRAIN_SLOTS
    assert all(slot_held(company_a.pk, slot) for slot in range(settings.INBOUND_DRAIN_SLOTS))
    assert not any(slot_held(company_b.pk, slot) for slot in range(settings.INBOUND_DRAIN_SLOTS))


def test_a_burst_through_the_asgi_hook_is_applied_by_a_real_worker(company_a, gateway_server, simulator):
    instance = create_instance(company_a, "sales")
    connect_and_scan(company_a, instance, simulator)
    burst = state_bodies(simulator, instance, 30)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        assert {asgi_post(hook_path(simulator, instance), body).json()["status"] for body in burst} == {"stored"}
        # Done means every event applied and every drain stopped: a drain woken for the second slot may still be
        # queued when the first has applied everything; it runs, finds nothing and gives its slot back.
        def busy() -> bool:
            return (InboundEvent.all_companies.filter(status="pending").exists()
                    or slot_held(company_a.pk, 0) or slot_held(company_a.pk, 1))

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and busy():
            time.sleep(0.1)
    assert not InboundEvent.all_companies.filter(status="pending").exists()
    assert InboundEvent.all_companies.count() == 30
    assert refreshed(instance).state == InstanceState.OPEN
    assert not slot_held(company_a.pk, 0) and not slot_held(company_a.pk, 1)
