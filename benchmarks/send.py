"""send: messages per second from `POST /api/v1/messages` to the gateway, every one sent once.

The real stack (benchmarks/stack.py): uvicorn (BENCH_SEND_WEB_WORKERS processes, default 2, one per core),
two Celery workers as production runs them (docker-compose.yml): `worker` on every queue but the sends'
(prefork pool, BENCH_SEND_WORKER_CONCURRENCY children, default 4) and `sender` on the `messaging` queue alone
(BENCH_SEND_SENDER_CONCURRENCY children, default 4), PostgreSQL, Redis and the simulator holding an `open`
instance that was created, connected and scanned through our own services (so the gateway posts its
`send.message` echo of every send back to our webhook, as Evolution does, and the worker applies those too).

Settings for the run: MESSAGING_SEND_RATE_PER_MINUTE=1000000 (the per-instance throttle, 60/min by default,
must not be the limiter) and API_RATE_LIMIT=1000000/min (the per-key API throttle, 600/min by default).

1. reference: the benchmark calls the simulator's `POST /message/sendText/{instance}` itself, closed loop, on a
   second simulator instance with no webhook (the bare gateway), for BENCH_SECONDS (default 60): once with
   as many connections as the API phase (the figure's reference) and once with as many as the sender has
   children;
2. API: BENCH_SEND_CONNECTIONS (default 8) keep-alive connections POST text messages back to back for
   BENCH_SECONDS, to BENCH_SEND_NUMBERS (default 200) numbers (the first message to a number opens its
   conversation); each text is unique;
3. drain: wait until none of them is queued or sending (BENCH_SEND_DRAIN_SECONDS, default 300);
4. bulk (detail): the same connections POST `/api/v1/messages/bulk` with BENCH_SEND_BULK_SIZE messages each
   (default 20; 0 skips the phase) for BENCH_SECONDS, then drain again.

Figure: messages recorded `sent` per second, from the first API call to the last `sent_at`, one message per
request (and, as `bulk_messages_per_second`, through the bulk route). Checks, for both: every accepted message
is sent, and the simulator received each text exactly once (no duplicates, none missing).
Targets: >= 200/s and >= 0.9 x the reference.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from benchmarks import loadgen
from benchmarks.report import bench_seconds, env_int, figure, latency_summary
from benchmarks.stack import running_stack

REFERENCE_INSTANCE = "bench-reference"
SEND_RATE_PER_MINUTE = "1000000"
API_RATE_LIMIT = "1000000/min"


def _number(index: int, numbers: int) -> str:
    return f"55119{index % numbers:08d}"


def _reference_instance(simulator_url: str, api_key: str) -> None:
    """An open instance on the simulator with no webhook: sends there cost the gateway only."""
    with httpx.Client(base_url=simulator_url, timeout=10, headers={"apikey": api_key}) as client:
        client.post("/instance/create", json={"instanceName": REFERENCE_INSTANCE,
                                              "integration": "WHATSAPP-BAILEYS"}).raise_for_status()
        client.get(f"/instance/connect/{REFERENCE_INSTANCE}").raise_for_status()
        client.post(f"/_sim/instances/{REFERENCE_INSTANCE}/scan",
                    json={"number": "5511900000001", "profile_name": "Reference"}).raise_for_status()


def _simulator_texts(simulator_url: str, instance: str) -> list[str]:
    with httpx.Client(base_url=simulator_url, timeout=60) as client:
        response = client.get(f"/_sim/instances/{instance}/sent")
        response.raise_for_status()
        return [entry["message"].get("conversation", "") for entry in response.json()]


def _statuses(company, prefix: str) -> dict[str, int]:
    from django.db.models import Count

    from messaging.models import Message
    from tenants.scoping import company_scope

    with company_scope(company):
        rows = (Message.objects.filter(company=company, direction="out", text__startswith=prefix)
                .values("status").annotate(count=Count("id")))
        return {row["status"]: row["count"] for row in rows}


def _sent_window(company, prefix: str) -> tuple[datetime | None, int, int]:
    """The last sent_at, how many have a gateway id, and how many distinct gateway ids."""
    from django.db.models import Count, Max

    from messaging.models import Message
    from tenants.scoping import company_scope

    with company_scope(company):
        found = Message.objects.filter(company=company, direction="out", text__startswith=prefix,
                                       gateway_message_id__isnull=False).aggregate(
            last=Max("sent_at"), count=Count("id"), distinct=Count("gateway_message_id", distinct=True))
    return found["last"], found["count"], found["distinct"]


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds used so far) of every process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                fields = stat.read().rsplit(")", 1)[1].split()
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        found[int(entry)] = (int(fields[1]), command, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _cpu_seconds(stack, database: str) -> dict[str, float]:
    """CPU seconds used so far by each process of the stack (with its children: uvicorn's and Celery's
    workers), by this database's PostgreSQL backends, and by this benchmark process."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _command, _cpu) in processes.items():
        children.setdefault(parent, []).append(pid)

    def tree(pid: int) -> float:
        own = processes.get(pid, (0, "", 0.0))[2]
        return own + sum(tree(child) for child in children.get(pid, []))

    used = {name: tree(process.pid) for name, process in stack.processes.items()}
    used["postgresql"] = sum(cpu for _parent, command, cpu in processes.values()
                             if command.startswith("postgres:") and f" {database} " in command)
    used["benchmark"] = processes.get(os.getpid(), (0, "", 0.0))[2]
    return used


