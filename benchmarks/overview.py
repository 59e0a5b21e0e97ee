"""Request cost through Django on the real PostgreSQL, in process: GET /healthz and the company overview page.

Seeds one company with its owner in a throwaway database, then times both paths (logged in, through the
full middleware stack) with Django's test client in this process. No network hop and no ASGI server are
measured: this is the cost of our code, Django and the database round trips. No target: a trend figure.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.report import env_int, figure
from benchmarks.stack import admin_sql, database_name, database_url

WARMUP = 20


def _measure(client, path: str, requests: int) -> dict:
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
    for _ in range(requests):
        before = time.perf_counter()
        response = client.get(path)
        durations.append(time.perf_counter() - before)
        assert response.status_code == 200, (path, response.status_code)
    elapsed = time.perf_counter() - started
    durations.sort()
    return {
        "path": path,
        "requests": requests,
        "requests_per_second": round(requests / elapsed, 1),
        "latency_ms_p50": round(statistics.median(durations) * 1000, 2),
        "latency_ms_p95": round(durations[int(len(durations) * 0.95) - 1] * 1000, 2),
        "queries_per_request": len(queries),
    }


def _measure_all(requests: int) -> dict:
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
        "healthz": _measure(anonymous, "/healthz", requests),
        "company_overview": _measure(logged_in, f"/c/{company.slug}/", requests),
    }


def run() -> dict:
    requests = env_int("BENCH_REQUESTS", 500)
    name = database_name()
    var_dir = Path(tempfile.mkdtemp(prefix="recado-bench-"))
    (var_dir / "static").mkdir()  # WhiteNoise expects STATIC_ROOT to exist
    os.environ.update({
        "RECADO_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV": "test",
        "DEBUG": "false",
        "DATABASE_URL": database_url(name),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
        "CACHE_KEY_PREFIX": f"bench{os.getpid()}x",
        "LOG_LEVEL": "WARNING",
    })
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        results = _measure_all(requests)
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(var_dir, ignore_errors=True)
    return {
        "method": "Django test client in process (no server, no network), PostgreSQL",
        "figures": {
            "healthz_requests_per_second": figure(results["healthz"]["requests_per_second"], "requests/s"),
            "overview_requests_per_second": figure(results["company_overview"]["requests_per_second"], "requests/s"),
            "overview_queries_per_request": figure(results["company_overview"]["queries_per_request"], "queries"),
        },
        "details": results,
    }
