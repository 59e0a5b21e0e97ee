"""Messages a simulated customer (or the phone's owner) sends, shaped like Evolution's MESSAGES_UPSERT data."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from . import messages as content
from .engine import SimInstance
from .messages import SAMPLE_PNG
from .wire import digits, lid_for, message_id, to_jid

KINDS = ("text", "image", "video", "audio", "voice", "document", "sticker", "location", "contact", "reaction",
         "list_reply", "button_reply")
# How a tap on a button comes back: as the native-flow reply Evolution v2's sendButtons gets (default), as a
# classic buttons reply or as a template quick reply.
BUTTON_REPLY_FORMATS = ("native_flow", "buttons", "template")
# What a customer can answer by tapping an option.
ANSWERABLE = ("listMessage", "interactiveMessage", "buttonsMessage")
MEDIA_KIND = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "voice": "audio",
    "document": "document",
    "sticker": "sticker",
}


class SpecError(ValueError):
    """The control request does not describe a message."""


def build(instance: SimInstance, spec: dict[str, Any], public_url: str) -> dict[str, Any]:
    """The `data` of a MESSAGES_UPSERT for one simulated inbound (or phone-typed) message."""
    kind = spec.get("kind") or "text"
    if kind not in KINDS:
        raise SpecError(f"kind must be one of {', '.join(KINDS)}")
    key, push_name = _key(instance, spec)
    if kind in ("list_reply", "button_reply"):
        spec = {**spec, "quoted_id": _answered(instance, spec)["id"]}
    message_type, message = _content(kind, spec, public_url, instance)
    if kind in MEDIA_KIND:
        # What the gateway could decrypt for getBase64FromMediaMessage: the bytes given, else the sample picture.
        source = spec.get("base64") or (SAMPLE_PNG.split(",", 1)[1] if kind == "image" and not spec.get("media_url")
                                        else None)
        if source:
            instance.media[key["id"]] = base64.b64decode(source)
    if spec.get("base64") and kind in MEDIA_KIND and (instance.webhook or {}).get("webhookBase64"):
        message["base64"] = spec["base64"]
    return {
        "key": key,
        "pushName": push_name,
        "status": "SERVER_ACK" if key["fromMe"] else "DELIVERY_ACK",
        "message": message,
        "contextInfo": _context(instance, spec),
        "messageType": message_type,
        "messageTimestamp": int(spec.get("timestamp") or time.time()),
        "instanceId": instance.id,
        "source": spec.get("source") or ("ios" if key["fromMe"] else "android"),
    }


def _key(instance: SimInstance, spec: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The message key with group participant and LID addressing when asked for."""
    from_me = bool(spec.get("from_me"))
    sender = str(spec.get("to") if from_me else spec.get("from") or "")
    if not digits(sender):
        raise SpecError(
            "'from' (the customer's number) is required" if not from_me else "'to' is required with from_me"
        )
    phone_jid = to_jid(digits(sender))
    key: dict[str, Any] = {"remoteJid": phone_jid, "fromMe": from_me, "id": spec.get("id") or message_id("3A")}
    if spec.get("group"):
        group = str(spec["group"])
        key["remoteJid"] = group if group.endswith("@g.us") else f"{digits(group)}@g.us"
        key["participant"] = lid_for(sender) if spec.get("lid") else phone_jid
        if spec.get("lid"):
            key["participantAlt"] = phone_jid
    elif spec.get("lid"):
        key.update(remoteJid=lid_for(sender), remoteJidAlt=phone_jid, addressingMode="lid")
    push_name = instance.profile_name if from_me else spec.get("push_name", f"Customer {digits(sender)[-4:]}")
    return key, push_name


def _content(kind: str, spec: dict[str, Any], public_url: str, instance: SimInstance) -> tuple[str, dict[str, Any]]:
    if kind == "text":
        return "conversation", {"conversation": str(spec.get("text") or "")}
    if kind in MEDIA_KIND:
        return _media(kind, spec, public_url)
    if kind == "location":
        location = content.location_content(
            float(spec.get("latitude", -23.5505)),
            float(spec.get("longitude", -46.6333)),
            spec.get("name"),
            spec.get("address"),
        )
        return "locationMessage", {"locationMessage": location}
    if kind == "contact":
        cards = spec.get("contacts") or [spec.get("contact") or {}]
        wire_cards = [
            {"fullName": c.get("full_name") or "Contact", "phoneNumber": c.get("phone_number") or "0"} for c in cards
        ]
        message_type, built = content.contacts_content(wire_cards)
        return message_type, {message_type: built}
    if kind in ("list_reply", "button_reply"):
        return _choice(kind, spec, instance)
    return "reactionMessage", {"reactionMessage": _reaction(instance, spec)}


def _media(kind: str, spec: dict[str, Any], public_url: str) -> tuple[str, dict[str, Any]]:
    mediatype = MEDIA_KIND[kind]
    source = spec.get("media_url") or (f"{public_url}/_sim/media/sample.png" if kind == "image" else "")
    message_type, media = content.media_content(
        mediatype,
        source or "AAAA",
        mimetype=spec.get("mimetype"),
        caption=spec.get("caption"),
        file_name=spec.get("file_name"),
    )
    if spec.get("mimetype"):
        media["mimetype"] = spec["mimetype"]
    if mediatype == "audio":
        media.update(ptt=kind == "voice", seconds=int(spec.get("seconds") or 3))
        media["mimetype"] = spec.get("mimetype") or "audio/ogg; codecs=opus"
    message: dict[str, Any] = {message_type: media}
    if spec.get("cdn_only"):
        # A gateway without S3 and without webhook base64 (Evolution's default): only WhatsApp's encrypted link.
        media["url"] = f"{content.CDN}/{abs(hash(source or kind)) % 10**12}.enc"
    elif source:
        message["mediaUrl"] = source
    return message_type, message


