"""The inbound apply on SQLite, the development default (`make run`): the PostgreSQL-only parts (the drain's
partitions, its one-statement claim) have SQLite paths, and prepared queries put SQLite's adapted datetimes in.
A subprocess on a fresh SQLite file, as `make run` would use it; Redis is the test worker's (pushes, locks)."""

from __future__ import annotations

import json

from django.conf import settings

from tests.test_settings import SQLITE_WORLD, run_django

_APPLY = SQLITE_WORLD + """
import hashlib
from benchmarks.ingest import message_event
from instances import services
from instances.models import InboundEvent
from messaging.models import Conversation, Message

found = {}
for slug, company in companies.items():
    with company_scope(company):
        instance = instances[slug]
        for number in range(3):
            body = message_event(instance=instance.gateway_name, number=number, run=slug, text=f"{slug} {number}",
                                 customers=2)  # the third is the first customer's second: a known contact
            InboundEvent.objects.create(company=company, instance=instance, event="MESSAGES_UPSERT", payload=body,
                                        key=hashlib.sha256(json.dumps(body).encode()).hexdigest())
    found[slug] = company
with company_scope(found["alpha"]):  # a batch of two, then the last one by itself; beta's are not alpha's to apply
    applied = [services.inbound_events_claim_batch(company=found["alpha"], limit=2),
               services.inbound_event_claim_next(company=found["alpha"]),
               services.inbound_events_claim_batch(company=found["alpha"], limit=2)]
    texts = sorted(Message.objects.values_list("text", flat=True))
    unread = sorted(Conversation.objects.values_list("unread_count", flat=True))
beta_before = sorted(InboundEvent.all_companies.filter(company=found["beta"]).values_list("status", flat=True))
import time
from instances import inbound
started = time.monotonic()
with company_scope(found["beta"]):  # the drain itself; no partitions here, so it must not linger (5 s asked)
    beta_drained = inbound.inbound_drain(company=found["beta"], slot=0, seconds=60)
beta_seconds = time.monotonic() - started
statuses = {slug: sorted(InboundEvent.all_companies.filter(company=company).values_list("status", flat=True))
            for slug, company in found.items()}
print(json.dumps({"applied": applied, "texts": texts, "unread": unread, "statuses": statuses,
                  "beta_before": beta_before, "beta_drained": beta_drained, "beta_seconds": beta_seconds}))
"""


def test_message_events_are_applied_on_sqlite_each_company_s_by_its_own_drain(tmp_path):
    result = run_django(["-c", _APPLY], DJANGO_ENV="development", RECADO_VAR_DIR=str(tmp_path),
                        REDIS_URL=settings.REDIS_URL, CACHE_KEY_PREFIX=f"sqlite-test-{tmp_path.name}",
                        INBOUND_DRAIN_LINGER_MS="5000")
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["applied"][0] == 2 and outcome["applied"][1][1] == "processed" and outcome["applied"][2] == 0
    assert outcome["texts"] == ["alpha 0", "alpha 1", "alpha 2"]
    assert outcome["unread"] == [1, 2]
    assert outcome["beta_before"] == ["pending"] * 3  # alpha's drain left beta's events alone
    # Beta's events were left to beta's own drain, which applied them and stopped without waiting for wake-ups
    # no hook leaves on SQLite (lingering, it would have taken the 5 s asked for).
    assert outcome["statuses"] == {"alpha": ["processed"] * 3, "beta": ["processed"] * 3}
    assert outcome["beta_drained"] == [3, False] and outcome["beta_seconds"] < 4
