"""A real HTTP receiver on 127.0.0.1 whose answers each test scripts (fail, then recover, 410, ...)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations import services
from tenants.scoping import company_scope


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (the last one repeats) and records the request."""

    statuses: list[int] = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    # Run on the receiver's thread (its own database connection) before it answers a POST: what happens while a
    # delivery is on the wire.
    while_answering: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def answer(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.requests.append(Received(headers=dict(self.headers.items()), body=body))
            if state.while_answering is not None:
                state.while_answering()
            code = state.answer()
            payload = b"ok" if code < 300 else b"receiver says no " * 200  # long: the excerpt is cut to 1 KB
            self.send_response(code)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            """Keep the test output clean: the receiver records requests itself."""

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.server.shutdown()
    state.server.server_close()


@pytest.fixture
def endpoint_a(company_a, receiver):
    """An endpoint of company A pointing at the receiver, with its secret."""
    with company_scope(company_a):
        return services.endpoint_create(company=company_a, url=receiver.url, description="ERP")
