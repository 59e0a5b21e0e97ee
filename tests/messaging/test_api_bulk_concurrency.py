"""Bulk sends in parallel over the same chats, in every order: none fails (each locks its conversations in one
order and retries a deadlock PostgreSQL broke), every message is stored once. Real PostgreSQL, committed
transactions from several threads."""

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
