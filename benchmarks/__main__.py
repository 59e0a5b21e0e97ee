"""`make bench` / `python -m benchmarks [name ...]`: run the benchmarks and print one JSON document.

Each benchmark is a module of this package with a `run() -> dict` returning its `figures` (value, unit,
target, reference and pass, see benchmarks/report.py) and `details`. Each runs in its own Python process
(its own Django settings, database `recado_bench_<pid>` and Redis key prefix; see benchmarks/stack.py), one
after the other, so they never measure each other. With no name every benchmark runs; `passed` is false
when any figure with a target missed it or a benchmark failed. The exit status is 0 either way unless a
benchmark crashed (a missed target is a result, not an error).

Environment: BENCH_SECONDS (length of each timed phase, default 60), BENCH_DATABASE_URL (the PostgreSQL
server, default postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/3), BENCH_KEEP_LOGS=1 (keep the stack's process logs); each benchmark documents its
own knobs. Each benchmark but the first starts once the machine has been idle (85 % of CPU) for three
seconds, waiting at most BENCH_SETTLE_SECONDS (default 120; `settled_seconds` in its result says how long):
the previous benchmark's load (PostgreSQL still writing what it stored) is not measured as the next one's.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Name -> module; the order is the order of a full run.
BENCHMARKS = {
    "overview": "benchmarks.overview",
    "ingest": "benchmarks.ingest",
    "live": "benchmarks.live",
    "send": "benchmarks.send",
    "inbox": "benchmarks.inbox",
}
REPO = Path(__file__).resolve().parents[1]
# Before each benchmark but the first: wait (at most BENCH_SETTLE_SECONDS) for the machine to be this idle.
BENCH_SETTLE_IDLE = 0.85
BENCH_SETTLE_SECONDS = float(os.environ.get("BENCH_SETTLE_SECONDS") or 120)


def available() -> dict[str, str]:
    """The benchmarks whose module exists in this checkout."""
    return {name: module for name, module in BENCHMARKS.items()
            if (REPO / (module.replace(".", "/") + ".py")).exists()}


def _child(name: str, out: str) -> None:
    """Run one benchmark in this process and write its result to `out`."""
    try:
        result = importlib.import_module(BENCHMARKS[name]).run()
    except BaseException as exc:  # reported, not raised: the runner goes on with the next benchmark
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
    Path(out).write_text(json.dumps(result, default=str))


def _run_one(name: str) -> dict:
    with tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".json", delete=False) as handle:
        out = handle.name
    started = time.monotonic()
    try:
        # stdout of the child goes to our stderr: our stdout carries only the JSON document.
        process = subprocess.run([sys.executable, "-m", "benchmarks", "--child", name, out], cwd=REPO,
                                 stdout=sys.stderr, check=False)
        text = Path(out).read_text()
        result = json.loads(text) if text else {"error": f"exited with {process.returncode} and no result"}
    finally:
        Path(out).unlink(missing_ok=True)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def _cpu_idle_share(seconds: float = 1.0) -> float:
    """The machine's idle share of CPU time over `seconds` (/proc/stat; 1.0 where it cannot be read)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, all

    try:
        idle_before, total_before = sample()
        time.sleep(seconds)
        idle_after, total_after = sample()
    except (OSError, ValueError, IndexError):
        return 1.0
    return (idle_after - idle_before) / max(1, total_after - total_before)


def _settle(idle: float, longest: float) -> float:
    """Wait until the machine is idle (`idle` share of CPU for three seconds in a row, e.g. after the previous
    benchmark's database was dropped and PostgreSQL has finished writing), at most `longest` seconds; how long
    it waited. The previous benchmark's load must not be measured as this one's."""
    started, calm = time.monotonic(), 0
    while calm < 3 and time.monotonic() - started < longest:
        calm = calm + 1 if _cpu_idle_share() >= idle else 0
    return round(time.monotonic() - started, 1)


def _verdict(result: dict) -> bool:
    if "error" in result:
        return False
    return all(item.get("pass") is not False for item in result.get("figures", {}).values())


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        _child(argv[1], argv[2])
        return 0
    known = available()
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    missing = [name for name in argv if name not in known]
    if missing:
        print(f"not written yet: {', '.join(missing)}", file=sys.stderr)
        return 2
    names = argv or list(known)
    from benchmarks.stack import postgres_version

    results = {}
    for index, name in enumerate(names):
        print(f"benchmark {name}…", file=sys.stderr)
        settled = _settle(BENCH_SETTLE_IDLE, BENCH_SETTLE_SECONDS) if index else 0.0
        load_before = [round(value, 2) for value in os.getloadavg()]
        results[name] = _run_one(name)
        results[name]["settled_seconds"] = settled
        # Other work on the machine skews every figure: say how busy it was.
        results[name]["load_average"] = {"before": load_before, "after": [round(v, 2) for v in os.getloadavg()]}
        results[name]["passed"] = _verdict(results[name])
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "postgresql": postgres_version(), "platform": platform.platform()},
        "bench_seconds": float(os.environ.get("BENCH_SECONDS") or 60),
        "passed": all(result["passed"] for result in results.values()),
        "benchmarks": results,
    }
    print(json.dumps(report, indent=2))
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
