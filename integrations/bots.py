"""Bot platforms and pausing the bot per contact (DESIGN §4; docs/bots.md).

A platform is a bot's callback on one instance. Each new inbound message of a conversation goes (signed,
retried and logged like any webhook: the platform's callback is a WebhookEndpoint of kind "platform") to
the contact's platform, else the instance's starting platform, unless the contact is ignored or the bot
is paused for it. A pause is per contact (per number on an instance): set through the API, the inbox or
the contact page, and by itself when an agent replies or the phone's owner answers from the phone; it ends
when resumed, when the conversation is closed, or when its time runs out. Every pause and resume is a
BotPauseChange row and a bot.paused / bot.resumed event (to webhooks, the stream and the platform).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from instances.models import Instance
from integrations import payloads, services
from integrations.models import BotPauseChange, BotPlatform, WebhookEndpoint
from tenants.models import Company

SYSTEM_ACTOR = "system"
# Sent (company=, contact=) after every recorded pause or resume; the inbox redraws the contact panel.
bot_changed = Signal()
# The longest pause one request may ask for: a year (longer is "until resumed": no duration).
MAX_PAUSE_MINUTES = 525_600


# --- platforms ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedPlatform:
    platform: BotPlatform
    secret: str  # shown once


def _clean_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    try:
        validate_slug(slug)
    except ValidationError:
        raise ValidationError({"slug": [_("Use letters, numbers, hyphens or underscores only.")]}) from None
    if len(slug) > 50:
        raise ValidationError({"slug": [_("Use at most 50 characters.")]})
    return slug


def platform_create(*, company: Company, instance: Instance, slug: str, callback_url: str,
                    make_starting: bool = False) -> IssuedPlatform:
    """A platform with a fresh signing secret (shown once); ValidationError for a taken slug or a bad URL."""
    slug = _clean_slug(slug)
    if BotPlatform.objects.filter(company=company, instance=instance, slug=slug).exists():
        raise ValidationError({"slug": [_("This instance already has a platform named “%(slug)s”.") % {"slug": slug}]})
    try:
        with transaction.atomic():
            issued = services.endpoint_create(
                company=company, url=callback_url, kind=WebhookEndpoint.Kind.PLATFORM,
                description=_("Bot platform %(slug)s of %(instance)s") % {"slug": slug, "instance": instance.name},
            )
            platform = BotPlatform.objects.create(company=company, instance=instance, slug=slug,
                                                  endpoint=issued.endpoint)
            if make_starting:
                instance_set_starting_platform(company=company, instance=instance, slug=slug)
    except ValidationError as error:
        if hasattr(error, "error_dict") and "url" in error.error_dict:
            raise ValidationError({"callback_url": error.error_dict.pop("url"), **error.error_dict}) from None
        raise
    except IntegrityError:  # the same slug created concurrently
        raise ValidationError({"slug": [_("This instance already has a platform named “%(slug)s”.")
                                        % {"slug": slug}]}) from None
    return IssuedPlatform(platform=platform, secret=issued.secret)


def platform_update(*, company: Company, platform: BotPlatform, callback_url: str | None = None,
                    is_active: bool | None = None) -> BotPlatform:
    endpoint = platform.endpoint
    try:
        services.endpoint_update(
            company=company, endpoint=endpoint, url=endpoint.url if callback_url is None else callback_url,
            description=endpoint.description, event_types=[],
            is_active=endpoint.is_active if is_active is None else is_active,
        )
    except ValidationError as error:
        if hasattr(error, "error_dict") and "url" in error.error_dict:
            raise ValidationError({"callback_url": error.error_dict["url"]}) from None
        raise
    platform.endpoint.refresh_from_db()
    return platform


def platform_rotate_secret(*, company: Company, platform: BotPlatform) -> IssuedPlatform:
    issued = services.endpoint_rotate_secret(company=company, endpoint=platform.endpoint)
    return IssuedPlatform(platform=platform, secret=issued.secret)


def platform_delete(*, company: Company, platform: BotPlatform) -> None:
    """Delete the platform (and its endpoint and log); the instance forgets it as its starting platform.
    Contacts bound to its slug keep the binding and fall back to the starting platform meanwhile."""
    with transaction.atomic():
        Instance.objects.filter(company=company, pk=platform.instance_id, starting_platform=platform.slug).update(
            starting_platform="")
        # Locked first, like integrations.services.endpoint_delete: a delivery being sent meanwhile cannot fail it.
        WebhookEndpoint.objects.select_for_update().filter(company=company, pk=platform.endpoint_id).first()
        WebhookEndpoint.objects.filter(company=company, pk=platform.endpoint_id).delete()


def instance_set_starting_platform(*, company: Company, instance: Instance, slug: str) -> Instance:
    """The platform that gets the messages of contacts bound to none ("" for none)."""
    slug = (slug or "").strip().lower()
    if slug and not BotPlatform.objects.filter(company=company, instance=instance, slug=slug).exists():
        raise ValidationError({"starting_platform": [_("This instance has no platform named “%(slug)s”.")
                                                     % {"slug": slug}]})
    Instance.objects.filter(company=company, pk=instance.pk).update(starting_platform=slug)
    instance.starting_platform = slug
    return instance


def platform_list(*, company: Company, instance: Instance) -> list[BotPlatform]:
    return list(BotPlatform.objects.filter(company=company, instance=instance).select_related("endpoint")
                .order_by("slug"))


def platform_get(*, company: Company, instance: Instance, slug: str) -> BotPlatform | None:
    return (BotPlatform.objects.filter(company=company, instance=instance, slug=(slug or "").lower())
            .select_related("endpoint", "instance").first())


# --- routing --------------------------------------------------------------------------------------

def platform_for(*, company: Company, contact: Contact) -> BotPlatform | None:
    """The platform this contact's messages go to: its own, else the instance's starting one (if it exists)."""
    slugs = [slug for slug in (contact.platform, contact.instance.starting_platform) if slug]
    if not slugs:
        return None
    platforms = {platform.slug: platform for platform in
                 BotPlatform.objects.filter(company=company, instance_id=contact.instance_id, slug__in=slugs)
                 .select_related("endpoint")}
    return next((platforms[slug] for slug in slugs if slug in platforms), None)


def is_paused(contact: Contact, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return contact.bot_paused and (contact.bot_paused_until is None or contact.bot_paused_until > now)


def route_inbound(*, company: Company, contact: Contact) -> BotPlatform | None:
    """Where a new inbound message of this contact goes: None when ignored, paused or no platform applies.
    A timed pause that has run out is ended here too (the beat would end it a little later)."""
    if contact.is_ignored:
        return None
    if contact.bot_paused and not is_paused(contact):
        bot_resume(company=company, contact=contact, reason=BotPauseChange.Reason.EXPIRED, actor=SYSTEM_ACTOR)
    if contact.bot_paused:
        return None
    platform = platform_for(company=company, contact=contact)
    if platform is None or not platform.endpoint.is_active:
        return None
    return platform


# --- pause and resume -----------------------------------------------------------------------------

def contact_for_number(*, company: Company, instance: Instance, number: str, create: bool) -> Contact | None:
    """The instance's contact writing from this number or group id (in any of its forms); with `create`,
    a new contact when there is none yet (a bot may be paused before the person first writes)."""
    from contacts import services as contact_services  # contacts.services uses this module
    from contacts.identity import parse_identifier

    try:
        identity = parse_identifier(number)
    except ValidationError as error:
        raise ValidationError({"number": error.messages}) from None
    if create:
        return contact_services.contact_get_or_create_by_identity(company=company, instance=instance,
                                                                  identifier=number)[0]
    return contact_services.contact_find(company=company, instance=instance, keys=identity.keys)


def _locked(company: Company, contact: Contact) -> Contact:
    return Contact.objects.select_for_update().select_related("instance").get(company=company, pk=contact.pk)


def _record(company: Company, contact: Contact, *, paused: bool, reason: str, actor: str,
            until: datetime | None, now: datetime) -> BotPauseChange:
    change = BotPauseChange.objects.create(company=company, instance_id=contact.instance_id, contact=contact,
                                           paused=paused, reason=reason, actor=actor[:150], until=until, at=now)
    platform = platform_for(company=company, contact=contact)
    services.event_emit(company=company, event_type="bot.paused" if paused else "bot.resumed",
                        payload=payloads.bot_change_data(change, contact),
                        extra_endpoints=[platform.endpoint] if platform else ())
    bot_changed.send(sender=BotPauseChange, company=company, contact=contact)
    return change


def bot_pause(*, company: Company, contact: Contact, reason: str, actor: str, minutes: int | None = None,
              now: datetime | None = None) -> BotPauseChange | None:
    """Pause the bot for this contact (for `minutes`, or until resumed); None when nothing changed.
    Pausing again while paused only moves a timed pause's end later (never earlier, never recorded twice)."""
    now = now or timezone.now()
    if minutes is not None and not 1 <= minutes <= MAX_PAUSE_MINUTES:
        raise ValidationError({"duration_minutes": [_("Give between 1 and %(max)s minutes.")
                                                    % {"max": MAX_PAUSE_MINUTES}]})
    until = now + timedelta(minutes=minutes) if minutes else None
    with transaction.atomic():
        locked = _locked(company, contact)
        if is_paused(locked, now):
            if locked.bot_paused_until is not None and (until is None or until > locked.bot_paused_until):
                Contact.objects.filter(company=company, pk=locked.pk).update(bot_paused_until=until)
                contact.bot_paused_until = until
            return None
        Contact.objects.filter(company=company, pk=locked.pk).update(bot_paused=True, bot_paused_until=until,
                                                                     updated_at=now)
        contact.bot_paused, contact.bot_paused_until, contact.updated_at = True, until, now
        return _record(company, contact, paused=True, reason=reason, actor=actor, until=until, now=now)


