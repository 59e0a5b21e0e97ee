"""Smoke test of the send and inbox-at-scale benchmarks: each runs for real (`python -m benchmarks <name>`,
its own stack, database and processes) with tiny parameters, and its JSON must carry the figures and the
correctness facts. No timing is asserted: speed is what `make bench` reports, never what a test checks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What tests/settings.py and conftest put in this process's environment must not reach the benchmark.
_INHERITED = {"DJANGO_SETTINGS_MODULE", "DJANGO_ENV", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}


def _bench(name: str, **env: str) -> dict:
    """Run one benchmark through the runner and return its result. Its own throwaway database and its own
    key prefix in Redis database 2 (BENCH_REDIS_URL) keep it away from the suite's databases."""
    environment = {key: value for key, value in os.environ.items() if key not in _INHERITED}
    environment.update({"BENCH_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2"), **env})
    done = subprocess.run([sys.executable, "-m", "benchmarks", name], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)["benchmarks"][name]
    assert "error" not in result, result.get("traceback", result)
    return result


@pytest.mark.timeout(150)
def test_send_benchmark_sends_every_accepted_message_once():
    result = _bench("send", BENCH_SECONDS="1", BENCH_SEND_NUMBERS="5", BENCH_SEND_WEB_WORKERS="1",
                    BENCH_SEND_WORKER_CONCURRENCY="2", BENCH_SEND_SENDER_CONCURRENCY="2", BENCH_SEND_CONNECTIONS="4",
                    BENCH_SEND_BULK_SIZE="3")
    figures, details = result["figures"], result["details"]
    assert details["accepted"] > 0 and not details["api_errors"]
    for name in ("messages_per_second", "ratio_to_direct_gateway_calls", "api_latency_p50_ms", "api_latency_p99_ms"):
        assert figures[name]["value"] is not None, name
    assert figures["messages_per_second"]["reference"] > 0
    # Every accepted message was recorded sent and reached the gateway exactly once.
    assert figures["accepted_not_sent"]["value"] == 0
    assert figures["duplicates_at_gateway"]["value"] == 0 and figures["missing_at_gateway"]["value"] == 0
    assert details["received_at_gateway"] == details["accepted"]
    assert details["gateway_ids"] == {"messages_with_one": details["accepted"], "distinct": details["accepted"]}
    assert "concurrency" in result["method"]
    # As production runs it: the sends by a worker of their own (`sender`), the gateway's echoes by the other.
    assert details["cpu_ms_per_sent_message"]["sender"] > 0 and details["cpu_ms_per_sent_message"]["worker"] > 0
    # The bulk phase: its own messages (3 per request), each sent once too.
    bulk = details["bulk"]
    assert bulk["accepted"] > 0 and bulk["accepted"] % 3 == 0 and not bulk["api_errors"]
    assert figures["bulk_messages_per_second"]["value"] is not None
    assert figures["bulk_accepted_not_sent"]["value"] == 0 and figures["bulk_missing_at_gateway"]["value"] == 0
    assert figures["bulk_duplicates_at_gateway"]["value"] == 0 and bulk["received_at_gateway"] == bulk["accepted"]


@pytest.mark.timeout(150)
def test_inbox_benchmark_reports_latency_and_queries_per_variant():
    result = _bench("inbox", BENCH_INBOX_SCALE="0.003", BENCH_INBOX_REQUESTS="2", BENCH_INBOX_WARMUP="1")
    figures, details = result["figures"], result["details"]
    assert details["seed"]["conversations"] == 300 and details["seed"]["messages"] > 2000
    variants = details["variants"]
    assert any(name.startswith("html list") for name in variants) and any("limit=100" in name for name in variants)
    assert any("cursor" in name for name in variants) and any("search" in name for name in variants)
    for name, variant in variants.items():
        assert variant["latency_ms_p95"] is not None and variant["rows"] >= 0, name
        # The query count is counted in the server and does not depend on the seed's size.
        assert 1 <= variant["queries_max"] <= 8, (name, variant)
    assert figures["worst_queries_per_request"]["value"] <= 8
    assert figures["html_list_worst_p95_ms"]["value"] is not None
