"""Messaging runs against the real simulator over HTTP, real PostgreSQL, Redis and the channel layer."""

from __future__ import annotations

import itertools
import json

import pytest
from django.test import Client

from instances import services as instance_services
from instances.models import GatewayServer, InboundEvent, Instance
from instances.tasks import process_inbound_event
from tenants.models import Company
from tenants.scoping import company_scope
from tests.realtime_listener import Listener
from tests.simulator.fixtures import simulator, simulator_process  # noqa: F401

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _webhooks_go_nowhere(settings, tmp_path):
    # The simulator's own deliveries fail fast (nothing listens on the discard port); tests post the events
    # it recorded to our hooks themselves, in the order they choose. Media lands in a throwaway directory.
    settings.PUBLIC_URL = "http://127.0.0.1:9"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MESSAGING_SEND_RATE_PER_MINUTE = 6000


@pytest.fixture(autouse=True)
def _broker_left_empty():
    """Tasks enqueued after commit (sends, media downloads) are run explicitly by the tests; whatever they left in
    this worker's own broker database is dropped, so a later test's real worker never picks up stale work."""
    yield
    from config.celery import app

    app.control.purge()


@pytest.fixture
def gateway_server(db, simulator) -> GatewayServer:  # noqa: F811
    return instance_services.gateway_server_create(
        name="simulator", base_url=simulator.base_url, version="v2", api_key=simulator.api_key, capacity=50,
    )


def open_instance(company: Company, simulator, name: str = "sales", number: str | None = None) -> Instance:  # noqa: F811
    """An instance of `company` created on the simulator, connected and scanned (state open there)."""
    with company_scope(company):
        instance = instance_services.instance_create(company=company, name=name)
        instance_services.instance_connect(company=company, instance=instance)
    simulator.scan(instance.gateway_name, number=number or f"55119{next(_numbers):08d}", profile_name=company.name)
    return instance


@pytest.fixture
def instance_a(company_a, gateway_server, simulator) -> Instance:  # noqa: F811
    return open_instance(company_a, simulator, "sales")


@pytest.fixture
def instance_b(company_b, gateway_server, simulator) -> Instance:  # noqa: F811
    return open_instance(company_b, simulator, "sales")


class Hooks:
    """Posts what the simulator emitted to our real hook URL and runs the processing task, like production."""

    def __init__(self, simulator, capture) -> None:  # noqa: F811
        self.simulator = simulator
        self.capture = capture
        self.posted: dict[int, int] = {}

    def path(self, instance: Instance) -> str:
        url = self.simulator.control("GET", f"instances/{instance.gateway_name}")["webhook"]["url"]
        return "/hooks/evolution/" + url.split("/hooks/evolution/", 1)[1]

    def new_bodies(self, instance: Instance, *names: str) -> list[dict]:
        """Events emitted since the last call (message events only, unless names are given)."""
        names = names or ("MESSAGES_UPSERT", "MESSAGES_UPDATE", "MESSAGES_DELETE", "MESSAGES_EDITED",
                          "SEND_MESSAGE", "SEND_MESSAGE_UPDATE")
        seen = self.posted.get(instance.pk, 0)
        events = [event for event in self.simulator.events(instance.gateway_name) if event["seq"] > seen]
        if events:
            self.posted[instance.pk] = events[-1]["seq"]
        return [event["body"] for event in events if event["config_name"] in names]

    def post(self, instance: Instance, body: dict) -> int:
        with self.capture():
            response = Client().post(self.path(instance), json.dumps(body), content_type="application/json")
        return response.status_code

    def process(self) -> list[str]:
        results = []
        pending = InboundEvent.all_companies.filter(status=InboundEvent.Status.PENDING).order_by("pk")
        for company_id, event_id in pending.values_list("company_id", "pk"):
            with self.capture(execute=True):
                results.append(process_inbound_event.apply(args=[company_id, event_id]).get())
        return results

    def deliver(self, instance: Instance, bodies: list[dict] | None = None) -> list[str]:
        """Post the given bodies (default: everything new) and process them."""
        for body in self.new_bodies(instance) if bodies is None else bodies:
            assert self.post(instance, body) == 200
        return self.process()


@pytest.fixture
def hooks(simulator, django_capture_on_commit_callbacks) -> Hooks:  # noqa: F811
    return Hooks(simulator, django_capture_on_commit_callbacks)


@pytest.fixture
def listener() -> Listener:
    return Listener()
