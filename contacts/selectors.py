"""Reads of contacts, tags and imports shared by pages, API and export; always scoped to a company."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower, NullIf

from contacts.identity import parse_identifier
from contacts.models import Contact, ContactIdentifier, ContactImport, ContactTag, Tag
from instances.models import Instance
from tenants.models import Company
from tenants.prepared import Prepared, columns, model_from
from tenants.scoping import current_company

SORTS = ("created", "name", "identifier")


def _uuid(value: object) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


@dataclass
class ContactFilters:
    """What a contact list can be narrowed and ordered by (pages, API and export share it)."""

    search: str = ""
    instance: Instance | None = None
    type: str = ""
    tags: Sequence[Tag] = field(default_factory=list)
    identifier: str = ""
    name: str = ""
    is_ignored: bool | None = None
    bot_paused: bool | None = None
    sort: str = "created"
    descending: bool = True


def _tags_prefetch(company: Company) -> Prefetch:
    return Prefetch("tags", queryset=Tag.objects.filter(company=company).order_by("name"))


def identifiers_prefetch(company: Company) -> Prefetch:
    identifiers = ContactIdentifier.objects.filter(company=company).order_by("created_at", "pk")
    return Prefetch("identifiers", queryset=identifiers)


def contact_list(*, company: Company, filters: ContactFilters | None = None) -> QuerySet[Contact]:
    """The company's contacts, filtered and ordered, with channel and tags loaded in two extra queries in all."""
    filters = filters or ContactFilters()
    contacts = Contact.objects.filter(company=company)
    if filters.search:
        contacts = contacts.filter(_search(company, filters.search))
    if filters.name:
        contacts = contacts.filter(Q(name__fold__contains=filters.name) | Q(custom_name__fold__contains=filters.name))
    if filters.identifier:
        contacts = contacts.filter(_identifier_match(company, filters.identifier))
    if filters.instance is not None:
        contacts = contacts.filter(instance=filters.instance)
    if filters.type:
        contacts = contacts.filter(type=filters.type)
    if filters.tags:
        # Any of the tags; a subquery rather than a join, so a contact with two of them is listed once.
        tagged = ContactTag.objects.filter(company=company, tag__in=list(filters.tags)).values("contact_id")
        contacts = contacts.filter(pk__in=tagged)
    if filters.is_ignored is not None:
        contacts = contacts.filter(is_ignored=filters.is_ignored)
    if filters.bot_paused is not None:
        contacts = contacts.filter(bot_paused=filters.bot_paused)
    return _ordered(contacts, filters).select_related("instance").prefetch_related(_tags_prefetch(company))


def _search(company: Company, text: str) -> Q:
    """Name or custom name; digits of the number; a full number in any form (or a LID, a group id)."""
    text = text.strip()
    query = Q(name__fold__contains=text) | Q(custom_name__fold__contains=text)  # accents and case ignored
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3 and not re.search(r"[^\d\s().+-]", text):
        query |= Q(identifier__contains=digits)
    elif "@" in text:
        query |= Q(identifier__icontains=text)
    if len(digits) >= 8:
        query |= _identifier_match(company, text)
    return query


def _identifier_match(company: Company, text: str) -> Q:
    """A full identifier matches every form of it (9th digit, LID); anything else is a digits substring."""
    try:
        keys = parse_identifier(text).keys
    except ValidationError:
        digits = re.sub(r"\D", "", text)
        return Q(identifier__contains=digits) if digits and "@" not in text else Q(identifier__icontains=text.strip())
    known = ContactIdentifier.objects.filter(company=company, identifier__in=keys).values("contact_id")
    return Q(pk__in=known)


def _ordered(contacts: QuerySet[Contact], filters: ContactFilters) -> QuerySet[Contact]:
    sign = "-" if filters.descending else ""
    if filters.sort == "name":
        contacts = contacts.annotate(sort_name=Lower(Coalesce(
            NullIf("custom_name", Value("")), NullIf("name", Value("")), "identifier",
        )))
        return contacts.order_by(f"{sign}sort_name", f"{sign}pk")
    if filters.sort == "identifier":
        return contacts.order_by(f"{sign}identifier", f"{sign}pk")
    return contacts.order_by(f"{sign}created_at", f"{sign}pk")


def contact_get(*, company: Company, public_id: object) -> Contact | None:
    """The company's contact with this public id, or None (foreign and unknown ids look the same)."""
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    return (Contact.objects.filter(company=company, public_id=uuid).select_related("instance")
            .prefetch_related(_tags_prefetch(company)).first())


def contact_list_by_ids(*, company: Company, public_ids: Sequence[object]) -> list[Contact]:
    uuids = [uuid for uuid in map(_uuid, public_ids) if uuid is not None]
    return list(Contact.objects.filter(company=company, public_id__in=uuids))


def contact_identifiers(*, company: Company, contact: Contact) -> list[ContactIdentifier]:
    return list(ContactIdentifier.objects.filter(company=company, contact=contact).order_by("created_at", "pk"))


