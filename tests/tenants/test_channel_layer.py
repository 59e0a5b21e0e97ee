"""The pub/sub channel layer (tenants/channel_layer.py) on a real Redis: one subscription per group and process,
a bounded mailbox per channel, recovery after its Redis connections are dropped, nothing across companies."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from contextlib import suppress

import pytest
import redis
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from tenants import realtime
from tenants.channel_layer import PubSubChannelLayer
from tests.realtime_listener import Listener
from tests.tenants.test_realtime import _connect, _subscribe
from tests.test_settings import production_env, run_django

pytestmark = pytest.mark.django_db(transaction=True)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _address(connection) -> str:
    host, port = connection._writer.get_extra_info("sockname")[:2]
    return f"{host}:{port}"


def _kill(addresses: list[str]) -> int:
    """CLIENT KILL these connections of ours (by their local address): nobody else's."""
    client = _redis()
    try:
        return sum(client.execute_command("CLIENT", "KILL", "ADDR", address) for address in addresses)
    finally:
        client.close()


def _subscriber_address(layer) -> str:
    """The local address of the connection this event loop's layer subscribes on (one shard)."""
    return _address(layer._get_layer()._shards[0]._pubsub.connection)


def _publisher_addresses() -> list[str]:
    """The local addresses of the publisher loop's pooled connections (tenants/realtime.py)."""
    pool = get_channel_layer()._layers[realtime._publisher_loop()]._shards[0]._redis.connection_pool
    return [_address(connection) for connection in [*pool._available_connections, *pool._in_use_connections]
            if connection._writer is not None]


def _subscribers(channel: str) -> int:
    """How many connections (processes) Redis has subscribed to this pub/sub channel."""
    client = _redis()
    try:
        return dict(client.pubsub_numsub(channel))[channel.encode()]
    finally:
        client.close()


def _publish(company, text: str) -> None:
    with transaction.atomic():
        realtime.publish(company=company, topic="company", template_name="tests/fragment.html",
                         context={"text": text})


async def _push_until_received(communicator, company, label: str) -> str:
    """Push to the company until the socket gets one: those sent before the layer has subscribed again are
    lost (at-most-once, STYLE rule 23). Fails after 10 s."""
    deadline = time.monotonic() + 10
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        await database_sync_to_async(_publish)(company, f"{label} {attempt}")
        if not await communicator.receive_nothing(timeout=0.2, interval=0.02):
            return await communicator.receive_from(timeout=1)
    raise AssertionError(f"no push reached the socket within 10 s ({attempt} sent)")


async def _frames(communicator) -> list[str]:
    frames = []
    while not await communicator.receive_nothing(timeout=0.3):
        frames.append(await communicator.receive_from(timeout=1))
    return frames


def test_both_settings_use_the_bounded_pubsub_layer_with_a_prefix_per_redis_database():
    import config.settings as production

    for layers in (production.CHANNEL_LAYERS, settings.CHANNEL_LAYERS):
        assert layers["default"]["BACKEND"] == "tenants.channel_layer.PubSubChannelLayer"
        assert layers["default"]["CONFIG"]["capacity"] == 100
    database = settings.REDIS_URL.rsplit("/", 1)[1]
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"].startswith(f"recado-test-db{database}-")
    # Pub/sub channels ignore the database number: production's default prefix carries it.
    result = run_django(["-c", "import django; django.setup(); from django.conf import settings; "
                               "print(settings.CHANNEL_LAYERS['default']['CONFIG']['prefix'])"],
                        **{**production_env(), "REDIS_URL": "redis://127.0.0.1:6379/5"})
    assert result.stdout.strip() == "recado-db5.", result.stderr


@pytest.mark.skipif(not hasattr(socket, "TCP_KEEPIDLE"),
                    reason="the settings set keepalive options only where the platform has them (Linux, as on CI "
                           "and in the Dockerfile); elsewhere there is nothing to check")