def _reaction(instance: SimInstance, spec: dict[str, Any]) -> dict[str, Any]:
    reaction = spec.get("reaction") or {}
    target_id = reaction.get("message_id") or spec.get("target_id")
    if not target_id:
        raise SpecError("a reaction needs reaction.message_id")
    target = instance.messages.get(target_id)
    remote = target["remote_jid"] if target else to_jid(digits(str(spec.get("from") or "")))
    from_me = target["from_me"] if target else bool(reaction.get("from_me", True))
    key = {"remoteJid": remote, "fromMe": from_me, "id": target_id}
    return {
        "key": key,
        "text": reaction.get("emoji", spec.get("emoji", "👍")),
        "senderTimestampMs": str(int(time.time() * 1000)),
    }


def _answered(instance: SimInstance, spec: dict[str, Any]) -> dict[str, Any]:
    """The list or buttons message a tap answers (`reply_to`: its id, as sent through the gateway)."""
    entry = instance.messages.get(str(spec.get("reply_to") or ""))
    if entry is None or entry["message_type"] not in ANSWERABLE:
        raise SpecError("a list_reply or button_reply needs reply_to: the id of a list or buttons message sent here")
    return entry


def options(entry: dict[str, Any]) -> list[dict[str, str]]:
    """The options a customer can tap in a sent list or buttons message: `[{"id", "title", "description"}]`."""
    content = entry["content"] if isinstance(entry["content"], dict) else {}
    if entry["message_type"] == "listMessage":
        return [{"id": row.get("rowId", ""), "title": row.get("title", ""), "description": row.get("description", "")}
                for section in content.get("sections") or [] for row in section.get("rows") or []]
    if entry["message_type"] == "buttonsMessage":
        return [{"id": button.get("buttonId", ""), "title": (button.get("buttonText") or {}).get("displayText", ""),
                 "description": ""} for button in content.get("buttons") or []]
    found = []
    for button in (content.get("nativeFlowMessage") or {}).get("buttons") or []:
        # Evolution's own request shape ({type, displayText, id}) or WhatsApp's ({name, buttonParamsJson}).
        params = json.loads(button["buttonParamsJson"]) if isinstance(button.get("buttonParamsJson"), str) else button
        if button.get("type", "reply") == "reply" and button.get("name", "quick_reply") == "quick_reply":
            found.append({"id": params.get("id", ""), "title": params.get("displayText") or params.get("display_text")
                          or "", "description": ""})
    return found


def _choice(kind: str, spec: dict[str, Any], instance: SimInstance) -> tuple[str, dict[str, Any]]:
    """A tap on one of the answered message's options, as WhatsApp sends it back."""
    entry = _answered(instance, spec)
    option = next((item for item in options(entry) if item["id"] == spec.get("option_id")), None)
    if option is None:
        raise SpecError(f"option_id must be one of the answered message's options: "
                        f"{', '.join(item['id'] for item in options(entry)) or 'it has none that reply'}")
    if kind == "list_reply":
        reply = {"title": option["title"], "listType": "SINGLE_SELECT",
                 "singleSelectReply": {"selectedRowId": option["id"]}}
        if option["description"]:
            reply["description"] = option["description"]
        return "listResponseMessage", {"listResponseMessage": reply}
    reply_format = spec.get("format") or "native_flow"
    if reply_format not in BUTTON_REPLY_FORMATS:
        raise SpecError(f"format must be one of {', '.join(BUTTON_REPLY_FORMATS)}")
    if reply_format == "buttons":
        return "buttonsResponseMessage", {"buttonsResponseMessage": {
            "selectedButtonId": option["id"], "selectedDisplayText": option["title"], "type": "DISPLAY_TEXT"}}
    if reply_format == "template":
        index = [item["id"] for item in options(entry)].index(option["id"])
        return "templateButtonReplyMessage", {"templateButtonReplyMessage": {
            "selectedId": option["id"], "selectedDisplayText": option["title"], "selectedIndex": index}}
    return "interactiveResponseMessage", {"interactiveResponseMessage": {
        "body": {"text": option["title"], "format": "DEFAULT"},
        "nativeFlowResponseMessage": {"name": "quick_reply", "paramsJson": json.dumps({"id": option["id"]}),
                                      "version": 3}}}


def _context(instance: SimInstance, spec: dict[str, Any]) -> dict[str, Any] | None:
    """Reply context (quoted message) and mentions, as v2 puts them at the top of `data`."""
    context: dict[str, Any] = {}
    quoted_id = spec.get("quoted_id")
    if quoted_id:
        quoted = instance.messages.get(quoted_id)
        author = instance.owner_jid if quoted is None or quoted["from_me"] else quoted["remote_jid"]
        text = quoted["summary"] if quoted else spec.get("quoted_text", "")
        quoted_message = {"conversation": text}
        if quoted is not None and quoted["message_type"] in ANSWERABLE:
            quoted_message = {quoted["message_type"]: quoted["content"]}
        context.update(stanzaId=quoted_id, participant=author, quotedMessage=quoted_message)
    if spec.get("mentioned"):
        context["mentionedJid"] = [to_jid(digits(str(number))) for number in spec["mentioned"]]
    return context or None
