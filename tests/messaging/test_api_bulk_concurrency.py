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
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
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
