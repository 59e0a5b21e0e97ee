"""Pytest fixtures that run the simulator as a real subprocess; import them into any conftest.

    from tests.simulator.fixtures import simulator, simulator_process, webhook_receiver  # noqa: F401

`simulator_process` starts one `python -m simulator` per test session (per xdist worker) on a free
port with fast timings; `simulator` resets its state before each test and returns a handle with
helpers for the /_sim/ control routes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
API_KEY = "test-simulator-global-key"
FAST_SETTINGS = {
    "SIMULATOR_API_KEY": API_KEY,
    "SIMULATOR_QR_INTERVAL": "0.3",
    "SIMULATOR_QR_LIMIT": "30",
    "SIMULATOR_AUTO_STATUS": "",
    "SIMULATOR_STATUS_DELAY": "0.05",
    "SIMULATOR_WEBHOOK_RETRY_DELAY": "0.1",
    "SIMULATOR_WEBHOOK_MAX_DELAY": "0.5",
    "SIMULATOR_WEBHOOK_MAX_ATTEMPTS": "4",
    "SIMULATOR_WEBHOOK_TIMEOUT": "2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class SimulatorHandle:
    """A running simulator: its URL and key, plus helpers for the control routes."""

    base_url: str
    api_key: str
    process: subprocess.Popen[bytes]
    log_path: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, timeout=10)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call a /_sim/ route and return its JSON (asserting success)."""
        response = self.client.request(method, f"/_sim/{path.lstrip('/')}", json=body)
        assert response.is_success, f"{method} /_sim/{path}: {response.status_code} {response.text}"
        return response.json()

    def api(self, method: str, path: str, body: object = None, *, key: str | None = None) -> httpx.Response:
        """Call an Evolution route with the global key (or `key`)."""
        return self.client.request(method, path, json=body, headers={"apikey": key or self.api_key})

    def reset(self, **config: Any) -> None:
        self.control("POST", "reset")
        if config:
            self.configure(**config)

    def configure(self, **config: Any) -> dict[str, Any]:
        return self.control("POST", "config", config)

    def create(self, name: str, /, **body: Any) -> dict[str, Any]:
        response = self.api(
            "POST", "/instance/create", {"instanceName": name, "integration": "WHATSAPP-BAILEYS", **body}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def connect(self, name: str) -> dict[str, Any]:
        return self.api("GET", f"/instance/connect/{name}").json()

    def scan(self, name: str, /, **body: Any) -> dict[str, Any]:
        return self.control("POST", f"instances/{name}/scan", body)

    def open_instance(self, name: str, /, **create: Any) -> dict[str, Any]:
        """Create, connect and scan: an instance in state open."""
        self.create(name, **create)
        self.connect(name)
        return self.scan(name)

    def inbound(self, name: str, /, **spec: Any) -> dict[str, Any]:
        return self.control("POST", f"instances/{name}/inbound", spec)

    def sent(self, name: str) -> list[dict[str, Any]]:
        return self.control("GET", f"instances/{name}/sent")

    def events(self, name: str) -> list[dict[str, Any]]:
        return self.control("GET", f"instances/{name}/events")

    def fail_next(self, name: str, count: int = 1, mode: str = "server_error", **extra: Any) -> None:
        self.control("POST", f"instances/{name}/fail", {"count": count, "mode": mode, **extra})

    def set_status(self, name: str, message_id: str, *statuses: str) -> list[dict[str, Any]]:
        return self.control("POST", f"instances/{name}/messages/{message_id}/status", {"statuses": list(statuses)})[
            "emitted"
        ]

    def deliveries(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.control("GET", "deliveries" + (f"?instance={name}" if name else ""))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_simulator(extra_env: dict[str, str] | None = None) -> SimulatorHandle:
    """Start `python -m simulator` on a free port and wait until it answers."""
    port = free_port()
    env = {**os.environ, **FAST_SETTINGS, **(extra_env or {}), "SIMULATOR_PORT": str(port)}
    log = Path(tempfile.mkstemp(prefix="simulator-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    handle = SimulatorHandle(f"http://127.0.0.1:{port}", env["SIMULATOR_API_KEY"], process, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"simulator exited with {process.returncode}:\n{handle.log()}")
        try:
            if httpx.get(f"{handle.base_url}/", timeout=0.5).status_code == 200:
                return handle
        except httpx.HTTPError:
            time.sleep(0.05)
    stop_simulator(handle)
    raise RuntimeError(f"simulator did not answer within 20 s:\n{handle.log()}")


def stop_simulator(handle: SimulatorHandle) -> None:
    handle.client.close()
    handle.process.terminate()
    try:
        handle.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        handle.process.kill()
        handle.process.wait(timeout=5)
    handle.log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def simulator_process() -> Iterator[SimulatorHandle]:
    """One simulator subprocess for the whole session (one per xdist worker)."""
    handle = start_simulator()
    yield handle
    stop_simulator(handle)


@pytest.fixture
def simulator(simulator_process: SimulatorHandle) -> SimulatorHandle:
    """The session's simulator with every instance, message and setting reset to the fast defaults."""
    simulator_process.reset()
    return simulator_process


@dataclass
class Received:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records POSTs; queue statuses in `answers` to make it fail."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with receiver._lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def events(self, event: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r for r in self.requests if event is None or (isinstance(r.body, dict) and r.body.get("event") == event)
            ]

    def wait_for(self, event: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        return wait_until(lambda: (found := self.events(event)) and len(found) >= count and found, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A local HTTP endpoint recording the webhooks the simulator posts."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