async def test_the_subscriber_connection_is_probed_when_silent():
    """A subscriber connection whose peer vanished without a reset (a NAT or firewall forgetting it) would wait
    forever: TCP keepalive probes it after 30 s of silence, so the kernel closes it and redis-py reconnects."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("probed", channel)
    sock = layer._get_layer()._shards[0]._pubsub.connection._writer.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
    await layer.group_discard("probed", channel)


async def test_one_subscription_per_group_and_process_released_with_its_last_channel():
    layer = get_channel_layer()
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("shared", first)
    await layer.group_add("shared", second)
    group_channel = layer._get_layer()._get_group_channel_name("shared")
    assert await asyncio.to_thread(_subscribers, group_channel) == 1
    await layer.group_send("shared", {"type": "fragment", "html": "both"})
    assert await asyncio.wait_for(layer.receive(first), 5) == {"type": "fragment", "html": "both"}
    assert await asyncio.wait_for(layer.receive(second), 5) == {"type": "fragment", "html": "both"}
    await layer.group_discard("shared", first)
    assert await asyncio.to_thread(_subscribers, group_channel) == 1
    await layer.group_discard("shared", second)
    deadline = time.monotonic() + 5
    while await asyncio.to_thread(_subscribers, group_channel) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert await asyncio.to_thread(_subscribers, group_channel) == 0


async def test_a_channel_that_is_not_read_keeps_only_its_newest_pushes():
    """A socket that stops reading (a stalled tab) holds at most `capacity` pushes, the newest."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("slow", channel)
    for number in range(150):
        await layer.group_send("slow", {"type": "fragment", "n": number})
    mailbox = layer._get_layer().channels[channel]
    deadline = time.monotonic() + 5
    while mailbox.dropped < 50 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert (mailbox.qsize(), mailbox.dropped) == (100, 50)
    received = [(await layer.receive(channel))["n"] for _ in range(100)]
    assert received == list(range(50, 150))
    await layer.group_discard("slow", channel)


async def test_sockets_get_pushes_again_after_the_layer_connection_is_dropped(owner_a, company_a, owner_b,
                                                                              company_b):
    """The web process's one subscriber connection is killed on the server: redis-py reconnects and subscribes
    again to every group (companies' topics and the user groups), and company B still gets nothing of A."""
    socket_a, socket_b = await _connect(owner_a), await _connect(owner_b)
    assert (await socket_a.connect())[0] and (await socket_b.connect())[0]
    assert await _subscribe(socket_a, company_a.slug) == {"subscribed": "company"}
    assert await _subscribe(socket_b, company_b.slug) == {"subscribed": "company"}
    assert "A before" in await _push_until_received(socket_a, company_a, "A before")

    assert await asyncio.to_thread(_kill, [_subscriber_address(get_channel_layer())]) == 1
    assert "A after" in await _push_until_received(socket_a, company_a, "A after")
    assert "B after" in await _push_until_received(socket_b, company_b, "B after")
    assert all("B " not in frame for frame in await _frames(socket_a))
    assert all("A " not in frame for frame in await _frames(socket_b))

    # The user group came back too: removing a member still closes their sockets.
    await database_sync_to_async(realtime._send)(realtime.user_group(owner_a.public_id), {"type": "force_disconnect"})
    assert await socket_a.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    assert await socket_b.receive_nothing(timeout=0.3)
    await socket_a.disconnect()
    await socket_b.disconnect()


def test_pushes_from_sync_code_recover_after_the_publisher_connection_is_dropped(company_a, company_b):
    """The worker's publisher loop keeps its Redis connections; killed on the server, the next pushes reconnect
    (the one in flight may be lost: a hint). Company B's listener hears none of it."""
    listener_a = Listener().join(company_a, "company")
    listener_b = Listener().join(company_b, "company")
    group = realtime.group_for(company_a, "company")
    realtime._send(group, {"type": "fragment", "html": "<p>before</p>"})
    addresses = _publisher_addresses()
    assert addresses
    assert _kill(addresses) == len(addresses)
    for number in range(5):
        realtime._send(group, {"type": "fragment", "html": f"<p>after {number}</p>"})
    received = listener_a.drain()
    assert received[0] == "<p>before</p>"
    assert received[-4:] == [f"<p>after {number}</p>" for number in range(1, 5)]
    assert listener_b.drain() == []


def _start_redis(port: int, directory) -> subprocess.Popen:
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(directory)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        with suppress(redis.ConnectionError):
            if client.ping():
                client.close()
                return process
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("redis-server") is None,
                    reason="restarting Redis needs a private redis-server (the shared one must not be restarted); "
                           "Debian's redis-server is on CI and dev machines")
