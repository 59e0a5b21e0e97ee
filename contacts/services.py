"""Writes on contacts and tags: every rule lives here, for pages, API and the import job alike (STYLE rules 2-3)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.identity import Identity, IdentityKind, parse_identifier
from contacts.models import DEFAULT_TAG_COLOR, Contact, ContactIdentifier, ContactTag, Tag, color_validator
from instances.models import Instance
from integrations import bots
from integrations import payloads as integration_payloads
from integrations import services as integration_services
from integrations.models import BotPauseChange
from tenants.models import Company
from tenants.prepared import Prepared, columns, model_from

# Fields a person may edit on a contact (the identifier and channel are its identity and never change).
EDITABLE_FIELDS = ("name", "custom_name", "photo_url", "platform", "is_ignored", "bot_paused")
_CREATE_ATTEMPTS = 3


class ContactExists(Exception):
    """The contact already exists, perhaps under another form of its number: carries the existing one."""

    def __init__(self, contact: Contact) -> None:
        super().__init__(_("This contact already exists."))
        self.contact = contact
        self.message = _("This contact already exists (%(name)s).") % {"name": contact.display_name}


class TagNameTaken(Exception):
    def __init__(self, name: str) -> None:
        self.message = _("A tag named “%(name)s” already exists.") % {"name": name}
        super().__init__(self.message)


# --- identity -----------------------------------------------------------------------------------

def contact_find(*, company: Company, instance: Instance, keys: Iterable[str]) -> Contact | None:
    """The contact of this instance known under any of these identifiers (main or extra), if any."""
    link = (ContactIdentifier.objects.filter(company=company, instance=instance, identifier__in=list(keys))
            .select_related("contact").order_by("pk").first())
    return link.contact if link else None


def _identity_rows(identity: Identity) -> list[tuple[str, str]]:
    main_kind = ContactIdentifier.Kind.PRIMARY
    return [(identity.value, main_kind)] + [(v, ContactIdentifier.Kind.PHONE_VARIANT) for v in identity.variants]


def _insert(*, company: Company, instance: Instance, identity: Identity, extra: Sequence[Identity],
            fields: dict) -> Contact:
    """Insert the contact and every identifier row in one savepoint; IntegrityError if any key is taken."""
    with transaction.atomic():
        now = timezone.now()
        contact = Contact.objects.create(
            company=company, instance=instance, identifier=identity.value, created_at=now, updated_at=now,
            type=Contact.Type.GROUP if identity.is_group else Contact.Type.INDIVIDUAL, **fields,
        )
        rows = _identity_rows(identity)
        for other in extra:
            kind = ContactIdentifier.Kind.LID if other.kind == IdentityKind.LID else ContactIdentifier.Kind.PHONE
            rows += [(other.value, kind)] + [(v, ContactIdentifier.Kind.PHONE_VARIANT) for v in other.variants]
        seen: set[str] = set()
        ContactIdentifier.objects.bulk_create([
            ContactIdentifier(company=company, instance=instance, contact=contact, identifier=value, kind=kind)
            for value, kind in rows if not (value in seen or seen.add(value))
        ])
        return contact


def _attach_missing(*, company: Company, contact: Contact, identities: Sequence[Identity],
                    taken: set[str] | frozenset[str] = frozenset()) -> None:
    """Register identifiers the contact was not known by yet (a LID seen for the first time); a key that
    already belongs to another contact is left alone (merging two contacts is a decision, not a side effect).
    `taken`: keys the caller has just read as registered on this instance (not looked up again)."""
    for identity in identities:
        kind = ContactIdentifier.Kind.LID if identity.kind == IdentityKind.LID else ContactIdentifier.Kind.PHONE
        rows = [(identity.value, kind)] + [(v, ContactIdentifier.Kind.PHONE_VARIANT) for v in identity.variants]
        for value, row_kind in rows:
            if value in taken:
                continue
            if ContactIdentifier.objects.filter(company=company, instance=contact.instance, identifier=value).exists():
                continue
            try:
                with transaction.atomic():
                    ContactIdentifier.objects.create(company=company, instance=contact.instance, contact=contact,
                                                     identifier=value, kind=row_kind)
            except IntegrityError:
                continue


# The inbound path parses the same few thousand senders over and over (phonenumbers' parse and validation are
# a tenth of the identity lookup). Identities are immutable; a ValidationError is raised again, never cached.
_parsed = lru_cache(maxsize=20_000)(parse_identifier)


_identity_lookups: dict[int, Prepared] = {}


def _identity_lookup(count: int) -> Prepared:
    """The identifiers among `count` keys registered on an instance, each with its contact (prepared once)."""
    if count not in _identity_lookups:
        def build(p):
            return (ContactIdentifier.objects
                    .filter(instance_id=p.instance, identifier__in=[getattr(p, f"key{i}") for i in range(count)])
                    .order_by().values_list("pk", "identifier", *columns(Contact, "contact")))

        _identity_lookups[count] = Prepared(build, instance=int, **{f"key{i}": str for i in range(count)})
    return _identity_lookups[count]


def _identity_links(instance: Instance, keys: list[str]) -> list[tuple[int, str, Contact]]:
    """Every registered key of `keys` at once, oldest first (as contact_find): (its id, the key, its contact).
    At most a few rows: sorted here, since an ORDER BY costs more to compile than the rest of the statement."""
    rows = _identity_lookup(len(keys)).rows(instance=instance.pk, **{f"key{i}": key for i, key in enumerate(keys)})
    return sorted(((row[0], row[1], model_from(Contact, row[2:])) for row in rows),
                  key=lambda link: link[0])


def contact_get_or_create_by_identity(
    *, company: Company, instance: Instance, identifier: str, lid: str | None = None, name: str = "",
) -> tuple[Contact, bool]:
    """The contact writing from `identifier` (and/or `lid`), created when new; safe under concurrency.

    Used by the inbound pipeline. Two workers racing on the same new number both try the insert; the
    unique (instance, identifier) rows let one win, and the loser re-reads the winner's contact. A known contact
    with no name yet (created by a send, or by the API without one) takes `name`, the customer's WhatsApp name.
    """
    identity = _parsed(identifier)
    extra = [_parsed(lid)] if lid else []
    keys = [key for item in (identity, *extra) for key in item.keys]
    for _attempt in range(_CREATE_ATTEMPTS):
        # Every registered key at once (as contact_find, oldest first): the contact, and which keys need no
        # look-up in _attach_missing (the usual inbound message: all of them). At most a few rows: sorted here,
        # since an ORDER BY with select_related costs more to compile than the rest of the statement.
        links = _identity_links(instance, keys)
        if links:
            existing = links[0][2]
            if existing.instance_id == instance.pk:  # spares _attach_missing reading the instance again
                existing.instance = instance
            _attach_missing(company=company, contact=existing, identities=[identity, *extra],
                            taken={identifier for _pk, identifier, _contact in links})
            if name and not existing.name:  # first written to (a send by number): the name it answers with
                existing.name, existing.updated_at = name[:120], timezone.now()
                if Contact.objects.filter(company=company, pk=existing.pk, name="").update(
                        name=existing.name, updated_at=existing.updated_at):
                    _emit(company, "contact.updated", existing)
            return existing, False
        try:
            contact = _insert(company=company, instance=instance, identity=identity, extra=extra,
                              fields={"name": name[:120]})
        except IntegrityError:
            continue  # someone else inserted one of the keys first: read theirs
        _emit(company, "contact.created", contact, tags=())
        return contact, True
    raise RuntimeError(f"could not resolve contact {identity.value} after {_CREATE_ATTEMPTS} attempts")


# --- contacts -----------------------------------------------------------------------------------

def _clean_fields(fields: dict) -> dict:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    cleaned = {key: (value.strip() if isinstance(value, str) else value) for key, value in fields.items()}
    probe = Contact(**cleaned)
    try:
        probe.clean_fields(exclude=[f.name for f in Contact._meta.fields if f.name not in cleaned])
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    return cleaned


def contact_create(
    *, company: Company, instance: Instance, identifier: str, type: str | None = None,
    tags: Sequence[Tag] = (), extra_identifiers: Sequence[str] = (), **fields,
) -> Contact:
    """Create a contact; ContactExists (with the existing one) when any form of the identifier is taken."""
    try:
        identity = parse_identifier(identifier)
    except ValidationError as error:
        raise ValidationError({"identifier": error.messages}) from None
    expected = Contact.Type.GROUP if identity.is_group else Contact.Type.INDIVIDUAL
    if type and type != expected:
        message = (_("A group contact needs a group id (ending in @g.us).") if type == Contact.Type.GROUP
                   else _("A group id (ending in @g.us) can only be a group contact."))
        raise ValidationError({"type": [message]})
    try:
        extra = [parse_identifier(value) for value in extra_identifiers if value.strip()]
    except ValidationError as error:
        raise ValidationError({"extra_identifiers": error.messages}) from None
    cleaned = _clean_fields(fields)
    keys = [key for item in (identity, *extra) for key in item.keys]
    existing = contact_find(company=company, instance=instance, keys=keys)
    if existing is not None:
        raise ContactExists(existing)
    try:
        with transaction.atomic():
            contact = _insert(company=company, instance=instance, identity=identity, extra=extra, fields=cleaned)
            _add_tags(company, contact, tags)
    except IntegrityError:
        existing = contact_find(company=company, instance=instance, keys=keys)
        if existing is None:
            raise
        raise ContactExists(existing) from None
    _emit(company, "contact.created", contact)
    return contact


def contact_update(*, company: Company, contact: Contact, tags: Sequence[Tag] | None = None, actor: str = "",
                   **fields) -> Contact:
    """Change the editable fields given (and, when `tags` is given, replace its tags). Pausing or resuming
    the bot goes through integrations.bots, so it is recorded (with `actor`) and announced like any other."""
    cleaned = _clean_fields(fields)
    bot_paused = cleaned.pop("bot_paused", None)
    with transaction.atomic():
        changed = [key for key, value in cleaned.items() if getattr(contact, key) != value]
        for key in changed:
            setattr(contact, key, cleaned[key])
        if changed:
            contact.updated_at = timezone.now()
            contact.save(update_fields=[*changed, "updated_at"])
        if bot_paused is not None and bot_paused != contact.bot_paused:
            bots.bot_set_paused(company=company, contact=contact, paused=bot_paused, actor=actor,
                                reason=BotPauseChange.Reason.CONTACT_EDIT)
            changed.append("bot_paused")
        if tags is not None and _set_tags(company, contact, tags) and not changed:
            _touch(company, contact)
            changed.append("tags")
        if changed:
            _emit(company, "contact.updated", contact)
    return contact


def _emit(company: Company, event_type: str, contact: Contact, tags: Sequence[Tag] | None = None) -> None:
    """contact.created / contact.updated for webhooks and the event stream (docs/webhooks.md). The tags are read
    fresh unless given (a prefetched `contact.tags` may predate the change being announced)."""
    if tags is None:
        tags = list(Tag.objects.filter(company=company, contact_links__contact=contact).order_by(Lower("name"), "pk"))
    integration_services.event_emit(company=company, event_type=event_type,
                                     payload=integration_payloads.contact_data(contact, tags))


def contact_remove_platform(*, company: Company, contact: Contact) -> Contact:
    return contact_update(company=company, contact=contact, platform="")


def contact_add_identifier(*, company: Company, contact: Contact, identifier: str) -> ContactIdentifier:
    """Register another form the contact writes from (a LID, another number); ContactExists if taken."""
    identity = parse_identifier(identifier)
    if identity.is_group or contact.type == Contact.Type.GROUP:
        raise ValidationError(_("Groups have a single id; extra identifiers are for people."))
    existing = contact_find(company=company, instance=contact.instance, keys=identity.keys)
    if existing is not None:
        raise ContactExists(existing)
    kind = ContactIdentifier.Kind.LID if identity.kind == IdentityKind.LID else ContactIdentifier.Kind.PHONE
    try:
        with transaction.atomic():
            created = ContactIdentifier.objects.create(company=company, instance=contact.instance, contact=contact,
                                                       identifier=identity.value, kind=kind)
            for variant in identity.variants:
                ContactIdentifier.objects.create(company=company, instance=contact.instance, contact=contact,
                                                 identifier=variant, kind=ContactIdentifier.Kind.PHONE_VARIANT)
    except IntegrityError:
        raise ContactExists(contact_find(company=company, instance=contact.instance, keys=identity.keys)) from None
    return created


def contact_remove_identifier(*, company: Company, contact: Contact, identifier: ContactIdentifier) -> None:
    """Forget an extra identifier (never the main one nor its automatic 9th-digit variant)."""
    if identifier.kind in (ContactIdentifier.Kind.PRIMARY, ContactIdentifier.Kind.PHONE_VARIANT):
        raise ValidationError(_("The main identifier and its other 9th-digit form cannot be removed."))
    ContactIdentifier.objects.filter(company=company, contact=contact, pk=identifier.pk).delete()


# --- tags on contacts ---------------------------------------------------------------------------

def _set_tags(company: Company, contact: Contact, tags: Sequence[Tag]) -> bool:
    """Replace the contact's tags; whether any link was added or removed."""
    removed, _detail = ContactTag.objects.filter(company=company, contact=contact).exclude(tag__in=list(tags)).delete()
    return _add_tags(company, contact, tags) or bool(removed)


