"""Adapter for Evolution API v2 (2.3.x): nested camelCase bodies, flat send bodies, `ownerJid`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .base import (
    MEDIA_FILE_MAX_BYTES,
    NO_OPTIONS,
    Button,
    ConnectionState,
    ConnectResult,
    ContactCard,
    CreatedInstance,
    Gateway,
    InstanceInfo,
    InstanceSettings,
    ListSection,
    Location,
    Media,
    MediaFile,
    MessageKey,
    NumberCheck,
    SendOptions,
    SendResult,
    SentRecord,
    ServerInfo,
    WebhookConfig,
    timestamp_from,
)
from .errors import GatewayProtocolError
from .events import message_content
from .transport import DEFAULT_TIMEOUT, Transport, segment

CREATE_QR_WAIT = 10.0  # create with qrcode=true blocks about 5 s on the gateway
FIND_PAGE_SIZE = 50  # findMessages' `offset` is the page size (the gateway's default is 50)
FIND_MAX_PAGES = 20


def as_dict(body: object, what: str) -> dict[str, Any]:
    """The body as a dict, or a protocol error naming the call."""
    if not isinstance(body, dict):
        raise GatewayProtocolError(f"{what}: expected a JSON object, got {type(body).__name__}")
    return body


def as_list(body: object, what: str) -> list[Any]:
    """The body as a list, or a protocol error naming the call."""
    if not isinstance(body, list):
        raise GatewayProtocolError(f"{what}: expected a JSON array, got {type(body).__name__}")
    return body


def parse_server_info(body: object) -> ServerInfo:
    """The root route's self-description."""
    data = as_dict(body, "server info")
    return ServerInfo(
        version=data.get("version"),
        client_name=data.get("clientName"),
        whatsapp_web_version=data.get("whatsappWebVersion"),
        raw=data,
    )


def parse_connect(body: object) -> ConnectResult:
    """A QR object (`{pairingCode, code, base64, count}`) or a connectionState answer."""
    data = as_dict(body, "connect")
    instance = data.get("instance")
    if isinstance(instance, dict) and "state" in instance:
        return ConnectResult(state=instance["state"], raw=data)
    qrcode = data.get("qrcode") if isinstance(data.get("qrcode"), dict) else data
    return ConnectResult(
        qr_data_url=qrcode.get("base64") or None,
        qr_code=qrcode.get("code") or None,
        pairing_code=qrcode.get("pairingCode") or None,
        count=int(qrcode.get("count") or 0),
        raw=data,
    )


def parse_connection_state(body: object, name: str) -> ConnectionState:
    """`{instance: {instanceName, state}}` (v1 servers also answered `{state}`)."""
    data = as_dict(body, "connectionState")
    instance = data.get("instance") if isinstance(data.get("instance"), dict) else data
    state = instance.get("state")
    if not isinstance(state, str):
        raise GatewayProtocolError("connectionState: no state in the answer")
    return ConnectionState(instance_name=instance.get("instanceName") or name, state=state)


def parse_instance_row(row: dict[str, Any]) -> InstanceInfo:
    """One v2 fetchInstances row (a database row with `name`, `ownerJid`, `connectionStatus`)."""
    return InstanceInfo(
        name=row.get("name") or "",
        instance_id=row.get("id"),
        state=row.get("connectionStatus"),
        owner_jid=row.get("ownerJid") or None,
        profile_name=row.get("profileName") or None,
        profile_picture_url=row.get("profilePicUrl") or None,
        integration=row.get("integration"),
        token=row.get("token"),
        disconnection_reason_code=row.get("disconnectionReasonCode"),
        raw=row,
    )


def parse_created(body: object) -> CreatedInstance:
    """The create answer: `instance`, `hash` (the token), `webhook`, optional `qrcode`."""
    data = as_dict(body, "create")
    instance = as_dict(data.get("instance"), "create.instance")
    token = data.get("hash")
    if isinstance(token, dict):  # v1: {"apikey": "..."} or {"jwt": "..."}
        token = token.get("apikey") or token.get("jwt")
    webhook = data.get("webhook") if isinstance(data.get("webhook"), dict) else {}
    qrcode = data.get("qrcode")
    return CreatedInstance(
        name=instance.get("instanceName") or "",
        instance_id=instance.get("instanceId"),
        token=token,
        state=instance.get("status"),
        integration=instance.get("integration"),
        webhook_url=webhook.get("webhookUrl") or webhook.get("webhook") or None,
        connect=parse_connect(qrcode) if isinstance(qrcode, dict) else None,
        raw=data,
    )


