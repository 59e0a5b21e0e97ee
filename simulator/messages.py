"""Message contents as Evolution v2 puts them on the wire, for sends and for simulated customers."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

import segno

from .wire import EvolutionError, digits, to_jid

MEDIA_DEFAULTS = {
    "image": ("imageMessage", "image/jpeg", "image.jpg"),
    "video": ("videoMessage", "video/mp4", "video.mp4"),
    "ptv": ("ptvMessage", "video/mp4", "video.mp4"),
    "audio": ("audioMessage", "audio/mpeg", "audio.mp3"),
    "document": ("documentMessage", "application/octet-stream", "document"),
    "sticker": ("stickerMessage", "image/webp", "sticker.webp"),
}
CDN = "https://mmg.whatsapp.net/o1/v/t62.7118-24/simulated"
# The picture a simulated customer sends when the test names none (served at /_sim/media/sample.png).
SAMPLE_PNG = segno.make_qr("Recado simulator sample image").png_data_uri(scale=8)
MEDIA_TYPES = {message_type for message_type, _mime, _name in MEDIA_DEFAULTS.values()}
EMOJI_RANGES = re.compile(
    "^(?:[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u3030\u303d\u3297\u3299\u00a9\u00ae]"
    "[\ufe0f\u200d\U0001f3fb-\U0001f3ff\U0001f000-\U0001faff\u2600-\u27bf]*)$"
)


def is_base64(value: str) -> bool:
    if not value or len(value) % 4:
        return False
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True


def check_media(value: str | None, *, what: str = "media") -> str:
    """A URL or bare base64, as Evolution demands (`Owned media must be a url or base64`)."""
    if value and (value.startswith(("http://", "https://")) or is_base64(value)):
        return value
    raise EvolutionError(400, [f"Owned {what} must be a url or base64"])


def media_content(
    mediatype: str, source: str, *, mimetype: str | None, caption: str | None, file_name: str | None
) -> tuple[str, dict[str, Any]]:
    """`(<type>Message, descriptor)` for a media message."""
    message_type, default_mime, default_name = MEDIA_DEFAULTS[mediatype]
    url = source if source.startswith("http") else f"{CDN}/{abs(hash(source)) % 10**12}.enc"
    content: dict[str, Any] = {"url": url, "mimetype": mimetype or default_mime, "fileLength": str(_size(source))}
    if mediatype == "image":
        content["mimetype"] = "image/jpeg"  # Evolution re-encodes every image to JPEG
    if caption and mediatype != "sticker":
        content["caption"] = caption
    if mediatype == "document":
        content["fileName"] = file_name or source.rsplit("/", 1)[-1] or default_name
        content["title"] = content["fileName"]
    elif file_name:
        content["fileName"] = file_name
    return message_type, content


def _size(source: str) -> int:
    return len(source) * 3 // 4 if not source.startswith("http") else 0


def text_content(text: str) -> tuple[str, dict[str, Any]]:
    return "conversation", {"conversation": text}


def location_content(latitude: float, longitude: float, name: str | None, address: str | None) -> dict[str, Any]:
    return {"degreesLatitude": latitude, "degreesLongitude": longitude, "name": name or "", "address": address or ""}


def vcard(full_name: str, phone_number: str, wuid: str | None = None, organization: str | None = None) -> str:
    wa_id = digits(wuid or phone_number)
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"N:;{full_name};;;", f"FN:{full_name}"]
    if organization:
        lines.append(f"ORG:{organization};")
    lines += [f"TEL;type=CELL;type=VOICE;waid={wa_id}:+{wa_id}", "END:VCARD"]
    return "\n".join(lines)


def contacts_content(cards: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """One card → contactMessage; several → contactsArrayMessage."""
    built = [
        {
            "displayName": card["fullName"],
            "vcard": vcard(card["fullName"], card["phoneNumber"], card.get("wuid"), card.get("organization")),
        }
        for card in cards
    ]
    if len(built) == 1:
        return "contactMessage", built[0]
    return "contactsArrayMessage", {"displayName": f"{len(built)} contacts", "contacts": built}


def check_reaction(reaction: str) -> str:
    if reaction == "" or EMOJI_RANGES.match(reaction):
        return reaction
    raise EvolutionError(400, ["Reaction must be a single emoji or empty string"])


def check_buttons(buttons: list[dict[str, Any]]) -> None:
    """Evolution's button rules: ≤ 3 reply buttons, reply not mixed with other types, pix alone."""
    types = [button.get("type") for button in buttons]
    if types.count("reply") > 3:
        raise EvolutionError(400, ["Maximum of 3 reply buttons allowed"])
    if "reply" in types and len(set(types)) > 1:
        raise EvolutionError(400, ["Reply buttons cannot be mixed with other button types"])
    if "pix" in types and len(types) > 1:
        raise EvolutionError(400, ["Only one PIX button is allowed"])


