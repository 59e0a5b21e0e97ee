"""Conversation and outbound message use cases, for the inbox, the API and the outbound drain (rules 2-3, 25-27).

Sending: `message_send` stores the message `queued` and, after commit, wakes the drain of its chat
(messaging/outbound.py). The drain claims a batch with one conditional UPDATE of a `SKIP LOCKED` selection
(queued → sending, with a lease: `messages_claim`), calls the gateway for each outside any transaction, and
records each outcome (`message_deliver`). A claim that is taken over after its lease passed (the drain died
mid-send, or the gateway never answered) first asks the gateway what it sent since that claim began, so a
send the gateway accepted just before is recorded, not sent twice (`_earlier_send`, docs/messaging.md).
"""

from __future__ import annotations

import base64
import binascii
import logging
import random
import re
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, router, transaction
from django.db.models import BigIntegerField, Case, Exists, F, Min, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce, Greatest, Mod
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contacts.identity import parse_identifier
from contacts.models import Contact, ContactIdentifier
from contacts.services import ContactGone, contact_get_or_create_by_identity
from instances import services as instance_services
from instances.gateways import (
    Button,
    ContactCard,
    GatewayError,
    GatewayTimeout,
    ListRow,
    ListSection,
    Location,
    Media,
    MessageKey,
    NumberNotOnWhatsApp,
    Quoted,
    SendOptions,
    SendResult,
    SentRecord,
)
from instances.models import Instance
from integrations import bots
from integrations import payloads as integration_payloads
from integrations import services as integration_services
from integrations.models import BotPauseChange
from messaging import events
from messaging.models import (
    MAX_TEXT_LENGTH,
    MEDIA_KINDS,
    STATUS_RANK,
    STATUS_TIMESTAMP,
    Conversation,
    Message,
    MessageStatus,
    QuickReply,
)
from tenants.models import Company, User
from tenants.prepared import Prepared, columns, model_from, padded, width
from tenants.scoping import current_company, first_row

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
CLAIM_LEASE = timedelta(seconds=120)  # longer than the send task's hard time limit
CLOCK_SKEW = timedelta(seconds=30)  # between our clock and the gateway's, when asking what it sent
SEND_TIMEOUT = 15.0  # seconds a send waits for the gateway's answer
DELETE_WINDOW = timedelta(hours=60)  # WhatsApp's "delete for everyone" limit (about two and a half days)
MAX_MEDIA_BYTES = 16 * 1024 * 1024
Kind = Message.Kind


class MessagingError(Exception):
    """A request the rules refuse; `message` is shown to the person or the API client (422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GatewayBusy(MessagingError):
    """The gateway did not answer a call made while someone waits (503)."""


# --- conversations ---------------------------------------------------------------------------------

_CONVERSATION_LOCK = Prepared(
    lambda p: Conversation.objects.filter(contact_id=p.contact).select_for_update(of=("self",)).order_by()
    .values_list(*columns(Conversation), *columns(User, "assignee"))[:1],
    contact=int)
# The API's sends look their conversation up by contact on every message: prepared too.
_CONVERSATION_OF = Prepared(
    lambda p: Conversation.objects.filter(contact_id=p.contact).order_by().values_list(*columns(Conversation))[:1],
    contact=int)


def _conversation_locked(contact: Contact) -> Conversation | None:
    """The contact's conversation with its assignee, locked until the transaction ends (prepared once)."""
    row = _CONVERSATION_LOCK.first(contact=contact.pk)
    if row is None:
        return None
    alias, split = router.db_for_write(Conversation), width(Conversation)
    conversation = model_from(Conversation, row[:split], alias)
    conversation.assignee = model_from(User, row[split:], alias) if conversation.assignee_id is not None else None
    return conversation


def _conversation_of(company: Company, contact: Contact) -> Conversation | None:
    if (scope := current_company()) is not None and scope.pk != company.pk:
        return None  # another company's scope sees none of its rows (as the manager's filters would)
    row = _CONVERSATION_OF.first(contact=contact.pk)
    return model_from(Conversation, row) if row is not None else None


def conversation_get_or_create(*, company: Company, instance: Instance, contact: Contact,
                               status: str = Conversation.Status.OPEN, lock: bool = False
                               ) -> tuple[Conversation, bool]:
    """The contact's one conversation, created when new; safe under concurrency (unique on contact).

    `lock`: the row is locked until the caller's transaction ends (a new one is, by its insert) and comes with
    its assignee, so the caller can move it and draw it from the object in hand, exactly as stored.
    ContactGone when the contact was deleted (merged into another) since the caller read it."""
    for _attempt in range(3):
        existing = _conversation_locked(contact) if lock else _conversation_of(company, contact)
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(company=company, instance=instance, contact=contact,
                                                           status=status)
            if status == Conversation.Status.OPEN:
                _emit_conversation(company, conversation, "conversation.opened")
            return conversation, True
        except IntegrityError as error:
            if _foreign_key_violation(error):
                # The contact was deleted (merged away) since the caller read it: the key is checked at this
                # insert (messaging migration 0011), so the caller can resolve its contact again at once.
                raise ContactGone from error
            continue  # another worker opened it first: read theirs
    raise RuntimeError(f"could not open a conversation for contact {contact.pk}")


