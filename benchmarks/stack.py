"""The real stack for a benchmark: a throwaway PostgreSQL database, a Redis database, uvicorn, a Celery
worker and the gateway simulator, each a real process, with production settings.

    from benchmarks.stack import running_stack

    with running_stack(web_workers=2, worker_queues="default", worker_concurrency=1) as stack:
        seeded = stack.seed()                  # company, owner, an instance `open` on the simulator
        httpx.post(seeded.hook_url, json=...)  # the instance's own webhook URL, secret included
        stack.django()                         # this process's ORM, on the same database

The database is `recado_bench_<pid>` next to BENCH_DATABASE_URL's (default the local `postgres`), created,
migrated and dropped at the end even on failure. Redis is BENCH_REDIS_URL (default db 3); every key this
run writes (cache, channel layer, Celery broker) carries a per-run prefix, so two benchmark runs can share
the database, and those keys are deleted at the end. DJANGO_ENV=production with DEBUG off; the only
production setting turned off is SECURE_SSL_REDIRECT, because production has a TLS proxy in front and the
benchmark has none. Django runs `benchmarks.settings` (production settings plus the benchmarks' own URLs,
e.g. the bare reference endpoint), never a change to the product's URLconf.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import redis

REPO = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
SIMULATOR_API_KEY = "bench-simulator-global-key"
# One per process: Django settings are loaded once, so every stack of this process shares them.
_RUN = f"bench{os.getpid()}x"
_SECRET_KEY = secrets.token_urlsafe(50)
_FIELD_KEY = None


def database_name() -> str:
    return f"recado_bench_{os.getpid()}"


def database_url(name: str) -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_sql(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


def postgres_version() -> str:
    with psycopg.connect(ADMIN_URL) as connection:
        return connection.execute("SHOW server_version").fetchone()[0]


def _migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(REPO.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _database_exists(name: str) -> bool:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _drop_stale_templates(*, keep: str) -> None:
    """Templates of older migration sets; one a run is copying right now is in use and stays (no FORCE)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        names = [row[0] for row in connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'recado_bench_tpl_%%' AND datname <> %s", [keep])]
    for stale in names:
        with suppress(psycopg.Error):
            admin_sql(f'DROP DATABASE IF EXISTS "{stale}"')


def create_migrated_database(name: str, env: dict[str, str], log_dir: Path) -> None:
    """Create `name` from a template migrated once per set of migration files (`recado_bench_tpl_<digest>`),
    so a stack does not pay for `migrate` every time. The template is built under a temporary name and
    renamed, so two runs racing to build it never use a half-migrated one."""
    template = f"recado_bench_tpl_{_migrations_digest()}"
    if not _database_exists(template):
        building = f"recado_bench_build_{os.getpid()}"
        admin_sql(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        admin_sql(f'CREATE DATABASE "{building}"')
        try:
            _manage({**env, "DATABASE_URL": database_url(building), "DATABASE_CONN_MAX_AGE": "0"}, log_dir,
                    "migrate", "--noinput", "-v", "0")
            with suppress(psycopg.errors.DuplicateDatabase):  # another run built it first
                admin_sql(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
        finally:
            admin_sql(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        _drop_stale_templates(keep=template)
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _field_key() -> str:
    global _FIELD_KEY
    if _FIELD_KEY is None:
        from cryptography.fernet import Fernet

        _FIELD_KEY = Fernet.generate_key().decode()
    return _FIELD_KEY


def base_env(*, url: str, simulator_url: str, var_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every process of the stack (and of the benchmark's own Django)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DJANGO_ENV": "production",
        "DEBUG": "false",
        "SECRET_KEY": _SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": _field_key(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url(database_name()),
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": _RUN,
        "CHANNEL_LAYER_PREFIX": _RUN,
        "BENCH_BROKER_PREFIX": f"{_RUN}:",
        "PUBLIC_URL": url,
        "SECURE_SSL_REDIRECT": "false",  # production terminates TLS in a proxy; the benchmark has none
        "RECADO_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(var_dir / "media"),
        "EVOLUTION_URL": simulator_url,
        "EVOLUTION_API_KEY": SIMULATOR_API_KEY,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
        "LOG_LEVEL": "WARNING",
        "SIMULATOR_API_KEY": SIMULATOR_API_KEY,
        "SIMULATOR_AUTO_STATUS": "",
        "SIMULATOR_WEBHOOK_RETRY_DELAY": "0.5",
        "SIMULATOR_WEBHOOK_MAX_ATTEMPTS": "4",
        **(extra or {}),
    }


@dataclass
class Seeded:
    """What `Stack.seed` created: ids and names to use from the benchmark, plus the instance's hook URL."""

    company_id: int
    company_slug: str
    owner_id: int
    owner_email: str
    password: str
    instance_id: int
    instance_gateway_name: str
    hook_url: str


@dataclass
class Stack:
    url: str
    port: int
    ws_url: str
    simulator_url: str
    simulator_api_key: str
    database_url: str
    redis_url: str
    env: dict[str, str]
    log_dir: Path
    web_workers: int
    worker_command: list[str] | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def stop_worker(self) -> None:
        """Stop the Celery worker (warm shutdown); tasks sent meanwhile wait in the broker."""
        process = self.processes.pop("worker", None)
        if process is not None:
            _stop(process)

    def start_worker(self) -> None:
        """Start the Celery worker again (same queues and concurrency), appending to its log."""
        if self.worker_command and "worker" not in self.processes:
            self.processes["worker"] = _start("worker", self.worker_command, self.env, self.log_dir, append=True)

    def django(self) -> None:
        """Point this process's Django at the stack's database and settings (idempotent)."""
        for name, value in self.env.items():
            if os.environ.get(name) != value:
                os.environ[name] = value
        import django
        from django.conf import settings

        if not settings.configured:
            django.setup()
        # A second stack in the same process listens on other ports.
        settings.PUBLIC_URL, settings.EVOLUTION_URL = self.url, self.simulator_url

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log(name)[-4000:]}")

    def seed(self, *, slug: str = "bench-market", instance_name: str = "bench", max_members: int = 20,
             timeout: float = 30) -> Seeded:
        """A company, its owner and an instance created on the simulator through our own service (so the
        gateway holds our webhook URL), connected and scanned until the worker has recorded it `open`."""
        self.django()
        from instances import services as instance_services
        from instances.models import InstanceState
        from tenants import services
        from tenants.scoping import company_scope

        password = "bench-password-" + secrets.token_hex(4)
        company = services.company_create(name="Bench Market", slug=slug, max_instances=50, max_members=max_members)
        owner = services.company_owner_create(company=company, email=f"owner@{slug}.test", password=password).user
        instance_services.gateway_server_create(name=f"simulator-{slug}", base_url=self.simulator_url, version="v2",
                                                api_key=self.simulator_api_key, capacity=1000)
        with company_scope(company):
            instance = instance_services.instance_create(company=company, name=instance_name)
            instance_services.instance_connect(company=company, instance=instance)
        with httpx.Client(base_url=self.simulator_url, timeout=10,
                          headers={"apikey": self.simulator_api_key}) as client:
            client.post(f"/_sim/instances/{instance.gateway_name}/scan",
                        json={"number": "5511900000000", "profile_name": "Bench Market"}).raise_for_status()
            found = client.get(f"/webhook/find/{instance.gateway_name}")
            found.raise_for_status()
            hook_url = found.json()["url"]
        deadline = time.monotonic() + timeout
        while _instance_state(company, instance.pk) != InstanceState.OPEN:
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the instance never became open (worker log):\n{self.log('worker')[-4000:]}")
            time.sleep(0.1)
        return Seeded(company_id=company.pk, company_slug=company.slug, owner_id=owner.pk, owner_email=owner.email,
                      password=password, instance_id=instance.pk, instance_gateway_name=instance.gateway_name,
                      hook_url=hook_url)


def _instance_state(company, instance_id: int) -> str:
    """The instance's state, read inside its company's scope (the structure test allows the bypass in few modules)."""
    from instances.models import Instance
    from tenants.scoping import company_scope

    with company_scope(company):
        return Instance.objects.get(company=company, pk=instance_id).state


def _start(name: str, command: list[str], env: dict[str, str], log_dir: Path, *, append: bool = False
           ) -> subprocess.Popen:
    with (log_dir / f"{name}.log").open("a" if append else "w") as log:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    started = time.monotonic()
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if os.environ.get("BENCH_DEBUG"):
        print(f"stopped {process.args[2]} in {time.monotonic() - started:.1f} s", file=sys.stderr)


def _wait_http(url: str, stack: Stack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        with suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout} s")
        time.sleep(0.1)


def _manage(env: dict[str, str], log_dir: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                            check=False)
    with (log_dir / "manage.log").open("a") as log:
        log.write(result.stdout + result.stderr)
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-3000:]}")


def _delete_keys(url: str, prefixes: list[str]) -> None:
    client = redis.Redis.from_url(url)
    try:
        for prefix in prefixes:
            batch = []
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.delete(*batch)
                    batch = []
            if batch:
                client.delete(*batch)
    finally:
        client.close()


@contextmanager
def running_stack(*, web_workers: int = 1, worker_queues: str | None = "default,messaging,polling,webhooks",
                  worker_concurrency: int = 1, sender_concurrency: int = 0, simulator: bool = True,
                  extra_env: dict[str, str] | None = None, keep_logs: bool = False) -> Iterator[Stack]:
    """Create and migrate the database, start uvicorn (`web_workers` processes), a Celery worker (prefork,
    `worker_concurrency` children, on `worker_queues`; None for none) and the simulator; stop and drop it all.
    `sender_concurrency`: also a second worker on the `messaging` queue alone with that many children, as
    production runs the sends (docker-compose.yml's `sender`); `worker_queues` should then leave it out."""
    name = database_name()
    var_dir = Path(tempfile.mkdtemp(prefix="recado-bench-"))
    log_dir = var_dir / "logs"
    log_dir.mkdir()
    port, simulator_port = free_port(), free_port()
    url, simulator_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{simulator_port}"
    env = base_env(url=url, simulator_url=simulator_url, var_dir=var_dir, extra=extra_env)
    stack = Stack(url=url, port=port, ws_url=f"ws://127.0.0.1:{port}", simulator_url=simulator_url,
                  simulator_api_key=SIMULATOR_API_KEY, database_url=env["DATABASE_URL"], redis_url=REDIS_URL,
                  env=env, log_dir=log_dir, web_workers=web_workers)
    try:
        create_migrated_database(name, env, log_dir)
        # Production serves hashed static files from a manifest: pages need it.
        _manage(env, log_dir, "collectstatic", "--noinput", "-v", "0")
        if simulator:
            stack.processes["simulator"] = _start("simulator", [
                sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(simulator_port),
                "--log-level", "warning"], env, log_dir)
        stack.processes["uvicorn"] = _start("uvicorn", [
            sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(web_workers), "--log-level", "warning", "--no-access-log", "--lifespan", "off",
            "--ws-per-message-deflate", "false"],  # as the Dockerfile runs it
            env, log_dir)
        if worker_queues:
            stack.worker_command = [
                sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", worker_queues,
                "--concurrency", str(worker_concurrency), "-l", "warning", "--without-gossip", "--without-mingle"]
            stack.start_worker()
        if sender_concurrency:
            stack.processes["sender"] = _start("sender", [
                sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "messaging", "-n", "sender@%h",
                "--concurrency", str(sender_concurrency), "-l", "warning", "--without-gossip", "--without-mingle"],
                env, log_dir)
        if simulator:
            _wait_http(f"{simulator_url}/", stack)
        _wait_http(f"{url}/healthz", stack)
        if web_workers > 1:  # every worker process must be serving before anything is timed
            for _ in range(web_workers * 20):
                httpx.get(f"{url}/healthz", timeout=5)
        yield stack
    finally:
        for process in reversed(list(stack.processes.values())):
            _stop(process)
        with suppress(Exception):
            from django.conf import settings

            if settings.configured:
                from django.db import connections

                connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with suppress(redis.RedisError):
            _delete_keys(REDIS_URL, [_RUN])
        if not keep_logs and not os.environ.get("BENCH_KEEP_LOGS"):
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"benchmark logs kept in {log_dir}", file=sys.stderr)
