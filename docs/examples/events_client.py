"""Print Recado's events (/ws/events/) as JSON lines, reconnecting with backoff.

    pip install websockets            # 13 or later
    export RECADO_API_KEY=rk_...      # a key with the `read` scope (not on the command line: `ps` shows it)
    python events_client.py https://recado.example.com --types message.received,contact.created

Each event is printed on stdout as one line of JSON (the webhook body: type, id, timestamp, version,
company, data); status lines go to stderr. The stream is at-most-once: after a reconnect, re-read from
the API what you must not miss (or use webhooks).

Exit status: 0 after --max-events events, 2 when Recado refuses the connection (4401 unknown or revoked
key, 4403 key without `read` or company suspended, 4400 unknown event type, 4404 unknown instance):
retrying cannot fix those.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from urllib.parse import urlencode, urlsplit, urlunsplit

import websockets

REFUSALS = {
    4400: "unknown event type in --types",
    4401: "unknown or revoked API key",
    4403: "the key lacks the read scope, or the company is suspended",
    4404: "unknown instance",
}


class Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"refused ({code}): {REFUSALS[code]}")
        self.code = code


def stream_url(base_url: str, types: str = "", instance: str = "") -> str:
    """https://host → wss://host/ws/events/?types=…&instance=… (the key never goes in the URL: URLs get logged)."""
    parts = urlsplit(base_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    query = urlencode({name: value for name, value in (("types", types), ("instance", instance)) if value})
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws/events/", query, ""))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def receive(url: str, key: str, max_events: int | None, min_backoff: float = 1.0,
                  max_backoff: float = 60.0) -> int:
    """Connect, print events, reconnect after a drop; returns how many events were printed."""
    printed, backoff = 0, min_backoff
    while True:
        try:
            async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"},
                                          open_timeout=10) as socket:
                log(f"connected to {url}")
                backoff = min_backoff  # a connection that opened resets the backoff
                async for frame in socket:
                    print(json.dumps(json.loads(frame), ensure_ascii=False), flush=True)
                    printed += 1
                    if max_events is not None and printed >= max_events:
                        return printed
            log(f"connection closed ({socket.close_code})")  # e.g. 1001: the server restarts
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            if code in REFUSALS:
                raise Refused(code) from None
            log(f"connection closed ({code or 'no close frame'})")
        except (OSError, TimeoutError, websockets.InvalidHandshake) as error:
            log(f"cannot connect: {error or type(error).__name__}")
        delay = backoff * random.uniform(0.5, 1.0)  # noqa: S311 (jitter: many clients do not reconnect at once)
        log(f"reconnecting in {delay:.1f} s")
        await asyncio.sleep(delay)
        backoff = min(backoff * 2, max_backoff)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print Recado's event stream as JSON lines.")
    parser.add_argument("base_url", help="Recado's address, e.g. https://recado.example.com")
    parser.add_argument("--types", default="", help="comma-separated event types (default: every type)")
    parser.add_argument("--instance", default="", help="only events of this WhatsApp number (instance id)")
    parser.add_argument("--max-events", type=int, default=None, help="exit after this many events")
    parser.add_argument("--min-backoff", type=float, default=1.0, help="first reconnect delay, seconds")
    parser.add_argument("--max-backoff", type=float, default=60.0, help="longest reconnect delay, seconds")
    args = parser.parse_args(argv)
    key = os.environ.get("RECADO_API_KEY", "")
    if not key:
        parser.error("set RECADO_API_KEY to an API key with the read scope")
    url = stream_url(args.base_url, args.types, args.instance)
    try:
        asyncio.run(receive(url, key, args.max_events, args.min_backoff, args.max_backoff))
    except Refused as refused:
        log(str(refused))
        return 2
    except KeyboardInterrupt:
        log("stopped")  # Ctrl+C: a normal way to end the client
    return 0


if __name__ == "__main__":
    sys.exit(main())