def _add_tags(company: Company, contact: Contact, tags: Sequence[Tag]) -> bool:
    """Link the tags the contact does not carry yet; whether any was new."""
    if not tags:
        return False
    have = set(ContactTag.objects.filter(company=company, contact=contact, tag__in=list(tags))
               .values_list("tag_id", flat=True))
    new = [ContactTag(company=company, contact=contact, tag=tag) for tag in tags if tag.pk not in have]
    return bool(ContactTag.objects.bulk_create(new, ignore_conflicts=True)) if new else False


def _touch(company: Company, contact: Contact) -> None:
    contact.updated_at = timezone.now()
    Contact.objects.filter(company=company, pk=contact.pk).update(updated_at=contact.updated_at)


def _tags_changed(company: Company, contact: Contact, changed: bool) -> bool:
    """A tag edit on one contact is a contact change like any other: updated_at moves and contact.updated goes out
    (only when a link really came or went)."""
    if changed:
        _touch(company, contact)
        _emit(company, "contact.updated", contact)
    return changed


def contact_set_tags(*, company: Company, contact: Contact, tags: Sequence[Tag]) -> bool:
    """Replace the contact's tags; whether anything changed (then contact.updated is emitted)."""
    with transaction.atomic():
        return _tags_changed(company, contact, _set_tags(company, contact, tags))


