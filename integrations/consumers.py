"""/ws/events/: integrators' JSON event stream, authenticated by API key (not by session; STYLE rule 22).

Credentials: `Authorization: Bearer <key>` (or an `apikey` header) for server-side clients, or, from a
browser (which cannot set headers on a WebSocket), the subprotocols ["recado.events", "apikey.<key>"].
Never in the query string (it ends up in access logs). The key needs the `read` scope.
Filters (query string): `types=message.received,contact.created` and `instance=<instance id>`.
Close codes: 4401 bad or revoked key (also while connected), 4403 missing scope or suspended company,
4400 unknown event type, 4404 unknown instance.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs
from uuid import UUID

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from integrations.catalogue import EVENT_TYPES, TEST_EVENT_TYPE
from integrations.services import STREAM_TOPIC
from tenants import realtime
from tenants.models import ApiKey, hash_secret
from tenants.scoping import company_scope

logger = logging.getLogger(__name__)
SUBPROTOCOL = "recado.events"
KEY_SUBPROTOCOL_PREFIX = "apikey."


class StreamRefused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@database_sync_to_async
def _authorize(secret: str, instance_id: str) -> tuple[ApiKey, str]:
    """The key (active, with `read`, of an active company) and the group to join; StreamRefused otherwise."""
    # all_companies: the key is the credential that names the company; nothing else is known yet.
    api_key = ApiKey.all_companies.select_related("company").filter(secret_hash=hash_secret(secret)).first()
    if api_key is None or not api_key.is_active:
        raise StreamRefused(4401)
    if not api_key.company.is_active or ApiKey.Scope.READ not in api_key.scopes:
        raise StreamRefused(4403)
    if instance_id:
        from instances.models import Instance

        try:
            UUID(instance_id)
        except ValueError:
            raise StreamRefused(4404) from None
        with company_scope(api_key.company):
            if not Instance.objects.filter(company=api_key.company, public_id=instance_id).exists():
                raise StreamRefused(4404)
    return api_key, realtime.group_for(api_key.company, STREAM_TOPIC)


@database_sync_to_async
def _still_valid(api_key_id: int) -> bool:
    # all_companies: re-reading the connection's own key by primary key (revocation check).
    api_key = ApiKey.all_companies.select_related("company").filter(pk=api_key_id).first()
    return api_key is not None and api_key.is_active and api_key.company.is_active


class EventStreamConsumer(AsyncWebsocketConsumer):
    """Read-only: forwards the company's events (the webhook bodies) that pass the filters; ignores input."""

    # How often a connected key is re-checked; a revoked key is disconnected within this time.
    key_check_seconds = 10.0

    async def connect(self) -> None:
        self.group = None
        secret, subprotocol = self._credentials()
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.types = {name for value in params.get("types", []) for name in value.split(",") if name}
        self.instance_id = (params.get("instance") or [""])[0]
        try:
            if not secret:
                raise StreamRefused(4401)
            if self.types - set(EVENT_TYPES) - {TEST_EVENT_TYPE}:
                raise StreamRefused(4400)
            api_key, self.group = await _authorize(secret, self.instance_id)
        except StreamRefused as refused:
            await self.accept(subprotocol)  # accept-then-close, so the client sees the reason code
            await self.close(code=refused.code)
            return
        self.api_key_id = api_key.pk
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol)
        self.watchdog = asyncio.ensure_future(self._watch_key())

    def _credentials(self) -> tuple[str, str | None]:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in self.scope["headers"]}
        scheme, _sep, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip(), None
        if headers.get("apikey", "").strip():
            return headers["apikey"].strip(), None
        offered = self.scope.get("subprotocols") or []
        for protocol in offered:
            if protocol.startswith(KEY_SUBPROTOCOL_PREFIX):
                return protocol.removeprefix(KEY_SUBPROTOCOL_PREFIX), SUBPROTOCOL if SUBPROTOCOL in offered else None
        return "", None

    async def _watch_key(self) -> None:
        while True:
            await asyncio.sleep(self.key_check_seconds)
            if not await _still_valid(self.api_key_id):
                await self.close(code=4401)
                return

    async def disconnect(self, code: int) -> None:
        watchdog = getattr(self, "watchdog", None)
        if watchdog is not None:
            watchdog.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Clients only listen."""

    def _wanted(self, payload: dict) -> bool:
        if self.types and payload.get("type") not in self.types:
            return False
        if self.instance_id:
            instance = (payload.get("data") or {}).get("instance") or {}
            return instance.get("id") == self.instance_id
        return True

    async def event(self, event: dict) -> None:
        if self._wanted(event["payload"]):
            await self.send(text_data=json.dumps(event["payload"]))
