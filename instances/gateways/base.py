"""The gateway interface and the plain dataclasses it speaks in; no HTTP and no Django here."""

from __future__ import annotations

import abc
import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Self

from .errors import GatewayUnsupported, InstanceNotFound

PRESENCES = ("available", "unavailable", "composing", "recording", "paused")
MEDIA_TYPES = ("image", "video", "document", "audio")
DEFAULT_EVENTS = (
    "QRCODE_UPDATED",
    "CONNECTION_UPDATE",
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "MESSAGES_EDITED",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "LOGOUT_INSTANCE",
    "REMOVE_INSTANCE",
)


def jid_digits(jid: str | None) -> str | None:
    """The phone digits of a `…@s.whatsapp.net` JID (device suffix dropped); None for groups and LIDs."""
    if not jid or not jid.endswith("@s.whatsapp.net"):
        return None
    return jid.split("@", 1)[0].split(":", 1)[0] or None


def timestamp_from(value: object) -> datetime | None:
    """A UTC datetime from an epoch given as a number, a decimal string or a protobuf Long object."""
    if isinstance(value, dict) and "low" in value:
        low = int(value.get("low") or 0) & 0xFFFFFFFF
        high = int(value.get("high") or 0) & 0xFFFFFFFF
        value = (high << 32) | low
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    seconds = float(value)
    if seconds <= 0:
        return None
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the gateway's root route says about itself."""

    version: str | None
    client_name: str | None
    whatsapp_web_version: str | None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """A per-instance webhook: URL, switch, event filter (config names) and delivery options."""

    url: str
    enabled: bool = True
    events: tuple[str, ...] = DEFAULT_EVENTS
    by_events: bool = False
    base64: bool = False
    headers: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class ConnectResult:
    """The answer to connect/restart: a QR and/or pairing code, or the state when already connected."""

    qr_data_url: str | None = None
    qr_code: str | None = None
    pairing_code: str | None = None
    count: int = 0
    state: str | None = None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def has_qr(self) -> bool:
        """Whether a QR image came back (the gateway may not have one yet: `{"count": 0}`)."""
        return bool(self.qr_data_url)

    @property
    def qr_png(self) -> bytes | None:
        """The QR PNG bytes decoded from the data URL."""
        if not self.qr_data_url:
            return None
        _, _, payload = self.qr_data_url.partition("base64,")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """The connection state of one instance: open, connecting or close."""

    instance_name: str
    state: str


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """One instance as the gateway lists it, with its owner number and profile once connected."""

    name: str
    instance_id: str | None
    state: str | None
    owner_jid: str | None = None
    profile_name: str | None = None
    profile_picture_url: str | None = None
    integration: str | None = None
    token: str | None = field(default=None, repr=False)
    disconnection_reason_code: int | None = None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def owner_number(self) -> str | None:
        """The owner's phone digits (from `ownerJid` in v2, `owner` in v1)."""
        return jid_digits(self.owner_jid)


@dataclass(frozen=True, slots=True)
class CreatedInstance:
    """What create returns: the instance, its token, the stored webhook and an optional first QR."""

    name: str
    instance_id: str | None
    token: str | None = field(repr=False)
    state: str | None
    integration: str | None
    webhook_url: str | None = None
    connect: ConnectResult | None = None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageKey:
    """A WhatsApp message key: chat JID, message id, direction, and the group member when relevant."""

    remote_jid: str
    id: str
    from_me: bool
    participant: str | None = None

    def as_wire(self) -> dict[str, Any]:
        """The key as Evolution expects it in bodies."""
        wire: dict[str, Any] = {"remoteJid": self.remote_jid, "fromMe": self.from_me, "id": self.id}
        if self.participant:
            wire["participant"] = self.participant
        return wire


@dataclass(frozen=True, slots=True)
class Quoted:
    """The message a send replies to; `text` lets the gateway render the quote without its database."""

    key: MessageKey
    text: str | None = None

    def as_wire(self) -> dict[str, Any]:
        """The `quoted` object of a send body."""
        wire: dict[str, Any] = {"key": self.key.as_wire()}
        if self.text is not None:
            wire["message"] = {"conversation": self.text}
        return wire