def _foreign_key_violation(error: IntegrityError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == "23503"


def contact_for_recipient(*, company: Company, instance: Instance, recipient: str) -> Contact:
    """The contact of a phone number or group id on an instance (created when new); ValidationError if invalid."""
    try:
        parse_identifier(recipient)
    except ValidationError as error:
        raise ValidationError({"number": error.messages}) from None
    contact, _created = contact_get_or_create_by_identity(company=company, instance=instance, identifier=recipient)
    return contact


def conversation_start(*, company: Company, instance: Instance, contact: Contact,
                       priority: str | None = None, assignee: User | None = None) -> tuple[Conversation, bool]:
    """Start (or reopen) a conversation with a contact, as the API's POST /conversations does."""
    if contact.instance_id != instance.pk:
        raise ValidationError({"contact_id": [_("This contact belongs to another instance.")]})
    # No savepoint inside a caller's transaction (the API's): nothing here is caught and carried on from.
    with transaction.atomic(savepoint=False):
        conversation, created = conversation_get_or_create(company=company, instance=instance, contact=contact)
        fields: dict[str, Any] = {}
        if conversation.status == Conversation.Status.CLOSED:
            fields.update(status=Conversation.Status.OPEN, closed_at=None)
        if priority:
            fields["priority"] = priority
        if assignee is not None:
            fields["assignee"] = assignee
        if fields:
            Conversation.objects.filter(company=company, pk=conversation.pk).update(**fields)
            conversation.refresh_from_db()
        if "status" in fields:  # reopened: told as _conversation_update tells it
            _emit_conversation(company, conversation, "conversation.opened")
        if created or fields:  # an unchanged conversation has nothing to redraw (each push renders three partials)
            events.conversation_changed(company=company, conversation=conversation)
    return conversation, created


def _emit_conversation(company: Company, conversation: Conversation, event_type: str, **extra) -> None:
    integration_services.event_emit(company=company, event_type=event_type,
                                    payload={**integration_payloads.conversation_data(conversation), **extra})


def _conversation_update(company: Company, conversation: Conversation, actor: str = "", **fields) -> Conversation:
    """Apply fields; emit conversation.assigned / .closed / .opened for what really changed, and
    conversation.updated for a change none of those tells (the priority; open ↔ pending). Closing also hands the
    contact back to its bot (a pause lasts at most until the conversation closes)."""
    with transaction.atomic():
        before = Conversation.objects.filter(company=company, pk=conversation.pk).values(
            "status", "assignee_id", "priority")[0]
        Conversation.objects.filter(company=company, pk=conversation.pk).update(**fields)
        conversation.refresh_from_db()
        events.conversation_changed(company=company, conversation=conversation)
        changed = []
        if "assignee" in fields and before["assignee_id"] != conversation.assignee_id:
            _emit_conversation(company, conversation, "conversation.assigned")
        if "status" in fields and before["status"] != conversation.status:
            if conversation.status == Conversation.Status.CLOSED:
                _emit_conversation(company, conversation, "conversation.closed")
                bots.bot_resume(company=company, contact=conversation.contact, actor=actor or bots.SYSTEM_ACTOR,
                                reason=BotPauseChange.Reason.CONVERSATION_CLOSED)
            elif before["status"] == Conversation.Status.CLOSED:
                _emit_conversation(company, conversation, "conversation.opened")
            else:
                changed.append("status")
        if "priority" in fields and before["priority"] != conversation.priority:
            changed.append("priority")
        if changed:
            _emit_conversation(company, conversation, "conversation.updated", changed=changed)
    return conversation


def conversation_assign(*, company: Company, conversation: Conversation, assignee: User | None) -> Conversation:
    """Give the conversation to a member (the caller resolved `assignee` inside the company), or to nobody."""
    return _conversation_update(company, conversation, assignee=assignee)


def conversation_set_status(*, company: Company, conversation: Conversation, status: str,
                            actor: str = "") -> Conversation:
    """Open, set pending or close; `actor` (member or API key) is recorded if closing resumes the bot."""
    if status not in Conversation.Status.values:
        raise ValidationError({"status": [_("Unknown status.")]})
    closed_at = timezone.now() if status == Conversation.Status.CLOSED else None
    return _conversation_update(company, conversation, actor=actor, status=status, closed_at=closed_at)


def conversation_set_priority(*, company: Company, conversation: Conversation, priority: str) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ValidationError({"priority": [_("Unknown priority.")]})
    return _conversation_update(company, conversation, priority=priority)


def conversation_mark_read(*, company: Company, conversation: Conversation) -> Conversation:
    """An agent opened the thread: the unread badge goes to zero (only when it was not already)."""
    if Conversation.objects.filter(company=company, pk=conversation.pk, unread_count__gt=0).update(unread_count=0):
        conversation.unread_count = 0
        events.conversation_changed(company=company, conversation=conversation)
    return conversation


_touch_updates: dict[tuple[bool, bool, bool], Prepared] = {}


def _touch_update(*, unread: bool, reopen: bool, locked: bool) -> Prepared:
    """The touch's UPDATE for one combination of what moves (prepared once each). Locked: the values in hand,
    written as they are; unlocked: expressions that move the stored row (time never backwards, one more unread)."""
    if (unread, reopen, locked) not in _touch_updates:
        def values(p) -> dict[str, Any]:
            fields: dict[str, Any] = {"last_message_at": p.at if locked else Greatest(F("last_message_at"), p.at),
                                      "last_message_preview": p.preview}
            if unread:
                fields["unread_count"] = p.unread if locked else F("unread_count") + 1
            if reopen:
                fields.update(status=Conversation.Status.OPEN, closed_at=None)
            return fields

        kinds = {"pk": int, "at": datetime, "preview": str, **({"unread": int} if unread and locked else {})}
        _touch_updates[unread, reopen, locked] = Prepared.update(lambda p: Conversation.objects.filter(pk=p.pk),
                                                                 values, **kinds)
    return _touch_updates[unread, reopen, locked]


def conversation_touch(*, company: Company, conversation: Conversation, message: Message,
                       unread: bool = False, reopen: bool = False, locked: bool = False) -> None:
    """Move the conversation's last activity (never backwards), preview and unread count with F() expressions
    (one prepared UPDATE).

    `locked`: the caller holds the row locked (conversation_get_or_create(lock=True)) in this transaction, so the
    object in hand is what is stored: it is moved and its values written as they are (cheaper to build than the
    expressions), and it stays exactly what the row holds."""
    if locked:
        conversation.last_message_at = max(conversation.last_message_at, message.created_at)
        conversation.last_message_preview = message.preview[:200]
        if unread:
            conversation.unread_count += 1
        if reopen:
            conversation.status, conversation.closed_at = Conversation.Status.OPEN, None
        _touch_update(unread=unread, reopen=reopen, locked=True).execute(
            pk=conversation.pk, at=conversation.last_message_at, preview=conversation.last_message_preview,
            **({"unread": conversation.unread_count} if unread else {}))
        return
    if (scope := current_company()) is not None and scope.pk != company.pk:
        return  # another company's scope moves none of its rows (as the manager's filters would)
    _touch_update(unread=unread, reopen=reopen, locked=False).execute(
        pk=conversation.pk, at=message.created_at, preview=message.preview[:200])


# --- sending --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    """What to send, already validated by the form or serializer (resolved inside the company)."""

    kind: str
    text: str = ""
    media_url: str = ""
    media_base64: str = ""
    media_upload: Any = None  # an UploadedFile from the composer
    mimetype: str = ""
    filename: str = ""
    voice: bool = False
    latitude: float | None = None
    longitude: float | None = None
    location_name: str = ""
    location_address: str = ""
    contacts: tuple[dict, ...] = ()
    interactive: dict | None = None
    quoted: Message | None = None
    reaction_target: Message | None = None
    emoji: str = ""


def _validate(outgoing: Outgoing) -> None:
    kind = outgoing.kind
    if kind not in Kind.values or kind == Kind.UNKNOWN:
        raise ValidationError({"kind": [_("Unknown message kind.")]})
    if kind == Kind.TEXT and not outgoing.text.strip():
        raise ValidationError({"text": [_("Write a message.")]})
    if kind in MEDIA_KINDS and not (outgoing.media_url or outgoing.media_base64 or outgoing.media_upload):
        raise ValidationError({"media": [_("Give the file as a URL, as base64 or as an upload.")]})
    if kind == Kind.LOCATION and (outgoing.latitude is None or outgoing.longitude is None):
        raise ValidationError({"latitude": [_("A location needs a latitude and a longitude.")]})
    if kind == Kind.CONTACT and not outgoing.contacts:
        raise ValidationError({"contacts": [_("Give at least one contact card.")]})
    if kind == Kind.REACTION and outgoing.reaction_target is None:
        raise ValidationError({"reaction_to": [_("Say which message the reaction is for.")]})
    target = outgoing.reaction_target
    if kind == Kind.REACTION and target.status == MessageStatus.FAILED and not target.gateway_message_id:
        # WhatsApp knows a message by its id: a reaction to a send that never reached it would point at nothing
        # on the phone. (One still queued is fine: its chat's drain sends it first and the reaction then names it.)
        raise ValidationError({"reaction_to": [_("This message has not reached WhatsApp: it cannot be reacted to.")]})
    if kind == Kind.INTERACTIVE and not outgoing.interactive:
        raise ValidationError({"interactive": [_("Describe the list or the buttons.")]})


def _media_file(outgoing: Outgoing) -> ContentFile | None:
    if outgoing.media_upload is not None:
        return outgoing.media_upload
    if not outgoing.media_base64:
        return None
    payload = outgoing.media_base64.split("base64,", 1)[-1]
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError({"media": [_("The base64 media could not be decoded.")]}) from None
    if len(data) > MAX_MEDIA_BYTES:
        raise ValidationError({"media": [_("The file is larger than 16 MB.")]})
    return ContentFile(data, name=outgoing.filename or f"{uuid.uuid4().hex}.bin")


def message_build(*, company: Company, conversation: Conversation, outgoing: Outgoing, sender_type: str,
                  sender_label: str = "", idempotency_key: str | None = None) -> Message:
    """The row of a send, validated and not stored yet. Its media file is written by the INSERT
    (messages_store: FileField commits it as the row is saved), so a bulk refused at a later message leaves no
    file behind."""
    _validate(outgoing)
    media = _media_file(outgoing)
    message = Message(
        company=company, conversation=conversation, instance_id=conversation.instance_id,
        direction=Message.Direction.OUT, kind=outgoing.kind, text=outgoing.text.strip(),
        media_url=outgoing.media_url, media_mimetype=outgoing.mimetype[:120],
        media_filename=(outgoing.filename or getattr(media, "name", "") or "")[:255], is_voice=outgoing.voice,
        latitude=outgoing.latitude, longitude=outgoing.longitude, location_name=outgoing.location_name[:200],
        location_address=outgoing.location_address[:300], contacts=list(outgoing.contacts),
        interactive=outgoing.interactive or {}, quoted=outgoing.quoted,
        quoted_text=(outgoing.quoted.text if outgoing.quoted else "")[:1000],
        reaction_target=outgoing.reaction_target, emoji=outgoing.emoji, sender_type=sender_type,
        sender_label=sender_label[:120], status=MessageStatus.QUEUED, status_rank=STATUS_RANK[MessageStatus.QUEUED],
        idempotency_key=idempotency_key or None, created_at=timezone.now(),
    )
    if media is not None:
        message.media_file = media  # uncommitted: written under upload_to when the row is inserted
    if message.kind == Kind.REACTION:
        message.reaction_target_gateway_id = outgoing.reaction_target.gateway_message_id or ""
    return message


def message_send(
    *, company: Company, conversation: Conversation, outgoing: Outgoing, sender_type: str, sender_label: str = "",
    idempotency_key: str | None = None,
) -> tuple[Message, bool]:
    """Store the message `queued` and send it after commit; with an idempotency key, a repeat returns the first."""
    if idempotency_key:
        existing = first_row(Message.objects.filter(company=company, idempotency_key=idempotency_key))
        if existing is not None:
            return existing, False
    message = message_build(company=company, conversation=conversation, outgoing=outgoing, sender_type=sender_type,
                            sender_label=sender_label, idempotency_key=idempotency_key)
    try:
        # A savepoint only where an IntegrityError is caught and the caller's transaction goes on: a concurrent
        # repeat of the same Idempotency-Key.
        with transaction.atomic(savepoint=bool(idempotency_key)):
            if message.kind == Kind.REACTION:
                # Our newest reaction on a message replaces our earlier one, as on the phone.
                Message.objects.filter(company=company, reaction_target=outgoing.reaction_target,
                                       kind=Kind.REACTION, direction=Message.Direction.OUT).update(is_deleted=True)
            messages_store(company=company, messages=[message])
    except IntegrityError:
        if idempotency_key:
            existing = Message.objects.filter(company=company, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing, False
        raise
    return message, True


def messages_store(*, company: Company, messages: list[Message], locked: bool = False) -> None:
    """Store built sends (message_build) `queued`, in the caller's transaction and in their order: one INSERT
    for all of them, one touch per conversation (its last message), one wake per drain slot after commit, and
    their live pushes. Not for reactions but one at a time (message_send: each replaces our earlier one on its
    target, in order). `locked`: the caller holds their conversations locked, in hand as stored."""
    Message.insert_all(messages)
    last: dict[int, Message] = {}
    for message in messages:
        last[message.conversation_id] = message
    for message in last.values():
        conversation_touch(company=company, conversation=message.conversation, message=message, locked=locked)
        if message.sender_type == Message.SenderType.AGENT:
            # A person answered from the inbox: the bot steps back for this contact (bots answer via the API).
            bots.auto_pause(company=company, contact=message.conversation.contact,
                            reason=BotPauseChange.Reason.AGENT_REPLY, actor=message.sender_label)
    from messaging import outbound

    woken: set[tuple[int, int]] = set()
    for message in messages:
        drain = (message.instance_id, outbound.outbound_slot(message.conversation_id))
        if drain not in woken:  # one wake-up per drain slot: its drain sends every message of it
            woken.add(drain)
            _enqueue(company, message)
        events.message_new(company=company, message=message, conversation=message.conversation)
    for message in last.values():
        events.conversation_changed(company=company, conversation=message.conversation, header=False)


def _enqueue(company: Company, message: Message) -> None:
    """After commit, make sure the drain of the message's chat will send it (messaging/outbound.py)."""
    from messaging import outbound

    instance_id, slot = message.instance_id, outbound.outbound_slot(message.conversation_id)
    transaction.on_commit(lambda: outbound.outbound_wake(company.pk, instance_id, slot))


def message_retry(*, company: Company, message: Message) -> Message:
    """Send a failed message again (the one way a status moves back)."""
    with transaction.atomic():
        rows = Message.objects.filter(company=company, pk=message.pk, status=MessageStatus.FAILED).update(
            status=MessageStatus.QUEUED, status_rank=STATUS_RANK[MessageStatus.QUEUED], error="", attempts=0,
            failed_at=None, claimed_until=None, retry_at=None, retries=F("retries") + 1,
        )
        if not rows:
            raise MessagingError(_("Only a failed message can be sent again."))
        message.refresh_from_db()
        _enqueue(company, message)
        events.message_changed(company=company, message=message)
    return message


@dataclass(frozen=True)
class DeliveryOutcome:
    result: str  # sent | failed | retry | skipped
    retry_in: float | None = None


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter on top: 2, 4, 8 … seconds (capped), plus up to one base."""
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return delay + random.uniform(0, RETRY_BASE_SECONDS)  # noqa: S311 (jitter, not security)


def sendable_at(now: datetime) -> Q:
    """Unsent and sendable now: queued, or claimed by a drain whose lease has passed; not waiting for a backoff."""
    return ((Q(retry_at__isnull=True) | Q(retry_at__lte=now))
            & (Q(status=MessageStatus.QUEUED) | Q(status=MessageStatus.SENDING, claimed_until__lt=now)))


def _outbox(company: Company, instance_id: int, slot: int | None, slots: int, now: datetime):
    """The instance's unsent messages of one drain slot that no earlier unsent message of their conversation
    holds back: one waiting for its backoff, or claimed and not answered yet, keeps the chat's later messages
    behind it, so a chat's messages leave in the order they were written."""
    unsent = Q(direction=Message.Direction.OUT, status__in=(MessageStatus.QUEUED, MessageStatus.SENDING))
    not_due = Q(retry_at__gt=now) | Q(status=MessageStatus.SENDING, claimed_until__gte=now)
    held_back = Message.objects.filter(unsent, not_due, company=company, conversation=OuterRef("conversation"),
                                       pk__lt=OuterRef("pk"))
    rows = Message.objects.filter(unsent, company=company, instance_id=instance_id).filter(~Exists(held_back))
    if slot is not None:
        # A big integer (as conversation ids are), so a prepared query's placeholders fit its range.
        rows = rows.alias(slot=Mod("conversation_id", slots, output_field=BigIntegerField())).filter(slot=slot)
    return rows


@dataclass(frozen=True)
class Claimed:
    """A message a drain claimed, with what it was before: a send taken over from an expired claim first asks
    the gateway whether that attempt went out (`previous_lease`)."""

    message: Message
    previous_lease: datetime | None


def messages_claim(*, company: Company, instance_id: int, slot: int | None, slots: int, limit: int,
                   instances: dict[int, Instance] | None = None) -> list[Claimed]:
    """Claim up to `limit` of the slot's sendable messages, oldest first, that no other drain holds (`SKIP
    LOCKED`): each becomes `sending` with a lease and one more attempt. Returned loaded for sending, oldest
    first. `instances`: the caller's instances by id (a drain's run keeps its one instance, with its server and
    their decrypted secrets, instead of reading them with every message)."""
    if (scope := current_company()) is not None and scope.pk != company.pk:
        return []  # another company's scope claims none of its rows (as the manager's filters would)
    instances = {} if instances is None else instances
    instance = instances.get(instance_id)
    if instance is None:
        instance = first_row(Instance.objects.filter(company=company, pk=instance_id).select_related("server"))
        if instance is None:
            return []
        instances[instance_id] = instance
    now = timezone.now()
    claim = {"status": MessageStatus.SENDING, "status_rank": STATUS_RANK[MessageStatus.SENDING],
             "claimed_until": now + CLAIM_LEASE, "retry_at": None}
    with transaction.atomic():  # one statement on PostgreSQL; Django compiles FOR UPDATE only in a transaction
        before = _claim_rows(company, instance_id, slot, slots, limit, claim, now)
    if not before:
        return []
    # Sorted here, not by an ORDER BY: compiling one over these joins costs more CPU than the query itself.
    messages = sorted(_claimed_load(list(before)), key=lambda message: message.pk)
    for message in messages:
        message.instance = instance
    return [Claimed(message, before[message.pk][1] if before[message.pk][0] == MessageStatus.SENDING else None)
            for message in messages]


# A drain claims and loads its batch with two statements whose ORM build cost more CPU than running them (about
# 5 ms each on a slow machine; a drain that keeps up claims a message or two at a time): both are prepared, one
# per shape (whether the drain has a slot, how many it may take; how many it took).
_claim_selections: dict[tuple[bool, int], Prepared] = {}
_claimed_loads: dict[int, Prepared] = {}


def _claim_selection(slotted: bool, limit: int) -> Prepared:
    """The drain's sendable messages, oldest first, skipping those another transaction holds."""
    if (slotted, limit) not in _claim_selections:
        _claim_selections[slotted, limit] = Prepared(
            lambda p: _outbox(current_company(), p.instance, p.slot if slotted else None, p.slots if slotted else 0,
                              p.now).filter(sendable_at(p.now)).order_by("pk")
            .select_for_update(of=("self",), skip_locked=True).values_list("pk", "status", "claimed_until")[:limit],
            instance=int, now=datetime, **({"slot": int, "slots": int} if slotted else {}))
    return _claim_selections[slotted, limit]


def _claimed_load(pks: list[int]) -> list[Message]:
    """The claimed messages with what a send reads (conversation, contact, quote, reaction target)."""
    pks = padded(pks)
    count = len(pks)
    keys = [f"pk{index}" for index in range(count)]
    if count not in _claimed_loads:
        _claimed_loads[count] = Prepared(
            lambda p: Message.objects.filter(pk__in=[getattr(p, key) for key in keys]).order_by()
            .values_list(*columns(Message), *columns(Conversation, "conversation"),
                         *columns(Contact, "conversation__contact"), *columns(Message, "quoted"),
                         *columns(Message, "reaction_target")),
            **dict.fromkeys(keys, int))
    messages = []
    for row in _claimed_loads[count].rows(**dict(zip(keys, pks, strict=True))):
        message = model_from(Message, row[:(end := width(Message))])
        message.conversation = model_from(Conversation, row[end:(end := end + width(Conversation))])
        message.conversation.contact = model_from(Contact, row[end:(end := end + width(Contact))])
        quoted, target = row[end:end + width(Message)], row[end + width(Message):]
        message.quoted = model_from(Message, quoted) if message.quoted_id is not None else None
        message.reaction_target = model_from(Message, target) if message.reaction_target_id is not None else None
        messages.append(message)
    return messages


def _claim_rows(company: Company, instance_id: int, slot: int | None, slots: int, limit: int, claim: dict,
                now: datetime) -> dict[int, tuple[str, datetime | None]]:
    """Mark the selected messages claimed; what each was before (status, lease), by id."""
    if connection.vendor == "postgresql":
        chosen, params = _claim_selection(slot is not None, limit).sql_with_params(
            instance=instance_id, now=now, **({"slot": slot, "slots": slots} if slot is not None else {}))
        table = Message._meta.db_table
        # One statement: the locked selection, materialised once, and its rows marked claimed; what they were
        # before comes back with them. The table's name and the ORM's own SQL; every value is a parameter.
        sql = (f"WITH chosen (id, status, claimed_until) AS ({chosen}) "  # noqa: S608
               f"UPDATE {table} SET status = %s, status_rank = %s, claimed_until = %s, retry_at = NULL, "
               f"attempts = {table}.attempts + 1 FROM chosen WHERE {table}.id = chosen.id "
               f"RETURNING chosen.id, chosen.status, chosen.claimed_until")
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, claim["status"], claim["status_rank"], claim["claimed_until"]])
            before = {pk: (status, lease) for pk, status, lease in cursor.fetchall()}
    else:  # SQLite (development): one writer at a time; each row claimed only if still sendable
        before = {}
        selection = (_outbox(company, instance_id, slot, slots, now).filter(sendable_at(now)).order_by("pk")
                     .values_list("pk", "status", "claimed_until")[:limit])
        for pk, status, lease in selection:
            rows = Message.objects.filter(sendable_at(now), company=company, pk=pk)
            if rows.update(**claim, attempts=F("attempts") + 1):
                before[pk] = (status, lease)
    return before


