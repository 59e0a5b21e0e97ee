"""The simulated gateway: instances, sessions, QR rotation, messages and the events they emit."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import segno

from .config import SimulatorConfig
from .webhooks import Delivery, WebhookDispatcher, request_headers
from .wire import (
    EvolutionError,
    RawAnswer,
    cuid,
    digits,
    gateway_date_time,
    iso_now,
    message_id,
    new_token,
    new_uuid,
    to_jid,
)

SPECIAL_WIRE_NAMES = {
    "GROUP_PARTICIPANTS_UPDATE": "group-participants.update",
    "TYPEBOT_CHANGE_STATUS": "typebot.change-status",
}
PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
SETTINGS_DEFAULTS = {
    "rejectCall": False,
    "msgCall": "",
    "groupsIgnore": False,
    "alwaysOnline": False,
    "readMessages": False,
    "readStatus": False,
    "syncFullHistory": False,
    "wavoipToken": "",
}


def wire_name(config_name: str) -> str:
    """MESSAGES_UPSERT → messages.upsert (the `event` field)."""
    return SPECIAL_WIRE_NAMES.get(config_name, config_name.lower().replace("_", "."))


def url_suffix(config_name: str) -> str:
    """MESSAGES_UPSERT → messages-upsert (the byEvents path suffix)."""
    return config_name.lower().replace("_", "-")


def qr_payload() -> str:
    """A Baileys-shaped QR string: ref, noise key, identity key, adv secret."""

    def part(size: int) -> str:
        import base64

        return base64.b64encode(secrets.token_bytes(size)).decode()

    return f"2@{part(18)},{part(32)},{part(32)},{part(32)}"


def qr_data_url(code: str) -> str:
    """A real, scannable PNG of `code`, as a data URL."""
    return segno.make_qr(code, error="l").png_data_uri(scale=5, border=4)


@dataclass
class SimInstance:
    """One instance and everything the simulated phone knows about it."""

    name: str
    token: str
    integration: str
    number: str | None
    id: str = field(default_factory=new_uuid)
    created_at: str = field(default_factory=iso_now)
    updated_at: str = field(default_factory=iso_now)
    setting_id: str = field(default_factory=cuid)
    settings: dict[str, Any] = field(default_factory=lambda: dict(SETTINGS_DEFAULTS))
    state: str = "close"
    had_socket: bool = False
    qr_code: str | None = None
    qr_image: str | None = None
    qr_count: int = 0
    pairing_code: str | None = None
    owner_jid: str | None = None
    profile_name: str | None = None
    profile_pic_url: str | None = None
    disconnection_reason_code: int | None = None
    disconnection_object: str | None = None
    disconnection_at: str | None = None
    webhook: dict[str, Any] | None = None
    presence: str = "available"
    latency_ms: int = 0
    failures: deque[dict[str, Any]] = field(default_factory=deque)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The files of media messages, by message id, as WhatsApp's servers hold them for getBase64FromMediaMessage.
    media: dict[str, bytes] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))
    session_task: asyncio.Task[None] | None = None

    def qr_object(self) -> dict[str, Any]:
        """The `wa.QrCode` object: `{count: 0}` until a QR exists."""
        if not self.qr_code:
            return {"count": self.qr_count}
        return {"pairingCode": self.pairing_code, "code": self.qr_code, "base64": self.qr_image, "count": self.qr_count}

    def state_object(self) -> dict[str, Any]:
        return {"instance": {"instanceName": self.name, "state": self.state}}

    def row(self, client_name: str) -> dict[str, Any]:
        """The fetchInstances row."""
        return {
            "id": self.id,
            "name": self.name,
            "connectionStatus": self.state,
            "ownerJid": self.owner_jid,
            "profileName": self.profile_name,
            "profilePicUrl": self.profile_pic_url,
            "integration": self.integration,
            "number": self.number,
            "businessId": None,
            "token": self.token,
            "clientName": client_name,
            "disconnectionReasonCode": self.disconnection_reason_code,
            "disconnectionObject": self.disconnection_object,
            "disconnectionAt": self.disconnection_at,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            **dict.fromkeys(("Chatwoot", "Proxy", "Rabbitmq", "Nats", "Sqs", "Websocket")),
            "Setting": {
                "id": self.setting_id,
                **self.settings,
                "createdAt": self.created_at,
                "updatedAt": self.created_at,
                "instanceId": self.id,
            },
            "_count": {"Message": len(self.timeline), "Contact": len(self.contacts()), "Chat": len(self.contacts())},
        }

    def contacts(self) -> set[str]:
        return {entry["remote_jid"] for entry in self.timeline}


class Simulator:
    """All simulator state (in memory) and the behaviour of the simulated WhatsApp side."""

    client_name = "evolution_simulator"

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.instances: dict[str, SimInstance] = {}
        self.not_on_whatsapp: set[str] = set()
        self.profile_pictures: dict[str, str] = {}
        self.webhooks = WebhookDispatcher(config)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._owner_seq = 0
        self._event_seq = 0

    async def start(self) -> None:
        await self.webhooks.start()

    async def stop(self) -> None:
        self._cancel_tasks()
        await self.webhooks.stop()

    def reset(self, config: SimulatorConfig) -> None:
        """Forget every instance, message, pending timer and delivery."""
        self._cancel_tasks()
        self.webhooks.cancel_all()
        self.instances.clear()
        self.not_on_whatsapp.clear()
        self.profile_pictures.clear()
        self.config.__dict__.update(config.__dict__)

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        for instance in self.instances.values():
            if instance.session_task:
                instance.session_task.cancel()

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- lookup and auth ------------------------------------------------------------------------------

    def get(self, name: str) -> SimInstance:
        instance = self.instances.get(name)
        if instance is None:
            raise EvolutionError(404, [f'The "{name}" instance does not exist'])
        return instance

    def is_global(self, key: str | None) -> bool:
        return key is not None and secrets.compare_digest(key, self.config.api_key)

    def owner_of(self, key: str | None) -> list[SimInstance]:
        if not key:
            return []
        return [instance for instance in self.instances.values() if secrets.compare_digest(key, instance.token)]

    # --- events ---------------------------------------------------------------------------------------

    def emit(self, instance: SimInstance, config_name: str, data: Any, *, deliver: bool = True) -> dict[str, Any]:
        """Record an event with Evolution's envelope and post it if the instance webhook wants it."""
        webhook = instance.webhook
        envelope: dict[str, Any] = {"event": wire_name(config_name), "instance": instance.name, "data": data}
        if webhook:
            envelope["destination"] = webhook["url"]
        envelope["date_time"] = gateway_date_time(self.config.date_time_offset_hours)
        if instance.owner_jid:
            envelope["sender"] = instance.owner_jid
        envelope["server_url"] = self.config.public_url
        envelope["apikey"] = None
        self._event_seq += 1
        instance.events.append({"seq": self._event_seq, "config_name": config_name, "body": envelope})
        if deliver:
            self.deliver(instance, config_name, envelope)
        return envelope

    def deliver(self, instance: SimInstance, config_name: str, envelope: dict[str, Any]) -> bool:
        """Queue one POST of `envelope` when the webhook is on, listens to this event and has an http(s) URL."""
        webhook = instance.webhook
        if not webhook or not webhook["enabled"] or not webhook["url"].startswith(("http://", "https://")):
            return False
        if webhook["events"] and config_name not in webhook["events"]:
            return False
        url = webhook["url"]
        if webhook["webhookByEvents"]:
            url = f"{url.rstrip('/')}/{url_suffix(config_name)}"
        self.webhooks.submit(Delivery(instance.name, url, envelope, request_headers(webhook.get("headers"))))
        return True

    # --- instance lifecycle ---------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> tuple[SimInstance, dict[str, Any]]:
        """Create an instance from a validated create body; returns it and the 201 answer."""
        instance = SimInstance(
            name=body["instanceName"],
            token=body.get("token") or new_token(),
            integration=body["integration"],
            number=body.get("number"),
        )
        for key in SETTINGS_DEFAULTS:
            if key in body:
                instance.settings[key] = body[key]
        webhook_answer: dict[str, Any] = {}
        if isinstance(body.get("webhook"), dict):
            instance.webhook = self.webhook_row(instance, {**body["webhook"], "enabled": True})
            webhook_answer = self.webhook_summary(instance.webhook)
        self.instances[instance.name] = instance
        self.emit(instance, "INSTANCE_CREATE", {"instanceName": instance.name, "instanceId": instance.id})
        answer: dict[str, Any] = {
            "instance": {
                "instanceName": instance.name,
                "instanceId": instance.id,
                "integration": instance.integration,
                "webhookWaBusiness": None,
                "accessTokenWaBusiness": "",
                "status": instance.state,
            },
            "hash": instance.token,
            "webhook": webhook_answer,
            **{name: {} for name in ("websocket", "rabbitmq", "nats", "sqs")},
            "settings": dict(instance.settings),
        }
        if body.get("qrcode"):
            answer["qrcode"] = self.connect(instance, instance.number)
            if not self.config.whatsapp_reachable:  # the gateway waits ~5 s; an unreachable socket has closed by then
                self._cancel_session(instance)
                instance.state = "close"
            answer["instance"]["status"] = instance.state
        return instance, answer

    @staticmethod
    def webhook_summary(row: dict[str, Any]) -> dict[str, Any]:
        summary: dict[str, Any] = {"webhookUrl": row["url"]}
        if row.get("headers"):
            summary["webhookHeaders"] = row["headers"]
        summary.update(webhookByEvents=row["webhookByEvents"], webhookBase64=row["webhookBase64"])
        return summary

    def webhook_row(self, instance: SimInstance, spec: dict[str, Any]) -> dict[str, Any]:
        """Store a webhook config as the gateway's database row."""
        if spec.get("events") is None:
            raise EvolutionError(500, ["Cannot read properties of undefined (reading 'length')"])
        previous = instance.webhook or {}
        now = iso_now()
        enabled = bool(spec.get("enabled"))
        return {
            "id": previous.get("id") or cuid(),
            "url": spec["url"],
            "headers": spec.get("headers") or None,
            "enabled": enabled,
            "events": list(spec["events"]) if enabled else [],
            "webhookByEvents": bool(spec.get("byEvents", False)),
            "webhookBase64": bool(spec.get("base64", False)),
            "createdAt": previous.get("createdAt") or now,
            "updatedAt": now,
            "instanceId": instance.id,
        }

    @staticmethod
    def set_settings(instance: SimInstance, body: dict[str, Any]) -> None:
        """POST /settings/set (validated): the fields given replace the stored ones (an omitted msgCall stays)."""
        for key in SETTINGS_DEFAULTS:
            if body.get(key) is not None:
                instance.settings[key] = body[key]
        instance.updated_at = iso_now()

    @staticmethod
    def ignores(instance: SimInstance, remote_jid: str | None) -> bool:
        """groupsIgnore: the gateway drops a group's message events before storing or emitting them."""
        return bool(instance.settings.get("groupsIgnore")) and "@g.us" in (remote_jid or "")

    def connect(self, instance: SimInstance, number: str | None) -> dict[str, Any]:
        """GET /instance/connect: open → state, connecting → current QR, close → start a session."""
        if instance.state == "open":
            return instance.state_object()
        if number and not instance.pairing_code:
            instance.pairing_code = self._pairing_code()
        if instance.state == "connecting":
            return instance.qr_object()
        self._start_session(instance, number)
        return instance.qr_object()

    def _pairing_code(self) -> str:
        return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(8))

    def _start_session(self, instance: SimInstance, number: str | None) -> None:
        instance.state = "connecting"
        instance.had_socket = True
        instance.qr_code = instance.qr_image = None
        instance.qr_count = 0
        instance.pairing_code = self._pairing_code() if (number or instance.number) else None
        self.emit(
            instance, "CONNECTION_UPDATE", {"instance": instance.name, "state": "connecting", "statusReason": 200}
        )
        self._cancel_session(instance)
        if not self.config.whatsapp_reachable:
            instance.session_task = self.spawn(self._offline_session(instance))
            return
        self._rotate_qr(instance)
        instance.session_task = self.spawn(self._qr_loop(instance))

    def _cancel_session(self, instance: SimInstance) -> None:
        if instance.session_task and instance.session_task is not asyncio.current_task():
            instance.session_task.cancel()
        instance.session_task = None

    def _rotate_qr(self, instance: SimInstance) -> None:
        instance.qr_code = qr_payload()
        instance.qr_image = qr_data_url(instance.qr_code)
        instance.qr_count += 1
        qrcode = {
            "instance": instance.name,
            "pairingCode": instance.pairing_code,
            "code": instance.qr_code,
            "base64": instance.qr_image,
        }
        self.emit(instance, "QRCODE_UPDATED", {"qrcode": qrcode})

    async def _qr_loop(self, instance: SimInstance) -> None:
        """Rotate the QR every interval; after the limit give up like the gateway (refused, then close)."""
        while instance.state == "connecting":
            await asyncio.sleep(self.config.qr_interval)
            if instance.state != "connecting" or self.instances.get(instance.name) is not instance:
                return
            if instance.qr_count >= self.config.qr_limit:
                self._qr_limit_reached(instance)
                return
            self._rotate_qr(instance)

    def _qr_limit_reached(self, instance: SimInstance) -> None:
        self.emit(
            instance, "QRCODE_UPDATED", {"message": "QR code limit reached, please login again", "statusCode": 500}
        )
        self.emit(instance, "CONNECTION_UPDATE", {"instance": instance.name, "state": "refused", "statusReason": 428})
        instance.state = "close"
        instance.qr_code = instance.qr_image = instance.pairing_code = None
        instance.qr_count = 0
        instance.session_task = None

    async def _offline_session(self, instance: SimInstance) -> None:
        """WhatsApp unreachable: no QR ever comes and the socket falls back to close."""
        await asyncio.sleep(self.config.offline_close_after)
        if instance.state == "connecting":
            instance.state = "close"
        instance.session_task = None

    def scan(self, instance: SimInstance, number: str | None, profile_name: str | None) -> None:
        """The phone scanned the QR (or typed the pairing code): the session opens."""
        self._cancel_session(instance)
        self._owner_seq += 1
        owner = digits(number or instance.number or f"551199{self._owner_seq:07d}")
        instance.state = "open"
        instance.owner_jid = f"{owner}@s.whatsapp.net"
        instance.profile_name = profile_name or f"{instance.name} (simulated)"
        instance.qr_code = instance.qr_image = instance.pairing_code = None
        instance.qr_count = 0
        instance.disconnection_reason_code = instance.disconnection_object = instance.disconnection_at = None
        instance.updated_at = iso_now()
        data = {
            "instance": instance.name,
            "wuid": instance.owner_jid,
            "profileName": instance.profile_name,
            "profilePictureUrl": instance.profile_pic_url,
            "state": "open",
            "statusReason": 200,
        }
        self.emit(instance, "CONNECTION_UPDATE", data)

    def close_session(self, instance: SimInstance, reason: int, message: str) -> None:
        """The session ended (logout or unlinked from the phone): state close with the reason stored."""
        self._cancel_session(instance)
        now = iso_now()
        error = {"data": None, "isBoom": True, "isServer": False}
        error["output"] = {
            "statusCode": reason,
            "payload": {"statusCode": reason, "error": "Unauthorized", "message": message},
            "headers": {},
        }
        instance.state = "close"
        instance.qr_code = instance.qr_image = instance.pairing_code = None
        instance.qr_count = 0
        instance.disconnection_reason_code = reason
        instance.disconnection_object = json.dumps({"error": error, "date": now}, separators=(",", ":"))
        instance.disconnection_at = instance.updated_at = now
        self.emit(
            instance,
            "STATUS_INSTANCE",
            {
                "instance": instance.name,
                "status": "closed",
                "disconnectionAt": now,
                "disconnectionReasonCode": reason,
                "disconnectionObject": instance.disconnection_object,
            },
        )
        self.emit(instance, "LOGOUT_INSTANCE", None)
        self.emit(instance, "CONNECTION_UPDATE", {"instance": instance.name, "state": "close", "statusReason": reason})
        instance.owner_jid = instance.profile_name = None

    def logout(self, instance: SimInstance) -> None:
        if instance.state == "close":
            raise EvolutionError(400, [f'The "{instance.name}" instance is not connected'])
        self.close_session(instance, 401, f"Log out instance: {instance.name}")

    def delete(self, instance: SimInstance) -> None:
        if instance.state in ("open", "connecting"):
            self.close_session(instance, 401, f"Log out instance: {instance.name}")
        self.emit(instance, "INSTANCE_DELETE", {"instanceName": instance.name, "instanceId": instance.id})
        self.emit(instance, "REMOVE_INSTANCE", None)
        self._cancel_session(instance)
        self.instances.pop(instance.name, None)

    def restart(self, instance: SimInstance) -> dict[str, Any]:
        """POST /instance/restart: a close (or unreachable) session is an error answered with 200."""
        if instance.state == "close" or not self.config.whatsapp_reachable:
            self._cancel_session(instance)
            instance.state = "close"
            raise RawAnswer(200, {"error": True, "message": "[object Object]"})
        if instance.state == "open":
            self.emit(instance, "CONNECTION_UPDATE", {"instance": instance.name, "state": "open", "statusReason": 200})
            return instance.state_object()
        self._start_session(instance, instance.number)
        return instance.qr_object()

    # --- messages -------------------------------------------------------------------------------------

    def require_socket(self, instance: SimInstance) -> None:
        """Sends need an open session; the two recorded answers depend on whether a socket ever existed."""
        if instance.state == "open":
            return
        if not instance.had_socket:
            raise EvolutionError(500, "Cannot read properties of undefined (reading 'onWhatsApp')")
        raise EvolutionError(500, "Connection Closed")

    def check_exists(self, number: str) -> None:
        jid = to_jid(number)
        if jid.endswith("@s.whatsapp.net") and digits(jid) in self.not_on_whatsapp:
            raise EvolutionError(400, [{"jid": jid, "exists": False, "number": digits(number)}])

    async def apply_failure(self, instance: SimInstance, scope: str) -> None:
        """Consume the next injected failure for this kind of call, if any."""
        if not instance.failures or instance.failures[0]["scope"] not in (scope, "any"):
            return
        failure = instance.failures[0]
        failure["remaining"] -= 1
        if failure["remaining"] <= 0:
            instance.failures.popleft()
        await raise_failure(failure)

    def record_outgoing(
        self,
        instance: SimInstance,
        remote_jid: str,
        message_type: str,
        message: dict[str, Any],
        context: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Store a sent message, emit SEND_MESSAGE and schedule its ticks; returns the 201 body."""
        key = {"remoteJid": remote_jid, "fromMe": True, "id": message_id("3EB0")}
        wire: dict[str, Any] = {
            "key": key,
            "pushName": "Você",
            "status": "PENDING",
            "message": message,
            "contextInfo": context,
            "messageType": message_type,
            "messageTimestamp": int(time.time()),
            "instanceId": instance.id,
            "source": "web",
        }
        self._remember(instance, wire, origin="api")
        self.emit(instance, "SEND_MESSAGE", wire)
        if self.config.auto_status:
            self.spawn(self._auto_status(instance, key["id"]))
        return wire

    def _remember(self, instance: SimInstance, wire: dict[str, Any], *, origin: str) -> dict[str, Any]:
        """Keep a message for the phone page, statuses, quotes and reactions (origin: api, phone, customer)."""
        from .messages import summary, unwrap

        # What the phone shows: the content inside a view-once wrapper (sendButtons' native-flow message).
        message_type, content = unwrap(wire["message"])
        entry = {
            "id": wire["key"]["id"],
            "record_id": cuid(),
            "origin": origin,
            "direction": "in" if origin == "customer" else "out",
            "remote_jid": wire["key"]["remoteJid"],
            "participant": wire["key"].get("participant"),
            "from_me": wire["key"]["fromMe"],
            "push_name": wire.get("pushName"),
            "message_type": message_type,
            "summary": summary(message_type, content),
            "content": content,
            "status": wire.get("status"),
            "statuses": [],
            "deleted": False,
            "timestamp": datetime.fromtimestamp(wire["messageTimestamp"], tz=UTC).isoformat(),
            "wire": wire,
        }
        instance.timeline.append(entry)
        instance.messages[entry["id"]] = entry
        return entry

    def media_base64(self, instance: SimInstance, body: dict[str, Any]) -> dict[str, Any]:
        """POST /chat/getBase64FromMediaMessage: a stored message's media, looked up by its key's id (2.3.6
        reads the message from its database; its errors become 400s with the thrown text)."""
        from .messages import MEDIA_TYPES

        message = body.get("message") if isinstance(body.get("message"), dict) else {}
        key = message.get("key") if isinstance(message.get("key"), dict) else {}
        entry = instance.messages.get(str(key.get("id") or ""))
        if entry is None:
            raise EvolutionError(400, ["Message not found"])
        if entry["message_type"] not in MEDIA_TYPES:
            raise EvolutionError(400, ["The message is not of the media type"])
        data = instance.media.get(entry["id"])
        if data is None:  # WhatsApp no longer serves it (or the simulator never had the bytes)
            raise EvolutionError(400, ["Error: Failed to fetch stream from the media server"])
        content = entry["content"]
        return {
            "mediaType": entry["message_type"],
            "fileName": content.get("fileName"),
            "caption": content.get("caption"),
            "size": {"fileLength": str(len(data)), "height": content.get("height"), "width": content.get("width")},
            "mimetype": content.get("mimetype"),
            "base64": base64.b64encode(data).decode(),
            "buffer": None,
        }

    def find_messages(self, instance: SimInstance, query: dict[str, Any]) -> dict[str, Any]:
        """POST /chat/findMessages: the stored messages (ours and the phone's) as 2.3.6's fetchMessages pages them."""
        where = query.get("where") if isinstance(query.get("where"), dict) else {}
        bounds = _timestamp_bounds(where.get("messageTimestamp"))
        rows = [entry for entry in instance.timeline if _stored_match(entry["wire"], where, bounds)]
        rows.reverse()  # ORDER BY messageTimestamp DESC (same second: the newest stored first)
        rows.sort(key=lambda entry: entry["wire"]["messageTimestamp"], reverse=True)
        size = query.get("offset") or 50
        page = query.get("page") or 1
        records = [_stored_record(entry) for entry in rows[size * (page - 1) : size * page]]
        pages = math.ceil(len(rows) / size)
        return {"messages": {"total": len(rows), "pages": pages, "currentPage": page, "records": records}}

    async def _auto_status(self, instance: SimInstance, message_key: str) -> None:
        for status in self.config.auto_status:
            await asyncio.sleep(self.config.status_delay)
            entry = instance.messages.get(message_key)
            if entry is None or entry["deleted"] or self.instances.get(instance.name) is not instance:
                return
            if status == "PLAYED" and entry["message_type"] not in ("audioMessage", "videoMessage", "ptvMessage"):
                continue
            self.set_status(instance, message_key, status)

    def set_status(self, instance: SimInstance, message_key: str, status: str) -> dict[str, Any]:
        """Emit a MESSAGES_UPDATE tick for a sent message (any order the caller asks for)."""
        entry = instance.messages.get(message_key)
        if entry is None:
            raise KeyError(message_key)
        entry["status"] = status
        entry["statuses"].append(status)
        if self.ignores(instance, entry["remote_jid"]):
            return {}
        data = {
            "keyId": entry["id"],
            "remoteJid": entry["remote_jid"],
            "fromMe": entry["from_me"],
            "participant": entry["participant"] or entry["remote_jid"],
            "status": status,
            "instanceId": instance.id,
            "messageId": entry["record_id"],
        }
        return self.emit(instance, "MESSAGES_UPDATE", data)

    def revoke(self, instance: SimInstance, key: dict[str, Any]) -> dict[str, Any]:
        """deleteMessageForEveryone: the raw Baileys revoke message; MESSAGES_DELETE with the stored message."""
        entry = instance.messages.get(key["id"])
        revoke_key = {"remoteJid": key["remoteJid"], "fromMe": True, "id": message_id("3EB0")}
        target = {k: key[k] for k in ("remoteJid", "fromMe", "id", "participant") if k in key}
        answer = {
            "key": revoke_key,
            "message": {"protocolMessage": {"key": target, "type": "REVOKE"}},
            "messageTimestamp": str(int(time.time())),
            "status": "PENDING",
        }
        if entry is not None:
            entry["deleted"] = True
            entry["status"] = "DELETED"
            wire = entry["wire"]
            stored = {
                "id": entry["record_id"],
                "instanceId": instance.id,
                "key": wire["key"],
                "messageType": wire["messageType"],
            }
            stored.update(status="DELETED", source=wire["source"], messageTimestamp=wire["messageTimestamp"])
            stored.update(
                pushName=wire.get("pushName"), participant=wire["key"].get("participant"), message=wire["message"]
            )
            self.emit(instance, "MESSAGES_DELETE", stored)
        return answer

    def inbound(self, instance: SimInstance, wire: dict[str, Any], *, duplicates: int = 0) -> dict[str, Any]:
        """A message arriving from a customer (or typed on the phone): MESSAGES_UPSERT, maybe repeated; with
        groupsIgnore on, a group's message is dropped (neither kept nor emitted) and the answer says so."""
        if self.ignores(instance, wire["key"]["remoteJid"]):
            return {"dropped": "groupsIgnore", "data": wire}
        self._remember(instance, wire, origin="phone" if wire["key"]["fromMe"] else "customer")
        envelope = self.emit(instance, "MESSAGES_UPSERT", wire)
        for _ in range(duplicates):
            self.deliver(instance, "MESSAGES_UPSERT", envelope)
        return envelope

    def replay(self, instance: SimInstance, seq: int) -> dict[str, Any]:
        """Post a past event again, byte for byte (a duplicate delivery)."""
        for event in instance.events:
            if event["seq"] == seq:
                self.deliver(instance, event["config_name"], event["body"])
                return event["body"]
        raise KeyError(seq)


def _timestamp_bounds(spec: object) -> tuple[int, int] | None:
    """`messageTimestamp: {gte, lte}` as epoch seconds; the gateway ignores the filter unless both are given."""
    if not isinstance(spec, dict) or not spec.get("gte") or not spec.get("lte"):
        return None
    return _epoch_seconds(spec["gte"]), _epoch_seconds(spec["lte"])


def _epoch_seconds(value: object) -> int:
    """`Math.floor(new Date(value).getTime() / 1000)` for the forms clients send (an ISO string, epoch ms)."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return math.floor(value / 1000)
        moment = datetime.fromisoformat(str(value))
        return math.floor((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    except ValueError:
        # new Date("nonsense") is NaN, which Prisma refuses (the exact text is not recorded)
        raise EvolutionError(500, [f"PrismaClientValidationError: invalid messageTimestamp {value!r}"]) from None


def _stored_match(wire: dict[str, Any], where: dict[str, Any], bounds: tuple[int, int] | None) -> bool:
    """fetchMessages' filters: key id/fromMe/participant, remoteJid OR remoteJidAlt, type, source, time bounds."""
    key, wanted = wire["key"], where.get("key") if isinstance(where.get("key"), dict) else {}
    if wanted.get("id") and key["id"] != wanted["id"]:
        return False
    if wanted.get("fromMe") and key.get("fromMe") is not True:  # a falsy fromMe filters nothing (as in 2.3.6)
        return False
    if wanted.get("participant") and key.get("participant") != wanted["participant"]:
        return False
    chats = {wanted.get("remoteJid"), wanted.get("remoteJidAlt")} - {None, ""}
    if chats and not chats & {key.get("remoteJid"), key.get("remoteJidAlt")}:
        return False
    for field_name in ("messageType", "source"):
        if where.get(field_name) and wire.get(field_name) != where[field_name]:
            return False
    return bounds is None or bounds[0] <= wire["messageTimestamp"] <= bounds[1]


def _stored_record(entry: dict[str, Any]) -> dict[str, Any]:
    """One database row as findMessages selects it."""
    wire = entry["wire"]
    record = {"id": entry["record_id"], "key": wire["key"], "pushName": wire.get("pushName") or "Você"}
    for name in ("messageType", "message", "messageTimestamp", "instanceId", "source", "contextInfo"):
        record[name] = wire.get(name)
    record["MessageUpdate"] = [{"status": status} for status in entry["statuses"]]
    return record


async def raise_failure(failure: dict[str, Any]) -> None:
    """Turn an injected failure into the answer the real gateway gives in that situation."""
    mode = failure["mode"]
    if mode == "timeout":
        await asyncio.sleep(float(failure.get("seconds") or 30))
        return
    if mode == "server_error":
        raise EvolutionError(500, [failure.get("message") or "Error: simulated gateway failure"])
    if mode == "connection_closed":
        raise EvolutionError(500, "Connection Closed")
    if mode == "not_on_whatsapp":
        number = failure.get("number") or "5500000000000"
        raise EvolutionError(400, [{"jid": to_jid(number), "exists": False, "number": digits(number)}])
    if mode == "unauthorized":
        raise EvolutionError(401, "Unauthorized")
    raise EvolutionError(400, [failure.get("message") or "Simulated refusal"])