def contact_identifier_get(*, company: Company, contact: Contact, public_id: object) -> ContactIdentifier | None:
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    return ContactIdentifier.objects.filter(company=company, contact=contact, public_id=uuid).first()


def tag_list(*, company: Company, name: str = "") -> QuerySet[Tag]:
    """The company's tags by name, each with `contact_count`."""
    tags = Tag.objects.filter(company=company)
    if name:
        tags = tags.filter(name__fold__contains=name.strip())
    return tags.annotate(contact_count=Count("contact_links")).order_by(Lower("name"), "pk")


def tag_choices(*, company: Company) -> QuerySet[Tag]:
    """The company's tags by name, for pickers and filters: no `contact_count`, whose COUNT over every tagged
    contact costs tens of milliseconds on a company with 100k contacts (benchmarks/inbox.py)."""
    return Tag.objects.filter(company=company).order_by(Lower("name"), "pk")


def tag_name_exists(*, company: Company, name: str) -> bool:
    """Does the company have a tag of this name, in any letter case?"""
    name = " ".join(name.split())
    return Tag.objects.filter(company=company).annotate(lower=Lower("name")).filter(lower=name.lower()).exists()


def tag_get(*, company: Company, public_id: object) -> Tag | None:
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    return Tag.objects.filter(company=company, public_id=uuid).annotate(contact_count=Count("contact_links")).first()


def tags_by_ids(*, company: Company, public_ids: Sequence[object]) -> tuple[list[Tag], list[str]]:
    """The company's tags with these ids (in the order given) and the ids that are unknown or foreign."""
    wanted = [(str(value), _uuid(value)) for value in public_ids]
    found = {tag.public_id: tag for tag in
             Tag.objects.filter(company=company, public_id__in=[uuid for _raw, uuid in wanted if uuid])}
    tags, missing = [], []
    for raw, uuid in wanted:
        if uuid in found:
            if found[uuid] not in tags:
                tags.append(found[uuid])
        else:
            missing.append(raw)
    return tags, missing


def tag_count_contacts(*, company: Company, tag: Tag) -> int:
    return ContactTag.objects.filter(company=company, tag=tag).count()


def instance_choices(*, company: Company) -> QuerySet[Instance]:
    return Instance.objects.filter(company=company).order_by("name")


# Every API send by number names its instance: prepared (tenants/prepared.py), the current company's.
_CHANNEL = Prepared(lambda p: Instance.objects.filter(public_id=p.public_id).order_by()
                    .values_list(*columns(Instance))[:1], public_id=UUID)


def channel_get(*, company: Company, public_id: object) -> Instance | None:
    """The company's instance (a contact's channel) with this public id, or None."""
    uuid = _uuid(public_id)
    if uuid is None or ((scope := current_company()) is not None and scope.pk != company.pk):
        return None  # another company's scope sees none of its rows (as the manager's filters would)
    row = _CHANNEL.first(public_id=uuid)
    return model_from(Instance, row) if row is not None else None


def contact_import_get(*, company: Company, public_id: object) -> ContactImport | None:
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    return ContactImport.objects.filter(company=company, public_id=uuid).select_related("instance").first()


def contact_import_exists(company: Company, public_id: UUID) -> bool:
    """Realtime topic resolver: may a member of `company` follow this import's progress?"""
    return ContactImport.objects.filter(company=company, public_id=public_id).exists()


MERGE_CANDIDATES = 20


def merge_candidates(*, company: Company, contact: Contact, search: str = "") -> list[Contact]:
    """Contacts that can be merged into `contact` (same instance, people, not itself), by name, at most 20."""
    filters = ContactFilters(search=search, instance=contact.instance, type=Contact.Type.INDIVIDUAL, sort="name",
                             descending=False)
    return list(contact_list(company=company, filters=filters).exclude(pk=contact.pk)[:MERGE_CANDIDATES])


def contact_conversation_summary(*, company: Company, contact: Contact) -> dict:
    """The contact's conversation (or None) and how many messages it holds, for the merge and delete pages."""
    from messaging.models import Conversation, Message

    conversation = Conversation.objects.filter(company=company, contact=contact).first()
    messages = Message.objects.filter(company=company, conversation=conversation) if conversation else None
    return {"conversation": conversation, "messages": messages.count() if messages is not None else 0}


def platform_slugs(*, company: Company, instance: Instance) -> list[str]:
    """The slugs of the instance's bot platforms, for the contact page's choice."""
    from integrations.models import BotPlatform

    return list(BotPlatform.objects.filter(company=company, instance=instance).order_by("slug")
                .values_list("slug", flat=True))


def contact_list_matching_bare(*, company: Company, filters: ContactFilters, limit: int) -> list[Contact]:
    """At most `limit` of the contacts the filters match, as bare rows (the primary key only: no channel, no
    tags), for a bulk action over every match."""
    return list(contact_list(company=company, filters=filters).select_related(None).prefetch_related(None)
                .order_by("pk").only("pk")[:limit])

