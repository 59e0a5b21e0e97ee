"""Gateway servers (global) and the companies' WhatsApp instances, their state timeline and raw inbound events."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from instances.fields import EncryptedTextField
from instances.reasons import reason_label
from tenants.scoping import TenantOwned


class GatewayServer(models.Model):
    """An Evolution API server the operator registered; shared by every company (not TenantOwned)."""

    class Version(models.TextChoices):
        V2 = "v2", "Evolution API v2"
        V1 = "v1", "Evolution API v1"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=80, unique=True)
    base_url = models.URLField(_("base URL"), max_length=300)
    version = models.CharField(_("version"), max_length=4, choices=Version.choices, default=Version.V2)
    api_key = EncryptedTextField(_("global API key"))
    capacity = models.PositiveIntegerField(_("capacity"), default=100, help_text=_("Maximum number of instances."))
    enabled = models.BooleanField(_("enabled"), default=True, help_text=_("Disabled servers get no new instances."))
    # The server-wide webhook URL carries this secret; kept encrypted (the operator copies the URL into the
    # gateway's WEBHOOK_GLOBAL_URL) and as a SHA-256 for the lookup.
    hook_secret = EncryptedTextField(editable=False)
    hook_secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True)
    last_check_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("gateway server")
        verbose_name_plural = _("gateway servers")

    def __str__(self) -> str:
        return self.name


class InstanceState(models.TextChoices):
    CREATED = "created", _("Created")
    CONNECTING = "connecting", _("Connecting")
    OPEN = "open", _("Connected")
    CLOSE = "close", _("Disconnected")
    UNREACHABLE = "unreachable", _("Gateway unreachable")


class Instance(TenantOwned):
    """One WhatsApp number of a company, living on one gateway server."""

    State = InstanceState

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    server = models.ForeignKey(GatewayServer, on_delete=models.PROTECT, related_name="instances")
    name = models.CharField(_("name"), max_length=40)
    # The name on the gateway: "<company slug>_<name>", unique on its server whatever the company.
    gateway_name = models.CharField(max_length=110, editable=False)
    label = models.CharField(_("display label"), max_length=80, blank=True)
    token = EncryptedTextField(editable=False)
    gateway_instance_id = models.CharField(max_length=80, blank=True, editable=False)
    webhook_secret_hash = models.CharField(max_length=64, unique=True, editable=False)

    state = models.CharField(max_length=12, choices=InstanceState.choices, default=InstanceState.CREATED)
    raw_state = models.CharField(max_length=40, blank=True)
    state_reason = models.CharField(max_length=200, blank=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # The gateway's own clock on the last connection event applied (older events are stale).
    last_event_at = models.DateTimeField(null=True, blank=True)

    owner_jid = models.CharField(max_length=80, blank=True)
    phone_number = models.CharField(max_length=20, blank=True)
    profile_name = models.CharField(max_length=120, blank=True)
    profile_picture_url = models.URLField(max_length=1000, blank=True)

    qr_data_url = models.TextField(blank=True)
    qr_code = models.TextField(blank=True)
    pairing_code = models.CharField(max_length=20, blank=True)
    qr_count = models.PositiveIntegerField(default=0)
    qr_updated_at = models.DateTimeField(null=True, blank=True)
    # End of the current connect attempt: with no scan by then the instance goes back to "close".
    connect_deadline = models.DateTimeField(null=True, blank=True)

    # The bot platform (slug of one of its BotPlatforms) that gets the messages of contacts bound to none.
    starting_platform = models.SlugField(_("starting platform"), max_length=50, blank=True)

    # WhatsApp behaviour settings, as the gateway last accepted them (instances.services.instance_settings_update).
    reject_calls = models.BooleanField(_("reject calls"), default=False)
    call_rejection_message = models.TextField(_("message to callers"), blank=True)
    ignore_groups = models.BooleanField(_("ignore groups"), default=False)
    always_online = models.BooleanField(_("always online"), default=False)
    read_messages = models.BooleanField(_("mark messages as read"), default=False)
    read_status = models.BooleanField(_("read status updates"), default=False)
    sync_full_history = models.BooleanField(_("sync full history"), default=False)
    # Counts the stored changes of those settings: a change is stored only over the revision it was made from.
    settings_revision = models.PositiveIntegerField(default=0, editable=False)
    # Whether a greeting, an away message or automatic assignment is on (messaging.auto_replies keeps it): the
    # inbound pipeline reads the instance's AutoReply row only then, so a company that uses none pays no query.
    auto_replies_on = models.BooleanField(default=False, editable=False)

    last_polled_at = models.DateTimeField(null=True, blank=True)
    poll_lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="instance_unique_name_per_company"),
            models.UniqueConstraint(fields=["server", "gateway_name"], name="instance_unique_name_per_server"),
        ]
        indexes = [models.Index(fields=["company", "state"])]

    def __str__(self) -> str:
        return self.label or self.name

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @property
    def pairing_code_display(self) -> str:
        """The pairing code as WhatsApp's "Link with phone number" screen shows it: ABCD-EFGH."""
        code = self.pairing_code
        return f"{code[:4]}-{code[4:]}" if len(code) == 8 and "-" not in code else code

    @property
    def has_qr(self) -> bool:
        return bool(self.qr_data_url) and self.state == InstanceState.CONNECTING

    @property
    def state_reason_display(self) -> str:
        return reason_label(self.state_reason)


class InstanceStateChange(TenantOwned):
    """One line of an instance's timeline: what it moved from and to, why, and who noticed."""

    class Source(models.TextChoices):
        WEBHOOK = "webhook", _("Gateway event")
        POLL = "poll", _("Status check")
        USER = "user", _("User")
        SYSTEM = "system", _("Recado")

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="state_changes")
    from_state = models.CharField(max_length=12, choices=InstanceState.choices)
    to_state = models.CharField(max_length=12, choices=InstanceState.choices)
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["company", "instance", "at"])]

    @property
    def reason_display(self) -> str:
        return reason_label(self.reason)


class InboundEvent(TenantOwned):
    """A gateway webhook body exactly as received, stored once per (instance, key) before any processing."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="inbound_events")
    key = models.CharField(max_length=64)
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    note = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Times applying it raised; after INBOUND_MAX_ATTEMPTS it is marked failed (kept, with the error in `note`).
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["instance", "key"], name="inbound_event_unique_key")]
        indexes = [
            models.Index(fields=["company", "instance", "received_at"]),
            # The drain's queue: a company's pending events, oldest first (a small part of a large table).
            models.Index(fields=["company", "id"], condition=models.Q(status="pending"), name="inbound_event_pending"),
        ]
