"""Conversations (one per contact, reopened when it writes again) and their messages, in and out."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, pgettext_lazy

from contacts.models import Contact
from instances.models import Instance
from tenants.scoping import TenantOwned
from tenants.stored_text import sentence

# The longest text a message may have in Recado (WhatsApp's own bound): the composer's, the API's, a quick reply's.
MAX_TEXT_LENGTH = 4096

# A received file's `media_note` when the copy failed: stored in English, shown translated (tenants/stored_text.py).
MEDIA_NOT_COPIED = sentence(gettext_noop("The file could not be copied from the gateway (%(error)s); "
                                         "the link may expire."))


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    CLOSED = "closed", _("Closed")


class Priority(models.TextChoices):
    NONE = "none", _("No priority")
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class Conversation(TenantOwned):
    """A contact's conversation on one instance: closing and reopening keep the same row (and its history)."""

    Status = ConversationStatus
    Priority = Priority

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(_("status"), max_length=8, choices=ConversationStatus.choices,
                              default=ConversationStatus.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_conversations")
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, default=Priority.NONE)
    # Denormalised for the list (no per-row query): the newest message's time and a short preview.
    last_message_at = models.DateTimeField(default=timezone.now)
    last_message_preview = models.CharField(max_length=200, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["contact"], name="conversation_one_per_contact")]
        indexes = [
            # The inbox: newest first inside a tab, optionally per assignee or instance (cursor on time, pk).
            models.Index(fields=["company", "status", "-last_message_at", "-id"], name="conversation_tab"),
            models.Index(fields=["company", "assignee", "status", "-last_message_at", "-id"],
                         name="conversation_assignee"),
            models.Index(fields=["company", "instance", "status", "-last_message_at", "-id"],
                         name="conversation_instance"),
            models.Index(fields=["company", "-last_message_at", "-id"], name="conversation_recent"),
        ]

    def __str__(self) -> str:
        return str(self.contact)


class Direction(models.TextChoices):
    IN = "in", _("Received")
    OUT = "out", _("Sent")


class Kind(models.TextChoices):
    TEXT = "text", _("Text")
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    AUDIO = "audio", _("Audio")
    DOCUMENT = "document", _("Document")
    STICKER = "sticker", _("Sticker")
    LOCATION = "location", _("Location")
    CONTACT = "contact", _("Contact card")
    REACTION = "reaction", _("Reaction")
    INTERACTIVE = "interactive", _("Interactive")
    UNKNOWN = "unknown", _("Unsupported message")
    # Written in the inbox for the team: never sent to WhatsApp, never the conversation's preview.
    NOTE = "note", _("Private note")


# Message.interactive of a customer's tap on a list row or a button (what we send is "list" or "buttons").
INTERACTIVE_REPLY_TYPES = ("list_reply", "button_reply")
MEDIA_KINDS = (Kind.IMAGE, Kind.VIDEO, Kind.AUDIO, Kind.DOCUMENT, Kind.STICKER)


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    FAILED = "failed", _("Failed")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", pgettext_lazy("message status", "Read")  # "Read" alone is the API key's scope
    PLAYED = "played", _("Played")
    DELETED = "deleted", _("Deleted")


# Statuses only move forward: an update applies only when its rank is higher than the stored one
# (a late "delivered" never undoes "read"). Retrying a failed message is the one explicit way back.
STATUS_RANK = {
    MessageStatus.QUEUED: 10, MessageStatus.SENDING: 20, MessageStatus.FAILED: 25, MessageStatus.SENT: 30,
    MessageStatus.DELIVERED: 40, MessageStatus.READ: 50, MessageStatus.PLAYED: 60, MessageStatus.DELETED: 70,
}
# The timestamp column each status fills (the first time only).
STATUS_TIMESTAMP = {
    MessageStatus.SENT: "sent_at", MessageStatus.DELIVERED: "delivered_at", MessageStatus.READ: "read_at",
    MessageStatus.PLAYED: "played_at", MessageStatus.FAILED: "failed_at", MessageStatus.DELETED: "deleted_at",
}


