"""Instances run against the real simulator subprocess over HTTP; pushes are read from the real channel layer."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from instances import services
from instances.models import GatewayServer, Instance
from tenants import realtime
from tenants.models import Company
from tenants.scoping import company_scope
from tests.simulator.fixtures import simulator, simulator_process  # noqa: F401


@pytest.fixture(autouse=True)
def _webhooks_go_nowhere(settings):
    # Nothing listens on the discard port: the simulator's own deliveries fail fast, and tests post the
    # events it recorded to our hooks themselves (through the test client), in the order they choose.
    settings.PUBLIC_URL = "http://127.0.0.1:9"


@pytest.fixture
def gateway_server(db, simulator) -> GatewayServer:  # noqa: F811
    return services.gateway_server_create(
        name="simulator", base_url=simulator.base_url, version="v2", api_key=simulator.api_key, capacity=50,
    )


def create_instance(company: Company, name: str = "sales", **fields) -> Instance:
    with company_scope(company):
        return services.instance_create(company=company, name=name, **fields)


@pytest.fixture
def instance_a(company_a, gateway_server) -> Instance:
    return create_instance(company_a, "sales")


@pytest.fixture
def instance_b(company_b, gateway_server) -> Instance:
    return create_instance(company_b, "sales")


class Listener:
    """A real channel-layer channel joined to some company topics; `drain()` (once per test: the layer's
    receive buffer belongs to one event loop) returns the HTML pushed to them."""

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


@pytest.fixture
def listener(settings) -> Listener:
    # The in-memory layer (STYLE rule 35's test default): what is asserted is the fragment and its group,
    # not Redis; the browser test covers the Redis layer end to end.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return Listener()
