"""Typed events out of Evolution webhook bodies (v1 and v2); unknown or odd payloads never raise."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .base import jid_digits, timestamp_from

STATUS_NAMES = {0: "ERROR", 1: "PENDING", 2: "SERVER_ACK", 3: "DELIVERY_ACK", 4: "READ", 5: "PLAYED"}
# Forward-only ordering for status updates that arrive duplicated or out of order.
STATUS_RANK = {"ERROR": 0, "PENDING": 1, "SERVER_ACK": 2, "DELIVERY_ACK": 3, "READ": 4, "PLAYED": 5, "DELETED": 6}
PROTOCOL_TYPES = {0: "REVOKE", 14: "MESSAGE_EDIT"}
MEDIA_KINDS = {
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
INTERACTIVE_TYPES = (
    "listResponseMessage",
    "buttonsResponseMessage",
    "templateButtonReplyMessage",
    "interactiveResponseMessage",
    "listMessage",
    "buttonsMessage",
    "interactiveMessage",
    "pollCreationMessage",
    "pollCreationMessageV3",
)
WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "documentWithCaptionMessage")


def canonical_event_name(name: object) -> str:
    """`messages.upsert`, `MESSAGES_UPSERT`, `/messages-upsert` and `messages-upsert` all give `MESSAGES_UPSERT`."""
    text = str(name or "").strip().rsplit("/", 1)[-1]
    return re.sub(r"[.\-]", "_", text).upper()


def status_name(value: object) -> str | None:
    """A message status as its upper-case name, whether it came as a string or a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return STATUS_NAMES.get(value)
    if isinstance(value, str) and value.isdigit():
        return STATUS_NAMES.get(int(value))
    return str(value).upper() or None


def status_rank(status: str | None) -> int:
    """Where a status sits in the forward-only order (unknown statuses rank lowest)."""
    return STATUS_RANK.get(status or "", -1)


def _is_lid(jid: object) -> bool:
    return isinstance(jid, str) and jid.endswith("@lid")


def _is_phone(jid: object) -> bool:
    return isinstance(jid, str) and jid.endswith("@s.whatsapp.net")


def _pick(candidates: list[object], test: Any) -> str | None:
    """The first candidate JID passing `test`, without its device suffix."""
    for candidate in candidates:
        if test(candidate):
            return _strip_device(str(candidate))
    return None


def _strip_device(jid: str) -> str:
    """`5511…:12@s.whatsapp.net` → `5511…@s.whatsapp.net`."""
    user, _, server = jid.partition("@")
    return f"{user.split(':', 1)[0]}@{server}"


def _clean_name(value: object) -> str | None:
    """A push name, or None when empty or just a JID/LID."""
    if not isinstance(value, str) or not value.strip() or "@" in value:
        return None
    return value.strip()


@dataclass(frozen=True, kw_only=True)
class GatewayEvent:
    """Common envelope fields: the canonical event name, instance name, owner JID and the raw body."""

    event: str
    instance: str | None
    sender: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def dedup_key(self) -> str:
        """A key under which a repeated delivery of the same fact collides."""
        return f"{self.event}:{self.instance}"


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(GatewayEvent):
    """An event we do not model (kept so it can be stored and inspected)."""

    data: object = None


@dataclass(frozen=True, kw_only=True)
class QrUpdated(GatewayEvent):
    """A new QR (and pairing code), or the end of the attempts when `limit_reached`."""

    qr_data_url: str | None = None
    qr_code: str | None = None
    pairing_code: str | None = None
    limit_reached: bool = False
    message: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConnectionUpdate(GatewayEvent):
    """The session moved to open, connecting, close or refused."""

    state: str
    status_reason: int | None = None
    owner_jid: str | None = None
    profile_name: str | None = None
    profile_picture_url: str | None = None

    @property
    def owner_number(self) -> str | None:
        return jid_digits(self.owner_jid)

    @property
    def logged_out(self) -> bool:
        """Whether the device was unlinked (the session is gone; a new scan is needed)."""
        return self.state == "close" and self.status_reason in (401, 402, 403, 406)