@dataclass(frozen=True, slots=True)
class Media:
    """A file to send: an http(s) URL or bare base64 (no `data:` prefix)."""

    media: str
    mediatype: Literal["image", "video", "document", "audio"]
    mimetype: str | None = None
    caption: str | None = None
    file_name: str | None = None

    @property
    def is_url(self) -> bool:
        """Whether the media is given as a URL rather than base64."""
        return self.media.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class Location:
    """A location pin."""

    latitude: float
    longitude: float
    name: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class ContactCard:
    """A contact card (vCard) to send."""

    full_name: str
    phone_number: str
    wuid: str | None = None
    organization: str | None = None
    email: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ListRow:
    """One selectable row of a list message."""

    title: str
    row_id: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ListSection:
    """A titled group of rows in a list message."""

    title: str
    rows: tuple[ListRow, ...]


@dataclass(frozen=True, slots=True)
class Button:
    """An interactive button: `reply` (id), `url`, `call` (phone_number) or `copy` (copy_code)."""

    display_text: str
    type: Literal["reply", "url", "call", "copy"] = "reply"
    id: str | None = None
    url: str | None = None
    phone_number: str | None = None
    copy_code: str | None = None


@dataclass(frozen=True, slots=True)
class SendOptions:
    """Options every send accepts: reply context, mentions, typing delay, link preview switch."""

    quoted: Quoted | None = None
    mentioned: tuple[str, ...] = ()
    mention_everyone: bool = False
    delay_ms: int | None = None
    link_preview: bool | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """A message the gateway accepted: its WhatsApp id, chat, initial status and timestamp."""

    message_id: str
    remote_jid: str
    from_me: bool
    status: str | None
    timestamp: datetime | None
    message_type: str | None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def key(self) -> MessageKey:
        """The key to quote, react to or delete this message later."""
        return MessageKey(remote_jid=self.remote_jid, id=self.message_id, from_me=self.from_me)


@dataclass(frozen=True, slots=True)
class NumberCheck:
    """Whether a number (or group) is on WhatsApp, with its JID and name when known."""

    number: str
    exists: bool
    jid: str | None
    name: str | None = None
    lid: str | None = None


@dataclass(frozen=True, slots=True)
class SentRecord:
    """A message this number sent, as the gateway's history keeps it (to tell whether an unanswered send went out).

    `kind` is ours (text, image, … as `events.MessageReceived.kind`); `text` is the text or the caption."""

    id: str
    remote_jid: str
    timestamp: datetime | None
    message_type: str | None
    kind: str
    text: str | None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstanceSettings:
    """How the number behaves on WhatsApp (the Evolution manager's Settings tab); everything off by default.

    `call_rejection_message` is sent to a caller whose call was rejected (only while `reject_calls` is on)."""

    reject_calls: bool = False
    call_rejection_message: str = ""
    ignore_groups: bool = False
    always_online: bool = False
    read_messages: bool = False
    read_status: bool = False
    sync_full_history: bool = False


# The largest file `Gateway.media_file` reads (as Recado's own media download): WhatsApp documents can be 2 GB.
MEDIA_FILE_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A message's media as the gateway decrypted it: the bytes, and what it says they are."""

    data: bytes = field(repr=False)
    mimetype: str | None = None
    file_name: str | None = None


NO_OPTIONS = SendOptions()


