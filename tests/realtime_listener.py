"""A test's ear on the real (Redis) channel layer: join company topics, then read what was pushed."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from tenants import realtime
from tenants.models import Company


class Listener:
    """A channel joined to company topics; `drain()` returns the HTML (or JSON payloads) pushed to them.

    Call drain() once per test: the layer's receive buffer for a channel belongs to one event loop.
    """

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()

    def join(self, company: Company, topic: str) -> Listener:
        async_to_sync(self.layer.group_add)(realtime.group_for(company, topic), self.channel)
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

        return async_to_sync(receive_all)()