def messages_hand_back(*, company: Company, messages: list[Message]) -> None:
    """Claimed messages a drain will not send now (an earlier message of their chat must go first): queued
    again, their attempt not counted."""
    Message.objects.filter(company=company, pk__in=[message.pk for message in messages],
                           status=MessageStatus.SENDING).update(
        status=MessageStatus.QUEUED, status_rank=STATUS_RANK[MessageStatus.QUEUED], claimed_until=None,
        attempts=Greatest(F("attempts") - 1, 0))


def outbox_next_due(*, company: Company, instance_id: int, slot: int | None, slots: int) -> datetime | None:
    """When the slot's next message becomes sendable (now or earlier when one is already), or None when the slot
    has nothing left to send."""
    now = timezone.now()
    moment = Case(When(status=MessageStatus.SENDING, then=Greatest(Coalesce("retry_at", "claimed_until"),
                                                                   "claimed_until")),
                  default=Coalesce("retry_at", Value(now)))
    return _outbox(company, instance_id, slot, slots, now).aggregate(next=Min(moment))["next"]


def message_deliver(*, company: Company, claimed: Claimed, gateways: dict | None = None,
                    sent: list | None = None, call: Future | None = None) -> DeliveryOutcome:
    """Send one claimed message and record the outcome: `sent`, `failed`, or `retry` (queued again with a
    backoff, or left claimed after a send with no answer, to be looked up when its lease ends). `gateways`:
    clients kept open for a batch (`gateway_call`). `sent`: a batch's list a successful send is added to, for
    `messages_record_sent` to record with the others in one transaction; without it, it is recorded at once.
    `call`: the gateway call already started for it (`gateway_call` in another thread), answered or not."""
    message = claimed.message

    def record(result: SendResult) -> DeliveryOutcome:
        if sent is None:
            _record_sent(company, message, result)
        else:
            sent.append((message, result))
        return DeliveryOutcome("sent")

    if claimed.previous_lease is not None:
        # Taking over an expired claim: that attempt may have reached the gateway and died before recording it.
        try:
            earlier = _earlier_send(company, message, since=claimed.previous_lease - CLAIM_LEASE - CLOCK_SKEW)
        except GatewayError as error:  # transient: we cannot tell yet, and a blind resend could be a duplicate
            return _lookup_failed(company, message, error)
        if earlier is not None:
            return record(earlier)
    try:
        result = call.result() if call is not None else gateway_call(message, gateways)
    except GatewayTimeout as error:
        if message.attempts >= MAX_ATTEMPTS:
            return _record_failure(company, message, error)
        # No answer, but the send may have gone out: left claimed, it is taken over when the lease ends, and the
        # takeover asks the gateway first, as after a worker that died.
        logger.info("send of message %s got no answer (%s); asking the gateway after the lease", message.pk, error)
        return DeliveryOutcome("retry", (message.claimed_until - timezone.now()).total_seconds() + 1)
    except GatewayError as error:
        return _record_failure(company, message, error)
    return record(result)


