"""Companies (the tenants), the people in them and the API keys that act for them."""

import hashlib
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.scoping import TenantOwned


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret (API keys, invitation tokens): enough, since they cannot be guessed."""
    return hashlib.sha256(secret.encode()).hexdigest()


class User(AbstractUser):
    """A person who logs in; belongs to companies through Membership."""

    class Language(models.TextChoices):
        BROWSER = "", _("Browser default")
        ENGLISH = "en", _("English")
        PORTUGUESE = "pt-br", _("Portuguese (Brazil)")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, blank=True, default="")
    # "/" and "?" in the inbox. WCAG 2.1 SC 2.1.4: a shortcut of one character (no modifier) must be possible to
    # turn off, since speech input and a stray key press trigger it unasked.
    single_key_shortcuts = models.BooleanField(_("single-key shortcuts"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="user_email_unique_ci", condition=~models.Q(email=""),
                violation_error_message=_("A user with this e-mail already exists."),
            )
        ]


class Company(models.Model):
    """The tenant: everything a customer company owns hangs from it. Global, not TenantOwned."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    suspended_reason = models.CharField(_("suspension reason"), max_length=200, blank=True)
    max_instances = models.PositiveIntegerField(_("max instances"), default=5)
    max_members = models.PositiveIntegerField(_("max members"), default=20)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    AGENT = "agent", _("Agent")


ROLE_RANK = {Role.AGENT: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Membership(TenantOwned):
    """A user's place in one company, with a role."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.AGENT)
    # Whether automatic assignment may give this member new conversations (messaging/auto_replies.py); each member
    # switches it in the user menu (away, off shift), as Chatwoot's availability.
    available = models.BooleanField(_("available for new conversations"), default=True)
    # When automatic assignment last gave this member a conversation: among members with as many open
    # conversations, the one who got one least recently is next (round robin).
    auto_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "user"], name="membership_unique_user")]
        indexes = [models.Index(fields=["company", "role"])]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company_id} ({self.role})"

    def has_role(self, role: str) -> bool:
        """True when this membership's role is `role` or above (owner > admin > agent)."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


class Invitation(TenantOwned):
    """An e-mailed invitation to join a company; the link carries a token stored only as a hash."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.AGENT)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["company", "email"])]
        constraints = [
            # One pending invitation per address and company; re-inviting replaces it.
            models.UniqueConstraint(
                "company", Lower("email"), name="invitation_one_pending_per_email",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
            )
        ]

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class ApiKey(TenantOwned):
    """A company's key for the REST API and event stream; the secret is shown once and stored hashed."""

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Write")
        MESSAGES = "messages", _("Send messages")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["company", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def scope_labels(self) -> list[str]:
        """What the key may do, in the reader's language and the choices' order."""
        return [scope.label for scope in self.Scope if scope.value in self.scopes]
