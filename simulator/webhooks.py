"""Webhook delivery as Evolution 2.3 does it: one POST per event, retries with backoff, some codes final."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from .config import SimulatorConfig

logger = logging.getLogger("simulator.webhooks")
NON_RETRYABLE = frozenset({400, 401, 403, 404, 422})
USER_AGENT = "axios/1.12.2 (recado-simulator)"


def hs256_jwt(secret: str, now: float | None = None) -> str:
    """The bearer token Evolution builds from a `jwt_key` header: HS256, valid 10 minutes."""
    issued = int(now if now is not None else time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iat": issued, "exp": issued + 600, "app": "evolution", "action": "webhook"}

    def encode(part: dict[str, Any]) -> str:
        raw = json.dumps(part, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{encode(header)}.{encode(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def request_headers(configured: dict[str, str] | None) -> dict[str, str]:
    """The headers of one POST: JSON, the instance's custom headers, `jwt_key` turned into a bearer token."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/plain, */*",
        "User-Agent": USER_AGENT,
    }
    for name, value in (configured or {}).items():
        if name == "jwt_key":
            headers["Authorization"] = f"Bearer {hs256_jwt(str(value))}"
        else:
            headers[name] = str(value)
    return headers


@dataclass
class Delivery:
    """One event on its way to one URL."""

    instance: str
    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    attempts: int = 0
    results: list[str] = field(default_factory=list)


class WebhookDispatcher:
    """First attempts go out in order per instance; failed ones retry on their own schedule."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.log: deque[dict[str, Any]] = deque(maxlen=2000)
        self._queues: dict[str, asyncio.Queue[Delivery]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.config.webhook_timeout, follow_redirects=False)

    async def stop(self) -> None:
        self.cancel_all()
        if self._client is not None:
            await self._client.aclose()

    def cancel_all(self) -> None:
        """Drop every queued delivery and pending retry (used by reset)."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        self._queues.clear()
        self.log.clear()

    def submit(self, delivery: Delivery) -> None:
        queue = self._queues.get(delivery.instance)
        if queue is None:
            queue = self._queues[delivery.instance] = asyncio.Queue()
            self._spawn(self._worker(queue))
        queue.put_nowait(delivery)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _worker(self, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            if await self._attempt(delivery) == "retry":
                self._spawn(self._retry(delivery))

    async def _retry(self, delivery: Delivery) -> None:
        while delivery.attempts < self.config.webhook_max_attempts:
            await asyncio.sleep(self._delay(delivery.attempts))
            if await self._attempt(delivery) != "retry":
                return
        logger.warning(
            "webhook %s to %s given up after %s attempts", delivery.body["event"], delivery.url, delivery.attempts
        )

    def _delay(self, attempts_done: int) -> float:
        """Exponential backoff from the initial delay, capped, with ±20 % jitter."""
        base = self.config.webhook_retry_delay * 2 ** (attempts_done - 1)
        capped = min(base, self.config.webhook_max_delay)
        return max(0.0, capped * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security

    async def _attempt(self, delivery: Delivery) -> str:
        """POST once; returns "done", "final" (non-retryable answer) or "retry"."""
        assert self._client is not None
        delivery.attempts += 1
        started = time.monotonic()
        try:
            response = await self._client.post(
                delivery.url,
                content=json.dumps(delivery.body, ensure_ascii=False).encode(),
                headers=delivery.headers,
                timeout=self.config.webhook_timeout,
            )
            status: int | str = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        outcome = self._outcome(status)
        self.log.append(
            {
                "instance": delivery.instance,
                "event": delivery.body.get("event"),
                "url": delivery.url,
                "attempt": delivery.attempts,
                "status": status,
                "outcome": outcome,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            }
        )
        return outcome

    @staticmethod
    def _outcome(status: int | str) -> str:
        if isinstance(status, int) and 200 <= status < 300:
            return "done"
        if isinstance(status, int) and status in NON_RETRYABLE:
            return "final"
        return "retry"