def _earlier_send(company: Company, message: Message, *, since: datetime) -> SendResult | None:
    """What the gateway says an earlier attempt sent for this message, if it did (then we must not send again).

    Raises transient GatewayErrors; a gateway that cannot list its messages (v1) means "cannot tell": send."""
    instance = message.instance
    until = timezone.now() + CLOCK_SKEW
    try:
        with instance_services.gateway(instance.server) as root:
            gw = root.with_api_key(instance.token)
            records = [record for jid in _chat_jids(company, message)
                       for record in gw.find_sent_messages(instance.gateway_name, jid, since, until)]
    except GatewayError as error:
        if error.transient:
            raise
        logger.warning("message %s: cannot ask the gateway what it sent (%s); sending again, at least once",
                       message.pk, error)
        return None
    taken = set(Message.objects.filter(company=company, instance_id=message.instance_id,
                                       gateway_message_id__in=[record.id for record in records])
                .exclude(pk=message.pk).values_list("gateway_message_id", flat=True))
    record = _matching_record(message, records, taken)
    if record is None:
        return None
    logger.info("message %s was already sent as %s; recorded without sending again", message.pk, record.id)
    return SendResult(message_id=record.id, remote_jid=record.remote_jid, from_me=True, status=None,
                      timestamp=record.timestamp, message_type=record.message_type, raw=record.raw)


