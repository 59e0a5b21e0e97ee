"""Live updates: one socket per tab, subscriptions resolved inside the user's company, pushes after commit."""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client

from config.asgi import application
from tenants import realtime, services
from tenants.scoping import current_company

pytestmark = pytest.mark.django_db(transaction=True)


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user, backend="tenants.backends.UsernameOrEmailBackend")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _connect(user=None, accept_language: str = "") -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if accept_language:
        headers.append((b"accept-language", accept_language.encode()))
    if user is not None:
        cookie = await database_sync_to_async(_session_cookie)(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    return communicator


async def _subscribe(communicator, company_slug: str, topic: str = "company", public_id=None) -> dict:
    await communicator.send_to(text_data=json.dumps(
        {"action": "subscribe", "company": company_slug, "topic": topic, "id": public_id}
    ))
    return json.loads(await communicator.receive_from(timeout=5))


async def test_anonymous_socket_is_refused():
    communicator = await _connect()
    connected, _code = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_foreign_origin_is_refused(owner_a):
    cookie = await database_sync_to_async(_session_cookie)(owner_a)
    communicator = WebsocketCommunicator(application, "/ws/", headers=[
        (b"origin", b"https://evil.example"), (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ])
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_member_subscribes_and_receives_published_fragment(owner_a, company_a):
    communicator = await _connect(owner_a)
    assert (await communicator.connect())[0]
    assert await _subscribe(communicator, company_a.slug) == {"subscribed": "company"}

    def publish():
        with transaction.atomic():
            realtime.publish(company=company_a, topic="company", template_name="tests/fragment.html",
                             context={"text": "hello A"})

    await database_sync_to_async(publish)()
    html = await communicator.receive_from(timeout=5)
    assert 'id="test-fragment"' in html
    assert 'hx-swap-oob="true"' in html
    assert "hello A" in html
    await communicator.disconnect()


async def test_other_company_cannot_subscribe_and_receives_nothing(owner_a, company_a, owner_b, company_b):
    stranger = await _connect(owner_b)
    assert (await stranger.connect())[0]
    assert await _subscribe(stranger, company_a.slug) == {"error": "not_found"}
    assert await _subscribe(stranger, company_b.slug) == {"subscribed": "company"}
    assert await _subscribe(stranger, "no-such-company") == {"error": "not_found"}
    assert await _subscribe(stranger, company_b.slug, topic="bogus") == {"error": "not_found"}

    def publish_for_a():
        with transaction.atomic():
            realtime.publish(company=company_a, topic="company", template_name="tests/fragment.html",
                             context={"text": "secret of A"})

    await database_sync_to_async(publish_for_a)()
    assert await stranger.receive_nothing(timeout=0.5)
    await stranger.disconnect()


async def test_rolled_back_transaction_publishes_nothing(owner_a, company_a):
    communicator = await _connect(owner_a)
    assert (await communicator.connect())[0]
    await _subscribe(communicator, company_a.slug)

    def publish_then_fail():
        with suppress(RuntimeError), transaction.atomic():
            realtime.publish(company=company_a, topic="company", template_name="tests/fragment.html",
                             context={"text": "never"})
            raise RuntimeError("rollback")

    await database_sync_to_async(publish_then_fail)()
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_bad_messages_get_an_error_not_a_crash(owner_a):
    communicator = await _connect(owner_a)
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="not json")
    assert json.loads(await communicator.receive_from()) == {"error": "bad_request"}
    await communicator.send_to(text_data=json.dumps({"action": "write", "topic": "company"}))
    assert json.loads(await communicator.receive_from()) == {"error": "bad_request"}
    await communicator.disconnect()


async def test_removed_member_socket_is_closed(owner_a, company_a, member_a):
    communicator = await _connect(member_a)
    assert (await communicator.connect())[0]
    await _subscribe(communicator, company_a.slug)

    def remove():
        from tenants.scoping import company_scope
        from tenants.selectors import membership_get

        with company_scope(company_a):
            actor = membership_get(company=company_a, user=owner_a)
            target = membership_get(company=company_a, user=member_a)
        with transaction.atomic():
            services.membership_remove(company=company_a, actor=actor, membership=target)

    await database_sync_to_async(remove)()
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    assert output["code"] == 4403


async def test_consumer_leaves_no_company_context(owner_a, company_a):
    communicator = await _connect(owner_a)
    assert (await communicator.connect())[0]
    await _subscribe(communicator, company_a.slug)
    await communicator.disconnect()
    assert current_company() is None


def test_group_names_are_built_from_company_and_validated(company_a):
    assert realtime.group_for(company_a, "company") == f"company.{company_a.public_id.hex}.company"
    with pytest.raises(ValueError):
        realtime.group_for(company_a, "company.*")
    from channels_redis.pubsub import RedisPubSubChannelLayer

    assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)