def contact_add_tags(*, company: Company, contact: Contact, tags: Sequence[Tag]) -> bool:
    with transaction.atomic():
        return _tags_changed(company, contact, _add_tags(company, contact, tags))


def contact_remove_tags(*, company: Company, contact: Contact, tags: Sequence[Tag]) -> bool:
    with transaction.atomic():
        removed, _detail = ContactTag.objects.filter(company=company, contact=contact, tag__in=list(tags)).delete()
        return _tags_changed(company, contact, bool(removed))


def _bulk_changed(company: Company, contact_ids: Iterable[int]) -> None:
    """contact.updated for each contact a bulk tag action really changed (as a single contact's tag edit)."""
    contact_ids = list(contact_ids)
    if not contact_ids:
        return
    now = timezone.now()
    Contact.objects.filter(company=company, pk__in=contact_ids).update(updated_at=now)
    contacts = Contact.objects.filter(company=company, pk__in=contact_ids).select_related("instance").order_by("pk")
    tags_of: dict[int, list[Tag]] = {pk: [] for pk in contact_ids}
    for link in (ContactTag.objects.filter(company=company, contact_id__in=contact_ids).select_related("tag")
                 .order_by(Lower("tag__name"), "tag_id")):
        tags_of[link.contact_id].append(link.tag)
    with integration_services.webhook_endpoints_read_once(company=company):
        for contact in contacts:
            _emit(company, "contact.updated", contact, tags=tags_of[contact.pk])