def parse_webhook(body: object) -> WebhookConfig | None:
    """A stored webhook row (v2 `webhookByEvents`, v1 `webhook_by_events`), or None."""
    if body is None or body == {}:
        return None
    data = as_dict(body, "webhook")
    url = data.get("url") or data.get("webhook")
    if not url:
        return None
    by_events = data.get("webhookByEvents", data.get("webhook_by_events", data.get("byEvents", False)))
    base64 = data.get("webhookBase64", data.get("webhook_base64", data.get("base64", False)))
    return WebhookConfig(
        url=url,
        enabled=bool(data.get("enabled", True)),
        events=tuple(data.get("events") or ()),
        by_events=bool(by_events),
        base64=bool(base64),
        headers=dict(data.get("headers") or {}),
    )


def parse_send_result(body: object) -> SendResult:
    """A send answer: v2's normalised message object or v1's raw WebMessageInfo."""
    data = as_dict(body, "send")
    key = as_dict(data.get("key"), "send.key")
    if not key.get("id"):
        raise GatewayProtocolError("send: the answer carries no message id")
    return SendResult(
        message_id=key["id"],
        remote_jid=key.get("remoteJid") or "",
        from_me=bool(key.get("fromMe", True)),
        status=data.get("status"),
        timestamp=timestamp_from(data.get("messageTimestamp")),
        # The content's own type, through a view-once wrapper (sendButtons' native-flow message is sent inside one).
        message_type=message_content(data)[0] or _first_message_type(data.get("message")),
        raw=data,
    )


def parse_media_file(body: object) -> MediaFile:
    """getBase64FromMediaMessage's 201: `{mediaType, fileName, caption, size, mimetype, base64, buffer}`."""
    answer = as_dict(body, "getBase64FromMediaMessage")
    encoded = answer.get("base64")
    try:
        data = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) and encoded else None
    except (binascii.Error, ValueError):
        data = None
    if data is None:
        raise GatewayProtocolError("getBase64FromMediaMessage answered without the file's base64")
    mimetype, file_name = answer.get("mimetype"), answer.get("fileName")
    return MediaFile(data=data, mimetype=mimetype if isinstance(mimetype, str) and mimetype else None,
                     file_name=file_name if isinstance(file_name, str) and file_name else None)


def wire_date(moment: datetime) -> str:
    """An instant as the ISO date string findMessages' `messageTimestamp` bounds take (UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def find_messages_body(remote_jid: str, since: datetime, until: datetime, page: int) -> dict[str, Any]:
    """One page of our own messages in one chat; the gateway applies the time bounds only when both are given."""
    key = {"remoteJid": remote_jid, "remoteJidAlt": remote_jid, "fromMe": True}
    where = {"key": key, "messageTimestamp": {"gte": wire_date(since), "lte": wire_date(until)}}
    return {"where": where, "offset": FIND_PAGE_SIZE, "page": page}


def _in_chat(record: SentRecord, remote_jid: str) -> bool:
    return remote_jid in (record.remote_jid, record.raw.get("key", {}).get("remoteJidAlt"))


def _within(record: SentRecord, start: datetime, until: datetime) -> bool:
    return record.timestamp is None or start <= record.timestamp <= until


def parse_sent_records(body: object) -> tuple[list[SentRecord], int]:
    """findMessages' `{messages: {total, pages, currentPage, records}}`: our messages (fromMe) and the page count."""
    page = as_dict(as_dict(body, "findMessages").get("messages"), "findMessages.messages")
    records = []
    for row in as_list(page.get("records"), "findMessages.messages.records"):
        key = row.get("key") if isinstance(row, dict) else None
        if not isinstance(key, dict) or not key.get("id") or not key.get("fromMe"):
            continue
        message_type, kind, text = message_content(row)
        records.append(
            SentRecord(
                id=str(key["id"]),
                remote_jid=key.get("remoteJid") or "",
                timestamp=timestamp_from(row.get("messageTimestamp")),
                message_type=message_type,
                kind=kind,
                text=text,
                raw=row,
            )
        )
    pages = page.get("pages")
    return records, pages if isinstance(pages, int) else 1


def _first_message_type(message: object) -> str | None:
    """The first `…Message`/`conversation` key of a message dict (v1 answers have no messageType)."""
    if not isinstance(message, dict):
        return None
    for key in message:
        if key == "conversation" or key.endswith("Message"):
            return key
    return None