def test_channel_layer_is_real_redis():
    layer = get_channel_layer()

    async def roundtrip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "ping", "n": 1})
        return await asyncio.wait_for(layer.receive(channel), 5)

    from asgiref.sync import async_to_sync

    assert async_to_sync(roundtrip)() == {"type": "ping", "n": 1}


def test_pushes_from_sync_code_go_through_one_long_lived_loop_in_order(company_a):
    """A worker pushes several fragments per message: each one used to start an event loop and a Redis
    connection of its own (async_to_sync); they now share the process's publisher loop and arrive in order."""
    from tests.realtime_listener import Listener

    listener = Listener().join(company_a, "company")
    group = realtime.group_for(company_a, "company")
    loops = set()
    for number in range(3):
        realtime._send(group, {"type": "fragment", "html": f"<p>{number}</p>"})
        loops.add(realtime._publisher_loop())
    assert len(loops) == 1 and next(iter(loops)).is_running()
    assert listener.drain() == ["<p>0</p>", "<p>1</p>", "<p>2</p>"]


async def test_pushed_fragments_skip_the_per_message_database_cleanup(owner_a, company_a, monkeypatch):
    """Channels closes old database connections (a hop to its sync thread) before every handler; a pushed
    fragment never uses the database, so it goes straight to the socket. Subscribing still cleans up."""
    import channels.consumer

    cleanups = []

    async def counting_cleanup():
        cleanups.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counting_cleanup)
    communicator = await _connect(owner_a)
    assert (await communicator.connect())[0]
    assert await _subscribe(communicator, company_a.slug) == {"subscribed": "company"}
    before = len(cleanups)
    assert before >= 1  # the subscribe message went through Channels' dispatch

    def publish():
        for number in range(3):
            with transaction.atomic():
                realtime.publish(company=company_a, topic="company", template_name="tests/fragment.html",
                                 context={"text": f"push {number}"})

    await database_sync_to_async(publish)()
    received = ""
    while "push 2" not in received:  # one frame each, or fewer when they wait together (consumers.fragment)
        received += await communicator.receive_from(timeout=5)
    assert received.index("push 0") < received.index("push 1") < received.index("push 2")
    assert len(cleanups) == before
    await communicator.disconnect()


def test_pushes_held_by_coalesced_go_out_as_one_frame_per_group_in_order(company_a, company_b):
    """The drain applies a batch in one transaction inside `coalesced()`: each topic gets one frame with its
    fragments in the order they were pushed; a stream event keeps its place; nothing crosses companies; a
    rolled-back transaction inside the block adds nothing."""
    from tests.realtime_listener import Listener

    ear_a, ear_b = Listener().join(company_a, "company"), Listener().join(company_b, "company")
    group_a = realtime.group_for(company_a, "company")
    with realtime.coalesced():
        with transaction.atomic():
            for number in range(3):
                realtime.publish(company=company_a, topic="company", template_name="tests/fragment.html",
                                 context={"text": f"push {number}"})
        with suppress(RuntimeError), transaction.atomic():
            realtime.publish(company=company_a, topic="company", template_name="tests/fragment.html",
                             context={"text": "rolled back"})
            raise RuntimeError("rollback")
        # Held until the block ends (a Listener drains once: its timed-out receive leaves the group).
        assert [group for group, _fragment in realtime._held.pushes] == [group_a] * 3
    frames = ear_a.drain()
    assert len(frames) == 1
    assert [frames[0].index(f"push {number}") for number in range(3)] == sorted(
        frames[0].index(f"push {number}") for number in range(3))
    assert "rolled back" not in frames[0]
    assert ear_b.drain() == []

    merged = realtime.merged([(group_a, {"type": "fragment", "html": "<a>"}), (group_a, {"type": "event"}),
                              (group_a, {"type": "fragment", "html": "<b>"}), ("other", {"type": "fragment",
                                                                                        "html": "<c>"}),
                              (group_a, {"type": "fragment", "html": "<d>"})])
    assert merged == [(group_a, {"type": "fragment", "html": "<a>"}), (group_a, {"type": "event"}),
                      (group_a, {"type": "fragment", "html": "<b><d>"}), ("other", {"type": "fragment",
                                                                                   "html": "<c>"})]


