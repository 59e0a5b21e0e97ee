"""Outgoing webhooks: endpoint → event → delivery → attempt, each row with its own company (STYLE rules 5, 32)."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from instances.fields import EncryptedTextField
from tenants.scoping import TenantOwned
from tenants.stored_text import sentence

RESPONSE_EXCERPT_LIMIT = 1024

# What a failed attempt's `error` and the endpoint's `last_error` may say, besides fixed sentences and the
# receiver's or the network library's own words: stored in English, shown translated (tenants/stored_text.py).
RECEIVER_ANSWERED = sentence(gettext_noop("HTTP %(code)s from the receiver."))
TIMED_OUT = sentence(gettext_noop("Timed out after %(seconds)s s."))
PRIVATE_ADDRESS = sentence(gettext_noop("%(host)s resolves to %(address)s, a private, loopback or reserved address; "
                                        "webhooks only go to public addresses."))


class EndpointKind(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook")
    PLATFORM = "platform", _("Bot platform")


class WebhookEndpoint(TenantOwned):
    """An integrator's URL that receives the company's events, signed with its secret.

    A bot platform's callback is an endpoint too (kind "platform"): it gets only the messages routed to it
    and the pause/resume events of its contacts, through the same signed, retried, logged delivery.
    """

    Kind = EndpointKind

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=EndpointKind.choices, default=EndpointKind.WEBHOOK,
                            editable=False)
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Event type names (integrations.catalogue.EVENT_TYPES); an empty list means every event.
    event_types = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    secret = EncryptedTextField()  # "whsec_<base64>", encrypted at rest: we must read it to sign
    # During a rotation the previous secret also signs (second signature) until this moment.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Start of the current run of failed attempts (None while it succeeds); a day of it disables.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [models.Index(fields=["company", "created_at"])]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(TenantOwned):
    """One emitted event: its stable id and the exact body every endpoint receives."""

    event_id = models.CharField(max_length=40, unique=True, editable=False)  # "evt_<32 hex>"
    type = models.CharField(max_length=40)
    payload = models.JSONField()  # the whole body: type, id, timestamp, version, company, data
    # Set by an emitter that may run twice for the same change (a redelivered Celery task): the second run meets
    # the unique key and records no event and no delivery (integrations.services.event_emit).
    dedupe_key = models.CharField(max_length=100, null=True, blank=True, editable=False)  # noqa: DJ001 (partial unique)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [models.Index(fields=["company", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["company", "dedupe_key"], condition=models.Q(dedupe_key__isnull=False),
                                    name="webhook_event_dedupe_key_once"),
        ]


class WebhookDelivery(TenantOwned):
    """One event on its way to one endpoint: a persisted schedule that survives worker restarts."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        DISABLED = "disabled", _("Endpoint disabled")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the delivery until this moment; an expired lease means the worker died.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["company", "endpoint", "-created_at"]),
            # The beat's scan: small, since only pending rows are in it.
            models.Index(fields=["company", "next_attempt_at"], name="webhook_delivery_due",
                         condition=models.Q(status="pending")),
        ]

    @property
    def last_attempt(self) -> "WebhookAttempt | None":
        """The latest attempt, from the prefetched attempts when the selector loaded them."""
        attempts = list(self.attempt_set.all())
        return attempts[-1] if attempts else None


class WebhookAttempt(TenantOwned):
    """One HTTP request of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)  # at most RESPONSE_EXCERPT_LIMIT characters
    error = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["company", "delivery", "at"])]
        ordering = ["at"]


class BotPlatform(TenantOwned):
    """A bot endpoint of one instance: a slug contacts are bound to, and the signed callback it is reached at."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="bot_platforms")
    slug = models.SlugField(_("slug"), max_length=50)
    # URL, secret (rotatable), active flag, failure tracking and the delivery log live on the endpoint;
    # deleting the endpoint deletes the platform.
    endpoint = models.OneToOneField(WebhookEndpoint, on_delete=models.CASCADE, related_name="platform")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["instance", "slug"], name="bot_platform_unique_slug")]
        indexes = [models.Index(fields=["company", "instance", "slug"], name="bot_platform_by_slug")]

    def __str__(self) -> str:
        return self.slug


class BotPauseReason(models.TextChoices):
    API = "api", _("Paused or resumed through the API")
    INBOX = "inbox", _("Toggled in the inbox")
    CONTACT_EDIT = "contact_edit", _("Contact edited")
    AGENT_REPLY = "agent_reply", _("An agent replied")
    PHONE_OWNER = "phone_owner", _("The phone's owner answered from the phone")
    CONVERSATION_CLOSED = "conversation_closed", _("The conversation was closed")
    EXPIRED = "expired", _("The pause expired")


class BotPauseChange(TenantOwned):
    """The audit trail of the bot for one contact: every pause and resume, who did it, when and why."""

    Reason = BotPauseReason

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="bot_changes")
    paused = models.BooleanField()
    reason = models.CharField(max_length=20, choices=BotPauseReason.choices)
    actor = models.CharField(max_length=150, blank=True)  # the member, API key or "system"
    until = models.DateTimeField(null=True, blank=True)  # a pause's end (None: until resumed or closed)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["company", "contact", "-at"], name="bot_change_by_contact")]