class Gateway(abc.ABC):
    """One gateway server seen through one API key; every method is a blocking HTTP call."""

    version: str

    @abc.abstractmethod
    def close(self) -> None:
        """Release the HTTP connections (only the adapter that owns the client closes it)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abc.abstractmethod
    def with_api_key(self, api_key: str) -> Gateway:
        """The same server and connection pool, authenticating with another key (an instance token)."""

    @abc.abstractmethod
    def server_info(self) -> ServerInfo:
        """The gateway's version and name (root route, no key needed)."""

    @abc.abstractmethod
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
        """Create an instance (global key only), optionally with its webhook, its settings and a first QR."""

    @abc.abstractmethod
    def connect(self, name: str, *, number: str | None = None) -> ConnectResult:
        """Start or continue a session: QR (and pairing code when `number` is given), or the open state."""

    @abc.abstractmethod
    def connection_state(self, name: str) -> ConnectionState:
        """The current connection state."""

    @abc.abstractmethod
    def fetch_instances(self, name: str | None = None) -> list[InstanceInfo]:
        """Every instance the key may see, or just the one named."""

    def fetch_instance(self, name: str) -> InstanceInfo:
        """One instance by name (InstanceNotFound when the gateway does not know it)."""
        for info in self.fetch_instances(name):
            if info.name == name:
                return info
        raise InstanceNotFound(f'Instance "{name}" not found', status_code=404)

    @abc.abstractmethod
    def restart(self, name: str) -> ConnectResult:
        """Reconnect the session; returns a QR when a scan is needed, else the state."""

    @abc.abstractmethod
    def logout(self, name: str) -> None:
        """Log the WhatsApp session out (unlinks the device)."""

    @abc.abstractmethod
    def delete_instance(self, name: str) -> None:
        """Remove the instance and its data from the gateway."""

    @abc.abstractmethod
    def set_webhook(self, name: str, webhook: WebhookConfig) -> WebhookConfig:
        """Configure the instance webhook; returns what the gateway stored."""

    @abc.abstractmethod
    def find_webhook(self, name: str) -> WebhookConfig | None:
        """The instance webhook, or None when none is set."""

    @abc.abstractmethod
    def set_settings(self, name: str, settings: InstanceSettings) -> InstanceSettings:
        """Store the instance's behaviour settings (every field is sent); returns what the gateway stored."""

    @abc.abstractmethod
    def find_settings(self, name: str) -> InstanceSettings | None:
        """The instance's behaviour settings, or None when the gateway has none stored."""

    @abc.abstractmethod
    def set_presence(self, name: str, presence: str) -> None:
        """Set the account's global presence (available, unavailable, composing, recording, paused)."""

    @abc.abstractmethod
    def send_text(self, name: str, number: str, text: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        """Send a text message."""

    @abc.abstractmethod
    def send_media(self, name: str, number: str, media: Media, options: SendOptions = NO_OPTIONS) -> SendResult:
        """Send an image, video, document or audio file."""

    @abc.abstractmethod
    def send_voice_note(self, name: str, number: str, audio: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        """Send a voice note (PTT) from a URL or base64 audio."""

    @abc.abstractmethod
    def send_sticker(self, name: str, number: str, sticker: str, options: SendOptions = NO_OPTIONS) -> SendResult:
        """Send a sticker from a URL or base64 image."""

    @abc.abstractmethod
    def send_location(
        self, name: str, number: str, location: Location, options: SendOptions = NO_OPTIONS
    ) -> SendResult:
        """Send a location pin."""

    @abc.abstractmethod
    def send_contacts(self, name: str, number: str, contacts: Sequence[ContactCard]) -> SendResult:
        """Send one or more contact cards."""

    @abc.abstractmethod
    def send_reaction(self, name: str, key: MessageKey, emoji: str) -> SendResult:
        """React to a message with one emoji ("" removes the reaction)."""

    @abc.abstractmethod
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
        """Send a single-select list message."""

    @abc.abstractmethod
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
        """Send an interactive buttons message."""

    @abc.abstractmethod
    def delete_message(self, name: str, key: MessageKey) -> None:
        """Delete a message for everyone."""

    @abc.abstractmethod
    def check_numbers(self, name: str, numbers: Sequence[str]) -> list[NumberCheck]:
        """Which of these numbers (or group JIDs) are on WhatsApp."""

    @abc.abstractmethod
    def profile_picture_url(self, name: str, number: str) -> str | None:
        """The profile picture URL of a number, or None when hidden or absent."""

    @abc.abstractmethod
    def media_file(self, name: str, message_id: str, *, max_bytes: int = MEDIA_FILE_MAX_BYTES) -> MediaFile:
        """A received (or phone-sent) message's media, downloaded and decrypted by the gateway: what WhatsApp's own
        links (encrypted, short-lived) cannot give. The gateway must have kept the message (Evolution: message
        saving on, the default). A file larger than `max_bytes` is refused (GatewayProtocolError) unread."""

    def find_sent_messages(self, name: str, remote_jid: str, since: datetime, until: datetime) -> list[SentRecord]:
        """What this number sent to one chat between two instants (UTC), newest first, from the gateway's history.

        GatewayUnsupported when the gateway cannot list its sent messages; an empty list may also mean the
        gateway keeps no history (Evolution's DATABASE_SAVE_DATA_NEW_MESSAGE off)."""
        raise GatewayUnsupported(f"{type(self).__name__} cannot list the messages it sent")