def parse_number_checks(body: object, numbers: Sequence[str]) -> list[NumberCheck]:
    """`[{jid, exists, number, name?, lid?}]`, in the order the gateway answered."""
    rows = as_list(body, "whatsappNumbers")
    checks = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        fallback = numbers[index] if index < len(numbers) else ""
        lid = row.get("lid")
        checks.append(
            NumberCheck(
                number=str(row.get("number") or fallback),
                exists=bool(row.get("exists")),
                jid=row.get("jid"),
                name=row.get("name") or None,
                lid=lid if isinstance(lid, str) and lid != "lid" else None,
            )
        )
    return checks


def webhook_body(webhook: WebhookConfig) -> dict[str, Any]:
    """The nested `webhook` object of create and webhook/set (always with `events`)."""
    body: dict[str, Any] = {
        "enabled": webhook.enabled,
        "url": webhook.url,
        "byEvents": webhook.by_events,
        "base64": webhook.base64,
        "events": list(webhook.events),
    }
    if webhook.headers:
        body["headers"] = dict(webhook.headers)
    return body


# Our field → the gateway's, in v2 (camelCase) and v1 (snake_case, reference §15).
SETTINGS_WIRE_V2 = {
    "reject_calls": "rejectCall",
    "call_rejection_message": "msgCall",
    "ignore_groups": "groupsIgnore",
    "always_online": "alwaysOnline",
    "read_messages": "readMessages",
    "read_status": "readStatus",
    "sync_full_history": "syncFullHistory",
}
SETTINGS_WIRE_V1 = {
    "reject_calls": "reject_call",
    "call_rejection_message": "msg_call",
    "ignore_groups": "groups_ignore",
    "always_online": "always_online",
    "read_messages": "read_messages",
    "read_status": "read_status",
    "sync_full_history": "sync_full_history",
}


def settings_body(settings: InstanceSettings, wire: dict[str, str] = SETTINGS_WIRE_V2) -> dict[str, Any]:
    """Every setting under the gateway's names (the booleans are all required by settings/set)."""
    return {wire_name: getattr(settings, ours) for ours, wire_name in wire.items()}


def parse_settings(body: object) -> InstanceSettings | None:
    """settings/find's flat object (or null), settings/set's `{settings: {instanceName, settings: {…}}}`, in
    camelCase (v2) or snake_case (v1); None when the answer holds no settings."""
    data = body
    while isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    if not isinstance(data, dict):
        return None
    values: dict[str, Any] = {}
    for ours in SETTINGS_WIRE_V2:
        for wire in (SETTINGS_WIRE_V2, SETTINGS_WIRE_V1):
            if wire[ours] in data and data[wire[ours]] is not None:
                values[ours] = data[wire[ours]]
                break
    if not values:
        return None
    message = values.pop("call_rejection_message", "")
    flags = {name: bool(value) for name, value in values.items()}
    return InstanceSettings(call_rejection_message=message if isinstance(message, str) else "", **flags)


def create_body(
    name: str,
    *,
    token: str | None,
    integration: str,
    number: str | None,
    qrcode: bool,
    webhook: WebhookConfig | None,
    settings: InstanceSettings | None = None,
) -> dict[str, Any]:
    """The v2 create body: camelCase, nested webhook, the settings at the top level."""
    body: dict[str, Any] = {"instanceName": name, "integration": integration, "qrcode": qrcode}
    if token:
        body["token"] = token
    if number:
        body["number"] = number
    if webhook is not None:
        body["webhook"] = webhook_body(webhook)
    if settings is not None:
        body.update(settings_body(settings))
    return body


def options_body(options: SendOptions) -> dict[str, Any]:
    """The flat v2 send options."""
    body: dict[str, Any] = {}
    if options.delay_ms:
        body["delay"] = options.delay_ms
    if options.quoted is not None:
        body["quoted"] = options.quoted.as_wire()
    if options.link_preview is not None:
        body["linkPreview"] = options.link_preview
    if options.mention_everyone:
        body["mentionsEveryOne"] = True
    if options.mentioned:
        body["mentioned"] = list(options.mentioned)
    return body


def media_body(number: str, media: Media) -> dict[str, Any]:
    """The sendMedia body."""
    body: dict[str, Any] = {"number": number, "mediatype": media.mediatype, "media": media.media}
    for wire, value in (("mimetype", media.mimetype), ("caption", media.caption), ("fileName", media.file_name)):
        if value:
            body[wire] = value
    return body


def contact_item(card: ContactCard) -> dict[str, Any]:
    """One entry of sendContact's `contact` list."""
    item: dict[str, Any] = {"fullName": card.full_name, "phoneNumber": card.phone_number}
    optional = (("wuid", card.wuid), ("organization", card.organization), ("email", card.email), ("url", card.url))
    item.update({wire: value for wire, value in optional if value})
    return item


