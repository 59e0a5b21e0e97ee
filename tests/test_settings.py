"""Settings come only from the environment: production refuses to guess, development runs on a tuned SQLite."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything config/settings.py (or tests/settings.py) may have put in this process's environment.
_INHERITED = {"DJANGO_ENV", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY",
              "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS", "CELERY_BROKER_URL", "DEBUG", "RECADO_VAR_DIR",
              "DATABASE_SERVER_SIDE_BINDING", "DATABASE_PREPARE_THRESHOLD"}


# The start of a script run_django runs on a fresh SQLite file (as `make run` uses it): migrated, one gateway
# server, and two companies with an instance each, `companies` and `instances` by slug ("alpha", "beta").
SQLITE_WORLD = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from instances.models import GatewayServer, Instance
from tenants.models import Company
from tenants.scoping import company_scope

server = GatewayServer.objects.create(name="gw", base_url="http://127.0.0.1:9", api_key="k", hook_secret="s",
                                      hook_secret_hash="sqlite-hash")
companies, instances = {}, {}
for slug in ("alpha", "beta"):
    companies[slug] = Company.objects.create(name=slug, slug=slug)
    with company_scope(companies[slug]):
        instances[slug] = Instance.objects.create(company=companies[slug], server=server, name="sales",
                                                  gateway_name=f"{slug}_sales", token="t",
                                                  webhook_secret_hash=f"{slug}-hash")
"""