def _matching_record(message: Message, records: list[SentRecord], taken: set[str]) -> SentRecord | None:
    """The gateway's record of this message: same kind, same text or caption (kinds without one: the kind alone),
    its id on none of our other messages. Of several, the oldest: the one nearest the earlier attempt."""
    with_text = (Kind.TEXT, Kind.IMAGE, Kind.VIDEO, Kind.DOCUMENT)
    matches = [record for record in records if record.id not in taken and record.kind == message.kind
               and (message.kind not in with_text or (record.text or "").strip() == message.text.strip())]
    return min(matches, key=lambda record: record.timestamp or timezone.now(), default=None)


def _chat_jids(company: Company, message: Message) -> list[str]:
    """Every JID the gateway may keep this chat under: each form of the contact (9th digit or not, LID)."""
    contact = message.conversation.contact
    forms = ContactIdentifier.objects.filter(company=company, contact=contact).values_list("identifier", flat=True)
    return sorted({chat_jid_of(identifier) for identifier in [contact.identifier, *forms]})


def _lookup_failed(company: Company, message: Message, error: GatewayError) -> DeliveryOutcome:
    if message.attempts >= MAX_ATTEMPTS:
        return _record_failure(company, message, error)
    logger.info("message %s: cannot ask the gateway what it sent (%s), attempt %s; retrying", message.pk, error,
                message.attempts)
    # Claimed, with a lease that has passed, after a backoff: the next attempt is a takeover again, so it asks
    # again, over the same time window, before sending.
    delay = backoff(message.attempts)
    now = timezone.now()
    Message.objects.filter(company=company, pk=message.pk, status=MessageStatus.SENDING).update(
        claimed_until=now, retry_at=now + timedelta(seconds=delay), error=_failure_reason(error))
    return DeliveryOutcome("retry", delay)


def _record_failure(company: Company, message: Message, error: GatewayError) -> DeliveryOutcome:
    reason = _failure_reason(error)
    sending = Message.objects.filter(company=company, pk=message.pk, status=MessageStatus.SENDING)
    if error.transient and message.attempts < MAX_ATTEMPTS:
        logger.info("send of message %s failed (%s), attempt %s; retrying", message.pk, error, message.attempts)
        delay = backoff(message.attempts)
        sending.update(status=MessageStatus.QUEUED, status_rank=STATUS_RANK[MessageStatus.QUEUED], error=reason,
                       claimed_until=None, retry_at=timezone.now() + timedelta(seconds=delay))
        return DeliveryOutcome("retry", delay)
    now = timezone.now()
    with transaction.atomic():
        failed = sending.update(status=MessageStatus.FAILED, status_rank=STATUS_RANK[MessageStatus.FAILED],
                                error=reason, failed_at=now, claimed_until=None)
        events.message_changed(company=company, message=message)
        if failed:  # the integrator learns the send's fate as it learns each tick (docs/webhooks.md)
            message.status, message.status_rank = MessageStatus.FAILED, STATUS_RANK[MessageStatus.FAILED]
            message.error, message.failed_at, message.claimed_until = reason, now, None
            integration_services.event_emit(company=company, event_type="message.status",
                                            payload=integration_payloads.message_status_data(message, now))
    return DeliveryOutcome("failed")


def _failure_reason(error: GatewayError) -> str:
    """Stored as written here (English; the API gives it as is) and translated where a page shows it."""
    if isinstance(error, NumberNotOnWhatsApp):
        return gettext_noop("This number is not on WhatsApp.")
    return (error.message or type(error).__name__)[:500]


def messages_record_sent(*, company: Company, sent: list[tuple[Message, SendResult]]) -> None:
    """Record a batch's sends together: one UPDATE, one commit, the company's webhook endpoints read once, the
    early ticks looked up in one cache call. When one of them finds the gateway's echo of its send stored first
    (IntegrityError), the batch's transaction is gone and each is recorded on its own instead, absorbing its
    echo."""
    sent = [(message, result) for message, result in sent if message.company_id == company.pk]
    if len(sent) <= 1:
        for message, result in sent:
            _record_sent(company, message, result)
        return
    now = timezone.now()
    try:
        with transaction.atomic(), integration_services.webhook_endpoints_read_once(company=company):
            _write_sent_rows(company, sent, now)
            for message, result in sent:
                _sent_in_hand(message, result, now)
                _sent_recorded(company, message)
    except IntegrityError:
        for message, result in sent:
            _record_sent(company, message, result)
        return
    _apply_early_statuses(company, sent)


