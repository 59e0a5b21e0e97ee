"""Writes on contacts and tags: every rule lives here, for pages, API and the import job alike (STYLE rules 2-3)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID, uuid4

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
from integrations import selectors as integration_selectors
from integrations import services as integration_services
from integrations.models import BotPauseChange
from tenants import realtime
from tenants.models import Company
from tenants.prepared import Prepared, columns, model_from, padded

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
    keys = padded(keys)
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
    if "platform" in cleaned:  # platform slugs are lower case (integrations.bots)
        cleaned["platform"] = cleaned["platform"].lower()
    probe = Contact(**cleaned)
    try:
        probe.clean_fields(exclude=[f.name for f in Contact._meta.fields if f.name not in cleaned])
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    return cleaned


def _check_platform(company: Company, instance: Instance, slug: str) -> None:
    """A contact's bot platform is one of its instance's platforms (an unknown slug would route nowhere, silently)."""
    if slug and not bots.platform_get(company=company, instance=instance, slug=slug):
        raise ValidationError({"platform": [_("The instance %(instance)s has no bot platform “%(slug)s”.")
                                            % {"instance": instance.display_name, "slug": slug}]})


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
    _check_platform(company, instance, cleaned.get("platform", ""))
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


def contact_update(*, company: Company, contact: Contact, tags: Sequence[Tag] | None = None,
                   add_tags: Sequence[Tag] = (), remove_tags: Sequence[Tag] = (), actor: str = "",
                   **fields) -> Contact:
    """Change the editable fields given (and, when `tags` is given, replace its tags; else add and remove the tags
    given, leaving the others as they are). Pausing or resuming the bot goes through integrations.bots, so it is
    recorded (with `actor`) and announced like any other."""
    cleaned = _clean_fields(fields)
    if cleaned.get("platform", contact.platform) != contact.platform:  # a binding to a deleted platform may stay
        _check_platform(company, contact.instance, cleaned["platform"])
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
        tags_changed = (_set_tags(company, contact, tags) if tags is not None
                        else _change_tags(company, contact, add_tags, remove_tags))
        if tags_changed and not changed:
            _touch(company, contact)
            changed.append("tags")
        if changed:
            _emit(company, "contact.updated", contact)
    return contact


def _emit(company: Company, event_type: str, contact: Contact, tags: Sequence[Tag] | None = None,
          dedupe_key: str | None = None) -> None:
    """contact.created / contact.updated for webhooks and the event stream (docs/webhooks.md). The tags are read
    fresh unless given (a prefetched `contact.tags` may predate the change being announced)."""
    if tags is None:
        tags = list(Tag.objects.filter(company=company, contact_links__contact=contact).order_by(Lower("name"), "pk"))
    integration_services.event_emit(company=company, event_type=event_type,
                                     payload=integration_payloads.contact_data(contact, tags), dedupe_key=dedupe_key)


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


def contact_change_tags(*, company: Company, contact: Contact, add: Sequence[Tag], remove: Sequence[Tag]) -> bool:
    """Add some tags and remove others, leaving the rest as they are (one contact.updated when anything changed)."""
    with transaction.atomic():
        return _tags_changed(company, contact, _change_tags(company, contact, add, remove))


def _change_tags(company: Company, contact: Contact, add: Sequence[Tag], remove: Sequence[Tag]) -> bool:
    """Link `add`, unlink `remove`, nothing else; whether any link came or went. A person's ticks and unticks
    applied as such: a tag someone else added or removed meanwhile stays as they left it."""
    removed = ContactTag.objects.filter(company=company, contact=contact, tag__in=list(remove)).delete()[0] if remove \
        else 0
    return _add_tags(company, contact, add) or bool(removed)


# A bulk action that changed more contacts than this announces them from a task after commit, in batches: each
# contact.updated is two inserts (event and delivery), seconds for thousands, too long for the request.
BULK_EVENTS_INLINE = 100
BULK_EVENTS_BATCH = 500


def _bulk_changed(company: Company, contact_ids: Iterable[int]) -> None:
    """updated_at moves and contact.updated goes out for each contact a bulk tag action really changed."""
    contact_ids = list(contact_ids)
    if not contact_ids:
        return
    Contact.objects.filter(company=company, pk__in=contact_ids).update(updated_at=timezone.now())
    if len(contact_ids) <= BULK_EVENTS_INLINE:
        contacts_announce_updated(company=company, contact_ids=contact_ids)
        return
    from contacts.tasks import announce_updated as announce_updated_task

    action = uuid4().hex  # names this action's batches, so a redelivered one is told from a new change
    for start in range(0, len(contact_ids), BULK_EVENTS_BATCH):
        batch = contact_ids[start:start + BULK_EVENTS_BATCH]
        transaction.on_commit(lambda batch=batch: announce_updated_task.delay(company.pk, batch, action))


def _announce_key(batch_key: str, contact_id: int) -> str:
    return f"contact.updated:{batch_key}:{contact_id}"


def contacts_announce_updated(*, company: Company, contact_ids: Sequence[int], batch_key: str = "") -> int:
    """contact.updated for each of these contacts as it is now (one gone meanwhile is skipped); how many.

    `batch_key` (the bulk action's id): each event is recorded under it and the contact, so a run of the same batch
    again (a redelivered task) skips the contacts announced by the first and sends no second delivery."""
    with transaction.atomic(), integration_services.webhook_endpoints_read_once(company=company):
        wanted = list(contact_ids)
        if batch_key:
            done = integration_selectors.event_dedupe_keys_recorded(
                company=company, keys=[_announce_key(batch_key, pk) for pk in wanted])
            wanted = [pk for pk in wanted if _announce_key(batch_key, pk) not in done]
        contacts = list(Contact.objects.filter(company=company, pk__in=wanted)
                        .select_related("instance").order_by("pk"))
        tags_of: dict[int, list[Tag]] = {contact.pk: [] for contact in contacts}
        for link in (ContactTag.objects.filter(company=company, contact_id__in=list(tags_of)).select_related("tag")
                     .order_by(Lower("tag__name"), "tag_id")):
            tags_of[link.contact_id].append(link.tag)
        for contact in contacts:
            _emit(company, "contact.updated", contact, tags=tags_of[contact.pk],
                  dedupe_key=_announce_key(batch_key, contact.pk) if batch_key else None)
    return len(contacts)


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


# --- merge and delete ---------------------------------------------------------------------------

class ContactGone(Exception):
    """The contact was deleted (or merged into another) meanwhile."""


# Which of two conversations' states a merged one takes: the more active one.
_STATUS_ACTIVITY = {"closed": 0, "pending": 1, "open": 2}
_PRIORITY_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "urgent": 4}
# Fields the merged contact fills on the kept one where the kept one's is empty (its own non-empty values win).
MERGED_FIELDS = ("name", "custom_name", "photo_url", "platform")
_MERGE_ATTEMPTS = 3


@dataclass(frozen=True)
class MergeResult:
    contact: Contact
    merged_id: UUID
    merged_identifier: str
    conversation: object | None  # the kept contact's conversation afterwards (messaging.Conversation), if any
    removed_conversation_id: UUID | None  # the merged contact's conversation, whose messages moved into it
    moved_messages: int


def contact_merge_check(*, contact: Contact, other: Contact | None) -> None:
    """Can `other` be merged into `contact`? ValidationError naming the `merge` field when not."""
    if other is None:
        raise ValidationError({"merge": [_("Unknown contact.")]})
    if other.pk == contact.pk:
        raise ValidationError({"merge": [_("A contact cannot be merged into itself.")]})
    if other.instance_id != contact.instance_id:
        raise ValidationError({"merge": [_("Only contacts of the same instance can be merged: each WhatsApp number "
                                           "keeps its own contacts.")]})
    if Contact.Type.GROUP in (contact.type, other.type):
        raise ValidationError({"merge": [_("Groups cannot be merged.")]})


def contact_merge(*, company: Company, contact: Contact, other: Contact) -> MergeResult:
    """Merge `other` into `contact` in one transaction: its identifiers, tags, conversation and messages, bot
    history and the fields `contact` has empty move over; `other` is deleted (docs/contacts.md, Merge).

    Both contacts and their conversations are locked first (contacts in primary-key order), so an inbound message
    applied meanwhile either lands before the merge and moves with it, or resolves its sender afterwards to the
    kept contact. ContactGone when either was deleted meanwhile."""
    contact_merge_check(contact=contact, other=other)
    for attempt in range(_MERGE_ATTEMPTS):
        try:
            with transaction.atomic():
                result = _merge(company, contact, other)
            break
        except IntegrityError:
            # A message created the kept contact's first conversation while this one moved the other's to it (the
            # one-conversation-per-contact constraint): read both again and merge them instead.
            if attempt == _MERGE_ATTEMPTS - 1:
                raise
    _merge_pushes(company, result)
    return result


def _merge(company: Company, contact: Contact, other: Contact) -> MergeResult:
    from messaging.models import Conversation

    locked = {}
    for pk in sorted((contact.pk, other.pk)):  # primary-key order, as every merge locks them
        # The merged contact is deleted: FOR UPDATE. The kept one is only updated: FOR NO KEY UPDATE, which still
        # excludes other merges but lets a concurrent insert naming it (its first conversation, a tag) pass its
        # foreign-key check and commit; FOR UPDATE would deadlock with it (the merge waiting on that insert's
        # unique key, the insert's check on the merge's lock) and kill one side.
        row = Contact.objects.select_for_update(of=("self",), no_key=pk == contact.pk).filter(
            company=company, pk=pk).select_related("instance").first()
        if row is None:
            raise ContactGone
        locked[pk] = row
    kept, gone = locked[contact.pk], locked[other.pk]
    conversations = {row.contact_id: row for row in Conversation.objects.select_for_update(of=("self",)).filter(
        company=company, contact_id__in=[kept.pk, gone.pk]).order_by("pk")}
    promote = not kept.identifier.isdigit() and gone.identifier.isdigit()  # a LID-only contact gets the number
    _move_identifiers(company, kept, gone, promote=promote)
    _add_tags(company, kept, list(Tag.objects.filter(company=company, contact_links__contact=gone)))
    BotPauseChange.objects.filter(company=company, contact=gone).update(contact=kept)
    conversation, removed, moved = _merge_conversations(company, conversations.get(kept.pk),
                                                        conversations.get(gone.pk), kept)
    changed = {field: getattr(gone, field) for field in MERGED_FIELDS
               if not getattr(kept, field) and getattr(gone, field)}
    Contact.objects.filter(company=company, pk=gone.pk).delete()
    if promote:
        changed["identifier"] = gone.identifier
    for field, value in changed.items():
        setattr(kept, field, value)
    kept.updated_at = timezone.now()
    kept.save(update_fields=[*changed, "updated_at"])
    tags = list(Tag.objects.filter(company=company, contact_links__contact=kept).order_by(Lower("name"), "pk"))
    _emit(company, "contact.updated", kept, tags=tags)
    result = MergeResult(contact=kept, merged_id=gone.public_id, merged_identifier=gone.identifier,
                         conversation=conversation, removed_conversation_id=removed.public_id if removed else None,
                         moved_messages=moved)
    integration_services.event_emit(company=company, event_type="contact.merged", payload={
        **integration_payloads.contact_data(kept, tags),
        "merged": {"id": str(gone.public_id), "identifier": gone.identifier, "name": gone.name,
                   "conversation_id": str(removed.public_id) if removed else None},
        "conversation_id": str(conversation.public_id) if conversation else None,
    })
    return result


def _move_identifiers(company: Company, kept: Contact, gone: Contact, *, promote: bool) -> None:
    """The merged contact's forms become the kept one's extra identifiers (its main one a phone or a LID);
    with `promote`, the merged contact's number becomes the main identifier and the kept LID an extra one."""
    Kind = ContactIdentifier.Kind
    rows = ContactIdentifier.objects.filter(company=company, contact=gone)
    if promote:
        ContactIdentifier.objects.filter(company=company, contact=kept, kind=Kind.PRIMARY).update(kind=Kind.LID)
        rows.update(contact=kept)
        return
    rows.filter(kind=Kind.PRIMARY, identifier__endswith="@lid").update(kind=Kind.LID)
    rows.filter(kind=Kind.PRIMARY).update(kind=Kind.PHONE)
    rows.update(contact=kept)


def _merge_conversations(company: Company, kept_conversation, gone_conversation, kept: Contact):
    """(the kept contact's conversation afterwards, the conversation removed, messages moved).

    Only the merged contact has one: it becomes the kept contact's (same id, so open pages keep working). Both
    have one (a contact has one conversation per instance): the merged one's messages move into the kept one,
    which takes the more active status, the higher priority, the newest activity, both unread counts and, when it
    had none, the other's assignee; the merged conversation is deleted."""
    from messaging.models import Conversation, Message

    if gone_conversation is None:
        return kept_conversation, None, 0
    if kept_conversation is None:
        Conversation.objects.filter(company=company, pk=gone_conversation.pk).update(contact=kept)
        gone_conversation.contact = kept
        return gone_conversation, None, 0
    moved = Message.objects.filter(company=company, conversation=gone_conversation).update(
        conversation=kept_conversation)
    pair = (kept_conversation, gone_conversation)
    newest = max(pair, key=lambda row: row.last_message_at)
    status = max((row.status for row in pair), key=_STATUS_ACTIVITY.__getitem__)
    fields = {
        "status": status,
        "closed_at": max((row.closed_at for row in pair if row.closed_at), default=None)
        if status == Conversation.Status.CLOSED else None,
        "priority": max((row.priority for row in pair), key=_PRIORITY_RANK.__getitem__),
        "assignee_id": kept_conversation.assignee_id or gone_conversation.assignee_id,
        "last_message_at": newest.last_message_at, "last_message_preview": newest.last_message_preview,
        "unread_count": kept_conversation.unread_count + gone_conversation.unread_count,
    }
    Conversation.objects.filter(company=company, pk=kept_conversation.pk).update(**fields)
    Conversation.objects.filter(company=company, pk=gone_conversation.pk).delete()
    kept_conversation.__dict__.update(fields)
    if Message.objects.filter(company=company, conversation=kept_conversation,
                              status__in=[Message.Status.QUEUED, Message.Status.SENDING]).exists():
        _wake_outbound(company, kept_conversation)
    return kept_conversation, gone_conversation, moved


def _wake_outbound(company: Company, conversation) -> None:
    """Unsent messages moved into another conversation belong to its drain slot now: wake it after commit."""
    from messaging import outbound

    instance_id, slot = conversation.instance_id, outbound.outbound_slot(conversation.pk)
    transaction.on_commit(lambda: outbound.outbound_wake(company.pk, instance_id, slot))


def _merge_pushes(company: Company, result: MergeResult) -> None:
    """Open inbox pages: the lists and the kept thread are redrawn; a page on the removed conversation goes to the
    kept one (a language-free nudge each page follows with its own request)."""
    from messaging import events as messaging_events

    if result.conversation is None:
        return
    messaging_events.conversation_changed(company=company, conversation=result.conversation)
    messaging_events.contact_panel_changed(company=company, contact=result.contact)
    template = "contacts/merge.html#thread-nudge"
    if result.moved_messages:
        realtime.publish(company=company, topic=messaging_events.conversation_topic(result.conversation),
                         template_name=template,
                         context={"company": company, "conversation": result.conversation, "reload": True})
    if result.removed_conversation_id:
        realtime.publish(company=company, topic=realtime.topic_for(messaging_events.CONVERSATION_TOPIC,
                                                                   result.removed_conversation_id),
                         template_name=template, context={"company": company, "contact_id": result.contact.public_id})


@dataclass(frozen=True)
class DeletionSummary:
    """What deleting a contact takes with it (shown on the confirmation page, returned by the API)."""

    conversations: int
    messages: int
    media_files: int


def contact_deletion_summary(*, company: Company, contact: Contact) -> DeletionSummary:
    from messaging.models import Conversation, Message

    messages = Message.objects.filter(company=company, conversation__contact=contact)
    return DeletionSummary(conversations=Conversation.objects.filter(company=company, contact=contact).count(),
                           messages=messages.count(), media_files=messages.exclude(media_file="").count())


def contact_delete(*, company: Company, contact: Contact) -> DeletionSummary:
    """Delete a contact for good (a privacy request): its identifiers, tags, bot history, conversation and every
    message go in one transaction, and the stored media files of those messages after it commits. The contact
    row is locked first, so a message being applied for it meanwhile either lands before (and goes with it) or
    resolves its sender afterwards as a new contact. Emits contact.deleted. ContactGone if already gone."""
    from messaging import events as messaging_events
    from messaging.models import Conversation, Message

    with transaction.atomic():
        locked = (Contact.objects.select_for_update(of=("self",)).filter(company=company, pk=contact.pk)
                  .select_related("instance").first())
        if locked is None:
            raise ContactGone
        conversations = list(Conversation.objects.select_for_update(of=("self",))
                             .filter(company=company, contact=locked))
        messages = Message.objects.filter(company=company, conversation__in=conversations)
        files = list(messages.exclude(media_file="").values_list("media_file", flat=True))
        summary = DeletionSummary(conversations=len(conversations), messages=messages.count(), media_files=len(files))
        tags = list(Tag.objects.filter(company=company, contact_links__contact=locked).order_by(Lower("name"), "pk"))
        payload = integration_payloads.contact_data(locked, tags)
        Contact.objects.filter(company=company, pk=locked.pk).delete()
        integration_services.event_emit(company=company, event_type="contact.deleted", payload={
            **payload, "deleted": {"conversations": [str(row.public_id) for row in conversations],
                                   "messages": summary.messages, "media_files": summary.media_files}})
        transaction.on_commit(lambda: _delete_files(files))
        if conversations:  # open inbox lists re-fetch themselves (and drop its row)
            realtime.publish(company=company, topic=messaging_events.INBOX_TOPIC,
                             template_name=f"{messaging_events.PAGE}#inbox-signal",
                             context={"company": company, "signal": timezone.now().timestamp()})
        for conversation in conversations:
            realtime.publish(company=company, topic=messaging_events.conversation_topic(conversation),
                             template_name="contacts/merge.html#thread-nudge",
                             context={"company": company, "contact_id": locked.public_id})
    return summary


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)  # a missing file is no error (storage's contract)
