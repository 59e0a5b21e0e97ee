"""The event-stream client examples the docs show (docs/examples/events_client.py and .js), run as they are
against the real app (uvicorn on the test database, the Redis channel layer) with real API keys: events
made through the API arrive in order, filters hold, nothing of another company arrives, refusals stop the
client, and a dropped connection is re-opened with backoff. The JavaScript file runs in chromium (loaded
from disk into a page of the app's origin) and, when a `node` with WebSocket is installed, in Node."""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tenants import services as tenant_services
from tests.browser.conftest import BASE_DIR, _free_port
from tests.factories import make_api_key, make_instance

EXAMPLES = BASE_DIR / "docs" / "examples"
PY_CLIENT = EXAMPLES / "events_client.py"
JS_CLIENT = EXAMPLES / "events_client.js"


@pytest.fixture
def world(transactional_db, company_a, company_b):
    """Company A with two numbers and a read-only stream key; B with a number. Writers use their own keys."""
    return {
        "sales": make_instance(company=company_a, name="sales"),
        "support": make_instance(company=company_a, name="support"),
        "bravo": make_instance(company=company_b, name="bravo"),
        "stream_key": make_api_key(company=company_a, name="stream", scopes=["read"]),
        "writer_a": make_api_key(company=company_a, name="writer", scopes=["read", "write"]).secret,
        "writer_b": make_api_key(company=company_b, name="writer", scopes=["read", "write"]).secret,
    }


def api(app_url: str, key: str, method: str, path: str, body: dict) -> dict:
    response = httpx.request(method, f"{app_url}/api/v1/{path}", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {key}"})
    assert response.status_code in (200, 201), response.text
    return response.json()


def create_contact(app_url: str, key: str, instance, identifier: str, name: str) -> dict:
    return api(app_url, key, "POST", "contacts",
               {"channel": str(instance.public_id), "identifier": identifier, "name": name})


class Client:
    """events_client.py as a subprocess; stderr (status lines) is read live, stdout (events) at the end."""

    def __init__(self, base_url: str, key: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(PY_CLIENT), base_url, *args], cwd=BASE_DIR, text=True,
            env={**os.environ, "RECADO_API_KEY": key}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        self.readers = [threading.Thread(target=self._read, args=args, daemon=True)
                        for args in ((self.process.stderr, self.lines.put), (self.process.stdout, self.stdout.append))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, put) -> None:
        for line in stream:
            put(line)

    def wait_for(self, prefix: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.stderr.append(line)
            if line.startswith(prefix):
                return
        self.process.kill()
        pytest.fail(f"client never said {prefix!r}; stderr: {self.stderr}")

    def finish(self, timeout: float = 20) -> tuple[int, list[dict], str]:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"client did not exit; stdout: {self.stdout}; stderr: {self.stderr}")
        for reader in self.readers:
            reader.join(timeout=5)
        while not self.lines.empty():
            self.stderr.append(self.lines.get())
        return self.process.returncode, [json.loads(line) for line in self.stdout], "".join(self.stderr)


def test_python_client_prints_the_companys_events_in_order(app_url, world, company_a):
    client = Client(app_url, world["stream_key"].secret, "--max-events", "3")
    client.wait_for("connected to ws://")
    ana = create_contact(app_url, world["writer_a"], world["sales"], "5511987654321", "Ana")
    create_contact(app_url, world["writer_b"], world["bravo"], "5511987654321", "Ana of Bravo")  # another company
    api(app_url, world["writer_a"], "PATCH", f"contacts/{ana['id']}", {"custom_name": "Ana Paula"})
    bia = create_contact(app_url, world["writer_a"], world["support"], "5521999998888", "Bia")
    code, events, stderr = client.finish()
    assert code == 0, stderr
    assert [(event["type"], event["data"]["contact"]["id"]) for event in events] == [
        ("contact.created", ana["id"]), ("contact.updated", ana["id"]), ("contact.created", bia["id"])]
    assert {event["company"]["slug"] for event in events} == {company_a.slug}
    assert all(event["id"].startswith("evt_") and event["version"] == 1 for event in events)


def test_python_client_filters_by_type_and_instance(app_url, world):
    sales = world["sales"]
    client = Client(app_url, world["stream_key"].secret, "--types", "contact.created",
                    "--instance", str(sales.public_id), "--max-events", "2")
    client.wait_for("connected to ws://")
    first = create_contact(app_url, world["writer_a"], sales, "5511987654321", "Ana")
    api(app_url, world["writer_a"], "PATCH", f"contacts/{first['id']}", {"custom_name": "Ana P."})  # type not wanted
    create_contact(app_url, world["writer_a"], world["support"], "5521999998888", "Bia")  # another number
    create_contact(app_url, world["writer_b"], world["bravo"], "5531988887777", "Caio")  # another company
    second = create_contact(app_url, world["writer_a"], sales, "5531988887777", "Caio")
    code, events, stderr = client.finish()
    assert code == 0, stderr
    assert [event["data"]["contact"]["id"] for event in events] == [first["id"], second["id"]]
    assert {(event["type"], event["data"]["instance"]["id"]) for event in events} == {
        ("contact.created", str(sales.public_id))}


def test_python_client_stops_on_refusals(app_url, world, company_a, company_b):
    revoked = make_api_key(company=company_a, name="old", scopes=["read"])
    tenant_services.api_key_revoke(company=company_a, api_key=revoked.api_key)
    write_only = make_api_key(company=company_a, name="writer-only", scopes=["write"])
    for key, args, code in [
        (revoked.secret, [], 4401),
        ("rk_not_a_key", [], 4401),
        (write_only.secret, [], 4403),
        (world["stream_key"].secret, ["--types", "no.such"], 4400),
        (world["stream_key"].secret, ["--instance", str(world["bravo"].public_id)], 4404),  # B's number
    ]:
        returncode, events, stderr = Client(app_url, key, *args).finish()
        assert (returncode, events) == (2, []), (code, stderr)
        assert f"refused ({code})" in stderr
        assert "reconnecting" not in stderr


def test_python_client_exits_when_its_key_is_revoked_while_connected(app_url, world, company_a):
    client = Client(app_url, world["stream_key"].secret)
    client.wait_for("connected to ws://")
    tenant_services.api_key_revoke(company=company_a, api_key=world["stream_key"].api_key)
    returncode, events, stderr = client.finish(timeout=25)  # the server re-checks keys every 10 s
    assert (returncode, events) == (2, []), stderr
    assert "refused (4401): unknown or revoked API key" in stderr and "reconnecting" not in stderr


class DroppingProxy:
    """A TCP forwarder to the app that can cut every connection at once (a network drop)."""

    def __init__(self, target_port: int) -> None:
        self.port = _free_port()
        self.target_port = target_port
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [downstream, upstream]
            for source, target in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)

    def drop_all(self) -> None:
        for connection in self.connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.connections = []

    def stop(self) -> None:
        self.drop_all()
        if self.listener:
            self.listener.close()


