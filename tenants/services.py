"""Every write about companies, people and API keys: one function per use case."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tenants import realtime
from tenants.models import ApiKey, Company, Invitation, Membership, Role, User, hash_secret
from tenants.scoping import company_scope

API_KEY_PREFIX = "rk_"


# --- companies (operator area) ---------------------------------------------------------------


def company_create(*, name: str, slug: str = "", max_instances: int = 5, max_members: int = 20) -> Company:
    # Lowercase and compared without case: "ALPHA" next to "alpha" would be two tenants a person reads as one.
    slug = (slug or slugify(name)[:60]).lower()
    if not slug:
        raise ValidationError({"slug": _("Choose a slug made of letters, digits and hyphens.")})
    if Company.objects.filter(slug__iexact=slug).exists():
        raise ValidationError({"slug": _("Another company already uses this slug.")})
    try:
        return Company.objects.create(name=name, slug=slug, max_instances=max_instances, max_members=max_members)
    except IntegrityError as error:  # a concurrent create took the slug between check and insert
        raise ValidationError({"slug": _("Another company already uses this slug.")}) from error


def company_update(*, company: Company, name: str, slug: str, max_instances: int, max_members: int) -> Company:
    slug = slug.lower()
    if Company.objects.filter(slug__iexact=slug).exclude(pk=company.pk).exists():
        raise ValidationError({"slug": _("Another company already uses this slug.")})
    company.name, company.slug = name, slug
    company.max_instances, company.max_members = max_instances, max_members
    company.save(update_fields=["name", "slug", "max_instances", "max_members"])
    return company


def company_suspend(*, company: Company, reason: str = "") -> Company:
    """Suspend a company: its people cannot log in to it, its API keys get 403, open sockets close."""
    company.is_active = False
    company.suspended_reason = reason
    company.save(update_fields=["is_active", "suspended_reason"])
    with company_scope(company):
        user_ids = list(Membership.objects.values_list("user__public_id", flat=True))
    for public_id in user_ids:
        realtime.disconnect_user(user_public_id=public_id)
    return company


def company_reactivate(*, company: Company) -> Company:
    company.is_active = True
    company.suspended_reason = ""
    company.save(update_fields=["is_active", "suspended_reason"])
    return company


# --- people ------------------------------------------------------------------------------------


def _check_username_free(username: str) -> None:
    if username and get_user_model().objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This username is taken; choose another or leave it empty.")})


def _check_member_limit(company: Company) -> None:
    if Membership.objects.count() >= company.max_members:
        message = _("This company has reached its limit of %(limit)d members.")
        raise ValidationError(message % {"limit": company.max_members})


@transaction.atomic
def member_add(*, company: Company, user: User, role: str) -> Membership:
    """Add an existing user to a company (inside its scope); a second membership is refused."""
    with company_scope(company):
        if Membership.objects.filter(user=user).exists():
            raise ValidationError(_("%(email)s is already a member of this company.") % {"email": user.email})
        _check_member_limit(company)
        return Membership.objects.create(company=company, user=user, role=role)


@transaction.atomic
def company_owner_create(*, company: Company, email: str, password: str, username: str = "") -> Membership:
    """Operator use case: create a company's first owner (a new user, or an existing one by e-mail)."""
    email = email.strip().lower()
    user = get_user_model().objects.filter(email__iexact=email).first()
    if user is None:
        if not password:
            raise ValidationError({"password1": _("A new account needs a password.")})
        _check_username_free(username)
        user = get_user_model().objects.create_user(username=username or email, email=email, password=password)
    return member_add(company=company, user=user, role=Role.OWNER)


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    url: str