class SenderType(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    API = "api", _("API")
    PLATFORM = "platform", _("Bot platform")
    PHONE = "phone", _("Phone")
    AUTOMATION = "automation", _("Automatic reply")


class Message(TenantOwned):
    """One WhatsApp message of a conversation; stored once per (instance, gateway message id)."""

    Direction = Direction
    Kind = Kind
    Status = MessageStatus
    SenderType = SenderType

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    # NULL (not "") until the gateway names it: the partial unique constraint skips NULLs.
    gateway_message_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    # The chat JID the gateway uses for this message (phone, @lid or group), needed to quote/react/delete.
    remote_jid = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(blank=True, help_text=_("The text, or the caption of a media message."))

    media_url = models.URLField(max_length=2000, blank=True)
    media_file = models.FileField(upload_to="messages/%Y/%m/", max_length=300, blank=True)
    media_mimetype = models.CharField(max_length=120, blank=True)
    media_filename = models.CharField(max_length=255, blank=True)
    media_seconds = models.PositiveIntegerField(null=True, blank=True)
    is_voice = models.BooleanField(default=False)
    media_note = models.CharField(max_length=300, blank=True)

    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_name = models.CharField(max_length=200, blank=True)
    location_address = models.CharField(max_length=300, blank=True)
    # Contact cards: [{"full_name", "phone_number", "vcard"?}]. Interactive: what we send, {"type": "list"|"buttons",
    # "title", ...}; or a customer's tap on one of its options, {"type": "list_reply"|"button_reply", "id", "title",
    # "description"} (the list or buttons it answers is `quoted`).
    contacts = models.JSONField(default=list, blank=True)
    interactive = models.JSONField(default=dict, blank=True)

    quoted = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    quoted_gateway_id = models.CharField(max_length=100, blank=True)
    quoted_text = models.TextField(blank=True)
    # A reaction points at its target; when the target has not arrived yet only its gateway id is known.
    reaction_target = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE,
                                        related_name="reactions")
    reaction_target_gateway_id = models.CharField(max_length=100, blank=True)
    emoji = models.CharField(max_length=32, blank=True)

    sender_type = models.CharField(max_length=10, choices=SenderType.choices, default=SenderType.CUSTOMER)
    sender_label = models.CharField(max_length=120, blank=True)
    participant_jid = models.CharField(max_length=100, blank=True)
    participant_name = models.CharField(max_length=120, blank=True)

    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    status_rank = models.PositiveSmallIntegerField(default=STATUS_RANK[MessageStatus.QUEUED])
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # How many times a person sent it again after it failed ("Retry"): the one way its status moves back, so the
    # inbox orders the copies of a bubble by (retries, status_rank) and never shows an older one over a newer one.
    retries = models.PositiveSmallIntegerField(default=0)
    # While a drain holds the claim (status "sending"); after it passes the send may be taken over.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Not sent before this moment (a transient failure's backoff); it also holds back the later messages of its
    # conversation, so a chat's messages leave in the order they were written (messaging/outbound.py).
    retry_at = models.DateTimeField(null=True, blank=True)

    is_edited = models.BooleanField(default=False)
    original_text = models.TextField(blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)

    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 (partial unique)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    played_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "gateway_message_id"],
                                    condition=Q(gateway_message_id__isnull=False),
                                    name="message_unique_gateway_id_per_instance"),
            models.UniqueConstraint(fields=["company", "idempotency_key"], condition=Q(idempotency_key__isnull=False),
                                    name="message_unique_idempotency_key_per_company"),
        ]
        indexes = [
            # The thread (and its cursor), newest first.
            models.Index(fields=["company", "conversation", "-created_at", "-id"], name="message_thread"),
            # Replies and reactions that arrived before their target wait on these.
            models.Index(fields=["company", "instance", "reaction_target_gateway_id"], name="message_pending_reaction",
                         condition=Q(reaction_target__isnull=True) & ~Q(reaction_target_gateway_id="")),
            models.Index(fields=["company", "instance", "quoted_gateway_id"], name="message_pending_quote",
                         condition=Q(quoted__isnull=True) & ~Q(quoted_gateway_id="")),
            models.Index(fields=["company", "status"], name="message_status",
                         condition=Q(status__in=["queued", "sending", "failed"])),
            # The outbound drain's claim: an instance's unsent messages, oldest first.
            models.Index(fields=["company", "instance", "id"], name="message_outbox",
                         condition=Q(status__in=["queued", "sending"])),
            # (message_media_file, on media_file alone, is built by migration 0005: see there why.)
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.public_id}"

    @property
    def has_media(self) -> bool:
        return self.kind in MEDIA_KINDS

    @property
    def media_src(self) -> str:
        """Where a browser loads the media: our stored copy, else the gateway's URL."""
        if self.media_file:
            return self.media_file.url
        return self.media_url

    @property
    def interactive_reply(self) -> dict | None:
        """The option a customer chose in a list or buttons message, when this message is that choice."""
        reply = self.interactive or {}
        return reply if reply.get("type") in INTERACTIVE_REPLY_TYPES else None

    @property
    def map_url(self) -> str:
        if self.latitude is None or self.longitude is None:
            return ""
        lat, lon = self.latitude, self.longitude
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"

    @property
    def preview(self) -> str:
        """A one-line summary for the conversation list."""
        if self.is_deleted:
            return str(_("Message deleted"))
        if self.kind == Kind.REACTION:
            return self.emoji
        if self.text:
            return self.text[:200]
        if self.kind == Kind.LOCATION:
            return self.location_name or str(_("Location"))
        if self.kind == Kind.CONTACT and self.contacts:
            return self.contacts[0].get("full_name") or str(_("Contact card"))
        if self.kind == Kind.INTERACTIVE and (self.interactive or {}).get("title"):
            return str(self.interactive["title"])[:200]
        return str(self.get_kind_display())


