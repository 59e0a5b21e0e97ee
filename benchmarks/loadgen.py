"""A small HTTP/1.1 load generator on asyncio streams (uvloop when installed): keep-alive connections, JSON
POSTs, closed-loop (N connections, each sends as soon as it has its answer) or open-loop (a fixed rate, each
request timed from the moment it was due, so a slow server cannot hide its queue: no coordinated omission).

Hand-written instead of httpx because the machine has two cores: the generator must cost the server as
little CPU as possible (a request here is a few microseconds of Python), and nothing extra to install.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class HttpConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.answered = 0  # requests answered on the current socket

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.answered = 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes, headers: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n%s\r\n%s" % (path.encode(), self.host.encode(), self.port,
                                                              len(body), headers, body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            payload = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                payload += chunk[:-2]
            response = bytes(payload)
        else:
            response = await self.reader.readexactly(length or 0)
        self.answered += 1
        if close:
            self.close()
        return status, response


@dataclass
class Outcome:
    """What one phase saw: per-request latencies (s), the acknowledged bodies' tags, and the failures."""

    started: float = 0.0
    finished: float = 0.0
    latencies: list[float] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    late_starts: int = 0  # open loop: requests that could not be sent on time (every connection busy)

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def rate(self) -> float:
        return len(self.acknowledged) / self.seconds if self.seconds else 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


# A body factory returns (tag, body): the tag is what the benchmark later looks for in the database.
BodyFactory = Callable[[int], tuple[str, bytes]]
Accept = Callable[[int, bytes], bool]


def _accept_2xx(status: int, body: bytes) -> bool:
    return 200 <= status < 300


async def _one(connection: HttpConnection, path: str, tag: str, body: bytes, headers: bytes, due: float,
               outcome: Outcome, accept: Accept) -> None:
    try:
        try:
            status, response = await connection.post(path, body, headers)
        except (OSError, asyncio.IncompleteReadError):
            if not connection.answered:
                raise
            # The server closed a keep-alive connection that sat idle (uvicorn: 5 s) before our request
            # reached it: like any HTTP client, send it again on a new connection.
            connection.close()
            status, response = await connection.post(path, body, headers)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        connection.close()
        outcome.error(type(exc).__name__)
        return
    took = time.perf_counter() - due
    if accept(status, response):
        outcome.latencies.append(took)
        outcome.acknowledged.append(tag)
    else:
        outcome.error(f"http {status}")


async def closed_loop(url: str, make_body: BodyFactory, *, seconds: float, connections: int, start: int = 0,
                      headers: bytes = b"", accept: Accept = _accept_2xx) -> Outcome:
    """`connections` connections each POST back to back for `seconds`."""
    parts = urlsplit(url)
    outcome = Outcome()
    counter = iter(range(start, 1 << 62))
    outcome.started = time.perf_counter()
    deadline = outcome.started + seconds

    async def loop() -> None:
        connection = HttpConnection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < deadline:
                tag, body = make_body(next(counter))
                outcome.sent += 1
                await _one(connection, parts.path, tag, body, headers, time.perf_counter(), outcome, accept)
        finally:
            connection.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    outcome.finished = time.perf_counter()
    return outcome


async def open_loop(url: str, make_body: BodyFactory, *, seconds: float, rate: float, start: int = 0,
                    max_connections: int = 256, headers: bytes = b"", accept: Accept = _accept_2xx,
                    on_sent: Callable[[str, float], None] | None = None,
                    on_answered: Callable[[str, float], None] | None = None) -> Outcome:
    """POST `rate` requests per second for `seconds`, each on an idle connection (a new one when all are busy,
    up to `max_connections`); latency counts from when the request was due."""
    parts = urlsplit(url)
    outcome = Outcome()
    idle: list[HttpConnection] = []
    opened = 0
    pending: set[asyncio.Task] = set()
    total = int(seconds * rate)
    available = asyncio.Condition()

    async def send(number: int, due: float) -> None:
        nonlocal opened
        async with available:
            while not idle and opened >= max_connections:
                await available.wait()
            if idle:
                connection = idle.pop()
            else:
                opened += 1
                connection = HttpConnection(parts.hostname, parts.port)
        tag, body = make_body(number)
        if time.perf_counter() - due > 0.005:
            outcome.late_starts += 1
        if on_sent:
            on_sent(tag, time.perf_counter())
        await _one(connection, parts.path, tag, body, headers, due, outcome, accept)
        if on_answered:
            on_answered(tag, time.perf_counter())
        async with available:
            idle.append(connection)
            available.notify()

    outcome.started = time.perf_counter()
    for index in range(total):
        due = outcome.started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        outcome.sent += 1
        task = asyncio.create_task(send(start + index, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    outcome.finished = time.perf_counter()
    for connection in idle:
        connection.close()
    return outcome


def run(coroutine):
    """asyncio.run with uvloop when it is installed (uvicorn[standard] brings it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