def bot_resume(*, company: Company, contact: Contact, reason: str, actor: str,
               now: datetime | None = None) -> BotPauseChange | None:
    """Let the bot answer this contact again; None when it was not paused."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(company, contact)
        if not locked.bot_paused:
            return None
        Contact.objects.filter(company=company, pk=locked.pk).update(bot_paused=False, bot_paused_until=None,
                                                                     updated_at=now)
        contact.bot_paused, contact.bot_paused_until, contact.updated_at = False, None, now
        return _record(company, contact, paused=False, reason=reason, actor=actor, until=None, now=now)


def bot_set_paused(*, company: Company, contact: Contact, paused: bool, reason: str, actor: str,
                   minutes: int | None = None) -> BotPauseChange | None:
    if paused:
        return bot_pause(company=company, contact=contact, reason=reason, actor=actor, minutes=minutes)
    return bot_resume(company=company, contact=contact, reason=reason, actor=actor)


def auto_pause(*, company: Company, contact: Contact, reason: str, actor: str) -> BotPauseChange | None:
    """A human took over (an agent replied, the owner answered from the phone): pause the bot for
    BOT_AUTO_PAUSE_MINUTES (0: until the conversation is closed), but only where a bot would answer."""
    if contact.is_ignored or platform_for(company=company, contact=contact) is None:
        return None
    return bot_pause(company=company, contact=contact, reason=reason, actor=actor,
                     minutes=settings.BOT_AUTO_PAUSE_MINUTES or None)


def resume_expired(*, company: Company, contact_ids: list[int], now: datetime | None = None) -> int:
    """End the timed pauses of these contacts that have run out (the beat's per-company step)."""
    now = now or timezone.now()
    resumed = 0
    for contact in Contact.objects.filter(company=company, pk__in=contact_ids, bot_paused=True,
                                          bot_paused_until__lte=now).select_related("instance"):
        resumed += bot_resume(company=company, contact=contact, reason=BotPauseChange.Reason.EXPIRED,
                              actor=SYSTEM_ACTOR, now=now) is not None
    return resumed


def change_list(*, company: Company, contact: Contact, limit: int = 20) -> list[BotPauseChange]:
    return list(BotPauseChange.objects.filter(company=company, contact=contact).order_by("-at", "-pk")[:limit])
