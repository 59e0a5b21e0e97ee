"""`make bench`: request throughput through Django on the real PostgreSQL, printed as JSON.

Creates a throwaway database (recado_bench_<pid>) next to BENCH_DATABASE_URL's, migrates it,
seeds one company with its owner, then times GET /healthz and the company overview page
(logged in, through the full middleware stack) with Django's test client in this process.
No network hop and no ASGI server are measured: this is the cost of our code, Django and the
database round trips. The database is dropped at the end, even on failure.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "500"))
WARMUP = 20


def _database_url(name: str) -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


def _measure(client, path: str) -> dict:
    from django.db import connection

    for _ in range(WARMUP):
        assert client.get(path).status_code == 200, path
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(path)
    durations = []
    started = time.perf_counter()
    for _ in range(REQUESTS):
        before = time.perf_counter()
        response = client.get(path)
        durations.append(time.perf_counter() - before)
        assert response.status_code == 200, (path, response.status_code)
    elapsed = time.perf_counter() - started
    durations.sort()
    return {
        "path": path,
        "requests": REQUESTS,
        "requests_per_second": round(REQUESTS / elapsed, 1),
        "latency_ms_p50": round(statistics.median(durations) * 1000, 2),
        "latency_ms_p95": round(durations[int(len(durations) * 0.95) - 1] * 1000, 2),
        "queries_per_request": len(queries),
    }


def _run() -> dict:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.test import Client

    from tenants import services

    company = services.company_create(name="Bench Market", slug="bench-market")
    owner = services.company_owner_create(company=company, email="owner@bench.test", password="bench-password").user
    anonymous, logged_in = Client(), Client()
    logged_in.force_login(owner, backend="tenants.backends.UsernameOrEmailBackend")
    return {
        "healthz": _measure(anonymous, "/healthz"),
        "company_overview": _measure(logged_in, f"/c/{company.slug}/"),
    }


def main() -> None:
    name = f"recado_bench_{os.getpid()}"
    var_dir = Path(tempfile.mkdtemp(prefix="recado-bench-"))
    (var_dir / "static").mkdir()  # WhiteNoise expects STATIC_ROOT to exist
    os.environ.update({
        "RECADO_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV": "test",
        "DEBUG": "false",
        "DATABASE_URL": _database_url(name),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "LOG_LEVEL": "WARNING",
    })
    _admin(f'CREATE DATABASE "{name}"')
    try:
        results = _run()
    finally:
        from django.db import connections

        connections.close_all()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(var_dir, ignore_errors=True)
    with psycopg.connect(ADMIN_URL) as connection:
        server_version = connection.execute("SHOW server_version").fetchone()[0]
    report = {
        "benchmark": "django test client, in process, PostgreSQL " + server_version,
        "python": platform.python_version(),
        **results,
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