def _write_sent_rows(company: Company, sent: list[tuple[Message, SendResult]], now: datetime) -> None:
    """The batch's sends written in one statement on PostgreSQL (`UPDATE … FROM (VALUES …)`), each row its own
    gateway id and chat; one UPDATE per row elsewhere (SQLite, development)."""
    if connection.vendor != "postgresql":
        for message, result in sent:
            Message.objects.filter(company=company, pk=message.pk).update(**_sent_fields(message, result, now))
        return
    table = Message._meta.db_table
    rows = ", ".join(["(%s::bigint, %s::varchar, %s::varchar)"] * len(sent))
    values = [value for message, result in sent
              for value in (message.pk, result.message_id, result.remote_jid or message.remote_jid)]
    # The table's name and placeholders only: every value is a parameter.
    sql = (f"UPDATE {table} SET status = %s, status_rank = %s, error = '', "  # noqa: S608
           f"gateway_message_id = sent.gateway_id, remote_jid = sent.remote_jid, "
           f"sent_at = COALESCE({table}.sent_at, %s), claimed_until = NULL "
           f"FROM (VALUES {rows}) AS sent (id, gateway_id, remote_jid) "
           f"WHERE {table}.company_id = %s AND {table}.id = sent.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [MessageStatus.SENT, STATUS_RANK[MessageStatus.SENT], now, *values, company.pk])


def _sent_fields(message: Message, result: SendResult, now: datetime) -> dict[str, Any]:
    return {
        "status": MessageStatus.SENT, "status_rank": STATUS_RANK[MessageStatus.SENT], "error": "",
        "gateway_message_id": result.message_id, "remote_jid": result.remote_jid or message.remote_jid,
        "sent_at": Coalesce(F("sent_at"), now), "claimed_until": None,
    }


def _write_sent(company: Company, message: Message, result: SendResult, now: datetime) -> None:
    """The UPDATE of one send, in the caller's transaction, and the object in hand set as written."""
    _write_sent_rows(company, [(message, result)], now)  # the batch's statement: nothing for the ORM to build
    _sent_in_hand(message, result, now)
    _sent_recorded(company, message)


def _sent_in_hand(message: Message, result: SendResult, now: datetime) -> None:
    """The object in hand set as its send was written (the claim holds the row: nobody else moves it. A refresh
    would cost a statement, a full one three more: the payload reading instance, conversation and contact
    again)."""
    message.status, message.status_rank, message.error = MessageStatus.SENT, STATUS_RANK[MessageStatus.SENT], ""
    message.gateway_message_id, message.remote_jid = result.message_id, result.remote_jid or message.remote_jid
    message.sent_at, message.claimed_until = message.sent_at or now, None


def _record_sent(company: Company, message: Message, result: SendResult) -> None:
    now = timezone.now()
    try:
        with transaction.atomic():
            _write_sent(company, message, result, now)
    except IntegrityError:
        # The gateway's own echo of this send (SEND_MESSAGE) was stored first: ours is the real row.
        fields = _sent_fields(message, result, now)
        with transaction.atomic():
            rank = _absorb_echo(company, message, result.message_id)
            # The echo's ticks (delivered, read…) stay: a status never moves back.
            fields.update(status_rank=rank, status=next(status for status, value in STATUS_RANK.items()
                                                        if value == rank))
            Message.objects.filter(company=company, pk=message.pk).update(**fields)
            message.refresh_from_db(fields=list(fields))
            _sent_recorded(company, message)
    _apply_early_status(company, message, result.message_id)


def _sent_recorded(company: Company, message: Message) -> None:
    events.message_sent_changed(company=company, message=message)
    integration_services.event_emit(company=company, event_type="message.sent",
                                    payload=integration_payloads.message_data(message))


def _absorb_echo(company: Company, message: Message, gateway_message_id: str) -> int:
    """Fold the echo stored first into our message (its reactions and replies move over, the echo row goes);
    the status rank the echo had reached (ticks never go back), SENT's when there is none."""
    echo = Message.objects.filter(company=company, instance_id=message.instance_id,
                                  gateway_message_id=gateway_message_id).exclude(pk=message.pk).first()
    if echo is None:
        return STATUS_RANK[MessageStatus.SENT]
    Message.objects.filter(company=company, reaction_target=echo).update(reaction_target=message)
    Message.objects.filter(company=company, quoted=echo).update(quoted=message)
    echo.delete()
    return max(echo.status_rank, STATUS_RANK[MessageStatus.SENT])


def chat_jid(contact: Contact) -> str:
    return chat_jid_of(contact.identifier)


def chat_jid_of(identifier: str) -> str:
    return identifier if "@" in identifier else f"{identifier}@s.whatsapp.net"


def _key(message: Message, fallback_jid: str) -> MessageKey:
    return MessageKey(remote_jid=message.remote_jid or fallback_jid, id=message.gateway_message_id or "",
                      from_me=message.direction == Message.Direction.OUT,
                      participant=message.participant_jid or None)


def _media_source(message: Message) -> str:
    if message.media_url:
        return message.media_url
    with message.media_file.open("rb") as stored:
        return base64.b64encode(stored.read()).decode()


def gateway_open(message: Message, opened: dict) -> None:
    """The client of the message's instance among a drain's batch clients (by instance), taken if it is not there
    yet: its server's pooled adapter (instances.services.pooled_gateway) under the instance's token, so the
    sends of every batch of the process reuse their connections."""
    instance = message.instance
    if instance.pk not in opened:
        root = instance_services.pooled_gateway(instance.server, timeout=SEND_TIMEOUT)
        opened[instance.pk] = root.with_api_key(instance.token)


def gateway_call(message: Message, opened: dict | None = None) -> SendResult:
    """Send through the message's instance. `opened`: a drain batch's clients (`gateway_open`). Reads nothing
    from the database (the claim loaded the chat, the quote and the reaction's target): a drain runs several at
    once in other threads, sharing the batch's clients (an httpx client may be shared between threads)."""
    instance = message.instance
    contact = message.conversation.contact
    number, jid = contact.identifier, chat_jid(contact)
    quoted = message.quoted
    options = SendOptions(quoted=Quoted(_key(quoted, jid), quoted.text or None)) if (
        quoted is not None and quoted.gateway_message_id) else SendOptions()
    opened = {} if opened is None else opened
    gateway_open(message, opened)
    return _dispatch(opened[instance.pk], instance.gateway_name, number, jid, message, options)


def _dispatch(gw, name: str, number: str, jid: str, message: Message, options: SendOptions) -> SendResult:
    kind = message.kind
    if kind == Kind.TEXT:
        return gw.send_text(name, number, message.text, options)
    if kind == Kind.AUDIO and message.is_voice:
        return gw.send_voice_note(name, number, _media_source(message), options)
    if kind == Kind.STICKER:
        return gw.send_sticker(name, number, _media_source(message), options)
    if kind in MEDIA_KINDS:
        media = Media(media=_media_source(message), mediatype=kind, mimetype=message.media_mimetype or None,
                      caption=message.text or None, file_name=message.media_filename or None)
        return gw.send_media(name, number, media, options)
    if kind == Kind.LOCATION:
        location = Location(latitude=message.latitude, longitude=message.longitude,
                            name=message.location_name, address=message.location_address)
        return gw.send_location(name, number, location, options)
    if kind == Kind.CONTACT:
        cards = [ContactCard(full_name=card.get("full_name", ""), phone_number=card.get("phone_number", ""))
                 for card in message.contacts]
        return gw.send_contacts(name, number, cards)
    if kind == Kind.REACTION:
        return gw.send_reaction(name, _key(message.reaction_target, jid), message.emoji)
    return _dispatch_interactive(gw, name, number, message, options)


def _dispatch_interactive(gw, name: str, number: str, message: Message, options: SendOptions) -> SendResult:
    spec = message.interactive
    common = {"title": spec.get("title", ""), "description": spec.get("description", ""),
              "footer": spec.get("footer", ""), "options": options}
    if spec.get("type") == "list":
        sections = [ListSection(title=section.get("title", ""), rows=tuple(
            ListRow(title=row.get("title", ""), row_id=row.get("id", ""), description=row.get("description"))
            for row in section.get("rows", []))) for section in spec.get("sections", [])]
        return gw.send_list(name, number, button_text=spec.get("button_text", ""), sections=sections, **common)
    buttons = [Button(display_text=button.get("text", ""), type=button.get("type", "reply"), id=button.get("id"),
                      url=button.get("url"), phone_number=button.get("phone_number"),
                      copy_code=button.get("copy_code")) for button in spec.get("buttons", [])]
    return gw.send_buttons(name, number, buttons=buttons, **common)


# --- deleting -------------------------------------------------------------------------------------

def message_delete_for_everyone(*, company: Company, message: Message) -> Message:
    """Revoke a sent message on WhatsApp; MessagingError (422) when WhatsApp would not allow it. A private note
    never left Recado: it is marked deleted here alone, with no event for integrators."""
    if message.kind == Kind.NOTE:
        return message_mark_deleted(company=company, message=message, deleted_by="agent", emit=False)
    if message.direction != Message.Direction.OUT:
        raise MessagingError(_("Only messages sent from this number can be deleted for everyone."))
    if message.is_deleted:
        return message
    if not message.gateway_message_id or message.status in (MessageStatus.FAILED, MessageStatus.QUEUED,
                                                             MessageStatus.SENDING):
        raise MessagingError(_("This message was not sent, so there is nothing to delete on WhatsApp."))
    if timezone.now() - (message.sent_at or message.created_at) > DELETE_WINDOW:
        raise MessagingError(_("WhatsApp only allows deleting a message for everyone within about 60 hours."))
    instance = Instance.objects.select_related("server").get(company=company, pk=message.instance_id)
    contact = message.conversation.contact
    try:
        with instance_services.gateway(instance.server, timeout=instance_services.INTERACTIVE_TIMEOUT) as root:
            root.with_api_key(instance.token).delete_message(instance.gateway_name, _key(message, chat_jid(contact)))
    except GatewayError as error:
        if error.transient:
            raise GatewayBusy(_("The gateway did not answer: %(error)s") % {"error": error.message}) from error
        raise MessagingError(error.message) from error
    return message_mark_deleted(company=company, message=message, deleted_by="agent")


def message_mark_deleted(*, company: Company, message: Message, deleted_by: str = "customer",
                         emit: bool = True) -> Message:
    """Shown as deleted, original text kept; also how a revoke event from the gateway lands. `emit`: tell
    integrators (message.deleted); not for a private note, which they were never told of."""
    now = timezone.now()
    rank = STATUS_RANK[MessageStatus.DELETED]
    with transaction.atomic():
        rows = Message.objects.filter(company=company, pk=message.pk, is_deleted=False).update(
            is_deleted=True, deleted_at=Coalesce(F("deleted_at"), now), status=MessageStatus.DELETED,
            status_rank=rank,
        )
        if rows:
            message.refresh_from_db()
            events.message_changed(company=company, message=message)
            conversation_preview_follow(company=company, message=message)
            if emit:
                integration_services.event_emit(
                    company=company, event_type="message.deleted",
                    payload=integration_payloads.message_deleted_data(message, deleted_by=deleted_by))
    return message


def conversation_preview_follow(*, company: Company, message: Message) -> None:
    """A message changed in place (edited, deleted): while it is still its conversation's newest, the list's
    preview follows it ("Message deleted" rather than the text it no longer shows), and open inboxes redraw the
    row. Reactions and private notes never set the preview, so a change to one leaves it alone."""
    if message.kind in (Kind.REACTION, Kind.NOTE):
        return
    later = (Message.objects.filter(company=company, conversation_id=message.conversation_id)
             .filter(Q(created_at__gt=message.created_at) | Q(created_at=message.created_at, pk__gt=message.pk))
             .exclude(kind__in=(Kind.REACTION, Kind.NOTE)))
    newest = Conversation.objects.filter(~Exists(later), company=company, pk=message.conversation_id)
    if newest.update(last_message_preview=message.preview[:200]):
        conversation = Conversation(pk=message.conversation_id, company=company,
                                    public_id=first_row(newest.values_list("public_id", flat=True)))
        events.conversation_changed(company=company, conversation=conversation, header=False)


# Is a gateway message id of this instance stored? (Asked for every message event and every unknown tick.)
GATEWAY_ID_KNOWN = Prepared(lambda p: Message.objects.filter(instance_id=p.instance, gateway_message_id=p.gateway_id)
                            .order_by().values_list("pk")[:1], instance=int, gateway_id=str)
# The message a tick names, with its conversation's public id (the thread's topic) read in the same statement;
# whether the tick moves it is decided on the row (one statement whatever the answer: the SERVER_ACK that follows
# every send finds its message already sent, and an unknown id needs no second look to be remembered).
_STATUS_TARGET = Prepared(
    lambda p: Message.objects.filter(instance_id=p.instance, gateway_message_id=p.gateway_id).order_by()
    .values_list(*columns(Message), "conversation__public_id")[:1],
    instance=int, gateway_id=str)


_status_updates: dict[str, Prepared] = {}


def _status_update(status: str) -> Prepared:
    """The UPDATE that moves one message to `status`, still only forward (the rank checked again by it)."""
    if status not in _status_updates:
        def values(p) -> dict[str, Any]:
            fields: dict[str, Any] = {"status": status, "status_rank": STATUS_RANK[status]}
            if column := STATUS_TIMESTAMP.get(status):
                fields[column] = Coalesce(F(column), p.now)
            if status == MessageStatus.DELETED:
                fields["is_deleted"] = True
            return fields

        _status_updates[status] = Prepared.update(
            lambda p: Message.objects.filter(pk=p.pk, status_rank__lt=STATUS_RANK[status]), values,
            pk=int, now=datetime)
    return _status_updates[status]


def message_apply_status(*, company: Company, instance: Instance, gateway_message_id: str, status: str,
                         remember_unknown: bool = True) -> bool:
    """Move a message's status forward only (a late or repeated tick changes nothing); True when it moved.

    A tick for an id we do not know yet is remembered for a while (see `_remember_early_status`). Every send
    brings the gateway's ticks (Evolution posts SERVER_ACK, DELIVERY_ACK and READ), so this is on the worker's
    hot path: the message and its conversation's public id in one prepared SELECT, the move in one prepared
    UPDATE that checks the rank again (no savepoint: one statement moves it or not), and the object in hand
    moved as the row was instead of read again; the thread's bubble is read only if someone has it open."""
    rank = STATUS_RANK[status]
    # A failure after the send was acknowledged is a late error report: the message did leave.
    below = min(rank, STATUS_RANK[MessageStatus.SENT]) if status == MessageStatus.FAILED else rank
    with transaction.atomic(savepoint=False):
        row = _STATUS_TARGET.first(instance=instance.pk, gateway_id=gateway_message_id)
        if row is None:
            if status in EARLY_STATUSES and remember_unknown:
                return _remember_early_status(company, instance, gateway_message_id, status)
            return False
        alias = router.db_for_write(Message)
        message = model_from(Message, row[:-1], alias)
        now = timezone.now()
        # The UPDATE checks the rank again: a tick applied meanwhile by another worker is not undone.
        if message.status_rank >= below or not _status_update(status).execute(pk=message.pk, now=now):
            return False
        message.conversation = Conversation.from_db(alias, ["id", "public_id"], [message.conversation_id, row[-1]])
        message.instance = instance
        message.status, message.status_rank = status, rank
        if (column := STATUS_TIMESTAMP.get(status)) and getattr(message, column) is None:
            setattr(message, column, now)
        if status == MessageStatus.DELETED:
            message.is_deleted = True
            conversation_preview_follow(company=company, message=message)
        events.message_changed(company=company, message=message)
        integration_services.event_emit(company=company, event_type="message.status",
                                        payload=integration_payloads.message_status_data(message, now))
    return True


# A tick can reach us before the send task has stored the gateway id (the gateway posts it while our
# request is still waiting for its answer). It is kept for a while and applied when the id is stored.
EARLY_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.PLAYED)
EARLY_STATUS_TTL = 600


