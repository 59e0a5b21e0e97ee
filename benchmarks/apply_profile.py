"""apply_profile: the worker's CPU and SQL statements per applied inbound text message, in process.

    python -m benchmarks.apply_profile            # prints one JSON document
    APPLY_PROFILE_CPROFILE=out.prof python -m benchmarks.apply_profile   # also cProfiles of the timed phases

No server and no worker: this process plays the Celery worker. A throwaway PostgreSQL database is made from the
migrated template (benchmarks/stack.py), with production settings (DEBUG off, the connection pool, the Redis
cache and channel layer under a per-run key prefix, deleted at the end). Seeded: one company with
APPLY_PROFILE_MEMBERS members (default 100, the owner included), one instance (its row only: applying an event
never calls the gateway), no webhook endpoint and no bot platform, and APPLY_PROFILE_SOCKETS (default 100)
channels subscribed to the company's inbox topic, as the agents' browsers are in the live benchmark (the
pushes fan out to them in Redis).

Then `messages.upsert` bodies (benchmarks.ingest.message_event) are stored as pending InboundEvent rows, as the
hook stores them, and `instances.services.inbound_event_process` applies each one inside the company's scope,
as the task does:

1. new_conversation: APPLY_PROFILE_CUSTOMERS (default 500) customers each write for the first time (a new
   contact and a new conversation). This also seeds the 500 open conversations.
2. known: APPLY_PROFILE_MESSAGES (default 300) texts from those customers, in open conversations (the common
   case).

Each apply is timed with time.process_time (the CPU of every thread of this process, so the pushes in the
publisher thread count) and its statements counted (an execute wrapper: CaptureQueriesContext's debug
cursor formats every statement, which would add to the CPU measured). Reported per phase: median, mean
and p90 CPU ms, wall ms and statements; the first APPLY_PROFILE_WARMUP (default 20) applies of each phase are
left out (imports, template compilation, the pool filling).
3. known_backlog_batched: another APPLY_PROFILE_MESSAGES texts from known customers, stored first and then
   applied as a drain applies a backlog (`inbound_events_claim_batch`, APPLY_PROFILE_BATCH events per
   transaction, default 20): CPU, wall time and statements per event over the whole backlog.
4. ticks: a sent message of ours in each of APPLY_PROFILE_MESSAGES conversations, then the gateway's
   `messages.update` ticks for them (DELIVERY_ACK), applied one at a time as a drain that keeps up applies
   them; and a READ tick for each, applied as a backlog (ticks_backlog_batched). Every send costs the worker
   such ticks (Evolution posts SERVER_ACK, DELIVERY_ACK and READ for each), beside the send itself.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.ingest import message_event
from benchmarks.report import env_int
from benchmarks.stack import (
    _RUN,
    REDIS_URL,
    _delete_keys,
    admin_sql,
    base_env,
    create_migrated_database,
    database_name,
)


def _seed(*, members: int, sockets: int) -> tuple:
    from channels.layers import get_channel_layer
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from instances.models import GatewayServer, Instance
    from messaging.events import INBOX_TOPIC
    from tenants import realtime, services
    from tenants.models import Role
    from tenants.scoping import company_scope

    company = services.company_create(name="Apply Market", slug="apply-market", max_members=members + 10)
    users = get_user_model().objects
    for number in range(members):
        user = users.create_user(username=f"member{number}@apply.test", email=f"member{number}@apply.test",
                                 password=None, first_name="Member", last_name=str(number))
        services.member_add(company=company, user=user, role=Role.OWNER if number == 0 else Role.AGENT)
    server = GatewayServer.objects.create(name="apply-server", base_url="http://127.0.0.1:9", api_key="k",
                                          hook_secret="s", hook_secret_hash=uuid.uuid4().hex)
    with company_scope(company):
        instance = Instance.objects.create(company=company, server=server, name="apply", state="open",
                                           gateway_name="apply-market_apply", token="t",
                                           webhook_secret_hash=uuid.uuid4().hex)
    layer = get_channel_layer()
    group = realtime.language_group(realtime.group_for(company, INBOX_TOPIC), settings.LANGUAGE_CODE)

    async def subscribe() -> None:
        for _ in range(sockets):
            await layer.group_add(group, await layer.new_channel())

    # On the process's publisher loop, so the subscriptions outlive this call (a layer's subscriptions belong to
    # its event loop) and every inbox push is rendered and published as in the live stack.
    asyncio.run_coroutine_threadsafe(subscribe(), realtime._publisher_loop()).result(timeout=60)
    return company, instance


def _store(company, instance, bodies: list[dict], event: str = "MESSAGES_UPSERT") -> list[int]:
    import hashlib

    from instances.models import InboundEvent
    from tenants.scoping import company_scope

    with company_scope(company):
        return [InboundEvent.objects.create(
            company=company, instance=instance, event=event, payload=body,
            key=hashlib.sha256(json.dumps(body).encode()).hexdigest()).pk for body in bodies]


def tick_event(*, instance: str, gateway_id: str, number: str, status: str) -> dict:
    """A `messages.update` tick of one of our sends, as Evolution API 2.3.6 posts it."""
    jid = f"{number}@s.whatsapp.net"
    return {"event": "messages.update", "instance": instance,
            "data": {"keyId": gateway_id, "remoteJid": jid, "fromMe": True, "participant": jid, "status": status,
                     "instanceId": "0b6f3c1e-5d8a-4a53-9a57-2f0f1c0f9e11", "messageId": f"cm{gateway_id.lower()}"},
            "date_time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sender": "5511900000000@s.whatsapp.net", "server_url": "", "apikey": None}


def _sent(company, instance, count: int, run: str) -> list[tuple[str, str]]:
    """One sent message of ours in each of `count` open conversations: (gateway id, number) of each."""
    from django.utils import timezone

    from messaging.models import STATUS_RANK, Conversation, Message, MessageStatus
    from tenants.scoping import company_scope

    with company_scope(company):
        conversations = list(Conversation.objects.filter(company=company).select_related("contact")
                             .order_by("pk")[:count])
        rows = [Message(company=company, conversation=conversation, instance=instance,
                        direction=Message.Direction.OUT, kind=Message.Kind.TEXT, text=f"Resposta {index}",
                        status=MessageStatus.SENT, status_rank=STATUS_RANK[MessageStatus.SENT],
                        sent_at=timezone.now(), gateway_message_id=f"3EB0S{run}{index:012X}",
                        sender_type=Message.SenderType.AGENT)
                for index, conversation in enumerate(conversations)]
        Message.insert_all(rows)
    return [(row.gateway_message_id, conversation.contact.identifier)
            for row, conversation in zip(rows, conversations, strict=True)]


def _apply(company, event_ids: list[int], warmup: int, profiler: cProfile.Profile | None) -> dict:
    from django.db import connection

    from instances.services import inbound_event_process
    from tenants.scoping import company_scope

    cpu, wall, statements, outcomes = [], [], [], {}
    counted, last = [0], []

    def count(execute, sql, params, many, context):
        counted[0] += 1
        last.append(sql[:160])
        return execute(sql, params, many, context)

    for index, event_id in enumerate(event_ids):
        timed = index >= warmup
        counted[0] = 0
        last.clear()
        with connection.execute_wrapper(count):
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            if profiler is not None and timed:
                profiler.enable()
            with company_scope(company):
                outcome = inbound_event_process(company=company, event_id=event_id)
            if profiler is not None and timed:
                profiler.disable()
            ended_cpu, ended_wall = time.process_time(), time.perf_counter()
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if timed:
            cpu.append((ended_cpu - started_cpu) * 1000)
            wall.append((ended_wall - started_wall) * 1000)
            statements.append(counted[0])
    return {"applied": len(cpu), "outcomes": outcomes, "cpu_ms": _summary(cpu), "wall_ms": _summary(wall),
            "statements": _summary(statements), "last_apply_statements": list(last)}


def _apply_batched(company, event_ids: list[int], batch: int, profiler: cProfile.Profile | None) -> dict:
    """The same events applied as the drain applies a backlog: `inbound_events_claim_batch` until none is left."""
    from django.db import connection

    from instances.services import inbound_events_claim_batch
    from tenants.scoping import company_scope

    counted = [0]

    def count(execute, sql, params, many, context):
        counted[0] += 1
        return execute(sql, params, many, context)

    batches, instances = [], {}
    with connection.execute_wrapper(count), company_scope(company):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        while applied := inbound_events_claim_batch(company=company, limit=batch, instances=instances):
            batches.append(applied)
        if profiler is not None:
            profiler.disable()
        ended_cpu, ended_wall = time.process_time(), time.perf_counter()
    events = sum(batches)
    if events != len(event_ids):
        raise RuntimeError(f"{events} of {len(event_ids)} events applied in batches")
    return {"applied": events, "batches": len(batches), "batch_limit": batch,
            "cpu_ms_per_event": round((ended_cpu - started_cpu) * 1000 / events, 2),
            "wall_ms_per_event": round((ended_wall - started_wall) * 1000 / events, 2),
            "statements_per_event": round(counted[0] / events, 2)}


def _summary(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 2), "mean": round(statistics.fmean(ordered), 2),
            "p90": round(ordered[int(len(ordered) * 0.9) - 1], 2), "min": round(ordered[0], 2),
            "max": round(ordered[-1], 2)}


def _measure(*, members: int, sockets: int, customers: int, messages: int, warmup: int, batch: int,
             profile_path: str | None) -> dict:
    import django

    django.setup()
    company, instance = _seed(members=members, sockets=sockets)
    run = uuid.uuid4().hex[:6].upper()
    first = [message_event(instance=instance.gateway_name, number=number, run=run, customers=customers)
             for number in range(customers)]
    known = [message_event(instance=instance.gateway_name, number=customers + number, run=run,
                           customers=customers) for number in range(messages)]
    profiler = cProfile.Profile() if profile_path else None
    new_conversation = _apply(company, _store(company, instance, first), warmup, profiler)
    if profiler is not None:
        profiler.dump_stats(profile_path + ".new")
        profiler = cProfile.Profile()
    common = _apply(company, _store(company, instance, known), warmup, profiler)
    if profiler is not None:
        profiler.dump_stats(profile_path)
    backlog = [message_event(instance=instance.gateway_name, number=customers + messages + number, run=run,
                             customers=customers) for number in range(messages)]
    profiler = cProfile.Profile() if profile_path else None
    batched = _apply_batched(company, _store(company, instance, backlog), batch, profiler)
    if profiler is not None:
        profiler.dump_stats(profile_path + ".batched")
    sent = _sent(company, instance, messages, run)
    delivered = [tick_event(instance=instance.gateway_name, gateway_id=gateway_id, number=number,
                            status="DELIVERY_ACK") for gateway_id, number in sent]
    profiler = cProfile.Profile() if profile_path else None
    ticks = _apply(company, _store(company, instance, delivered, event="MESSAGES_UPDATE"), warmup, profiler)
    if profiler is not None:
        profiler.dump_stats(profile_path + ".ticks")
    read = [tick_event(instance=instance.gateway_name, gateway_id=gateway_id, number=number, status="READ")
            for gateway_id, number in sent]
    ticks_batched = _apply_batched(company, _store(company, instance, read, event="MESSAGES_UPDATE"), batch, None)
    return {"new_conversation": new_conversation, "known": common, "known_backlog_batched": batched,
            "ticks": ticks, "ticks_backlog_batched": ticks_batched}


def run() -> dict:
    members = env_int("APPLY_PROFILE_MEMBERS", 100)
    sockets = env_int("APPLY_PROFILE_SOCKETS", 100)
    customers = env_int("APPLY_PROFILE_CUSTOMERS", 500)
    messages = env_int("APPLY_PROFILE_MESSAGES", 300)
    warmup = env_int("APPLY_PROFILE_WARMUP", 20)
    name = database_name()
    var_dir = Path(tempfile.mkdtemp(prefix="recado-apply-"))
    log_dir = var_dir / "logs"
    log_dir.mkdir()
    (var_dir / "static").mkdir()
    unused = "http://127.0.0.1:9"  # no server and no gateway is called
    env = base_env(url=unused, simulator_url=unused, var_dir=var_dir)
    load_before = os.getloadavg()
    try:
        create_migrated_database(name, env, log_dir)
        os.environ.update(env)
        details = _measure(members=members, sockets=sockets, customers=customers, messages=messages,
                           warmup=warmup, batch=env_int("APPLY_PROFILE_BATCH", 20),
                           profile_path=os.environ.get("APPLY_PROFILE_CPROFILE"))
    finally:
        with suppress(Exception):
            from django.db import connections

            connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with suppress(Exception):
            _delete_keys(REDIS_URL, [_RUN])
        shutil.rmtree(var_dir, ignore_errors=True)
    return {
        "method": "inbound_event_process in process (no server, no worker), PostgreSQL and Redis, DEBUG off",
        "members": members, "sockets": sockets, "customers": customers, "warmup": warmup,
        "load_average": {"before": [round(v, 2) for v in load_before],
                         "after": [round(v, 2) for v in os.getloadavg()]},
        **details,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