def test_python_client_reconnects_with_backoff(app_url, world):
    proxy = DroppingProxy(int(app_url.rsplit(":", 1)[1]))
    try:
        client = Client(f"http://127.0.0.1:{proxy.port}", world["stream_key"].secret, "--max-events", "2",
                        "--min-backoff", "0.2", "--max-backoff", "1")
        client.wait_for("cannot connect")  # nothing listens yet: the client waits and tries again
        client.wait_for("reconnecting in")
        proxy.start()
        client.wait_for("connected to ws://")
        before = create_contact(app_url, world["writer_a"], world["sales"], "5511987654321", "Ana")
        time.sleep(0.5)  # the event reaches the client before the drop
        proxy.drop_all()
        client.wait_for("connection closed")
        client.wait_for("connected to ws://")
        after = create_contact(app_url, world["writer_a"], world["sales"], "5521999998888", "Bia")
        code, events, stderr = client.finish()
    finally:
        proxy.stop()
    assert code == 0, stderr
    assert [event["data"]["contact"]["id"] for event in events] == [before["id"], after["id"]]


# --- JavaScript ------------------------------------------------------------------------------------

_START = """([baseUrl, key, types]) => new Promise((resolve) => {
  window.events = []; window.statuses = []; window.refused = null;
  window.stream = streamEvents({
    baseUrl, key, types, onEvent: (event) => window.events.push(event),
    onStatus: (text) => { window.statuses.push(text); if (text.startsWith("connected")) resolve(text); },
    onRefused: (code) => { window.refused = code; resolve("refused"); },
  });
})"""