@dataclass
class Phase:
    """One sending phase: what the API accepted, what was sent and when, what the gateway received."""

    accepted_texts: set[str]
    statuses: dict[str, int]
    started: datetime
    api_finished: datetime
    drained: datetime
    last_sent: datetime | None
    with_gateway_id: int
    distinct_gateway_ids: int
    received: list[str]
    cpu: dict[str, float]

    @property
    def sent(self) -> int:
        return sum(count for status, count in self.statuses.items() if status not in ("queued", "sending", "failed"))

    @property
    def rate(self) -> float | None:
        elapsed = (self.last_sent - self.started).total_seconds() if self.last_sent else None
        return round(self.sent / elapsed, 1) if elapsed else None

    def checks(self) -> dict[str, int]:
        counts = Counter(self.received)
        return {"accepted_not_sent": len(self.accepted_texts) - self.sent,
                "duplicates_at_gateway": sum(count - 1 for count in counts.values() if count > 1),
                "missing_at_gateway": len(self.accepted_texts - set(counts))}


def _phase(stack, company, gateway_name: str, prefix: str, send, drain_seconds: float) -> Phase:
    """Run `send()` (the load, returning the texts the API accepted), wait until none of them is queued or sending
    (at most `drain_seconds`), and count: statuses, the sent window, the gateway's copies, CPU per process."""
    database = stack.database_url.rsplit("/", 1)[1]
    cpu_before = _cpu_seconds(stack, database)
    started = datetime.now(UTC)
    accepted = send()
    api_finished = datetime.now(UTC)
    deadline = time.monotonic() + drain_seconds
    while True:
        statuses = _statuses(company, prefix)
        if not statuses.get("queued") and not statuses.get("sending"):
            break
        stack.check_alive()
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    drained = datetime.now(UTC)
    cpu_after = _cpu_seconds(stack, database)
    last_sent, with_gateway_id, distinct = _sent_window(company, prefix)
    received = [text for text in _simulator_texts(stack.simulator_url, gateway_name) if text.startswith(prefix)]
    cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    return Phase(set(accepted), statuses, started, api_finished, drained, last_sent, with_gateway_id, distinct,
                 received, cpu)