def _early_status_key(instance: Instance | int, gateway_message_id: str) -> str:
    instance_id = instance if isinstance(instance, int) else instance.pk
    return f"messaging:early-status:{instance_id}:{gateway_message_id}"


def _remember_early_status(company: Company, instance: Instance, gateway_message_id: str, status: str) -> bool:
    """Note a tick whose message the caller has just found no row for (its send not recorded yet)."""
    def known() -> bool:
        return GATEWAY_ID_KNOWN.first(instance=instance.pk, gateway_id=gateway_message_id) is not None

    key = _early_status_key(instance, gateway_message_id)
    stored = cache.get(key)
    if stored is None or STATUS_RANK[stored] < STATUS_RANK[status]:
        cache.set(key, str(status), EARLY_STATUS_TTL)
    # The send task may have stored the id between our look and the note: look once more.
    if known():
        return message_apply_status(company=company, instance=instance, gateway_message_id=gateway_message_id,
                                    status=status, remember_unknown=False)
    return False


def _apply_early_status(company: Company, message: Message, gateway_message_id: str) -> None:
    status = cache.get(_early_status_key(message.instance_id, gateway_message_id))
    if status:
        message_apply_status(company=company, instance=message.instance, gateway_message_id=gateway_message_id,
                             status=status, remember_unknown=False)