def invitation_create(*, company: Company, invited_by: User, email: str, role: str) -> IssuedInvitation:
    """Invite an e-mail address to the company (replacing a pending invitation to the same address)."""
    email = email.strip().lower()
    with company_scope(company), transaction.atomic():
        if role == Role.OWNER and not Membership.objects.filter(user=invited_by, role=Role.OWNER).exists():
            raise ValidationError({"role": _("Only an owner can invite an owner.")})  # as for role changes
        if Membership.objects.filter(user__email__iexact=email).exists():
            raise ValidationError({"email": _("This person is already a member of this company.")})
        _check_member_limit(company)
        Invitation.objects.filter(email__iexact=email, accepted_at=None, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        token = secrets.token_urlsafe(32)
        invitation = Invitation.objects.create(
            company=company, email=email, role=role, invited_by=invited_by,
            token_hash=hash_secret(token), expires_at=timezone.now() + settings.INVITATION_TTL,
        )
        url = settings.PUBLIC_URL + reverse("invitation_accept", args=[token])
        context = {"company": company, "invitation": invitation, "url": url, "invited_by": invited_by}
        subject = _("You are invited to %(company)s on Recado") % {"company": company.name}
        body = render_to_string("tenants/email/invitation.txt", context)
        # Sent after commit: a rolled-back invitation never reaches anyone's inbox.
        transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return IssuedInvitation(invitation=invitation, url=url)


def invitation_by_token(*, token: str) -> Invitation | None:
    """The pending invitation behind a link, whichever company issued it (the token is the credential)."""
    # all_companies: the link is the only thing we know; the company comes from the row it finds.
    invitation = Invitation.all_companies.select_related("company").filter(token_hash=hash_secret(token)).first()
    if invitation is None or not invitation.is_pending or not invitation.company.is_active:
        return None
    return invitation


def invitation_accept(*, token: str, user: User | None, password: str = "", username: str = "") -> Membership:
    """Accept an invitation: a new person sets a password; a logged-in person just joins."""
    invitation = invitation_by_token(token=token)
    if invitation is None:
        raise ValidationError(_("This invitation link is invalid, expired or already used."))
    company = invitation.company
    with company_scope(company), transaction.atomic():
        # Claim the invitation with a conditional update: two clicks on one link make one member.
        claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None).update(
            accepted_at=timezone.now()
        )
        if claimed != 1:
            raise ValidationError(_("This invitation link is invalid, expired or already used."))
        if user is None:
            if get_user_model().objects.filter(email__iexact=invitation.email).exists():
                raise ValidationError(_("An account with this e-mail exists: log in first, then open the link again."))
            _check_username_free(username)
            user = get_user_model().objects.create_user(
                username=username or invitation.email, email=invitation.email, password=password
            )
        elif user.email.lower() != invitation.email.lower():
            raise ValidationError(_("This invitation was sent to another e-mail address."))
        if Membership.objects.filter(user=user).exists():
            raise ValidationError(_("You are already a member of this company."))
        return Membership.objects.create(company=company, user=user, role=invitation.role)


def invitation_revoke(*, company: Company, invitation: Invitation) -> None:
    with company_scope(company):
        Invitation.objects.filter(pk=invitation.pk, accepted_at=None).update(revoked_at=timezone.now())


def _owner_count() -> int:
    return Membership.objects.filter(role=Role.OWNER).count()


@transaction.atomic
def membership_set_available(*, company: Company, membership: Membership, available: bool) -> Membership:
    """Whether automatic assignment may give this member new conversations (their own switch, in the user menu)."""
    Membership.objects.filter(company=company, pk=membership.pk).update(available=available)
    membership.available = available
    return membership


def membership_change_role(*, company: Company, actor: Membership, membership: Membership, role: str) -> Membership:
    """Change a member's role; only owners make or unmake owners, and the last owner stays."""
    with company_scope(company):
        if Role.OWNER in (role, membership.role) and not actor.has_role(Role.OWNER):
            raise PermissionDenied(_("Only an owner can grant or remove the owner role."))
        if membership.role == Role.OWNER and role != Role.OWNER and _owner_count() <= 1:
            raise ValidationError(_("A company needs at least one owner."))
        membership.role = role
        membership.save(update_fields=["role"])
        return membership


@transaction.atomic
def membership_remove(*, company: Company, actor: Membership, membership: Membership) -> None:
    with company_scope(company):
        if membership.role == Role.OWNER and not actor.has_role(Role.OWNER):
            raise PermissionDenied(_("Only an owner can remove an owner."))
        if membership.role == Role.OWNER and _owner_count() <= 1:
            raise ValidationError(_("A company needs at least one owner."))
        user_public_id = membership.user.public_id
        membership.delete()
    realtime.disconnect_user(user_public_id=user_public_id)


def profile_update(*, user: User, first_name: str, last_name: str, email: str, language: str,
                   single_key_shortcuts: bool) -> User:
    email = email.strip().lower()
    if get_user_model().objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
        raise ValidationError({"email": _("A user with this e-mail already exists.")})
    user.first_name, user.last_name, user.email, user.language = first_name, last_name, email, language
    user.single_key_shortcuts = single_key_shortcuts
    user.save(update_fields=["first_name", "last_name", "email", "language", "single_key_shortcuts"])
    return user


# --- API keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once, never stored


def api_key_create(*, company: Company, name: str, created_by: User | None = None,
                   scopes: list[str] | None = None) -> IssuedApiKey:
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the key a name, e.g. the system that will use it.")})
    scopes = sorted(set(scopes or [choice.value for choice in ApiKey.Scope]))
    unknown = set(scopes) - {choice.value for choice in ApiKey.Scope}
    if unknown:
        raise ValidationError({"scopes": _("Unknown scopes: %(scopes)s") % {"scopes": ", ".join(sorted(unknown))}})
    prefix = API_KEY_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    with company_scope(company):
        api_key = ApiKey.objects.create(
            company=company, name=name, prefix=prefix, secret_hash=hash_secret(secret),
            scopes=scopes, created_by=created_by,
        )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, company: Company, api_key: ApiKey) -> ApiKey:
    with company_scope(company):
        ApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_touch(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Record that a key was used, at most once a minute (a conditional UPDATE, no read-modify-write)."""
    now = now or timezone.now()
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < 60:
        return
    # all_companies: called from authentication, where the key itself is what names the company.
    ApiKey.all_companies.filter(pk=api_key.pk).update(last_used_at=now)
