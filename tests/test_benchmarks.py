"""`make bench` works end to end: the harness starts the real stack and the ingest and live benchmarks run.

Tiny parameters (one-second phases, three sockets, low rates) and no timing assertions: speed is judged by
`make bench` itself, never by a test. The benchmarks use their own throwaway database (recado_bench_<pid>)
and their own key prefix in Redis database 3 (BENCH_REDIS_URL), away from the suite's databases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What tests/settings.py and conftest put in this process's environment must not reach the benchmark.
_INHERITED = {"DJANGO_SETTINGS_MODULE", "DJANGO_ENV", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}


@pytest.mark.timeout(180)
def test_ingest_and_live_benchmarks_run_end_to_end_on_the_real_stack():
    env = {name: value for name, value in os.environ.items() if name not in _INHERITED}
    env.update({"BENCH_SECONDS": "1", "BENCH_INGEST_RATE": "20", "BENCH_INGEST_CONNECTIONS": "4",
                "BENCH_LIVE_SOCKETS": "3", "BENCH_LIVE_RATE": "10", "BENCH_WEB_WORKERS": "1",
                "BENCH_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")})
    # Side by side, to keep the suite short: each runner process has its own database and key prefix.
    runs = {name: subprocess.Popen([sys.executable, "-m", "benchmarks", name], cwd=REPO, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in ("ingest", "live")}
    reports = {}
    for name, process in runs.items():
        stdout, stderr = process.communicate(timeout=170)
        assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
        reports[name] = json.loads(stdout)
        assert reports[name]["machine"]["cpus"] >= 1
        assert list(reports[name]["benchmarks"]) == [name]
    ingest, live = reports["ingest"]["benchmarks"]["ingest"], reports["live"]["benchmarks"]["live"]
    assert "error" not in ingest and "error" not in live, (ingest.get("traceback"), live.get("traceback"))

    # Every figure says its value, unit, target and verdict.
    for name in ("events_per_second", "ratio_to_bare_insert", "p99_ms_at_rate", "acknowledged_not_committed"):
        assert {"value", "unit", "target", "pass"} <= set(ingest["figures"][name]), name
    assert ingest["figures"]["events_per_second"]["reference"] > 0  # the bare insert ran in the same run
    phases = ingest["details"]["phases"]
    assert all(phases[name]["acknowledged"] > 0 for name in ("reference", "latency", "throughput"))
    # Every event the hook acknowledged is committed.
    assert ingest["figures"]["acknowledged_not_committed"] == {
        **ingest["figures"]["acknowledged_not_committed"], "value": 0, "pass": True}
    assert ingest["details"]["hook_events_committed"] >= sum(
        phases[name]["acknowledged"] for name in ("warmup", "latency", "throughput", "throughput_with_worker"))
    assert ingest["details"]["reference_rows"] == ingest["details"]["reference_acknowledged"]

    for name in ("p50_ms", "p99_ms", "frames_missing", "frames_while_worker_stopped"):
        assert {"value", "unit", "target", "pass"} <= set(live["figures"][name]), name
    assert live["details"]["sockets"] == 3
    assert live["details"]["messages_acknowledged"] > 0
    assert live["details"]["socket_frames_received"] > 0  # frames really reached the agents' sockets
    # Publishing happens in the worker: none while it is stopped, all once it runs again.
    proof = live["details"]["publish_proof"]
    assert proof["frames_while_worker_stopped"] == 0
    assert proof["expected"] > 0 and proof["frames_after_worker_started"] == proof["expected"]


@pytest.mark.timeout(180)
def test_fanout_benchmark_measures_both_channel_layers():
    """`python -m benchmarks.fanout`: the list-based and the pub/sub layer each on a stack of their own, every
    frame delivered, uvicorn's CPU read from /proc."""
    env = {name: value for name, value in os.environ.items() if name not in _INHERITED}
    env.update({"BENCH_FANOUT_SOCKETS": "3", "BENCH_FANOUT_MESSAGES": "20", "BENCH_FANOUT_RATE": "20",
                "BENCH_FANOUT_IDLE": "0.5",
                "BENCH_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")})
    result = subprocess.run([sys.executable, "-m", "benchmarks.fanout"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=170)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert list(report["details"]) == ["list", "pubsub"]
    for name, details in report["details"].items():
        assert details["frames_delivered"] == details["frames_expected"] == 60, name
        assert isinstance(details["server_cpu_s"], float), name  # /proc ticks: a tiny run may read 0.0
        assert {"value", "unit", "reference"} <= set(report["figures"][f"{name}_cpu_per_frame_us"]), name


def test_the_runner_waits_for_an_idle_machine_between_benchmarks_but_not_forever():
    from benchmarks.__main__ import _settle

    started = time.monotonic()
    assert 2.5 <= _settle(idle=0.0, longest=30) < 10  # any machine is 0 % idle: three calm seconds
    assert 1.4 <= _settle(idle=1.01, longest=1.5) < 4  # never that idle: it gives up at its bound
    assert time.monotonic() - started < 15