def run_django(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run Python in a fresh process with exactly the given Recado variables (nothing inherited from the tests)."""
    clean = {name: value for name, value in os.environ.items() if name not in _INHERITED}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=clean, capture_output=True, text=True,
                          timeout=120)


def production_env() -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "recado.example.com",
    }


REQUIRED_IN_PRODUCTION = ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS"]


@pytest.mark.parametrize("missing", REQUIRED_IN_PRODUCTION)
def test_production_refuses_to_start_without(missing):
    env = production_env()
    del env[missing]
    result = run_django(["manage.py", "check", "--deploy"], **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_production_passes_check_deploy_without_warnings():
    result = run_django(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_rejects_an_unknown_environment_name():
    result = run_django(["manage.py", "check"], **{**production_env(), "DJANGO_ENV": "prod"})
    assert result.returncode != 0
    assert "DJANGO_ENV must be development, production or test" in result.stderr



@pytest.mark.parametrize(("name", "value", "message"), [
    ("INBOUND_DRAIN_LINGER_MS", "-1", "INBOUND_DRAIN_LINGER_MS must be between 0 and 5000"),
    ("INBOUND_DRAIN_LINGER_MS", "5001", "INBOUND_DRAIN_LINGER_MS must be between 0 and 5000"),
    ("OUTBOUND_DRAIN_LINGER_MS", "5001", "OUTBOUND_DRAIN_LINGER_MS must be between 0 and 5000"),
    ("OUTBOUND_DRAIN_SECONDS", "31", "OUTBOUND_DRAIN_SECONDS must be at most 30"),
    ("OUTBOUND_DRAIN_SLOTS", "0", "OUTBOUND_DRAIN_SLOTS, OUTBOUND_DRAIN_BATCH, OUTBOUND_DRAIN_SECONDS and"),
])
def test_a_drain_setting_out_of_range_is_refused_with_its_bounds(name, value, message):
    result = run_django(["manage.py", "check"], **{**production_env(), name: value})
    assert result.returncode != 0
    assert message in result.stderr


_SQLITE_PROBE = """
import json, django
django.setup()
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    journal_mode = cursor.fetchone()[0]
    cursor.execute("PRAGMA busy_timeout")
    busy_timeout = cursor.fetchone()[0]
# IMMEDIATE: the write lock is taken at BEGIN, before any write, so a second writer cannot start.
with transaction.atomic():
    connection.cursor().execute("SELECT 1")
    other = __import__("sqlite3").connect(str(connection.settings_dict["NAME"]), timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        second_writer = "started"
    except Exception as error:
        second_writer = str(error)
    finally:
        other.close()
print(json.dumps({"engine": connection.vendor, "name": str(connection.settings_dict["NAME"]),
                  "journal_mode": journal_mode, "busy_timeout": busy_timeout, "second_writer": second_writer}))
"""


def test_development_defaults_to_a_tuned_sqlite_file(tmp_path):
    result = run_django(["-c", _SQLITE_PROBE], DJANGO_ENV="development", RECADO_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["engine"] == "sqlite"
    assert probe["name"] == str(tmp_path / "recado.sqlite3")
    assert probe["journal_mode"] == "wal"
    assert probe["busy_timeout"] >= 5000
    assert probe["second_writer"] == "database is locked"
    # WAL is a property of the file: any later connection (worker, beat) finds it in WAL mode too.
    with sqlite3.connect(tmp_path / "recado.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_production_collectstatic_hashes_and_compresses_every_file(tmp_path):
    """The Docker build runs this; a vendored file naming a missing source map must not break it."""
    env = {**production_env(), "RECADO_VAR_DIR": str(tmp_path)}
    result = run_django(["manage.py", "collectstatic", "--noinput"], **env)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["vendor/bootstrap-5.3.8.min.css"]
    assert hashed != "vendor/bootstrap-5.3.8.min.css"
    assert (tmp_path / "static" / (hashed + ".gz")).exists()


_POOL_PROBE = """
import json, threading, django
django.setup()
from django.conf import settings
from django.db import connection, connections
backends = set()
lock = threading.Lock()
def request():
    # What an ASGI request does: its sync code runs in a thread of its own, then request_finished closes.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.01)")
        pid = cursor.fetchone()[0]
    with lock:
        backends.add(pid)
    connections.close_all()
threads = [threading.Thread(target=request) for _ in range(40)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
database = settings.DATABASES["default"]
print(json.dumps({"conn_max_age": database["CONN_MAX_AGE"], "pool": database.get("OPTIONS", {}).get("pool"),
                  "backends": len(backends)}))
"""


def test_production_pools_postgresql_connections_so_asgi_threads_cannot_exhaust_the_server():
    result = run_django(["-c", _POOL_PROBE], **production_env(), DATABASE_POOL_MAX_SIZE="4")
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["conn_max_age"] == 0
    assert probe["pool"]["max_size"] == 4
    assert probe["backends"] <= 4  # 40 request threads shared at most 4 server connections


def test_production_can_turn_the_pool_off_for_an_external_pooler():
    result = run_django(["-c", _POOL_PROBE], **production_env(), DATABASE_POOL="false")
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["pool"] is None
    assert probe["conn_max_age"] == 60


_PREPARE_PROBE = """
import json, django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    for _ in range(6):  # one statement, new values: as every hot-path query runs
        cursor.execute("SELECT count(*) FROM pg_class WHERE relpages >= %s", [0])
    cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%relpages >= $1%"])
    prepared = cursor.fetchone()[0]
    cursor.execute("SHOW plan_cache_mode")
    mode = cursor.fetchone()[0]
print(json.dumps({"binding": connection.features.uses_server_side_binding, "prepared": prepared, "mode": mode}))
"""


@pytest.mark.parametrize(("env", "binding", "prepared"), [
    ({}, True, 1),  # our own pool: values bound by the server, a statement run again is prepared once
    ({"DATABASE_POOL": "false"}, True, 0),  # an external pooler (PgBouncer) may not keep prepared statements
    ({"DATABASE_POOL": "false", "DATABASE_PREPARE_THRESHOLD": "3"}, True, 1),  # one that keeps them
    ({"DATABASE_PREPARE_THRESHOLD": "0"}, True, 0),
    ({"DATABASE_SERVER_SIDE_BINDING": "false"}, False, 0),
])
def test_production_binds_values_on_the_server_and_prepares_what_runs_again(env, binding, prepared):
    """A prepared statement is still planned for each run's values (`force_custom_plan`): a generic plan cannot
    use a partial index whose condition the values decide (the drains' claims)."""
    result = run_django(["-c", _PREPARE_PROBE], **production_env(), **env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "binding": binding, "prepared": prepared, "mode": "force_custom_plan" if prepared else "auto"}