class _Dashboard(BaseHTTPRequestHandler):
    """An integrator's page on its own origin, loading the very file the docs show with a <script src>."""

    def do_GET(self) -> None:
        if self.path == "/":
            body, kind = b'<!doctype html><title>Board</title><script src="/events_client.js"></script>', "text/html"
        elif self.path == "/events_client.js":
            body, kind = JS_CLIENT.read_bytes(), "text/javascript"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        """Keep the test output clean: the page server's requests need no log."""


@pytest.fixture
def dashboard():
    """Served from loopback like the app (chromium blocks pages of public origins from reaching loopback)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Dashboard)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_javascript_client_in_chromium(app_url, world, dashboard, browser_context, company_a, company_b):
    page = browser_context.new_page()
    page.goto(dashboard)
    assert page.evaluate("typeof streamEvents") == "function"
    assert page.evaluate(_START, [app_url, world["stream_key"].secret, ""]).startswith("connected to ws://")
    ana = create_contact(app_url, world["writer_a"], world["sales"], "5511987654321", "Ana")
    create_contact(app_url, world["writer_b"], world["bravo"], "5511987654321", "Ana of Bravo")
    api(app_url, world["writer_a"], "PATCH", f"contacts/{ana['id']}", {"custom_name": "Ana Paula"})
    page.wait_for_function("window.events.length >= 2")
    time.sleep(0.3)  # anything else (B's event) would have arrived by now
    events = page.evaluate("window.events")
    assert [(event["type"], event["data"]["contact"]["id"]) for event in events] == [
        ("contact.created", ana["id"]), ("contact.updated", ana["id"])]
    assert {event["company"]["slug"] for event in events} == {company_a.slug}
    page.evaluate("window.stream.stop()")

    # The key is offered as a subprotocol, never in the URL.
    assert world["stream_key"].secret not in page.evaluate("window.statuses.join(' ')")
    tenant_services.api_key_revoke(company=company_a, api_key=world["stream_key"].api_key)
    page.evaluate(_START, [app_url, world["stream_key"].secret, ""])  # accepted, then closed with the reason
    page.wait_for_function("window.refused !== null")
    assert page.evaluate("window.refused") == 4401
    page.wait_for_timeout(1500)  # longer than the first backoff: a refused client must not reconnect
    assert not [text for text in page.evaluate("window.statuses") if "reconnecting" in text]


def _node_command() -> list[str] | None:
    node = shutil.which("node")
    if node is None:
        return None
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()[1:].split(".")[0])
    if major >= 22:
        return [node]
    return [node, "--experimental-websocket"] if major == 20 else None  # Node 20.10+ has it behind a flag


def test_javascript_client_in_node(app_url, world, company_a):
    command = _node_command()
    if command is None:
        pytest.skip("no Node 20+ on this machine (the chromium test runs the same file)")
    process = subprocess.Popen([*command, str(JS_CLIENT), app_url, "--types", "contact.created",
                                "--max-events", "1"], env={**os.environ, "RECADO_API_KEY": world["stream_key"].secret},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while "connected" not in (line := process.stderr.readline()):
        assert line and time.monotonic() < deadline, "node client did not connect"
    create_contact(app_url, world["writer_b"], world["bravo"], "5511987654321", "Ana of Bravo")
    ana = create_contact(app_url, world["writer_a"], world["sales"], "5511987654321", "Ana")
    stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    assert [(event["type"], event["data"]["contact"]["id"], event["company"]["slug"]) for event in events] == [
        ("contact.created", ana["id"], company_a.slug)]

    refused = subprocess.run([*command, str(JS_CLIENT), app_url, "--types", "no.such"], capture_output=True, text=True,
                             env={**os.environ, "RECADO_API_KEY": world["stream_key"].secret}, timeout=15)
    assert refused.returncode == 2 and "refused (4400)" in refused.stderr


def test_the_docs_show_these_files():
    for doc in ("docs/webhooks.md", "docs/api.md"):
        text = (BASE_DIR / doc).read_text()
        assert "examples/events_client.py" in text and "examples/events_client.js" in text, doc
    assert Path(PY_CLIENT).exists() and Path(JS_CLIENT).exists()
