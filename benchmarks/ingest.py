"""ingest: gateway message events per second into the instance's webhook, every acknowledged one committed.

The real stack (benchmarks/stack.py): uvicorn with BENCH_WEB_WORKERS processes (default 2, one per core), a
Celery worker applying the stored events (BENCH_WORKER_CONCURRENCY, default 2, as in the Procfile),
PostgreSQL, Redis and the simulator, which holds the instance and its webhook URL (the instance is created,
connected and scanned through our own services first). The load generator (benchmarks/loadgen.py) POSTs unique
MESSAGES_UPSERT bodies shaped like Evolution 2.3.6's (docs: shared reference §4.5) to that URL, as the gateway
would:

1. reference: the bare one-insert Django endpoint (`/bench/insert/`, benchmarks/bench_urls.py) on the same
   server, closed loop with BENCH_INGEST_CONNECTIONS connections (default 16), for BENCH_SECONDS (default 60);
2. latency: the hook open-loop at BENCH_INGEST_RATE (default 300) events/s for BENCH_SECONDS; p99 counts from
   when each request was due;
3. throughput: the hook closed loop, same connections, for BENCH_SECONDS;
4. throughput_with_worker: the same again with the Celery worker applying the backlog beside it (a detail, no
   target).

Phases 1-3 run with the worker stopped (its tasks wait in Redis): ingest is acknowledging and committing, and
on a two-core machine a busy worker would take CPU from the web server unevenly between the reference and the
hook. Phase 4 shows the cost of sharing the cores, and how fast the worker applies events.

Then every event the hook acknowledged (2xx, "stored") is looked up by its key in InboundEvent: the figure
`acknowledged_not_committed` must be 0. Targets: throughput >= 500/s and >= 0.6 x the reference; p99 < 100 ms
at 300/s.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

from benchmarks import loadgen
from benchmarks.report import bench_seconds, env_float, env_int, figure, latency_summary
from benchmarks.stack import running_stack

CUSTOMERS = 500  # distinct senders, so events spread over contacts and conversations as in a real inbox


def message_event(*, instance: str, number: int, run: str, text: str | None = None,
                  customers: int = CUSTOMERS, destination: str = "", server_url: str = "") -> dict:
    """One incoming text message, `messages.upsert`, as Evolution API 2.3.6 posts it (id unique per `number`)."""
    customer = number % customers
    now = datetime.now(UTC)
    return {
        "event": "messages.upsert",
        "instance": instance,
        "data": {
            "key": {"remoteJid": f"55119{customer:08d}@s.whatsapp.net", "fromMe": False,
                    "id": f"3EB0{run}{number:012X}"},
            "pushName": f"Cliente {customer}",
            "status": "DELIVERY_ACK",
            "message": {"conversation": text or f"Olá, pedido número {number}"},
            "contextInfo": None,
            "messageType": "conversation",
            "messageTimestamp": int(now.timestamp()),
            "instanceId": "0b6f3c1e-5d8a-4a53-9a57-2f0f1c0f9e11",
            "source": "android",
        },
        "destination": destination,
        "date_time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sender": "5511900000000@s.whatsapp.net",
        "server_url": server_url,
        "apikey": None,
    }


def _stored(status: int, body: bytes) -> bool:
    return 200 <= status < 300 and b'"stored"' in body


def _phase_report(outcome: loadgen.Outcome) -> dict:
    return {"seconds": round(outcome.seconds, 2), "sent": outcome.sent, "acknowledged": len(outcome.acknowledged),
            "per_second": round(outcome.rate, 1), "errors": outcome.errors, "late_starts": outcome.late_starts,
            **latency_summary(outcome.latencies)}


def _committed_keys(instance_id: int) -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM instances_inboundevent WHERE instance_id = %s", [instance_id])
        return {row[0] for row in cursor.fetchall()}


def _processing(instance_id: int) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM instances_inboundevent WHERE instance_id = %s GROUP BY status",
                       [instance_id])
        return dict(cursor.fetchall())


def _applied(instance_id: int) -> int:
    return sum(count for status, count in _processing(instance_id).items() if status != "pending")


def run() -> dict:
    seconds = bench_seconds()
    rate = env_float("BENCH_INGEST_RATE", 300)
    connections = env_int("BENCH_INGEST_CONNECTIONS", 16)
    web_workers = env_int("BENCH_WEB_WORKERS", 2)
    worker_concurrency = env_int("BENCH_WORKER_CONCURRENCY", 2)
    run_tag = uuid.uuid4().hex[:8].upper()
    with running_stack(web_workers=web_workers, worker_queues="default",
                       worker_concurrency=worker_concurrency) as stack:
        seeded = stack.seed()
        from benchmarks.bench_urls import TABLE, ensure_reference_table

        ensure_reference_table()
        hook_path_url = seeded.hook_url

        def hook_body(number: int) -> tuple[str, bytes]:
            body = json.dumps(message_event(instance=seeded.instance_gateway_name, number=number, run=run_tag,
                                            destination=hook_path_url, server_url=stack.simulator_url),
                              separators=(",", ":")).encode()
            return hashlib.sha256(body).hexdigest(), body

        def reference_body(number: int) -> tuple[str, bytes]:
            return hook_body(number + (1 << 40))

        reference_url = f"{stack.url}/bench/insert/"

        async def phases() -> dict[str, loadgen.Outcome]:
            warm = min(2.0, seconds)
            reference_warmup = await loadgen.closed_loop(reference_url, reference_body, seconds=warm,
                                                         connections=connections, start=1 << 30)
            warmup = await loadgen.closed_loop(hook_path_url, hook_body, seconds=warm, connections=connections,
                                               start=1 << 31, accept=_stored)
            reference = await loadgen.closed_loop(reference_url, reference_body, seconds=seconds,
                                                  connections=connections)
            latency = await loadgen.open_loop(hook_path_url, hook_body, seconds=seconds, rate=rate,
                                              accept=_stored)
            throughput = await loadgen.closed_loop(hook_path_url, hook_body, seconds=seconds,
                                                   connections=connections, start=1 << 32, accept=_stored)
            return {"reference_warmup": reference_warmup, "warmup": warmup, "reference": reference,
                    "latency": latency, "throughput": throughput}

        # The timed phases measure what ingest is (acknowledge and commit) with the worker stopped: on
        # two cores it would otherwise take CPU from the web server for the reference and the hook
        # unevenly. Its tasks wait in Redis; then it runs during one more phase, reported as a detail.
        stack.stop_worker()
        outcomes = loadgen.run(phases())
        stack.start_worker()
        applied_before = _applied(seeded.instance_id)
        outcomes["throughput_with_worker"] = loadgen.run(loadgen.closed_loop(
            hook_path_url, hook_body, seconds=seconds, connections=connections, start=1 << 33, accept=_stored))
        applied_during = _applied(seeded.instance_id) - applied_before
        stack.check_alive()
        # Every acknowledged event must be committed: look each one up by its key.
        acknowledged = {tag for name in ("warmup", "latency", "throughput", "throughput_with_worker")
                        for tag in outcomes[name].acknowledged}
        committed = _committed_keys(seeded.instance_id)
        missing = acknowledged - committed
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {TABLE}")
            reference_rows = cursor.fetchone()[0]
        processing = _processing(seeded.instance_id)

    reference, latency, throughput = outcomes["reference"], outcomes["latency"], outcomes["throughput"]
    ratio = round(throughput.rate / reference.rate, 3) if reference.rate else None
    p99 = latency_summary(latency.latencies)["p99_ms"]
    reference_acknowledged = len(reference.acknowledged) + len(outcomes["reference_warmup"].acknowledged)
    return {
        "method": (f"real stack: uvicorn x{web_workers}, celery worker (concurrency {worker_concurrency}), "
                   f"PostgreSQL, Redis, simulator; asyncio HTTP/1.1 generator, {connections} keep-alive "
                   f"connections closed loop, {rate:g}/s open loop; {seconds:g} s per phase"),
        "figures": {
            "events_per_second": figure(round(throughput.rate, 1), "events/s", target=(">=", 500),
                                        reference=round(reference.rate, 1)),
            "ratio_to_bare_insert": figure(ratio, "x reference", target=(">=", 0.6),
                                           reference=f"{reference.rate:.1f} inserts/s (bare one-insert endpoint)"),
            "p99_ms_at_rate": figure(p99, "ms", target=("<", 100),
                                     note=f"open loop at {rate:g}/s, timed from when each request was due"),
            "acknowledged_not_committed": figure(len(missing), "events", target=("==", 0),
                                                 reference=f"{len(acknowledged)} acknowledged"),
        },
        "details": {
            "phases": {name: _phase_report(outcome) for name, outcome in outcomes.items()},
            "reference_rows": reference_rows,
            "reference_acknowledged": reference_acknowledged,
            "hook_events_committed": len(committed),
            "worker": {"events_applied_per_second_during_last_phase": round(applied_during / seconds, 1),
                       "statuses_at_end": processing},
        },
    }