def _apply_early_statuses(company: Company, sent: list[tuple[Message, SendResult]]) -> None:
    """`_apply_early_status` for a batch: the ticks that came before their sends were recorded, in one lookup."""
    keys = {_early_status_key(message.instance_id, result.message_id): (message, result) for message, result in sent}
    for key, status in cache.get_many(list(keys)).items():
        message, result = keys[key]
        message_apply_status(company=company, instance=message.instance, gateway_message_id=result.message_id,
                             status=status, remember_unknown=False)


# --- quick replies ------------------------------------------------------------------------------------

QUICK_REPLY_SHORTCUT = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class QuickReplyShortcutTaken(Exception):
    def __init__(self, shortcut: str) -> None:
        self.message = _("A quick reply “/%(shortcut)s” already exists.") % {"shortcut": shortcut}
        super().__init__(self.message)


def quick_reply_shortcut_clean(shortcut: str) -> str:
    """The shortcut as typed after "/" (a leading "/" dropped, lower case); ValidationError when it is not one."""
    shortcut = (shortcut or "").strip().lstrip("/").lower()
    if not shortcut:
        raise ValidationError(_("Enter a shortcut."))
    if not QUICK_REPLY_SHORTCUT.fullmatch(shortcut):
        raise ValidationError(_("Use up to 40 letters (a-z), digits, “-” or “_”, starting with a letter or a digit."))
    return shortcut


def text_problem(text: str) -> str | None:
    """Why a text Recado keeps for WhatsApp (a note, a quick or an automatic reply) cannot be stored, or None."""
    if len(text) > MAX_TEXT_LENGTH:
        return _("Use at most %(count)s characters.") % {"count": MAX_TEXT_LENGTH}
    if "\x00" in text:
        return _("The text cannot contain NUL characters.")
    return None


def _clean_quick_reply(shortcut: str, text: str) -> tuple[str, str]:
    """The shortcut cleaned (quick_reply_shortcut_clean); the text as written, trimmed."""
    text = (text or "").strip()
    errors: dict[str, list[str]] = {}
    try:
        shortcut = quick_reply_shortcut_clean(shortcut)
    except ValidationError as error:
        errors["shortcut"] = error.messages
    if not text:
        errors["text"] = [_("Enter the text of the reply.")]
    elif problem := text_problem(text):
        errors["text"] = [problem]
    if errors:
        raise ValidationError(errors)
    return shortcut, text


def _quick_reply_saved(company: Company, quick_reply: QuickReply, fields: list[str] | None = None) -> QuickReply:
    try:
        with transaction.atomic():
            if fields is None:
                quick_reply.save()
            else:
                quick_reply.save(update_fields=fields)
    except IntegrityError:
        raise QuickReplyShortcutTaken(quick_reply.shortcut) from None
    events.quick_replies_changed(company=company)
    return quick_reply


def quick_reply_create(*, company: Company, shortcut: str, text: str) -> QuickReply:
    """A new quick reply; QuickReplyShortcutTaken when the company has one with that shortcut."""
    shortcut, text = _clean_quick_reply(shortcut, text)
    if QuickReply.objects.filter(company=company, shortcut=shortcut).exists():
        raise QuickReplyShortcutTaken(shortcut)
    return _quick_reply_saved(company, QuickReply(company=company, shortcut=shortcut, text=text))


def quick_reply_update(*, company: Company, quick_reply: QuickReply, shortcut: str | None = None,
                       text: str | None = None) -> QuickReply:
    shortcut, text = _clean_quick_reply(quick_reply.shortcut if shortcut is None else shortcut,
                                        quick_reply.text if text is None else text)
    if QuickReply.objects.filter(company=company, shortcut=shortcut).exclude(pk=quick_reply.pk).exists():
        raise QuickReplyShortcutTaken(shortcut)
    quick_reply.shortcut, quick_reply.text, quick_reply.updated_at = shortcut, text, timezone.now()
    return _quick_reply_saved(company, quick_reply, ["shortcut", "text", "updated_at"])


def quick_reply_delete(*, company: Company, quick_reply: QuickReply) -> None:
    QuickReply.objects.filter(company=company, pk=quick_reply.pk).delete()
    events.quick_replies_changed(company=company)


# --- private notes ------------------------------------------------------------------------------------


def note_add(*, company: Company, conversation: Conversation, text: str, author_label: str) -> Message:
    """A note for the team in the conversation's thread: stored and pushed to open pages, never sent to
    WhatsApp, never the list's preview, no unread count, no bot pause, no event for integrators' webhooks."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": [_("Write the note.")]})
    if problem := text_problem(text):
        raise ValidationError({"text": [problem]})
    note = Message(company=company, conversation=conversation, instance_id=conversation.instance_id,
                   direction=Message.Direction.OUT, kind=Kind.NOTE, text=text, sender_type=Message.SenderType.AGENT,
                   sender_label=author_label[:120], status=MessageStatus.SENT,
                   status_rank=STATUS_RANK[MessageStatus.SENT], created_at=timezone.now())
    with transaction.atomic():
        note.save()
        events.message_new(company=company, message=note, conversation=conversation)
    return note
