"""/ws/events/: an API key's client receives its company's events in order (the webhook bodies), filtered
by type and instance, nothing of another company; a revoked key is disconnected."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from config.asgi import application
from instances.models import GatewayServer, Instance
from integrations import services
from integrations.consumers import EventStreamConsumer
from tenants import services as tenant_services
from tenants.scoping import company_scope
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(path="/ws/events/", secret=None, subprotocols=None) -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"authorization", f"Bearer {secret}".encode())] if secret and not subprotocols else []
    communicator = WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


@database_sync_to_async
def emit(company, event_type="contact.created", data=None) -> dict:
    with company_scope(company), transaction.atomic():
        return services.event_emit(company=company, event_type=event_type, payload=data or {})


@database_sync_to_async
def make_instance(company, name):
    server, _ = GatewayServer.objects.get_or_create(name="gw", defaults={
        "base_url": "http://127.0.0.1:9", "api_key": "k", "hook_secret": "s", "hook_secret_hash": "stream-hash"})
    with company_scope(company):
        return Instance.objects.create(company=company, server=server, name=name, gateway_name=f"x_{name}",
                                       token="t", webhook_secret_hash=f"stream-{name}")


async def closed_with(communicator) -> int:
    message = await communicator.receive_output(timeout=5)
    if message["type"] == "websocket.accept":
        message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


async def test_events_in_order_and_nothing_of_another_company(company_a, company_b):
    key_a = await database_sync_to_async(make_api_key)(company=company_a)
    communicator, connected = await connect(secret=key_a.secret)  # no Origin header: a server-side client
    assert connected
    first = await emit(company_a, "contact.created", {"n": 1})
    await emit(company_b, "contact.created", {"n": "bravo"})
    second = await emit(company_a, "contact.updated", {"n": 2})
    received = [json.loads(await communicator.receive_from(timeout=5)) for _ in range(2)]
    assert received == [first, second]
    assert received[0]["company"]["slug"] == "alpha" and received[0]["id"].startswith("evt_")
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_filters_by_type_and_instance(company_a):
    key = await database_sync_to_async(make_api_key)(company=company_a)
    sales, support = await make_instance(company_a, "sales"), await make_instance(company_a, "support")
    path = f"/ws/events/?types=contact.updated,instance.state&instance={sales.public_id}"
    communicator, connected = await connect(path, secret=key.secret)
    assert connected
    await emit(company_a, "contact.created", {"instance": {"id": str(sales.public_id)}})
    await emit(company_a, "contact.updated", {"instance": {"id": str(support.public_id)}})
    wanted = await emit(company_a, "contact.updated", {"instance": {"id": str(sales.public_id)}})
    assert json.loads(await communicator.receive_from(timeout=5)) == wanted
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_browser_clients_use_the_subprotocol(company_a):
    key = await database_sync_to_async(make_api_key)(company=company_a)
    communicator, connected = await connect(subprotocols=["recado.events", f"apikey.{key.secret}"])
    assert connected
    body = await emit(company_a)
    assert json.loads(await communicator.receive_from(timeout=5)) == body
    await communicator.disconnect()


async def test_refusals(company_a, company_b):
    key_a = await database_sync_to_async(make_api_key)(company=company_a)
    write_only = await database_sync_to_async(make_api_key)(company=company_a, scopes=["write"])
    foreign = await make_instance(company_b, "foreign")
    for path, secret, code in [
        ("/ws/events/", None, 4401),
        ("/ws/events/", "rk_not_a_key", 4401),
        ("/ws/events/", write_only.secret, 4403),
        ("/ws/events/?types=nope", key_a.secret, 4400),
        (f"/ws/events/?instance={foreign.public_id}", key_a.secret, 4404),  # another company's instance
    ]:
        communicator = WebsocketCommunicator(
            application, path, headers=[(b"authorization", f"Bearer {secret}".encode())] if secret else [])
        await communicator.send_input({"type": "websocket.connect"})
        assert await closed_with(communicator) == code, path
        await communicator.disconnect()  # lets the consumer's pending layer receive end inside this loop


async def test_a_revoked_key_is_disconnected(company_a, monkeypatch):
    monkeypatch.setattr(EventStreamConsumer, "key_check_seconds", 0.1)
    issued = await database_sync_to_async(make_api_key)(company=company_a)
    communicator, connected = await connect(secret=issued.secret)
    assert connected
    await database_sync_to_async(tenant_services.api_key_revoke)(company=company_a, api_key=issued.api_key)
    message = await communicator.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()


async def test_an_idle_subscription_outlives_the_layer_socket_timeout():
    """The list-based layer blocked 5 s in BZPOPMIN, and a Redis socket timeout as short dropped idle integrators'
    streams. The pub/sub layer's subscriber polls with its own short reads: an idle subscription, on a layer
    whose socket timeout is far shorter than the silence, still gets the next push."""
    from django.conf import settings

    from tenants.channel_layer import PubSubChannelLayer

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    layer = PubSubChannelLayer(**{**config, "hosts": [{**host, "socket_timeout": 0.2} for host in config["hosts"]]})
    channel = await layer.new_channel()
    await layer.group_add("idle", channel)
    await asyncio.sleep(1)
    await layer.group_send("idle", {"type": "event", "n": 1})
    assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "event", "n": 1}
    await layer.flush()


@database_sync_to_async
def emit_once(company, key, data, *, roll_back=False) -> dict | None:
    """An emitter that may run twice for one change (a redelivered task), with no webhook endpoint to record it."""
    class Undone(Exception):
        """Raised to roll the emitter's transaction back."""

    try:
        with company_scope(company), transaction.atomic():
            body = services.event_emit(company=company, event_type="contact.updated", payload=data, dedupe_key=key)
            if roll_back:
                raise Undone
            return body
    except Undone:
        return None


async def test_a_redelivered_emitter_without_endpoints_is_pushed_once_and_each_company_gets_its_own(company_a,
                                                                                                    company_b):
    """No endpoint wants the event, so nothing is recorded under its dedupe key: the stream itself pushes only the
    first copy that commits under it. A copy rolled back pushes nothing and does not use the key up; company B's
    identical key is its own."""
    key_a = await database_sync_to_async(make_api_key)(company=company_a)
    key_b = await database_sync_to_async(make_api_key)(company=company_b)
    stream_a, connected_a = await connect(secret=key_a.secret)
    stream_b, connected_b = await connect(secret=key_b.secret)
    assert connected_a and connected_b
    assert await emit_once(company_a, "contact.updated:batch-9:1", {"n": 0}, roll_back=True) is None
    first = await emit_once(company_a, "contact.updated:batch-9:1", {"n": 1})
    await emit_once(company_a, "contact.updated:batch-9:1", {"n": 1})  # the redelivered task
    other = await emit_once(company_a, "contact.updated:batch-9:2", {"n": 2})
    theirs = await emit_once(company_b, "contact.updated:batch-9:1", {"n": "bravo"})
    assert [json.loads(await stream_a.receive_from(timeout=5)) for _ in range(2)] == [first, other]
    assert await stream_a.receive_nothing(timeout=0.3)
    assert json.loads(await stream_b.receive_from(timeout=5)) == theirs
    assert await stream_b.receive_nothing(timeout=0.3)
    await stream_a.disconnect()
    await stream_b.disconnect()
