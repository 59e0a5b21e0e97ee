"""The real app (uvicorn: HTTP and WebSockets) on the test database, driven by Debian's chromium.

pytest-django's live_server is WSGI-only, so it cannot serve /ws/; instead each xdist worker
starts uvicorn in a subprocess pointed at its own test database. Tests that use it ask for
`transactional_db`, so the rows they create are committed and visible to that process.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings

from tests.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
]
BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _test_database_url() -> str:
    """DATABASE_URL of the test database pytest-django created (its NAME is the test name by now)."""
    database = settings.DATABASES["default"]
    credentials = quote(database["USER"], safe="") + (f":{quote(database['PASSWORD'], safe='')}"
                                                      if database.get("PASSWORD") else "")
    # A host may be a Unix socket directory ("/var/run/postgresql"): percent-encoded, dj-database-url decodes it.
    host = quote(database["HOST"], safe="") + (f":{database['PORT']}" if database.get("PORT") else "")
    return f"postgres://{credentials}@{host}/{database['NAME']}"


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("w") as log:
        return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_stack(log_dir: Path, *, worker_queues: str | None = None, public_url: bool = False,
                  extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """uvicorn (and, with `worker_queues`, a Celery worker) on this worker's test database and Redis database.

    With `public_url`, PUBLIC_URL is the uvicorn itself, so the simulator's webhooks reach it. Yields the URL.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _test_database_url(),
           "REDIS_URL": settings.REDIS_URL, **({"PUBLIC_URL": url} if public_url else {}), **(extra_env or {})}
    processes = [_start([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                         "--port", str(port), "--log-level", "warning"], env, log_dir / "uvicorn.log")]
    if worker_queues:
        processes.append(_start([sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", worker_queues,
                                 "--pool", "solo", "-l", "warning"], env, log_dir / "worker.log"))
    try:
        deadline = time.monotonic() + 30
        while True:
            for process in processes:
                if process.poll() is not None:
                    pytest.fail(f"{process.args[2]} exited with {process.returncode}:\n"
                                f"{(log_dir / 'uvicorn.log').read_text()}")
            with suppress(httpx.TransportError):  # not listening yet
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not answer within 30 s:\n{(log_dir / 'uvicorn.log').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        for process in processes:
            _stop(process)


@pytest.fixture(scope="session")
def app_url(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """Base URL of a uvicorn serving config.asgi on this worker's test database and Redis database."""
    with running_stack(tmp_path_factory.mktemp("uvicorn")) as url:
        yield url


def log_in(page, url: str, login: str) -> None:
    """Log in through the real form and wait for the company page."""
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[\w-]+/$"))


@pytest.fixture
def browser(transactional_db):
    """A fresh chromium per test. Not session-wide: sync Playwright runs an event loop in the main thread
    while it is started, and pytest-asyncio tests that run later on the same worker need none running."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    """While sync Playwright runs, Django sees its event loop in the main thread and refuses ORM calls
    (a data fixture set up after the browser, the table flush at teardown). Nothing async runs Django
    code here, so the check is lifted for these tests only; autouse, so it outlives the database fixtures."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser_context(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    yield context
    context.close()