@dataclass(frozen=True, kw_only=True)
class MediaInfo:
    """The media descriptor of a message."""

    url: str | None = None
    mimetype: str | None = None
    file_name: str | None = None
    caption: str | None = None
    seconds: int | None = None
    voice: bool = False
    base64: str | None = field(default=None, repr=False)
    media_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class LocationInfo:
    latitude: float | None
    longitude: float | None
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, kw_only=True)
class ContactInfo:
    display_name: str | None
    vcard: str | None = field(default=None, repr=False)
    phone_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ReactionInfo:
    """An emoji on another message; `emoji == ""` removes a reaction."""

    target_id: str | None
    emoji: str
    target_remote_jid: str | None = None
    target_from_me: bool | None = None


@dataclass(frozen=True, kw_only=True)
class InteractiveReply:
    """The option a customer tapped: a list row (`list_reply`) or a button (`button_reply`), by its id and title.

    The message it answers is the event's `quoted_id` (contextInfo.stanzaId)."""

    type: str
    id: str | None
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessageReceived(GatewayEvent):
    """A message in a chat: from a customer, typed on the phone (`from_me`), or sent through the API."""

    message_id: str
    remote_jid: str
    from_me: bool
    kind: str
    message_type: str | None
    timestamp: datetime | None
    phone_jid: str | None = None
    lid: str | None = None
    is_group: bool = False
    participant: str | None = None
    participant_phone_jid: str | None = None
    participant_lid: str | None = None
    push_name: str | None = None
    text: str | None = None
    media: MediaInfo | None = None
    location: LocationInfo | None = None
    contacts: tuple[ContactInfo, ...] = ()
    reaction: ReactionInfo | None = None
    interactive_reply: InteractiveReply | None = None
    quoted_id: str | None = None
    quoted_text: str | None = None
    mentioned: tuple[str, ...] = ()
    status: str | None = None
    source: str | None = None
    sent_via_api: bool = False

    @property
    def phone_number(self) -> str | None:
        """The chat's phone digits (None for groups and LID-only chats)."""
        return jid_digits(self.phone_jid)

    @property
    def dedup_key(self) -> str:
        return f"message:{self.message_id}"


@dataclass(frozen=True, kw_only=True)
class MessageStatusUpdate(GatewayEvent):
    """A tick for a message: SERVER_ACK, DELIVERY_ACK, READ, PLAYED, DELETED, ERROR or PENDING."""

    message_id: str
    status: str
    remote_jid: str | None = None
    from_me: bool | None = None
    participant: str | None = None
    gateway_record_id: str | None = None

    @property
    def rank(self) -> int:
        return status_rank(self.status)

    @property
    def dedup_key(self) -> str:
        return f"status:{self.message_id}:{self.status}"


@dataclass(frozen=True, kw_only=True)
class MessageDeleted(GatewayEvent):
    """A message was revoked for everyone."""

    message_id: str
    remote_jid: str | None = None
    from_me: bool | None = None
    participant: str | None = None

    @property
    def dedup_key(self) -> str:
        return f"deleted:{self.message_id}"


@dataclass(frozen=True, kw_only=True)
class MessageEdited(GatewayEvent):
    """A message's text or caption was edited."""

    message_id: str
    remote_jid: str | None = None
    from_me: bool | None = None
    text: str | None = None
    timestamp: datetime | None = None

    @property
    def dedup_key(self) -> str:
        return f"edited:{self.message_id}:{self.text}"


@dataclass(frozen=True, kw_only=True)
class LogoutInstance(GatewayEvent):
    """The WhatsApp session was logged out."""


@dataclass(frozen=True, kw_only=True)
class InstanceRemoved(GatewayEvent):
    """The instance was deleted on the gateway."""


def parse_event(payload: object, version: str = "v2", *, path_suffix: str | None = None) -> list[GatewayEvent]:
    """All typed events in one webhook body (usually one; `messages.set` and v1 arrays give several)."""
    if not isinstance(payload, dict):
        return [UnknownEvent(event="", instance=None, data=payload)]
    name = canonical_event_name(payload.get("event") or path_suffix or "")
    common = {
        "event": name,
        "instance": _instance_name(payload),
        "sender": payload.get("sender") if isinstance(payload.get("sender"), str) else None,
        "raw": payload,
    }
    parser = PARSERS.get(name)
    data = payload.get("data")
    try:
        parsed = parser(data, common, version) if parser else None
    except (TypeError, ValueError, AttributeError, KeyError):
        parsed = None
    if not parsed:
        return [UnknownEvent(**common, data=data)]
    return parsed