def test_a_fragment_is_rendered_only_for_a_topic_someone_listens_to(company_a, company_b):
    """Most conversations are open in nobody's browser: their fragments cost no render and no push. Company B
    listening to its own topic does not make A's render."""
    from tests.realtime_listener import Listener

    rendered = []

    class Spy:
        def __str__(self) -> str:
            rendered.append(1)
            return "spied"

    def publish() -> None:
        with transaction.atomic():
            realtime.publish(company=company_a, topic="company", template_name="tests/fragment.html",
                             context={"text": Spy()})

    ear_b = Listener().join(company_b, "company")
    publish()
    assert rendered == []
    ear_a = Listener().join(company_a, "company")
    publish()
    assert rendered == [1]
    assert "spied" in ear_a.drain()[0]
    assert ear_b.drain() == []


async def test_each_page_gets_live_fragments_in_its_own_language(owner_a, member_a, owner_b, company_a, company_b):
    """A fragment pushed from a worker (no request, no language of its own) reaches each socket drawn in the
    language of the page that opened it: the browser's Accept-Language, or the language chosen in the profile
    over it. The context is read once; a language nobody listens in is not rendered. Company B's socket, in
    pt-BR too, hears nothing of A's."""
    from django.contrib.auth import get_user_model

    await database_sync_to_async(get_user_model().objects.filter(pk=member_a.pk).update)(language="en")
    portuguese, english = await _connect(owner_a, "pt-BR,pt;q=0.9"), await _connect(member_a, "pt-BR")
    stranger = await _connect(owner_b, "pt-BR")
    for socket, slug in ((portuguese, company_a.slug), (english, company_a.slug), (stranger, company_b.slug)):
        assert (await socket.connect())[0]
        assert await _subscribe(socket, slug) == {"subscribed": "company"}  # the reply names the topic alone
    reads = []

    def context() -> dict:
        reads.append(1)
        return {"text": "push"}

    def publish():
        with transaction.atomic():
            realtime.publish(company=company_a, topic="company", template_name="tests/translated_fragment.html",
                             context=context)

    await database_sync_to_async(publish)()
    assert "Excluir push" in await portuguese.receive_from(timeout=5)
    assert "Delete push" in await english.receive_from(timeout=5)
    assert reads == [1]
    assert await portuguese.receive_nothing(timeout=0.2) and await english.receive_nothing(timeout=0.2)
    assert await stranger.receive_nothing(timeout=0.3)
    for socket in (portuguese, english, stranger):
        await socket.disconnect()


def test_a_fragment_is_rendered_only_in_the_languages_listened_to(company_a):
    """Only an English page listens: the fragment is rendered once, in English, and published to that
    language's group alone."""
    from tests.realtime_listener import Listener

    ear = Listener().join(company_a, "company", language="en")
    group = realtime.group_for(company_a, "company")
    rendered = realtime._rendered(get_channel_layer(), [(group, realtime._Fragment(
        ["tests/translated_fragment.html"], {"text": "once"}, company_a))])
    assert rendered == [(realtime.language_group(group, "en"), {
        "type": "fragment", "html": '<div id="test-translated" hx-swap-oob="true">Delete once</div>\n'})]
    assert ear.drain() == []  # rendering sends nothing by itself