def contacts_add_tag(*, company: Company, contacts: QuerySet[Contact] | Sequence[Contact], tag: Tag) -> int:
    """Bulk: put `tag` on every contact given; returns how many gained it (each of them: contact.updated)."""
    contact_ids = [c.pk for c in contacts]
    with transaction.atomic():
        already = set(ContactTag.objects.filter(company=company, tag=tag, contact_id__in=contact_ids)
                      .values_list("contact_id", flat=True))
        new = [ContactTag(company=company, contact_id=pk, tag=tag) for pk in contact_ids if pk not in already]
        created = ContactTag.objects.bulk_create(new, ignore_conflicts=True)
        _bulk_changed(company, [link.contact_id for link in created])
    return len(new)


def contacts_remove_tag(*, company: Company, contacts: QuerySet[Contact] | Sequence[Contact], tag: Tag) -> int:
    """Bulk: take `tag` off every contact given; returns how many lost it (each of them: contact.updated)."""
    with transaction.atomic():
        links = ContactTag.objects.filter(company=company, tag=tag, contact_id__in=[c.pk for c in contacts])
        contact_ids = list(links.values_list("contact_id", flat=True))
        links.filter(contact_id__in=contact_ids).delete()
        _bulk_changed(company, contact_ids)
    return len(contact_ids)


