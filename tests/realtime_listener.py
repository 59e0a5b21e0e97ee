"""A test's ear on the real (Redis) channel layer: join company topics, then read what was pushed."""

from __future__ import annotations

import asyncio
import threading

from channels.layers import get_channel_layer

from tenants import realtime
from tenants.models import Company

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def listener_loop() -> asyncio.AbstractEventLoop:
    """One event loop for every Listener of this process, in a daemon thread, apart from the publisher's.

    The pub/sub layer keeps a channel's subscription and its queue in the event loop that created the
    channel (as a web process does), so new_channel, group_add and receive must all run in the same,
    still open, loop: async_to_sync would give each call a loop of its own.
    """
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="realtime-listener", daemon=True).start()
        return _loop


def run_in_listener_loop(coroutine, timeout: float = 30):
    return asyncio.run_coroutine_threadsafe(coroutine, listener_loop()).result(timeout)


class Listener:
    """A channel joined to company topics; `drain()` returns the HTML (or JSON payloads) pushed to them."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = run_in_listener_loop(self.layer.new_channel())

    def join(self, company: Company, topic: str, language: str | None = None) -> Listener:
        """Hear the topic as a page in `language` (default: settings.LANGUAGE_CODE) does, and its stream events."""
        from django.conf import settings

        group = realtime.group_for(company, topic)
        for joined in (group, realtime.language_group(group, language or settings.LANGUAGE_CODE)):
            run_in_listener_loop(self.layer.group_add(joined, self.channel))
        return self

    def drain(self, timeout: float = 0.3) -> list[str]:
        async def receive_all() -> list[str]:
            received = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                except TimeoutError:
                    return received
                received.append(message.get("html", ""))

        return run_in_listener_loop(receive_all(), timeout=60)