class QuickReply(TenantOwned):
    """A saved answer agents insert in the composer by typing "/" and its shortcut ("/pix", "/horario")."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shortcut = models.CharField(_("shortcut"), max_length=40)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(fields=["company", "shortcut"], name="quick_reply_unique_shortcut_per_company"),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


def default_opening_hours() -> list:
    """Monday to Friday, 09:00 to 18:00; closed at the weekend (index 0 is Monday, as in Python's weekday())."""
    return [["09:00", "18:00"]] * 5 + [None, None]


class AutoReply(TenantOwned):
    """What an instance does by itself (messaging/auto_replies.py): a greeting when a customer opens a
    conversation, an away message when one writes outside the opening hours, and giving a conversation a customer
    opens to a member. One row per instance, made on its first save; no row means all are off."""

    instance = models.OneToOneField(Instance, on_delete=models.CASCADE, related_name="auto_reply")
    greeting_enabled = models.BooleanField(_("send a greeting"), default=False)
    greeting_text = models.TextField(_("greeting"), blank=True)
    away_enabled = models.BooleanField(_("send an away message"), default=False)
    away_text = models.TextField(_("away message"), blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default=settings.TIME_ZONE)
    # Seven entries, Monday first: ["HH:MM", "HH:MM"] (opens, closes; closing before opening runs past midnight
    # into the next day) or None (closed all day).
    opening_hours = models.JSONField(_("opening hours"), default=default_opening_hours)
    class AssignTo(models.TextChoices):
        ALL = "all", _("Every member")
        LISTED = "listed", _("Only the listed members")

    # A conversation a customer opens goes to the available member with the fewest open conversations.
    auto_assign = models.BooleanField(_("assign new conversations"), default=False)
    # Who may get them: every member, or only the instance's AutoAssignMember rows. Said, never inferred from an
    # empty list: when every listed member has left the company, the list is empty and nobody is assigned.
    assign_to = models.CharField(_("assign to"), max_length=8, choices=AssignTo.choices, default=AssignTo.ALL)
    # An open conversation with nothing unread and no message for this many hours is closed (None: never).
    auto_close_hours = models.PositiveIntegerField(_("close inactive conversations after (hours)"), null=True,
                                                   blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"auto replies of {self.instance_id}"


class AutoAssignMember(TenantOwned):
    """A member who takes the conversations automatic assignment gives out on one instance whose `assign_to` is
    `listed` (messaging/auto_replies.py); gone with the membership."""

    auto_reply = models.ForeignKey(AutoReply, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey("tenants.Membership", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["auto_reply", "membership"], name="auto_assign_member_once")]
        indexes = [models.Index(fields=["company", "auto_reply"], name="auto_assign_member_reply")]
