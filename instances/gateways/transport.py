"""HTTP plumbing shared by the adapters: one httpx client, explicit timeouts, error mapping."""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx

from .errors import (
    GatewayError,
    GatewayNotConnected,
    GatewayProtocolError,
    GatewayRefused,
    GatewayServerError,
    GatewayTimeout,
    GatewayUnauthorized,
    GatewayUnreachable,
    GatewayValidationError,
    InstanceNameInUse,
    InstanceNotFound,
    NumberNotOnWhatsApp,
    describe,
    normalise_messages,
    redact,
)

logger = logging.getLogger("recado.gateways")

DEFAULT_TIMEOUT = 15.0
CONNECT_TIMEOUT = 5.0
NOT_CONNECTED_HINTS = ("Connection Closed", "reading 'onWhatsApp'", "is not connected")


def segment(name: str) -> str:
    """An instance name made safe as one URL path segment."""
    return quote(name, safe="")


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error response said, whichever of Evolution's shapes it used."""

    items: tuple[object, ...]
    nested: bool
    boom_status: int | None


def read_error_body(body: object) -> ErrorBody:
    """Messages out of the envelope, a raw exception object, a Boom error, or `{error: "..."}`."""
    if not isinstance(body, dict):
        return ErrorBody((str(body),) if body else (), False, None)
    response = body.get("response")
    if isinstance(response, dict) and "message" in response:
        raw = response["message"]
        nested = isinstance(raw, list) and any(isinstance(item, list) for item in raw)
        return ErrorBody(normalise_messages(raw), nested, None)
    if body.get("isBoom"):
        output = body.get("output") or {}
        payload = output.get("payload") or {}
        return ErrorBody(normalise_messages(payload.get("message")), False, output.get("statusCode"))
    for key in ("message", "error"):
        if isinstance(body.get(key), str | list):
            return ErrorBody(normalise_messages(body[key]), False, None)
    return ErrorBody((), False, None)


def error_for(status: int, body: object, *, method: str, path: str) -> GatewayError:
    """The typed error for one non-2xx answer."""
    parsed = read_error_body(body)
    text = describe(parsed.items) or f"HTTP {status}"
    kwargs: dict[str, Any] = {"status_code": status, "details": parsed.items}
    if status == 401:
        return GatewayUnauthorized("The gateway rejected the API key", **kwargs)
    if status == 403:
        if "already in use" in text:
            return InstanceNameInUse(text, **kwargs)
        return GatewayRefused(text, **kwargs) if parsed.items else GatewayUnauthorized(text, **kwargs)
    if status == 404:
        if text.startswith(f"Cannot {method} "):
            return GatewayProtocolError(f"{text} (wrong gateway version or base URL?)", **kwargs)
        return InstanceNotFound(text, **kwargs)
    if status in (408, 504):
        return GatewayTimeout(text, **kwargs)
    if status == 429 or status >= 500:
        if any(hint in text for hint in NOT_CONNECTED_HINTS):
            return GatewayNotConnected(text, **kwargs)
        return GatewayServerError(text, **kwargs)
    return _client_error(text, parsed, kwargs)


def _client_error(text: str, parsed: ErrorBody, kwargs: dict[str, Any]) -> GatewayError:
    """Map a 4xx other than 401/403/404."""
    if parsed.nested:
        return GatewayValidationError(text, **kwargs)
    if any(isinstance(item, dict) and item.get("exists") is False for item in parsed.items):
        return NumberNotOnWhatsApp(text, **kwargs)
    if parsed.boom_status == 428 or "Connection Closed" in text:
        return GatewayNotConnected(text, **kwargs)
    if "is not connected" in text:
        return GatewayNotConnected(text, transient=False, **kwargs)
    return GatewayRefused(text, **kwargs)


@cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings of every gateway client, built once per process.

    httpx builds a new SSL context for each Client unless it is given one, and loading the CA bundle into it
    costs 50-90 ms of CPU: with a client per gateway call that was most of a send task's time
    (benchmarks/send.py). A context is only read once configured, so one is safely shared."""
    return httpx.create_ssl_context()


class Transport:
    """One connection pool to one gateway; `with_api_key` shares it under another key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._api_key = api_key
        self._owns_client = client is None
        self._client = client or httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
            headers={"Accept": "application/json", "User-Agent": "recado-gateway/1"},
            # An idle connection is dropped after 2 s, before the gateway drops it (Node's and uvicorn's keep-alive
            # timeout is 5 s, httpx's default too): a request never goes out on one the server is closing.
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=2.0),
            verify=tls_context(),
        )

    def with_api_key(self, api_key: str) -> Transport:
        """A transport on the same pool with another key (closing it leaves the pool open)."""
        return Transport(self.base_url, api_key, timeout=self.timeout, client=self._client)

    def close(self) -> None:
        """Close the pool if this transport created it."""
        if self._owns_client:
            self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
        secrets: Iterable[str | None] = (),
        authenticated: bool = True,
        max_bytes: int | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON, or raise the matching GatewayError.

        `max_bytes`: an answer longer than that is not read to its end (GatewayProtocolError), so a gateway
        handing over a huge file cannot exhaust the worker's memory."""
        hidden = (self._api_key, *secrets)
        try:
            response = self._send(method, path, body, params, timeout, authenticated, max_bytes)
        except httpx.TimeoutException as exc:
            kind = GatewayUnreachable if isinstance(exc, httpx.ConnectTimeout) else GatewayTimeout
            raise kind(f"{method} {path}: the gateway at {self.base_url} did not answer in time") from None
        except httpx.TransportError as exc:
            message = redact(
                f"{method} {path}: cannot reach the gateway at {self.base_url} ({type(exc).__name__})", hidden
            )
            raise GatewayUnreachable(message) from None
        payload = _decode(response)
        if response.is_success:
            return _success_payload(response.status_code, payload, method=method, path=path, hidden=hidden)
        error = error_for(response.status_code, payload, method=method, path=path)
        error.message = redact(error.message, hidden)
        error.args = (error.message,)
        raise error

    def _send(
        self,
        method: str,
        path: str,
        body: object,
        params: dict[str, str] | None,
        timeout: float | None,
        authenticated: bool,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        """Perform the call and log it without headers or bodies."""
        headers = {"apikey": self._api_key} if authenticated else {}
        kwargs: dict[str, Any] = {"headers": headers, "params": params}
        if body is not None:
            kwargs["content"] = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
        started = time.monotonic()
        if max_bytes is None:
            response = self._client.request(method, path, **kwargs)
        else:
            response = self._bounded(method, path, kwargs, max_bytes)
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.info("gateway %s %s -> %s in %.0f ms", method, path, response.status_code, elapsed_ms)
        return response


    def _bounded(self, method: str, path: str, kwargs: dict[str, Any], max_bytes: int) -> httpx.Response:
        """The answer read in chunks, given up past `max_bytes` (its Content-Length is checked first)."""
        with self._client.stream(method, path, **kwargs) as streamed:
            declared = streamed.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise GatewayProtocolError(f"{method} {path}: the answer is larger than {max_bytes} bytes")
            chunks, size = [], 0
            for chunk in streamed.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise GatewayProtocolError(f"{method} {path}: the answer is larger than {max_bytes} bytes")
                chunks.append(chunk)
            # The chunks are already decoded: the new answer must not say they are compressed.
            headers = [(name, value) for name, value in streamed.headers.multi_items()
                       if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
            return httpx.Response(streamed.status_code, headers=headers, content=b"".join(chunks),
                                  request=streamed.request)


def _decode(response: httpx.Response) -> object:
    """The JSON body, or the text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return response.text


def _success_payload(status: int, payload: object, *, method: str, path: str, hidden: tuple[str | None, ...]) -> Any:
    """A 2xx body, unless it is one of the `{error: true, message}` answers connect/restart give."""
    if isinstance(payload, str) and payload:
        raise GatewayProtocolError(f"{method} {path}: the gateway answered {status} with a non-JSON body")
    if isinstance(payload, dict) and payload.get("error") is True and "response" not in payload:
        message = redact(describe(normalise_messages(payload.get("message"))) or "gateway error", hidden)
        raise GatewayRefused(message, status_code=status, details=normalise_messages(payload.get("message")))
    return payload if payload != "" else None
