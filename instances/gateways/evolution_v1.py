"""Adapter for Evolution API v1 (1.8.x): snake_case create, wrapped send bodies, `owner`, PUT restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .base import (
    NO_OPTIONS,
    Button,
    ConnectResult,
    ContactCard,
    CreatedInstance,
    InstanceInfo,
    InstanceSettings,
    ListSection,
    Location,
    Media,
    MessageKey,
    SendOptions,
    SendResult,
    SentRecord,
    WebhookConfig,
)
from .errors import GatewayUnsupported, GatewayValidationError
from .evolution_v2 import (
    CREATE_QR_WAIT,
    SETTINGS_WIRE_V1,
    EvolutionV2Gateway,
    as_dict,
    contact_item,
    list_sections,
    parse_connect,
    parse_created,
    parse_settings,
    parse_webhook,
    settings_body,
)
from .transport import segment


def parse_instance_v1(entry: dict[str, Any]) -> InstanceInfo:
    """One v1 fetchInstances entry: `{instance: {instanceName, instanceId, owner, status, …}}`."""
    row = entry.get("instance") if isinstance(entry.get("instance"), dict) else entry
    return InstanceInfo(
        name=row.get("instanceName") or "",
        instance_id=row.get("instanceId"),
        state=row.get("status") or row.get("state"),
        owner_jid=row.get("owner") or None,
        profile_name=row.get("profileName") or None,
        profile_picture_url=row.get("profilePictureUrl") or None,
        integration=row.get("integration"),
        token=row.get("apikey"),
        raw=entry,
    )


def parse_instances_v1(body: object) -> list[InstanceInfo]:
    """A list of entries, or the single object v1 returns when `?instanceName=` is given."""
    entries = body if isinstance(body, list) else [as_dict(body, "fetchInstances")]
    return [parse_instance_v1(entry) for entry in entries if isinstance(entry, dict)]


def create_body_v1(
    name: str,
    *,
    token: str | None,
    integration: str,
    number: str | None,
    qrcode: bool,
    webhook: WebhookConfig | None,
    settings: InstanceSettings | None = None,
) -> dict[str, Any]:
    """The v1 create body: flat snake_case, every setting explicit (v1 ignores groups unless told not to)."""
    body: dict[str, Any] = {
        "instanceName": name,
        "integration": integration,
        "qrcode": qrcode,
        **settings_body_v1(settings or InstanceSettings()),
    }
    if token:
        body["token"] = token
    if number:
        body["number"] = number
    if webhook is not None:
        body.update(
            webhook=webhook.url,
            webhook_by_events=webhook.by_events,
            webhook_base64=webhook.base64,
            events=list(webhook.events),
        )
    return body


def settings_body_v1(settings: InstanceSettings) -> dict[str, Any]:
    """The v1 settings (create and settings/set): snake_case `reject_call`, `msg_call`, `groups_ignore`…"""
    return settings_body(settings, SETTINGS_WIRE_V1)


def webhook_body_v1(webhook: WebhookConfig) -> dict[str, Any]:
    """The flat v1 webhook/set body (v1 has no custom headers)."""
    return {
        "enabled": webhook.enabled,
        "url": webhook.url,
        "webhook_by_events": webhook.by_events,
        "webhook_base64": webhook.base64,
        "events": list(webhook.events),
    }


def options_body_v1(options: SendOptions) -> dict[str, Any]:
    """The v1 `options` object: delay, quoted, linkPreview, mentions{everyOne, mentioned}."""
    body: dict[str, Any] = {}
    if options.delay_ms:
        body["delay"] = options.delay_ms
    if options.quoted is not None:
        body["quoted"] = options.quoted.as_wire()
    if options.link_preview is not None:
        body["linkPreview"] = options.link_preview
    if options.mention_everyone or options.mentioned:
        body["mentions"] = {"everyOne": options.mention_everyone, "mentioned": list(options.mentioned)}
    return body


def wrapped(number: str, options: SendOptions, wrapper: str, content: object) -> dict[str, Any]:
    """A v1 send body: `{number, options, <wrapper>: content}`."""
    body: dict[str, Any] = {"number": number, wrapper: content}
    opts = options_body_v1(options)
    if opts:
        body["options"] = opts
    return body


def media_message_v1(media: Media) -> dict[str, Any]:
    """The v1 `mediaMessage` object."""
    content: dict[str, Any] = {"mediatype": media.mediatype, "media": media.media}
    for wire, value in (("mimetype", media.mimetype), ("caption", media.caption), ("fileName", media.file_name)):
        if value:
            content[wire] = value
    return content


def button_message_v1(title: str, description: str, footer: str, buttons: Sequence[Button]) -> dict[str, Any]:
    """The v1 `buttonMessage`: reply buttons only (`buttonText`, `buttonId`)."""
    if any(button.type != "reply" for button in buttons):
        raise GatewayValidationError("Evolution v1 only sends reply buttons")
    return {
        "title": title,
        "description": description,
        "footerText": footer,
        "buttons": [{"buttonText": button.display_text, "buttonId": button.id} for button in buttons],
    }


class EvolutionV1Gateway(EvolutionV2Gateway):
    """Evolution API v1 over HTTP; the routes v1 shares with v2 are inherited unchanged."""

    version = "v1"

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
        body = create_body_v1(name, token=token, integration=integration, number=number, qrcode=qrcode, webhook=webhook,
                              settings=settings)
        timeout = self.transport.timeout + (CREATE_QR_WAIT if qrcode else 0)
        return parse_created(self._call("POST", "/instance/create", body=body, timeout=timeout, secrets=(token,)))

    def fetch_instances(self, name: str | None = None) -> list[InstanceInfo]:
        params = {"instanceName": name} if name else None
        return parse_instances_v1(self._call("GET", "/instance/fetchInstances", params=params))

    def restart(self, name: str) -> ConnectResult:
        return parse_connect(self._call("PUT", f"/instance/restart/{segment(name)}"))

    def set_webhook(self, name: str, webhook: WebhookConfig) -> WebhookConfig:
        answer = self._call("POST", f"/webhook/set/{segment(name)}", body=webhook_body_v1(webhook))
        return parse_webhook(answer) or webhook

    def set_settings(self, name: str, settings: InstanceSettings) -> InstanceSettings:
        answer = self._call("POST", f"/settings/set/{segment(name)}", body=settings_body_v1(settings))
        return parse_settings(answer) or settings

    def send_text(self, name: str, number: str, text: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        return self._send("sendText", name, wrapped(number, options, "textMessage", {"text": text}), options)

    def send_media(self, name: str, number: str, media: Media, options: SendOptions = NO_OPTIONS) -> SendResult:
        return self._send("sendMedia", name, wrapped(number, options, "mediaMessage", media_message_v1(media)), options)

    def send_voice_note(self, name: str, number: str, audio: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        body = wrapped(number, SendOptions(delay_ms=options.delay_ms), "audioMessage", {"audio": audio})
        return self._send("sendWhatsAppAudio", name, body, options)

    def send_sticker(self, name: str, number: str, sticker: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        return self._send("sendSticker", name, wrapped(number, options, "stickerMessage", {"image": sticker}), options)

    def send_location(
        self, name: str, number: str, location: Location, options: SendOptions = NO_OPTIONS
    ) -> SendResult:
        content = {
            "name": location.name,
            "address": location.address,
            "latitude": location.latitude,
            "longitude": location.longitude,
        }
        return self._send("sendLocation", name, wrapped(number, options, "locationMessage", content), options)

    def send_contacts(self, name: str, number: str, contacts: Sequence[ContactCard]) -> SendResult:
        content = [contact_item(card) for card in contacts]
        return self._send("sendContact", name, wrapped(number, NO_OPTIONS, "contactMessage", content))

    def send_reaction(self, name: str, key: MessageKey, emoji: str) -> SendResult:
        return self._send("sendReaction", name, {"reactionMessage": {"key": key.as_wire(), "reaction": emoji}})

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
        content = {
            "title": title,
            "description": description,
            "footerText": footer,
            "buttonText": button_text,
            "sections": list_sections(sections),
        }
        return self._send("sendList", name, wrapped(number, options, "listMessage", content), options)

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
        content = button_message_v1(title, description, footer, buttons)
        return self._send("sendButtons", name, wrapped(number, options, "buttonMessage", content), options)

    def find_sent_messages(self, name: str, remote_jid: str, since: datetime, until: datetime) -> list[SentRecord]:
        # 1.8 has POST /chat/findMessages, but over optional MongoDB/file storage, with `limit` instead of pages
        # and no time filter in its schema; its answer is not in our reference. Not guessed: the caller cannot tell.
        raise GatewayUnsupported("Evolution v1: listing sent messages is not supported (no documented findMessages)")
