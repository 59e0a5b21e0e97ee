"""Outgoing webhooks: endpoint → event → delivery → attempt, each row with its own company (STYLE rules 5, 32)."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from instances.fields import EncryptedTextField
from tenants.scoping import TenantOwned

RESPONSE_EXCERPT_LIMIT = 1024


class WebhookEndpoint(TenantOwned):
    """An integrator's URL that receives the company's events, signed with its secret."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
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
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [models.Index(fields=["company", "created_at"])]


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