def _instance_name(payload: dict[str, Any]) -> str | None:
    instance = payload.get("instance")
    if isinstance(instance, dict):
        instance = instance.get("instanceName")
    return instance if isinstance(instance, str) else None


def _parse_qrcode(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    if not isinstance(data, dict):
        return []
    if "statusCode" in data and "qrcode" not in data:
        return [QrUpdated(**common, limit_reached=True, message=data.get("message"))]
    qrcode = data.get("qrcode") if isinstance(data.get("qrcode"), dict) else data
    return [
        QrUpdated(
            **common,
            qr_data_url=qrcode.get("base64") or None,
            qr_code=qrcode.get("code") or None,
            pairing_code=qrcode.get("pairingCode") or None,
        )
    ]


def _parse_connection(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        return []
    reason = data.get("statusReason")
    return [
        ConnectionUpdate(
            **common,
            state=data["state"],
            status_reason=int(reason) if isinstance(reason, int | str) and str(reason).isdigit() else None,
            owner_jid=data.get("wuid") or None,
            profile_name=_clean_name(data.get("profileName")),
            profile_picture_url=data.get("profilePictureUrl") or None,
        )
    ]


def _parse_status_instance(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    if not isinstance(data, dict):
        return []
    code = data.get("disconnectionReasonCode")
    return [ConnectionUpdate(**common, state="close", status_reason=code if isinstance(code, int) else None)]


def _parse_upsert(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    items = (
        data
        if isinstance(data, list)
        else data.get("messages")
        if isinstance(data, dict) and "messages" in data
        else [data]
    )
    events: list[GatewayEvent] = []
    for item in items or []:
        event = _message_event(item, common) if isinstance(item, dict) else None
        if event is not None:
            events.append(event)
    return events


def _parse_send_message(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    events = _parse_upsert(data, common, version)
    return [_with_api_flag(event) for event in events]


def _with_api_flag(event: GatewayEvent) -> GatewayEvent:
    return replace(event, sent_via_api=True) if isinstance(event, MessageReceived) else event


def _parse_update(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    items = data if isinstance(data, list) else [data]
    events: list[GatewayEvent] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        key = item.get("key") if isinstance(item.get("key"), dict) else {}
        message_id = item.get("keyId") or key.get("id") or item.get("id")
        update = item.get("update") if isinstance(item.get("update"), dict) else {}
        status = status_name(item.get("status", update.get("status"))) or "DELETED"
        if not message_id:
            continue
        events.append(
            MessageStatusUpdate(
                **common,
                message_id=str(message_id),
                status=status,
                remote_jid=item.get("remoteJid") or key.get("remoteJid"),
                from_me=item.get("fromMe", key.get("fromMe")),
                participant=item.get("participant") or key.get("participant"),
                gateway_record_id=item.get("messageId") if "keyId" in item else None,
            )
        )
    return events


def _parse_delete(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    if not isinstance(data, dict):
        return []
    key = data.get("key") if isinstance(data.get("key"), dict) else data  # full stored message, or a bare key
    if not key.get("id"):
        return []
    return [
        MessageDeleted(
            **common,
            message_id=str(key["id"]),
            remote_jid=key.get("remoteJid"),
            from_me=key.get("fromMe"),
            participant=key.get("participant") or data.get("participant"),
        )
    ]


def _parse_edited(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    if not isinstance(data, dict):
        return []
    event = _protocol_event(data, common, outer_key={}, timestamp=None)
    return [event] if event else []


def _parse_logout(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    return [LogoutInstance(**common)]


def _parse_removed(data: object, common: dict[str, Any], version: str) -> list[GatewayEvent]:
    return [InstanceRemoved(**common)]


PARSERS = {
    "QRCODE_UPDATED": _parse_qrcode,
    "CONNECTION_UPDATE": _parse_connection,
    "STATUS_INSTANCE": _parse_status_instance,
    "MESSAGES_UPSERT": _parse_upsert,
    "MESSAGES_SET": _parse_upsert,
    "SEND_MESSAGE": _parse_send_message,
    "MESSAGES_UPDATE": _parse_update,
    "MESSAGES_DELETE": _parse_delete,
    "MESSAGES_EDITED": _parse_edited,
    "SEND_MESSAGE_UPDATE": _parse_edited,
    "LOGOUT_INSTANCE": _parse_logout,
    "REMOVE_INSTANCE": _parse_removed,
    "INSTANCE_DELETE": _parse_removed,
}


def _unwrap(message: dict[str, Any]) -> dict[str, Any]:
    """Open ephemeral/view-once/document-with-caption wrappers."""
    for _ in range(3):
        for wrapper in WRAPPERS:
            inner = message.get(wrapper)
            if isinstance(inner, dict) and isinstance(inner.get("message"), dict):
                message = {**inner["message"], **{k: v for k, v in message.items() if k in ("base64", "mediaUrl")}}
                break
        else:
            return message
    return message


def _content_type(message: dict[str, Any], declared: object) -> str | None:
    """The key of the message content: `messageType` when it names a present key, else the first content key."""
    if isinstance(declared, str) and declared in message and declared != "messageContextInfo":
        return declared
    for key in message:
        if key == "conversation" or (key.endswith("Message") and key != "messageContextInfo"):
            return key
    return declared if isinstance(declared, str) else None


def message_content(item: dict[str, Any]) -> tuple[str | None, str, str | None]:
    """(message type, kind, text or caption) of one message object (an event's data or a stored record)."""
    message = _unwrap(item.get("message") if isinstance(item.get("message"), dict) else {})
    message_type = _content_type(message, item.get("messageType"))
    fields = _content_fields(message_type, message.get(message_type) if message_type else None, message)
    return message_type, fields["kind"], fields.get("text")


def _message_event(item: dict[str, Any], common: dict[str, Any]) -> GatewayEvent | None:
    key = item.get("key")
    if not isinstance(key, dict) or not key.get("id"):
        return None
    message = _unwrap(item.get("message") if isinstance(item.get("message"), dict) else {})
    message_type = _content_type(message, item.get("messageType"))
    timestamp = timestamp_from(item.get("messageTimestamp"))
    if message_type in ("protocolMessage", "editedMessage"):
        return _protocol_event(message.get(message_type) or {}, common, outer_key=key, timestamp=timestamp)
    content = message.get(message_type) if message_type else None
    context = _context(item, content)
    fields = _content_fields(message_type, content, message)
    return MessageReceived(
        **common,
        **_identity(key, item),
        message_id=str(key["id"]),
        from_me=bool(key.get("fromMe")),
        message_type=message_type,
        timestamp=timestamp,
        push_name=None if key.get("fromMe") else _clean_name(item.get("pushName")),
        quoted_id=context.get("stanzaId") or None,
        quoted_text=_quoted_text(context.get("quotedMessage")),
        mentioned=tuple(context.get("mentionedJid") or ()),
        status=status_name(item.get("status")),
        source=item.get("source"),
        **fields,
    )


def _identity(key: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Chat and author identities, keeping both the phone JID and the `@lid` when the payload has them."""
    remote = key.get("remoteJid") or ""
    is_group = remote.endswith("@g.us")
    chat_candidates = [remote, key.get("remoteJidAlt"), key.get("senderPn"), item.get("senderPn")]
    lid_candidates = [remote, key.get("remoteJidAlt"), key.get("senderLid"), item.get("senderLid")]
    participant = key.get("participant") or item.get("participant") or None
    part_candidates = [participant, key.get("participantAlt"), key.get("participantPn")]
    return {
        "remote_jid": remote,
        "is_group": is_group,
        "phone_jid": None if is_group else _pick(chat_candidates, _is_phone),
        "lid": None if is_group else _pick(lid_candidates, _is_lid),
        "participant": participant,
        "participant_phone_jid": _pick(part_candidates, _is_phone) if is_group else None,
        "participant_lid": _pick([*part_candidates, key.get("participantLid")], _is_lid) if is_group else None,
    }


def _context(item: dict[str, Any], content: object) -> dict[str, Any]:
    """contextInfo from the data (v2) or from inside the content (v1 and raw Baileys)."""
    for candidate in (item.get("contextInfo"), content.get("contextInfo") if isinstance(content, dict) else None):
        if isinstance(candidate, dict) and candidate:
            return candidate
    return {}


def _quoted_text(quoted: object) -> str | None:
    if not isinstance(quoted, dict):
        return None
    if isinstance(quoted.get("conversation"), str):
        return quoted["conversation"]
    for value in quoted.values():
        if isinstance(value, dict):
            # A text or a caption; a quoted list or buttons message (what an option tap answers) by its title.
            shown = value.get("body") if isinstance(value.get("body"), dict) else {}
            for text in (value.get("text"), value.get("caption"), value.get("title"), value.get("contentText"),
                         shown.get("text")):
                if isinstance(text, str) and text:
                    return text
    return None


def _content_fields(message_type: str | None, content: object, message: dict[str, Any]) -> dict[str, Any]:
    """kind plus the kind-specific fields."""
    body = content if isinstance(content, dict) else {}
    if message_type == "conversation":
        return {"kind": "text", "text": content if isinstance(content, str) else None}
    if message_type == "extendedTextMessage":
        return {"kind": "text", "text": body.get("text")}
    if message_type in MEDIA_KINDS:
        return {
            "kind": MEDIA_KINDS[message_type],
            "text": body.get("caption"),
            "media": _media(message_type, body, message),
        }
    if message_type in ("locationMessage", "liveLocationMessage"):
        return {"kind": "location", "location": _location(body)}
    if message_type in ("contactMessage", "contactsArrayMessage"):
        cards = body.get("contacts") if message_type == "contactsArrayMessage" else [body]
        return {"kind": "contact", "contacts": tuple(_contact(card) for card in cards or () if isinstance(card, dict))}
    if message_type == "reactionMessage":
        return {"kind": "reaction", "reaction": _reaction(body)}
    if message_type in REPLY_PARSERS:
        reply = REPLY_PARSERS[message_type](body)
        return {"kind": "interactive", "text": reply.title or _interactive_text(body), "interactive_reply": reply}
    if message_type in INTERACTIVE_TYPES:
        return {"kind": "interactive", "text": _interactive_text(body)}
    return {"kind": "unknown"}


def _media(message_type: str, body: dict[str, Any], message: dict[str, Any]) -> MediaInfo:
    seconds = body.get("seconds")
    return MediaInfo(
        url=body.get("url"),
        mimetype=body.get("mimetype"),
        file_name=body.get("fileName") or (body.get("title") if message_type == "documentMessage" else None),
        caption=body.get("caption"),
        seconds=int(seconds) if isinstance(seconds, int | float) else None,
        voice=bool(body.get("ptt")),
        base64=message.get("base64") if isinstance(message.get("base64"), str) else None,
        media_url=message.get("mediaUrl") if isinstance(message.get("mediaUrl"), str) else None,
    )


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _location(body: dict[str, Any]) -> LocationInfo:
    return LocationInfo(
        latitude=_float(body.get("degreesLatitude")),
        longitude=_float(body.get("degreesLongitude")),
        name=body.get("name") or None,
        address=body.get("address") or None,
    )


def _contact(card: dict[str, Any]) -> ContactInfo:
    vcard = card.get("vcard") if isinstance(card.get("vcard"), str) else None
    numbers = tuple(re.findall(r"waid=(\d+)", vcard)) if vcard else ()
    if vcard and not numbers:
        numbers = tuple(re.sub(r"\D", "", tel) for tel in re.findall(r"^TEL[^:]*:(.+)$", vcard, re.M))
    return ContactInfo(display_name=card.get("displayName") or None, vcard=vcard, phone_numbers=numbers)


def _reaction(body: dict[str, Any]) -> ReactionInfo:
    target = body.get("key") if isinstance(body.get("key"), dict) else {}
    return ReactionInfo(
        target_id=target.get("id"),
        emoji=body.get("text") or "",
        target_remote_jid=target.get("remoteJid"),
        target_from_me=target.get("fromMe"),
    )


def _interactive_text(body: dict[str, Any]) -> str | None:
    for path in (("title",), ("selectedDisplayText",), ("selectedButtonId",), ("name",), ("body", "text")):
        value: object = body
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    single = body.get("singleSelectReply")
    return single.get("selectedRowId") if isinstance(single, dict) else None


def _text(value: object) -> str | None:
    """A non-empty string as it came (an option id is compared exactly), else None."""
    return value if isinstance(value, str) and value else None


def _list_reply(body: dict[str, Any]) -> InteractiveReply:
    """listResponseMessage: `{title, description?, listType, singleSelectReply: {selectedRowId}}`."""
    single = body.get("singleSelectReply") if isinstance(body.get("singleSelectReply"), dict) else {}
    return InteractiveReply(type="list_reply", id=_text(single.get("selectedRowId")), title=_text(body.get("title")),
                            description=_text(body.get("description")))


def _buttons_reply(body: dict[str, Any]) -> InteractiveReply:
    """buttonsResponseMessage (the classic buttons): `{selectedButtonId, selectedDisplayText, type}`."""
    return InteractiveReply(type="button_reply", id=_text(body.get("selectedButtonId")),
                            title=_text(body.get("selectedDisplayText")))


def _template_reply(body: dict[str, Any]) -> InteractiveReply:
    """templateButtonReplyMessage (a template's quick reply): `{selectedId, selectedDisplayText, selectedIndex}`."""
    return InteractiveReply(type="button_reply", id=_text(body.get("selectedId")),
                            title=_text(body.get("selectedDisplayText")))


def _native_flow_reply(body: dict[str, Any]) -> InteractiveReply:
    """interactiveResponseMessage (a tap on the native-flow buttons Evolution v2 sends): `{body: {text},
    nativeFlowResponseMessage: {name, paramsJson: "{\"id\": …}", version}}`; `single_select` is a list's row,
    anything else a button."""
    flow = body.get("nativeFlowResponseMessage") if isinstance(body.get("nativeFlowResponseMessage"), dict) else {}
    params = flow.get("paramsJson")
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            params = {}
    params = params if isinstance(params, dict) else {}
    shown = body.get("body") if isinstance(body.get("body"), dict) else {}
    option_id = params.get("id")
    return InteractiveReply(
        type="list_reply" if flow.get("name") == "single_select" else "button_reply",
        id=_text(option_id) if isinstance(option_id, str) else str(option_id) if isinstance(option_id, int) else None,
        title=_text(shown.get("text")) or _text(params.get("title")) or _text(params.get("display_text")),
        description=_text(params.get("description")),
    )


REPLY_PARSERS = {
    "listResponseMessage": _list_reply,
    "buttonsResponseMessage": _buttons_reply,
    "templateButtonReplyMessage": _template_reply,
    "interactiveResponseMessage": _native_flow_reply,
}


def _protocol_event(
    protocol: dict[str, Any], common: dict[str, Any], *, outer_key: dict[str, Any], timestamp: datetime | None
) -> GatewayEvent | None:
    """A revoke or an edit carried by a protocolMessage (MESSAGES_EDITED fires for any protocolMessage)."""
    target = protocol.get("key") if isinstance(protocol.get("key"), dict) else outer_key
    kind = protocol.get("type")
    kind = PROTOCOL_TYPES.get(kind, kind) if isinstance(kind, int) else kind
    edited = protocol.get("editedMessage")
    if not target.get("id"):
        return None
    if isinstance(edited, dict) or kind == "MESSAGE_EDIT":
        edited = edited if isinstance(edited, dict) else {}
        inner_type = _content_type(edited, None)
        fields = _content_fields(inner_type, edited.get(inner_type) if inner_type else None, edited)
        return MessageEdited(
            **common,
            message_id=str(target["id"]),
            remote_jid=target.get("remoteJid"),
            from_me=target.get("fromMe"),
            text=fields.get("text"),
            timestamp=timestamp or timestamp_from(protocol.get("timestampMs")),
        )
    if kind == "REVOKE":
        return MessageDeleted(
            **common,
            message_id=str(target["id"]),
            remote_jid=target.get("remoteJid"),
            from_me=target.get("fromMe"),
            participant=target.get("participant"),
        )
    return None