def list_sections(sections: Sequence[ListSection]) -> list[dict[str, Any]]:
    """Sections and rows in the wire shape both versions share."""
    return [
        {
            "title": section.title,
            "rows": [
                {
                    "title": row.title,
                    "rowId": row.row_id,
                    **({"description": row.description} if row.description else {}),
                }
                for row in section.rows
            ],
        }
        for section in sections
    ]


def button_item(button: Button) -> dict[str, Any]:
    """One v2 button (`type` reply/url/call/copy)."""
    item: dict[str, Any] = {"type": button.type, "displayText": button.display_text}
    extra = {"reply": ("id", button.id), "url": ("url", button.url), "call": ("phoneNumber", button.phone_number)}
    extra["copy"] = ("copyCode", button.copy_code)
    wire, value = extra[button.type]
    item[wire] = value
    return item


class EvolutionV2Gateway(Gateway):
    """Evolution API v2 over HTTP."""

    version = "v2"

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT, transport: Transport | None = None
    ):
        self.transport = transport or Transport(base_url, api_key, timeout=timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transport.base_url!r})"

    def close(self) -> None:
        self.transport.close()

    def with_api_key(self, api_key: str) -> EvolutionV2Gateway:
        return type(self)(self.transport.base_url, api_key, transport=self.transport.with_api_key(api_key))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.transport.request(method, path, **kwargs)

    def _send(self, action: str, name: str, body: dict[str, Any], options: SendOptions = NO_OPTIONS) -> SendResult:
        timeout = self.transport.timeout + (options.delay_ms or 0) / 1000
        answer = self._call("POST", f"/message/{action}/{segment(name)}", body=body, timeout=timeout)
        return parse_send_result(answer)

    def server_info(self) -> ServerInfo:
        return parse_server_info(self._call("GET", "/", authenticated=False))

    def create_instance(
        self,
        name: str,
        *,
        token: str | None = None,
        integration: str = "WHATSAPP-BAILEYS",
        number: str | None = None,
        qrcode: bool = False,
        webhook: WebhookConfig | None = None,
        settings: InstanceSettings | None = None,
    ) -> CreatedInstance:
        body = create_body(name, token=token, integration=integration, number=number, qrcode=qrcode, webhook=webhook,
                           settings=settings)
        timeout = self.transport.timeout + (CREATE_QR_WAIT if qrcode else 0)
        secrets = (token, *(webhook.headers.values() if webhook else ()))
        return parse_created(self._call("POST", "/instance/create", body=body, timeout=timeout, secrets=secrets))

    def connect(self, name: str, *, number: str | None = None) -> ConnectResult:
        params = {"number": number} if number else None
        return parse_connect(self._call("GET", f"/instance/connect/{segment(name)}", params=params))

    def connection_state(self, name: str) -> ConnectionState:
        return parse_connection_state(self._call("GET", f"/instance/connectionState/{segment(name)}"), name)

    def fetch_instances(self, name: str | None = None) -> list[InstanceInfo]:
        params = {"instanceName": name} if name else None
        rows = as_list(self._call("GET", "/instance/fetchInstances", params=params), "fetchInstances")
        return [parse_instance_row(row) for row in rows if isinstance(row, dict)]

    def restart(self, name: str) -> ConnectResult:
        return parse_connect(self._call("POST", f"/instance/restart/{segment(name)}"))

    def logout(self, name: str) -> None:
        self._call("DELETE", f"/instance/logout/{segment(name)}")

    def delete_instance(self, name: str) -> None:
        self._call("DELETE", f"/instance/delete/{segment(name)}")

    def set_webhook(self, name: str, webhook: WebhookConfig) -> WebhookConfig:
        body = {"webhook": webhook_body(webhook)}
        answer = self._call("POST", f"/webhook/set/{segment(name)}", body=body, secrets=webhook.headers.values())
        return parse_webhook(answer) or webhook

    def find_webhook(self, name: str) -> WebhookConfig | None:
        return parse_webhook(self._call("GET", f"/webhook/find/{segment(name)}"))

    def set_settings(self, name: str, settings: InstanceSettings) -> InstanceSettings:
        answer = self._call("POST", f"/settings/set/{segment(name)}", body=settings_body(settings))
        return parse_settings(answer) or settings

    def find_settings(self, name: str) -> InstanceSettings | None:
        return parse_settings(self._call("GET", f"/settings/find/{segment(name)}"))

    def set_presence(self, name: str, presence: str) -> None:
        self._call("POST", f"/instance/setPresence/{segment(name)}", body={"presence": presence})

    def send_text(self, name: str, number: str, text: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        return self._send("sendText", name, {"number": number, "text": text, **options_body(options)}, options)

    def send_media(self, name: str, number: str, media: Media, options: SendOptions = NO_OPTIONS) -> SendResult:
        return self._send("sendMedia", name, {**media_body(number, media), **options_body(options)}, options)

    def send_voice_note(self, name: str, number: str, audio: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        body: dict[str, Any] = {"number": number, "audio": audio}
        if options.delay_ms:
            body["delay"] = options.delay_ms  # the gateway ignores quoted/mentions on audio
        return self._send("sendWhatsAppAudio", name, body, options)

    def send_sticker(self, name: str, number: str, sticker: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        return self._send("sendSticker", name, {"number": number, "sticker": sticker, **options_body(options)}, options)

    def send_location(
        self, name: str, number: str, location: Location, options: SendOptions = NO_OPTIONS
    ) -> SendResult:
        body = {
            "number": number,
            "latitude": location.latitude,
            "longitude": location.longitude,
            "name": location.name,
            "address": location.address,
            **options_body(options),
        }
        return self._send("sendLocation", name, body, options)

    def send_contacts(self, name: str, number: str, contacts: Sequence[ContactCard]) -> SendResult:
        return self._send("sendContact", name, {"number": number, "contact": [contact_item(c) for c in contacts]})

    def send_reaction(self, name: str, key: MessageKey, emoji: str) -> SendResult:
        return self._send("sendReaction", name, {"key": key.as_wire(), "reaction": emoji})

    def send_list(
        self,
        name: str,
        number: str,
        *,
        title: str,
        button_text: str,
        sections: Sequence[ListSection],
        description: str = "",
        footer: str = "",
        options: SendOptions = NO_OPTIONS,
    ) -> SendResult:
        body = {
            "number": number,
            "title": title,
            "description": description,
            "buttonText": button_text,
            "footerText": footer,
            "sections": list_sections(sections),
            **options_body(options),
        }
        return self._send("sendList", name, body, options)

    def send_buttons(
        self,
        name: str,
        number: str,
        *,
        title: str,
        buttons: Sequence[Button],
        description: str = "",
        footer: str = "",
        options: SendOptions = NO_OPTIONS,
    ) -> SendResult:
        body = {
            "number": number,
            "title": title,
            "description": description,
            "footer": footer,
            "buttons": [button_item(button) for button in buttons],
            **options_body(options),
        }
        return self._send("sendButtons", name, body, options)

    def delete_message(self, name: str, key: MessageKey) -> None:
        self._call("DELETE", f"/chat/deleteMessageForEveryone/{segment(name)}", body=key.as_wire())

    def check_numbers(self, name: str, numbers: Sequence[str]) -> list[NumberCheck]:
        answer = self._call("POST", f"/chat/whatsappNumbers/{segment(name)}", body={"numbers": list(numbers)})
        return parse_number_checks(answer, numbers)

    def find_sent_messages(self, name: str, remote_jid: str, since: datetime, until: datetime) -> list[SentRecord]:
        start = since.replace(microsecond=0)  # the gateway keeps whole seconds and floors the bounds
        found: list[SentRecord] = []
        for page in range(1, FIND_MAX_PAGES + 1):
            body = find_messages_body(remote_jid, since, until, page)
            records, pages = parse_sent_records(self._call("POST", f"/chat/findMessages/{segment(name)}", body=body))
            # Checked here too, so a gateway that ignores a filter cannot widen the answer.
            found.extend(r for r in records if _in_chat(r, remote_jid) and _within(r, start, until))
            oldest = records[-1].timestamp if records else None
            if page >= pages or not records or (oldest is not None and oldest < start):
                break
        return found

    def media_file(self, name: str, message_id: str, *, max_bytes: int = MEDIA_FILE_MAX_BYTES) -> MediaFile:
        # Only the key's id: the gateway reads the message it stored (the webhook's own copy of the media keys
        # is serialised differently by version, so it is not sent back).
        body = {"message": {"key": {"id": message_id}}, "convertToMp4": False}
        # base64 is 4/3 of the file, and the answer carries a few fields beside it.
        answer = self._call("POST", f"/chat/getBase64FromMediaMessage/{segment(name)}", body=body,
                            max_bytes=max_bytes * 4 // 3 + 4096)
        return parse_media_file(answer)

    def profile_picture_url(self, name: str, number: str) -> str | None:
        answer = as_dict(
            self._call("POST", f"/chat/fetchProfilePictureUrl/{segment(name)}", body={"number": number}),
            "fetchProfilePictureUrl",
        )
        return answer.get("profilePictureUrl") or None
