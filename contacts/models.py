"""Contacts (one person or group per instance), their identifiers, tags and CSV imports."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from instances.models import Instance
from tenants.scoping import TenantOwned

color_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a color as #rrggbb, e.g. #1a7f37."), code="color")
DEFAULT_TAG_COLOR = "#6c757d"


class Tag(TenantOwned):
    """A label companies put on contacts; the name is unique per company whatever its case."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=50)
    color = models.CharField(_("color"), max_length=7, default=DEFAULT_TAG_COLOR, validators=[color_validator])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("company", Lower("name"), name="tag_unique_name_per_company_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class ContactType(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    GROUP = "group", _("Group")


class Contact(TenantOwned):
    """A person or group reached through one instance (channel); one row per (instance, identifier)."""

    Type = ContactType

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="contacts")
    # E.164 digits without "+" (5511987654321), a group JID (1203...@g.us) or, when nothing else is
    # known yet, a WhatsApp LID (...@lid). Every identifier is also a ContactIdentifier row.
    identifier = models.CharField(_("identifier"), max_length=80)
    type = models.CharField(_("type"), max_length=10, choices=ContactType.choices, default=ContactType.INDIVIDUAL)
    name = models.CharField(_("name"), max_length=120, blank=True, help_text=_("The name the person set on WhatsApp."))
    custom_name = models.CharField(_("custom name"), max_length=120, blank=True)
    photo_url = models.URLField(_("photo URL"), max_length=1000, blank=True)
    # The bot platform that gets this contact's messages instead of the instance's starting platform.
    platform = models.SlugField(_("platform"), max_length=50, blank=True)
    is_ignored = models.BooleanField(_("ignored"), default=False)
    bot_paused = models.BooleanField(_("bot paused"), default=False)
    # When a pause ends by itself (None: until resumed or the conversation is closed).
    bot_paused_until = models.DateTimeField(_("bot paused until"), null=True, blank=True)
    tags = models.ManyToManyField(Tag, through="ContactTag", related_name="contacts", blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "identifier"], name="contact_unique_identifier_per_instance"),
        ]
        indexes = [
            models.Index(fields=["company", "created_at"], name="contact_company_created"),
            models.Index(fields=["company", "instance", "created_at"], name="contact_company_instance"),
            models.Index(fields=["company", "type"], name="contact_company_type"),
            models.Index(fields=["company", "is_ignored"], name="contact_company_ignored"),
            models.Index(fields=["company", "bot_paused"], name="contact_company_bot_paused"),
            # The beat's scan for pauses that expired (small: only timed pauses are in it).
            models.Index(fields=["company", "bot_paused_until"], name="contact_bot_pause_expiry",
                         condition=models.Q(bot_paused=True, bot_paused_until__isnull=False)),
            models.Index(fields=["company", "identifier"], name="contact_company_identifier"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.custom_name or self.name or self.display_identifier

    @property
    def has_name(self) -> bool:
        """Whether display_name is a name: without one it is the number, which a page then shows only once."""
        return bool(self.custom_name or self.name)

    @property
    def display_identifier(self) -> str:
        return f"+{self.identifier}" if self.identifier.isdigit() else self.identifier


class ContactIdentifier(TenantOwned):
    """Every form under which a contact can write: its main identifier, the other BR 9th-digit form, LIDs.

    Unique per instance, so two contacts can never claim the same number in any of its forms.
    """

    class Kind(models.TextChoices):
        PRIMARY = "primary", _("Main identifier")
        PHONE = "phone", _("Phone number")
        PHONE_VARIANT = "phone_variant", _("Same number without/with the 9th digit")
        LID = "lid", _("WhatsApp LID")
        GROUP = "group", _("Group id")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identifiers")
    identifier = models.CharField(max_length=80)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "identifier"], name="contact_identifier_unique_per_instance"),
        ]
        indexes = [models.Index(fields=["company", "contact"], name="contact_identifier_contact")]

    def __str__(self) -> str:
        return self.identifier


class ContactTag(TenantOwned):
    """A tag on a contact (its own company column, so scoping never depends on a join)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="contact_links")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "tag"], name="contact_tag_unique")]
        indexes = [models.Index(fields=["company", "tag", "contact"], name="contact_tag_by_tag")]


class ContactImport(TenantOwned):
    """One CSV upload: kept in the database (a worker on another host reads it), mapped, then run in the background."""

    class Status(models.TextChoices):
        PREVIEW = "preview", _("Waiting for the column mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    filename = models.CharField(max_length=200)
    content = models.TextField()
    delimiter = models.CharField(max_length=1, default=",")
    has_header = models.BooleanField(default=True)
    # Column index (as a string) → contact field, chosen on the preview page.
    mapping = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # Rejected rows: [{"line": 3, "values": [...], "reason": "..."}], downloadable as CSV.
    rejected = models.JSONField(default=list)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["company", "created_at"], name="contact_import_company_created")]

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.processed_rows * 100 // self.total_rows)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    # The result page lists this many rejected rows; the CSV report has them all.
    REJECTED_SHOWN = 20

    @property
    def rejected_first(self) -> list[dict]:
        return self.rejected[:self.REJECTED_SHOWN]