# Evolution's button types and the native-flow names WhatsApp knows them by.
NATIVE_FLOW_NAMES = {"reply": "quick_reply", "copy": "cta_copy", "url": "cta_url", "call": "cta_call",
                     "pix": "payment_info"}
WRAPPERS = ("viewOnceMessage", "viewOnceMessageV2", "ephemeralMessage")


def _button_params(button: dict[str, Any]) -> dict[str, Any]:
    """A button's `buttonParamsJson`, as Evolution's toJSONString builds it from the request's button."""
    kind = button["type"]
    if kind == "reply":
        return {"display_text": button.get("displayText"), "id": button.get("id")}
    if kind == "copy":
        return {"display_text": button.get("displayText"), "copy_code": button.get("copyCode")}
    if kind == "url":
        return {"display_text": button.get("displayText"), "url": button.get("url"), "merchant_url": button.get("url")}
    if kind == "call":
        return {"display_text": button.get("displayText"), "phone_number": button.get("phoneNumber")}
    pix = {"merchant_name": button.get("name"), "key": button.get("key"),
           "key_type": {"random": "EVP"}.get(button.get("keyType"), str(button.get("keyType", "")).upper())}
    settings = [{"type": "pix_static_code", "pix_static_code": pix}]
    return {"currency": button.get("currency"), "payment_settings": settings}


def buttons_content(body: dict[str, Any]) -> dict[str, Any]:
    """sendButtons as WhatsApp carries it and Evolution echoes it (not the request's shape): a native-flow
    `interactiveMessage` inside `viewOnceMessage`, each button `{name, buttonParamsJson}` (a JSON string), the
    title in bold in the body text, the description under it (a PIX button alone has no body)."""
    buttons = [{"name": NATIVE_FLOW_NAMES[button["type"]], "buttonParamsJson": json.dumps(_button_params(button))}
               for button in body["buttons"]]
    flow = {"buttons": buttons, "messageParamsJson": json.dumps({"from": "api", "templateId": str(uuid.uuid4())})}
    interactive: dict[str, Any] = {"nativeFlowMessage": flow}
    if buttons[0]["name"] != "payment_info":
        text = f"*{body['title']}*" + (f"\n\n{body['description']}\n" if body.get("description") else "")
        interactive = {"body": {"text": text}, **({"footer": {"text": body["footer"]}} if body.get("footer") else {}),
                       **interactive}
    return {"viewOnceMessage": {"message": {"interactiveMessage": interactive}}}


def unwrap(message: dict[str, Any]) -> tuple[str, Any]:
    """(the content's type, the content) of a stored message, through view-once/ephemeral wrappers."""
    for _ in range(3):
        wrapper = next((key for key in WRAPPERS if isinstance(message.get(key), dict)), None)
        if wrapper is None or not isinstance(message[wrapper].get("message"), dict):
            break
        message = message[wrapper]["message"]
    message_type = next((key for key in message if key == "conversation" or key.endswith("Message")), "unknown")
    return message_type, message.get(message_type)


def context_info(body: dict[str, Any], lookup: Any) -> dict[str, Any]:
    """contextInfo of an outgoing message: mentions and the quoted message."""
    context: dict[str, Any] = {
        "mentionedJid": [to_jid(number) for number in body.get("mentioned") or []],
        "groupMentions": [],
    }
    quoted = body.get("quoted")
    if isinstance(quoted, dict) and isinstance(quoted.get("key"), dict):
        key = quoted["key"]
        original = lookup(key.get("id"))
        quoted_message = quoted.get("message") or (original or {}).get("message") or {"conversation": ""}
        context.update(stanzaId=key.get("id"), participant=key.get("remoteJid"), quotedMessage=quoted_message)
    return context


def summary(message_type: str, content: Any) -> str:
    """A one-line text for the phone page."""
    if message_type == "conversation":
        return str(content)
    if not isinstance(content, dict):
        return message_type
    for field in ("caption", "text", "title", "selectedDisplayText", "fileName", "displayName", "name"):
        if content.get(field):
            return str(content[field])
    if isinstance(content.get("body"), dict) and content["body"].get("text"):  # interactive (native-flow) messages
        return str(content["body"]["text"])
    if message_type == "locationMessage":
        return f"📍 {content.get('degreesLatitude')}, {content.get('degreesLongitude')}"
    return message_type.removesuffix("Message")