def run() -> dict:
    seconds = bench_seconds()
    connections = env_int("BENCH_SEND_CONNECTIONS", 8)
    numbers = env_int("BENCH_SEND_NUMBERS", 200)
    web_workers = env_int("BENCH_SEND_WEB_WORKERS", 2)
    worker_concurrency = env_int("BENCH_SEND_WORKER_CONCURRENCY", 4)
    sender_concurrency = env_int("BENCH_SEND_SENDER_CONCURRENCY", 4)
    drain_seconds = env_int("BENCH_SEND_DRAIN_SECONDS", 300)
    bulk_size = env_int("BENCH_SEND_BULK_SIZE", 20)
    run_tag = uuid.uuid4().hex[:8]
    prefix, bulk_prefix = f"bench {run_tag} ", f"bulk {run_tag} "
    extra = {"MESSAGING_SEND_RATE_PER_MINUTE": SEND_RATE_PER_MINUTE, "API_RATE_LIMIT": API_RATE_LIMIT}
    with running_stack(web_workers=web_workers, worker_queues="default,polling,webhooks",
                       worker_concurrency=worker_concurrency, sender_concurrency=sender_concurrency,
                       extra_env=extra) as stack:
        seeded = stack.seed()
        from instances.models import Instance
        from tenants import services
        from tenants.models import ApiKey, Company
        from tenants.scoping import company_scope

        company = Company.objects.get(pk=seeded.company_id)
        key = services.api_key_create(company=company, name="send bench", scopes=[ApiKey.Scope.MESSAGES]).secret
        with company_scope(company):
            instance_public_id = str(Instance.objects.get(company=company, pk=seeded.instance_id).public_id)
        _reference_instance(stack.simulator_url, stack.simulator_api_key)

        def api_body(index: int) -> tuple[str, bytes]:
            text = f"{prefix}{index}"
            return text, json.dumps({"instance_id": instance_public_id, "number": _number(index, numbers),
                                     "text": text}).encode()

        def reference_body(index: int) -> tuple[str, bytes]:
            return str(index), json.dumps({"number": _number(index, numbers), "text": f"reference {index}"}).encode()

        api_headers = f"Authorization: Bearer {key}\r\n".encode()
        gateway_headers = f"apikey: {stack.simulator_api_key}\r\n".encode()
        reference_url = f"{stack.simulator_url}/message/sendText/{REFERENCE_INSTANCE}"
        api_url = f"{stack.url}/api/v1/messages"

        async def references() -> dict[str, loadgen.Outcome]:
            await loadgen.closed_loop(reference_url, reference_body, seconds=min(2.0, seconds),
                                      connections=connections, headers=gateway_headers, start=1 << 40)
            same_as_api = await loadgen.closed_loop(reference_url, reference_body, seconds=seconds,
                                                    connections=connections, headers=gateway_headers)
            same_as_worker = await loadgen.closed_loop(reference_url, reference_body, seconds=seconds,
                                                       connections=sender_concurrency, headers=gateway_headers,
                                                       start=1 << 30)
            return {"same_as_api": same_as_api, "same_as_worker": same_as_worker}

        def bulk_body(index: int) -> tuple[str, bytes]:
            texts = [f"{bulk_prefix}{index}-{item}" for item in range(bulk_size)]
            return "\n".join(texts), json.dumps({"messages": [
                {"instance_id": instance_public_id, "number": _number(index * bulk_size + item, numbers),
                 "text": text} for item, text in enumerate(texts)]}).encode()

        reference = loadgen.run(references())
        stack.check_alive()
        outcomes: dict[str, loadgen.Outcome] = {}

        def load(name: str, url: str, body) -> list[str]:
            outcomes[name] = loadgen.run(loadgen.closed_loop(url, body, seconds=seconds, connections=connections,
                                                             headers=api_headers))
            return [text for tag in outcomes[name].acknowledged for text in tag.split("\n")]

        gateway_name = seeded.instance_gateway_name
        single = _phase(stack, company, gateway_name, prefix, lambda: load("api", api_url, api_body), drain_seconds)
        bulk = _phase(stack, company, gateway_name, bulk_prefix,
                      lambda: load("bulk", f"{api_url}/bulk", bulk_body), drain_seconds) if bulk_size else None

    api = outcomes["api"]
    accepted, rate = len(single.accepted_texts), single.rate
    checks = single.checks()
    reference_rate = round(reference["same_as_api"].rate, 1)
    ratio = round(rate / reference_rate, 3) if rate and reference_rate else None
    api_latency = latency_summary(api.latencies)
    def phase_details(phase: Phase, outcome: loadgen.Outcome) -> dict:
        elapsed = (phase.last_sent - phase.started).total_seconds() if phase.last_sent else None
        return {
            "accepted": len(phase.accepted_texts), "api_errors": outcome.errors,
            "api_requests_per_second": round(outcome.rate, 1), "api_latency": latency_summary(outcome.latencies),
            "statuses": phase.statuses, "received_at_gateway": len(phase.received),
            "gateway_ids": {"messages_with_one": phase.with_gateway_id, "distinct": phase.distinct_gateway_ids},
            "api_phase_seconds": round((phase.api_finished - phase.started).total_seconds(), 1),
            "send_seconds": round(elapsed, 1) if elapsed else None,
            "drain_seconds_after_api": round((phase.drained - phase.api_finished).total_seconds(), 1),
            "cpu_ms_per_sent_message": {name: round(used * 1000 / phase.sent, 2) if phase.sent else None
                                        for name, used in phase.cpu.items()},
        }

    figures = {
        "messages_per_second": figure(rate, "messages/s", target=(">=", 200), reference=reference_rate,
                                      note="POST /messages, one per request: first API call to the last sent_at"),
        "ratio_to_direct_gateway_calls": figure(
            ratio, "x reference", target=(">=", 0.9),
            reference=f"{reference_rate} sendText/s called directly, {connections} connections"),
        "api_latency_p50_ms": figure(api_latency["p50_ms"], "ms"),
        "api_latency_p99_ms": figure(api_latency["p99_ms"], "ms"),
        "accepted_not_sent": figure(checks["accepted_not_sent"], "messages", target=("==", 0),
                                    reference=f"{accepted} accepted (202)"),
        "duplicates_at_gateway": figure(checks["duplicates_at_gateway"], "messages", target=("==", 0)),
        "missing_at_gateway": figure(checks["missing_at_gateway"], "messages", target=("==", 0)),
    }
    if bulk is not None:
        bulk_checks = bulk.checks()
        figures.update({
            "bulk_messages_per_second": figure(
                bulk.rate, "messages/s", target=(">=", 200), reference=reference_rate,
                note=f"POST /messages/bulk, {bulk_size} per request: first API call to the last sent_at"),
            "bulk_accepted_not_sent": figure(bulk_checks["accepted_not_sent"], "messages", target=("==", 0),
                                             reference=f"{len(bulk.accepted_texts)} accepted (202)"),
            "bulk_duplicates_at_gateway": figure(bulk_checks["duplicates_at_gateway"], "messages", target=("==", 0)),
            "bulk_missing_at_gateway": figure(bulk_checks["missing_at_gateway"], "messages", target=("==", 0)),
        })
    return {
        "method": (f"real stack: uvicorn x{web_workers}, celery worker (prefork, concurrency "
                   f"{worker_concurrency}) on every queue but messaging and sender (concurrency "
                   f"{sender_concurrency}) on messaging, PostgreSQL, Redis, simulator (echoes each send to our "
                   f"webhook); {connections} keep-alive API connections closed loop for {seconds:g} s to "
                   f"{numbers} numbers, one message per request, then (bulk) {bulk_size} per request; "
                   f"MESSAGING_SEND_RATE_PER_MINUTE={SEND_RATE_PER_MINUTE}, API_RATE_LIMIT={API_RATE_LIMIT}"),
        "figures": figures,
        "details": {
            **phase_details(single, api),
            "bulk": phase_details(bulk, outcomes["bulk"]) if bulk is not None else None,
            "reference": {
                name: {"connections": connections if name == "same_as_api" else sender_concurrency,
                       "calls_per_second": round(outcome.rate, 1), "errors": outcome.errors,
                       "latency": latency_summary(outcome.latencies)}
                for name, outcome in reference.items()
            },
        },
    }


def main() -> None:
    print(json.dumps(run(), indent=2, default=str))


if __name__ == "__main__":
    main()
