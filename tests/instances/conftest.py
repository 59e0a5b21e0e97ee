"""Instances run against the real simulator subprocess over HTTP; pushes are read from the real channel layer."""

from __future__ import annotations

import pytest

from instances import services
from instances.models import GatewayServer, Instance
from tenants.models import Company
from tenants.scoping import company_scope
from tests.realtime_listener import Listener
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


@pytest.fixture
def listener() -> Listener:
    return Listener()