async def test_subscriptions_come_back_after_redis_restarts(tmp_path):
    """A Redis of the test's own (the shared one cannot be restarted): stopped while a channel is subscribed and
    started again on the same port, the layer subscribes again by itself and pushes flow."""
    from benchmarks.stack import free_port

    port = free_port()
    server = await asyncio.to_thread(_start_redis, port, tmp_path)
    try:
        hosts = [{"address": f"redis://127.0.0.1:{port}/0", "socket_timeout": 1}]
        subscriber, publisher = PubSubChannelLayer(hosts=hosts), PubSubChannelLayer(hosts=hosts)
        channel = await subscriber.new_channel()
        await subscriber.group_add("restart", channel)
        await publisher.group_send("restart", {"type": "fragment", "n": 0})
        assert (await asyncio.wait_for(subscriber.receive(channel), 5))["n"] == 0

        server.terminate()
        await asyncio.to_thread(server.wait, 10)
        await asyncio.sleep(1.5)  # the subscriber notices and fails to reconnect meanwhile
        server = await asyncio.to_thread(_start_redis, port, tmp_path)

        deadline = time.monotonic() + 15
        number, got = 0, None
        while got is None and time.monotonic() < deadline:
            number += 1
            with suppress(redis.ConnectionError):  # a publish on a connection of the old server fails once
                await publisher.group_send("restart", {"type": "fragment", "n": number})
            with suppress(TimeoutError):
                got = await asyncio.wait_for(subscriber._get_layer().channels[channel].get(), 0.3)
        assert got is not None, "no push arrived after Redis restarted"
        await subscriber.flush()
        await publisher.flush()
    finally:
        server.terminate()
        server.wait(10)


async def _mailbox_holding(layer, channel: str, count: int):
    mailbox = layer._get_layer().channels[channel]
    deadline = time.monotonic() + 5
    while mailbox.qsize() < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert mailbox.qsize() == count
    return mailbox


async def test_waiting_pushes_of_one_type_are_taken_together_and_the_rest_keep_their_turn():
    """receive_waiting takes the messages of the type asked for that wait at the front of the line, up to the
    limit, without waiting; a message of another type stops it and is the next one received."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("together", channel)
    for item in ["f0", "f1", "f2", "other", "f3"]:
        kind = "force_disconnect" if item == "other" else "fragment"
        await layer.group_send("together", {"type": kind, "n": item})
    await _mailbox_holding(layer, channel, 5)
    assert (await layer.receive(channel))["n"] == "f0"
    assert [message["n"] for message in layer.receive_waiting(channel, "fragment", 1)] == ["f1"]
    assert [message["n"] for message in layer.receive_waiting(channel, "fragment", 10)] == ["f2"]
    assert layer.receive_waiting(channel, "fragment", 10) == []
    assert (await layer.receive(channel))["n"] == "other"
    assert [message["n"] for message in layer.receive_waiting(channel, "fragment", 10)] == ["f3"]
    assert layer.receive_waiting("no.such.channel", "fragment", 10) == []
    await layer.group_discard("together", channel)


async def test_a_socket_behind_gets_its_waiting_fragments_in_one_frame_in_order(owner_a, company_a, company_b):
    """The browser consumer writes the fragments already waiting for it in one frame (htmx swaps each top-level
    element in order); a push of another kind is not folded in. Another company's group reaches none of it."""
    from tenants.consumers import FRAGMENTS_PER_FRAME, DashboardConsumer

    layer = get_channel_layer()
    consumer = DashboardConsumer()
    consumer.channel_layer, consumer.channel_name = layer, await layer.new_channel()
    frames = []

    async def server_send(message):  # the ASGI server's side of the socket
        frames.append(message)

    consumer.base_send = server_send
    group_a = realtime.group_for(company_a, "company")
    await layer.group_add(group_a, consumer.channel_name)
    pushes = [f'<div id="f{number}" hx-swap-oob="true">{number}</div>' for number in range(FRAGMENTS_PER_FRAME + 5)]
    for html in pushes[:3]:
        await layer.group_send(group_a, {"type": "fragment", "html": html})
    await layer.group_send(realtime.group_for(company_b, "company"), {"type": "fragment", "html": "<p>of B</p>"})
    await layer.group_send(group_a, {"type": "force_disconnect"})
    for html in pushes[3:]:
        await layer.group_send(group_a, {"type": "fragment", "html": html})
    await _mailbox_holding(layer, consumer.channel_name, len(pushes) + 1)

    await consumer.fragment(await layer.receive(consumer.channel_name))
    assert frames == [{"type": "websocket.send", "text": "".join(pushes[:3])}]
    assert (await layer.receive(consumer.channel_name))["type"] == "force_disconnect"
    await consumer.fragment(await layer.receive(consumer.channel_name))
    assert frames[1]["text"] == "".join(pushes[3:3 + FRAGMENTS_PER_FRAME])  # at most FRAGMENTS_PER_FRAME a frame
    await consumer.fragment(await layer.receive(consumer.channel_name))
    assert frames[2]["text"] == "".join(pushes[3 + FRAGMENTS_PER_FRAME:])
    assert "of B" not in "".join(frame["text"] for frame in frames)
    await layer.group_discard(group_a, consumer.channel_name)
