"""Bulk sends in parallel over the same chats, in every order: none fails (each locks its conversations in one
order and retries a deadlock PostgreSQL broke), every message is stored once; a bulk's live pushes leave after
its real commit, together. Real PostgreSQL and Redis, committed transactions from several threads."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from messaging.models import Message
from tenants.scoping import company_scope
from tests.threads import run_side_by_side

pytestmark = pytest.mark.django_db(transaction=True)

NUMBERS = [f"55119444400{index:02d}" for index in range(6)]


def test_parallel_bulk_sends_over_shared_chats_all_succeed(api_key_a, instance_a, company_a, api_key_b, instance_b,
                                                          company_b):
    statuses: list[int] = []
    lock = threading.Lock()

    def client_for(key) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
        return client

    def worker(seed: int, key, instance) -> None:
        order = random.Random(seed)
        client = client_for(key)
        try:
            for round_ in range(4):
                numbers = order.sample(NUMBERS, len(NUMBERS))
                messages = [{"instance_id": str(instance.public_id), "number": number, "text": f"{seed}-{round_}"}
                            for number in numbers]
                response = client.post("/api/v1/messages/bulk", {"messages": messages}, format="json")
                with lock:
                    statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed, api_key_a, instance_a)) for seed in range(6)]
    threads.append(threading.Thread(target=worker, args=(99, api_key_b, instance_b)))  # company B, same numbers
    run_side_by_side(threads, timeout=120)
    assert statuses == [202] * len(statuses) and len(statuses) == 28, statuses
    with company_scope(company_a):
        assert Message.objects.count() == 6 * 4 * len(NUMBERS)
        assert Message.objects.values("conversation").distinct().count() == len(NUMBERS)
    with company_scope(company_b):
        assert Message.objects.count() == 4 * len(NUMBERS)


def test_a_bulk_send_is_stored_in_one_insert_and_pushes_one_frame_per_page(api_key_a, instance_a, company_a,
                                                                             company_b):
    """Twenty messages to three chats naming one instance: one lookup of it, one INSERT, one touch per chat, in
    order; after the commit an open inbox gets the bulk's rows in one frame, not two frames per message. Company
    B's inbox hears nothing."""
    from django.test.utils import CaptureQueriesContext

    from tests.realtime_listener import Listener

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_a.secret}")
    ear_a, ear_b = Listener().join(company_a, "inbox"), Listener().join(company_b, "inbox")
    items = [{"instance_id": str(instance_a.public_id), "number": NUMBERS[index % 3], "text": f"lote {index}"}
             for index in range(20)]
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/messages/bulk", {"messages": items}, format="json")
    assert response.status_code == 202, response.content
    statements = [query["sql"] for query in queries.captured_queries]
    lookups = [sql for sql in statements if sql.startswith("SELECT") and 'FROM "instances_instance"' in sql
               and '"instances_instance"."public_id" = ' in sql]
    assert len(lookups) == 1
    # Stored together: one INSERT for the twenty, one touch per chat.
    assert len([sql for sql in statements if sql.startswith('INSERT INTO "messaging_message"')]) == 1
    assert len([sql for sql in statements if sql.startswith('UPDATE "messaging_conversation"')]) == 3
    with company_scope(company_a):
        stored = list(Message.objects.order_by("pk").values_list("text", flat=True))
    assert stored == [f"lote {index}" for index in range(20)]
    frames = ear_a.drain()
    assert len(frames) == 1 and all(f"lote {index}" in frames[0]
                                    for index in (17, 18, 19))  # each chat's row, drawn once, in one frame
    assert ear_b.drain() == []


