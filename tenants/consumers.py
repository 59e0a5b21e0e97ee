"""The browser's one WebSocket per tab: subscribe to what the page shows, receive rendered fragments."""

from __future__ import annotations

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.utils import translation

from tenants import realtime
from tenants.models import Company
from tenants.scoping import company_scope
from tenants.selectors import company_get_by_slug, membership_get

logger = logging.getLogger(__name__)
MAX_SUBSCRIPTIONS = 50
# Channel-layer messages pushed to sockets; their handlers only write to the socket.
PUSH_TYPES = frozenset({"fragment", "force_disconnect"})
# Fragments already waiting for a socket go out together in one frame, at most this many.
FRAGMENTS_PER_FRAME = 20


def socket_language(scope: dict) -> str:
    """The language of the page that opened the socket, chosen as for its pages: the profile's language, else
    the language cookie or the browser's Accept-Language (Django's own choice from them), else the default."""
    user = scope.get("user")
    if language := getattr(user, "language", ""):
        return translation.get_supported_language_variant(language)
    request = HttpRequest()
    for name, value in scope.get("headers") or ():
        if name == b"accept-language":
            request.META["HTTP_ACCEPT_LANGUAGE"] = value.decode("latin-1")
        elif name == b"cookie":
            cookies = parse_cookie(value.decode("latin-1"))
            if settings.LANGUAGE_COOKIE_NAME in cookies:
                request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = cookies[settings.LANGUAGE_COOKIE_NAME]
    return translation.get_language_from_request(request)


class DashboardConsumer(AsyncWebsocketConsumer):
    """Thin and read-only: accepts only subscribe/unsubscribe, resolved inside the user's company (STYLE rule 22).

    Client messages (JSON): {"action": "subscribe", "company": "<slug>", "topic": "instance", "id": "<uuid>"}
    and the same with "unsubscribe". Replies: {"subscribed": "<topic>"} or {"error": "not_found"}.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined: set[str] = set()
        self.language = socket_language(self.scope)
        self.user_group = realtime.user_group(user.public_id)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "groups_joined"):
            return
        for group in [*self.groups_joined, self.user_group]:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "")
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("action") not in {"subscribe", "unsubscribe"}:
            await self.send(json.dumps({"error": "bad_request"}))
            return
        topic_group = await self._resolve_group(message)
        if topic_group is None:
            await self.send(json.dumps({"error": "not_found"}))
            return
        topic = topic_group.split(".", 2)[2]
        group = realtime.language_group(topic_group, self.language)  # fragments drawn in this page's language
        if message["action"] == "subscribe":
            if len(self.groups_joined) >= MAX_SUBSCRIPTIONS and group not in self.groups_joined:
                await self.send(json.dumps({"error": "too_many_subscriptions"}))
                return
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)
            await self.send(json.dumps({"subscribed": topic}))
        else:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.discard(group)
            await self.send(json.dumps({"unsubscribed": topic}))

    @database_sync_to_async
    def _resolve_group(self, message: dict) -> str | None:
        company: Company | None = company_get_by_slug(slug=str(message.get("company", "")))
        if company is None or not company.is_active:
            return None
        with company_scope(company):
            if membership_get(company=company, user=self.scope["user"]) is None:
                return None
            topic = realtime.resolve_topic(company, str(message.get("topic", "")), message.get("id"))
        return realtime.group_for(company, topic) if topic else None

    async def dispatch(self, message: dict) -> None:
        """Pushed fragments skip Channels' close_old_connections before each handler: they never touch the
        database, and that call is a hop through the process's one thread-sensitive sync thread for every
        frame of every socket (with 100 agents on a busy inbox it was most of the server's event loop)."""
        if message.get("type") in PUSH_TYPES:
            await getattr(self, message["type"])(message)
            return
        await super().dispatch(message)

    async def fragment(self, event: dict) -> None:
        """The fragment, with any others already waiting behind it, in one frame: htmx's ws extension swaps every
        top-level element of a frame in order, as it would have frame by frame. When pushes come faster than the
        server writes (a busy inbox watched by many agents), writing each to each socket was a third of the web
        process's CPU (docs/performance.md, Live); a socket that keeps up still gets one frame per push."""
        waiting = getattr(self.channel_layer, "receive_waiting", None)
        more = waiting(self.channel_name, "fragment", FRAGMENTS_PER_FRAME - 1) if waiting else ()
        await self.send(text_data="".join([event["html"], *(message["html"] for message in more)]))

    async def force_disconnect(self, event: dict) -> None:
        await self.close(code=4403)