# --- tags ---------------------------------------------------------------------------------------

def _clean_tag(name: str, color: str) -> tuple[str, str]:
    name = " ".join((name or "").split())
    errors = {}
    if not name:
        errors["name"] = [_("Enter a name.")]
    elif len(name) > 50:
        errors["name"] = [_("Use at most 50 characters.")]
    try:
        color_validator(color)
    except ValidationError as error:
        errors["color"] = error.messages
    if errors:
        raise ValidationError(errors)
    return name, color.lower()


def _name_taken(company: Company, name: str, exclude: Tag | None = None) -> bool:
    others = Tag.objects.filter(company=company).annotate(lower=Lower("name")).filter(lower=name.lower())
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


def tag_create(*, company: Company, name: str, color: str = DEFAULT_TAG_COLOR) -> Tag:
    """A new tag; TagNameTaken when the company has one of that name in any letter case."""
    name, color = _clean_tag(name, color)
    if _name_taken(company, name):
        raise TagNameTaken(name)
    try:
        with transaction.atomic():
            return Tag.objects.create(company=company, name=name, color=color)
    except IntegrityError:
        raise TagNameTaken(name) from None


def tag_update(*, company: Company, tag: Tag, name: str | None = None, color: str | None = None) -> Tag:
    name, color = _clean_tag(tag.name if name is None else name, tag.color if color is None else color)
    if _name_taken(company, name, exclude=tag):
        raise TagNameTaken(name)
    tag.name, tag.color = name, color
    try:
        with transaction.atomic():
            tag.save(update_fields=["name", "color"])
    except IntegrityError:
        raise TagNameTaken(name) from None
    return tag


def tag_delete(*, company: Company, tag: Tag) -> int:
    """Delete a tag; returns how many contacts lost it."""
    with transaction.atomic():
        affected = ContactTag.objects.filter(company=company, tag=tag).count()
        ContactTag.objects.filter(company=company, tag=tag).delete()
        Tag.objects.filter(company=company, pk=tag.pk).delete()
    return affected


def tags_get_or_create(*, company: Company, names: Iterable[str]) -> list[Tag]:
    """Tags by name (case-insensitive), creating the missing ones with the default color (CSV import)."""
    wanted = {}
    for raw in names:
        name = " ".join(raw.split())[:50]
        if name:
            wanted.setdefault(name.lower(), name)
    if not wanted:
        return []
    found = {tag.name.lower(): tag for tag in Tag.objects.filter(company=company)
             .annotate(lower=Lower("name")).filter(lower__in=list(wanted))}
    for lower, name in wanted.items():
        if lower not in found:
            try:
                found[lower] = tag_create(company=company, name=name)
            except TagNameTaken:  # created meanwhile by someone else
                found[lower] = Tag.objects.annotate(lower=Lower("name")).get(company=company, lower=lower)
    return [found[lower] for lower in wanted]