@pytest.mark.django_db
def test_a_bulk_broken_by_deadlocks_is_retried_then_refused_with_503_and_stores_nothing(api_a, api_b, instance_a,
                                                                                         instance_b, company_a,
                                                                                         company_b):
    """PostgreSQL itself raises deadlock_detected (a trigger raising SQLSTATE 40P01, as a real deadlock against
    an inbound batch does): once, the bulk is tried again and stored; every time, it is refused with a 503
    problem and Retry-After, nothing of it stored. Company B's bulk meanwhile is stored as usual."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE recado_test_deadlocks")
        cursor.execute("""
            CREATE FUNCTION recado_test_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.text = 'deadlock always'
                   OR (NEW.text = 'deadlock once' AND nextval('recado_test_deadlocks') = 1) THEN
                    RAISE EXCEPTION 'simulated deadlock' USING ERRCODE = 'deadlock_detected';
                END IF;
                RETURN NEW;
            END $$""")
        cursor.execute("CREATE TRIGGER recado_test_deadlock BEFORE INSERT ON messaging_message "
                       "FOR EACH ROW EXECUTE FUNCTION recado_test_deadlock()")

    def bulk(client, instance, *texts: str):
        return client.post("/api/v1/messages/bulk", {"messages": [
            {"instance_id": str(instance.public_id), "number": NUMBERS[index], "text": text}
            for index, text in enumerate(texts)]}, format="json")

    once = bulk(api_a, instance_a, "antes", "deadlock once")
    assert once.status_code == 202, once.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM recado_test_deadlocks")
        assert cursor.fetchone()[0] == 2  # refused the first time, stored the second
    refused = bulk(api_a, instance_a, "de novo", "deadlock always")
    assert refused.status_code == 503 and refused["Content-Type"] == "application/problem+json"
    assert refused["Retry-After"] == "1" and refused.json()["status"] == 503
    theirs = bulk(api_b, instance_b, "deles")
    assert theirs.status_code == 202
    with company_scope(company_a):
        assert sorted(Message.objects.values_list("text", flat=True)) == ["antes", "deadlock once"]
    with company_scope(company_b):
        assert list(Message.objects.values_list("text", flat=True)) == ["deles"]


def test_an_inbound_batch_that_would_deadlock_with_a_bulk_gives_way_and_both_are_stored_once(
        api_a, api_b, instance_a, instance_b, company_a, company_b, hooks):
    """A real lock cycle: an inbound batch holds chat B (its first event) while a bulk send locks A, then B in id
    order; the batch's next event needs A. The batch stops waiting well before PostgreSQL would break the cycle
    by rolling one back (maybe the bulk): it is rolled back by its lock timeout, the bulk is stored on its first
    try, and the drain then applies the batch's events one per transaction, each once. Company B's pending event
    is left to B's drain."""
    from psycopg.errors import LockNotAvailable

    from instances import inbound
    from instances import services as instance_services
    from instances.models import InboundEvent
    from messaging.models import Conversation

    first, second = NUMBERS[0], NUMBERS[1]
    for number in (first, second):  # conversation A (lower id), then B
        hooks.simulator.inbound(instance_a.gateway_name, **{"from": number, "text": f"oi de {number}"})
        assert hooks.deliver(instance_a) == ["processed"]
    with company_scope(company_a):
        chat_a, chat_b = (Conversation.objects.get(contact__identifier=number).pk for number in (first, second))
    assert chat_a < chat_b
    # The batch-to-be: B's event, then A's. B's message stalls its INSERT (not a lock wait) long enough for the
    # bulk to lock A and queue for B.
    hooks.simulator.inbound(instance_a.gateway_name, **{"from": second, "text": "segura B"})
    hooks.simulator.inbound(instance_a.gateway_name, **{"from": first, "text": "depois A"})
    for body in hooks.new_bodies(instance_a):
        assert hooks.post(instance_a, body) == 200
    hooks.simulator.inbound(instance_b.gateway_name, **{"from": first, "text": "da outra empresa"})
    for body in hooks.new_bodies(instance_b):
        assert hooks.post(instance_b, body) == 200
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION recado_test_stall() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.text = 'segura B' THEN PERFORM pg_sleep(1.5); END IF;
                RETURN NEW;
            END $$""")
        cursor.execute("CREATE TRIGGER recado_test_stall BEFORE INSERT ON messaging_message "
                       "FOR EACH ROW EXECUTE FUNCTION recado_test_stall()")

    outcome: dict[str, object] = {}

    def batch() -> None:
        try:
            with company_scope(company_a):
                outcome["applied"] = instance_services.inbound_events_claim_batch(company=company_a, limit=20)
        except instance_services.InboundBatchFailed as failure:
            outcome["failure"] = failure
        finally:
            connection.close()

    def bulk() -> None:
        try:
            outcome["bulk"] = api_a.post("/api/v1/messages/bulk", {"messages": [
                {"instance_id": str(instance_a.public_id), "number": number, "text": f"lote para {number}"}
                for number in (second, first)]}, format="json")
        finally:
            connection.close()

    batch_thread = threading.Thread(target=batch)
    batch_thread.start()
    with connection.cursor() as cursor:  # the batch holds B and sleeps in its INSERT
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                           "AND datname = current_database()")
            if cursor.fetchone()[0]:
                break
            threading.Event().wait(0.01)
        else:
            pytest.fail("the batch never reached its stalled INSERT")
    bulk_thread = threading.Thread(target=bulk)
    bulk_thread.start()
    batch_thread.join(timeout=30)
    bulk_thread.join(timeout=30)

    # The batch gave way by its lock timeout (not a deadlock broken by PostgreSQL), and nothing of it stayed.
    failure = outcome.get("failure")
    assert isinstance(failure, instance_services.InboundBatchFailed) and failure.size == 2, outcome
    assert isinstance(failure.__cause__.__cause__, LockNotAvailable), repr(failure.__cause__)
    response = outcome["bulk"]
    assert response.status_code == 202, response.content
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER recado_test_stall ON messaging_message")
        cursor.execute("DROP FUNCTION recado_test_stall()")
    with company_scope(company_a):
        assert InboundEvent.objects.filter(status=InboundEvent.Status.PENDING, attempts=0).count() == 2  # no attempt
        assert inbound.inbound_drain(company=company_a, slot=0)[0] + inbound.inbound_drain(
            company=company_a, slot=1)[0] == 2
        texts = list(Message.objects.values_list("text", flat=True))
        assert sorted(texts) == sorted([f"oi de {first}", f"oi de {second}", "segura B", "depois A",
                                        f"lote para {first}", f"lote para {second}"])
        assert Conversation.objects.get(pk=chat_a).unread_count == 2
        assert Conversation.objects.get(pk=chat_b).unread_count == 2
    with company_scope(company_b):
        assert list(InboundEvent.objects.filter(event="MESSAGES_UPSERT").values_list("status", flat=True)) == [
            "pending"]
        assert not Message.objects.exists()
