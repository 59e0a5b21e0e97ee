"""Fixtures for the adapter suites: the simulator always, a real Evolution server when configured."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from instances.gateways import Gateway, GatewayError, gateway_for
from tests.simulator.fixtures import SimulatorHandle, simulator, simulator_process, webhook_receiver  # noqa: F401

EVOLUTION_URL = os.environ.get("EVOLUTION_TEST_URL")
EVOLUTION_KEY = os.environ.get("EVOLUTION_TEST_API_KEY")
EVOLUTION_SKIP = "EVOLUTION_TEST_URL and EVOLUTION_TEST_API_KEY are not set (no real Evolution server to test against)"


@dataclass
class GatewayTarget:
    """Where the adapter suite points: the simulator, or a real Evolution server."""

    kind: str
    base_url: str
    api_key: str
    sim: SimulatorHandle | None = None

    def require_simulator(self, why: str = "needs a live WhatsApp session") -> SimulatorHandle:
        """The simulator handle; on a real server, skip (it has no control routes and no phone to scan)."""
        if self.sim is None:
            pytest.skip(f"{why}: only the simulator can provide it")
        return self.sim


@pytest.fixture(
    params=[
        "simulator",
        pytest.param(
            "evolution",
            marks=[
                pytest.mark.evolution,
                pytest.mark.skipif(not (EVOLUTION_URL and EVOLUTION_KEY), reason=EVOLUTION_SKIP),
            ],
        ),
    ]
)
def gateway_target(request: pytest.FixtureRequest) -> GatewayTarget:
    if request.param == "simulator":
        sim: SimulatorHandle = request.getfixturevalue("simulator")
        return GatewayTarget("simulator", sim.base_url, sim.api_key, sim)
    return GatewayTarget("evolution", str(EVOLUTION_URL), str(EVOLUTION_KEY))


@pytest.fixture
def gateway(gateway_target: GatewayTarget) -> Iterator[Gateway]:
    """A v2 adapter on the target with the global key."""
    with gateway_for(gateway_target.base_url, "v2", gateway_target.api_key, timeout=10) as adapter:
        yield adapter


@pytest.fixture
def instance_name(gateway: Gateway) -> Iterator[str]:
    """A fresh instance name, deleted from the gateway afterwards (matters on a real server)."""
    name = f"recado-test-{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(GatewayError):
        gateway.delete_instance(name)


@pytest.fixture
def open_instance(gateway: Gateway, gateway_target: GatewayTarget, instance_name: str) -> str:
    """An instance whose QR was scanned (simulator only: a real server needs a phone)."""
    sim = gateway_target.require_simulator()
    gateway.create_instance(instance_name)
    gateway.connect(instance_name)
    sim.scan(instance_name, number="5511912345678", profile_name="ACME Support")
    return instance_name
