"""Gateway message events applied to conversations and messages, exactly once (STYLE rules 26, 31).

Called by `instances.services.inbound_event_process` (inside its transaction) for every parsed message
event of a stored webhook body. Gateways deliver at least once and out of order, so:
- a message is inserted under the unique (instance, gateway message id) with ON CONFLICT DO NOTHING; a
  repeat (checked first, or stored concurrently by another worker) changes nothing;
- statuses only move forward (`message_apply_status`);
- a reaction or a reply that arrives before its target keeps the target's gateway id and is attached when
  the target arrives (until then the reaction is shown on its own).
"""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import BigIntegerField, Case, F, Q, Value, When
from django.utils import timezone

from contacts.models import Contact
from contacts.services import ContactGone, contact_get_or_create_by_identity
from instances.gateways.base import jid_digits
from instances.gateways.events import (
    GatewayEvent,
    InteractiveReply,
    MessageDeleted,
    MessageEdited,
    MessageReceived,
    MessageStatusUpdate,
)
from instances.models import Instance
from integrations import bots
from integrations import payloads as integration_payloads
from integrations import services as integration_services
from integrations.models import BotPauseChange
from messaging import auto_replies, events
from messaging.models import STATUS_RANK, Conversation, Message, MessageStatus
from messaging.services import (
    GATEWAY_ID_KNOWN,
    conversation_get_or_create,
    conversation_preview_follow,
    conversation_touch,
    message_apply_status,
    message_mark_deleted,
)
from tenants.models import Company
from tenants.prepared import Prepared

logger = logging.getLogger(__name__)

PROCESSED, IGNORED = "processed", "ignored"
GATEWAY_STATUS = {
    "PENDING": MessageStatus.SENT,
    "SERVER_ACK": MessageStatus.SENT,
    "DELIVERY_ACK": MessageStatus.DELIVERED,
    "READ": MessageStatus.READ,
    "PLAYED": MessageStatus.PLAYED,
    "DELETED": MessageStatus.DELETED,
    "ERROR": MessageStatus.FAILED,
}


# Asked for every message event (prepared once: tenants/prepared.py).
_WAITING = Prepared(  # replies and reactions that arrived before their target (each arm uses its partial index)
    lambda p: Message.objects.filter(instance_id=p.instance).filter(
        Q(reaction_target__isnull=True, reaction_target_gateway_id=p.gateway_id)
        | Q(quoted__isnull=True, quoted_gateway_id=p.gateway_id)).order_by().values_list("pk"),
    instance=int, gateway_id=str)

# The gateway's echo of one of our sends still between claim and answer, told without looking its sender up: a
# send of ours is in flight to that number on this instance (through the partial index of unsent messages).
_IN_FLIGHT_TO = Prepared(
    lambda p: Message.objects.filter(instance_id=p.instance, status=MessageStatus.SENDING,
                                     direction=Message.Direction.OUT, conversation__contact__identifier=p.number)
    .order_by().values_list("pk")[:1], instance=int, number=str)


def message_event_apply(*, company: Company, instance: Instance, event: GatewayEvent) -> str:
    """Apply one parsed message event; "processed" when something changed, "ignored" otherwise."""
    if isinstance(event, MessageReceived):
        return PROCESSED if message_record_inbound(company=company, instance=instance, event=event) else IGNORED
    if isinstance(event, MessageStatusUpdate):
        status = GATEWAY_STATUS.get(event.status)
        if status is None:
            return IGNORED
        moved = message_apply_status(company=company, instance=instance, gateway_message_id=event.message_id,
                                     status=status)
        return PROCESSED if moved else IGNORED
    if isinstance(event, MessageDeleted):
        message = _by_gateway_id(company, instance, event.message_id)
        if message is None or message.is_deleted:
            return IGNORED
        deleted_by = "customer" if message.direction == Message.Direction.IN else "phone"
        message_mark_deleted(company=company, message=message, deleted_by=deleted_by)
        return PROCESSED
    if isinstance(event, MessageEdited):
        return PROCESSED if message_record_edit(company=company, instance=instance, event=event) else IGNORED
    return IGNORED


def _by_gateway_id(company: Company, instance: Instance, gateway_message_id: str | None) -> Message | None:
    if not gateway_message_id:
        return None
    return Message.objects.filter(company=company, instance=instance, gateway_message_id=gateway_message_id).first()


def _contact_for(company: Company, instance: Instance, event: MessageReceived) -> Contact | None:
    """The chat's contact through the identity rules: phone digits (keeping the @lid too), a LID alone, a group."""
    # A group's push name is its member's, and one on a message typed on the phone is the owner's: neither names
    # the contact.
    name = "" if event.is_group or event.from_me else event.push_name or ""
    if event.is_group:
        identifier, lid = event.remote_jid, None
    elif event.phone_number:
        identifier, lid = event.phone_number, event.lid
    elif event.lid:
        identifier, lid = event.lid, None
    else:
        return None
    try:
        contact, _created = contact_get_or_create_by_identity(company=company, instance=instance,
                                                              identifier=identifier, lid=lid, name=name)
    except ValidationError:
        logger.warning("inbound message %s: unusable chat id %r", event.message_id, event.remote_jid)
        return None
    return contact


def _sender(event: MessageReceived) -> tuple[str, str]:
    if event.sent_via_api:
        return Message.SenderType.API, "API"
    if event.from_me:
        return Message.SenderType.PHONE, str(_phone_label())
    return Message.SenderType.CUSTOMER, event.push_name or ""


def _phone_label() -> str:
    from django.utils.translation import gettext

    return gettext("Phone")


def _content(event: MessageReceived) -> dict:
    """The kind-specific columns of a message event."""
    fields: dict = {"kind": event.kind if event.kind in Message.Kind.values else Message.Kind.UNKNOWN,
                    "text": event.text or ""}
    if event.media is not None:
        media = event.media
        fields.update(media_url=(media.media_url or media.url or "")[:2000],
                      media_mimetype=(media.mimetype or "")[:120],
                      media_filename=(media.file_name or "")[:255], media_seconds=media.seconds,
                      is_voice=media.voice)
    if event.location is not None:
        location = event.location
        fields.update(latitude=location.latitude, longitude=location.longitude,
                      location_name=(location.name or "")[:200], location_address=(location.address or "")[:300])
    if event.contacts:
        fields["contacts"] = [{"full_name": card.display_name or "",
                               "phone_number": card.phone_numbers[0] if card.phone_numbers else "",
                               "vcard": card.vcard or ""} for card in event.contacts]
    if event.reaction is not None:
        target = (event.reaction.target_id or "")[:100]
        fields.update(emoji=event.reaction.emoji[:32], reaction_target_gateway_id=target)
    if event.interactive_reply is not None:
        fields["interactive"] = interactive_reply_data(event.interactive_reply)
    if event.quoted_id:
        fields.update(quoted_gateway_id=event.quoted_id[:100], quoted_text=(event.quoted_text or "")[:1000])
    return fields


def interactive_reply_data(reply: InteractiveReply) -> dict:
    """A tapped option as Message.interactive keeps it (and the API and the events show it): `{"type": "list_reply" |
    "button_reply", "id", "title", "description"}`; the list or buttons it answers is the message's `quoted`."""
    return {"type": reply.type, "id": (reply.id or "")[:200], "title": (reply.title or "")[:200],
            "description": (reply.description or "")[:300]}


def _ours_in_flight(company: Company, conversation: Conversation) -> bool:
    """Whether one of our sends to this chat is between claim and answer (its gateway echo is ours)."""
    return Message.objects.filter(company=company, conversation=conversation, status=MessageStatus.SENDING).exists()


def message_record_inbound(*, company: Company, instance: Instance, event: MessageReceived) -> Message | None:
    """Store a message event once (customer, phone owner or API echo); None when it was a repeat or unusable."""
    if event.message_id and GATEWAY_ID_KNOWN.first(instance=instance.pk, gateway_id=event.message_id[:100]):
        return None  # a repeat: the common case, answered without touching the constraint
    if event.sent_via_api and event.phone_number and _IN_FLIGHT_TO.first(instance=instance.pk,
                                                                         number=event.phone_number):
        return None  # our send's echo, before we recorded its answer: the answer is what we keep (_record_new)
    with integration_services.webhook_endpoints_read_once(company=company):
        return _record_new(company, instance, event)


def _conversation_for(company: Company, instance: Instance, event: MessageReceived
                      ) -> tuple[Contact, Conversation, bool] | None:
    """The sender and its conversation (locked), created when new.

    A merge that committed between the sender's lookup and its conversation's lock deleted that contact: the
    conversation's insert meets the missing contact at once (ContactGone), and the sender is looked up again,
    found as the kept contact through the identifiers the merge moved. Nothing more is asked in the usual case."""
    contact = _contact_for(company, instance, event)
    if contact is None:
        return None
    try:
        return contact, *_open(company, instance, contact)
    except ContactGone:
        contact = _contact_for(company, instance, event)
        return None if contact is None else (contact, *_open(company, instance, contact))


def _open(company: Company, instance: Instance, contact: Contact) -> tuple[Conversation, bool]:
    # Locked until the event's transaction ends (the touch below would lock it anyway), so the row in hand,
    # moved by the touch as it moves the stored one, is what the live row shows: no re-read.
    status = Conversation.Status.CLOSED if contact.is_ignored else Conversation.Status.OPEN
    return conversation_get_or_create(company=company, instance=instance, contact=contact, status=status, lock=True)


def _record_new(company: Company, instance: Instance, event: MessageReceived) -> Message | None:
    found = _conversation_for(company, instance, event)
    if found is None:
        return None
    contact, conversation, created = found
    conversation.contact = contact  # the row in hand (its contact by definition): the payloads need not read it
    conversation.instance = instance
    if event.sent_via_api and _ours_in_flight(company, conversation):
        return None
    message = _insert(company, instance, conversation, event)
    if message is None:
        return None
    waited_for = _link(company, instance, message)
    incoming = not event.from_me
    counts = incoming and message.kind != Message.Kind.REACTION and not contact.is_ignored
    reopen = counts and conversation.status == Conversation.Status.CLOSED
    conversation_touch(company=company, conversation=conversation, message=message, unread=counts, reopen=reopen,
                       locked=True)
    if reopen:  # told before the message that reopened it, as a reopening by hand is
        integration_services.event_emit(company=company, event_type="conversation.opened",
                                        payload=integration_payloads.conversation_data(conversation))
    if event.media is not None and event.media.base64:
        _store_base64(company, message, event.media.base64)
    elif message.media_url and not message.media_file:
        _enqueue_download(company, message)
    if contact.is_ignored:
        return message  # stored, but it opens nothing and nobody is told
    if waited_for:  # reactions that arrived first are drawn on the bubble: read them
        events.message_changed(company=company, message=message, created=True)
    else:
        events.message_new(company=company, message=message, conversation=conversation)
    events.conversation_changed(company=company, conversation=conversation, header=reopen, current=True)
    if incoming:
        # The bot platform this contact's messages go to gets the same signed body (unless the bot is paused).
        platform = bots.route_inbound(company=company, contact=contact)
        integration_services.event_emit(company=company, event_type="message.received",
                                        payload=integration_payloads.message_data(message),
                                        extra_endpoints=[platform.endpoint] if platform else ())
        if counts:
            auto_replies.on_customer_message(company=company, instance=instance, conversation=conversation,
                                             contact=contact, message=message, opened=created or reopen,
                                             taken_by_bot=platform is not None)
    elif message.sender_type == Message.SenderType.PHONE:
        # The phone's owner answered from the phone: it left for the customer as our sends do, and a human took
        # over, so the bot steps back.
        integration_services.event_emit(company=company, event_type="message.sent",
                                        payload=integration_payloads.message_data(message))
        bots.auto_pause(company=company, contact=contact, reason=BotPauseChange.Reason.PHONE_OWNER,
                        actor=message.sender_label)
    return message


def _insert(company: Company, instance: Instance, conversation: Conversation, event: MessageReceived) -> Message | None:
    sender_type, sender_label = _sender(event)
    incoming = not event.from_me
    status = MessageStatus.DELIVERED if incoming else GATEWAY_STATUS.get(event.status or "", MessageStatus.SENT)
    if status == MessageStatus.FAILED:
        status = MessageStatus.SENT
    participant = event.participant_phone_jid or event.participant_lid or event.participant or ""
    message = Message(
        company=company, conversation=conversation, instance=instance,
        direction=Message.Direction.IN if incoming else Message.Direction.OUT,
        gateway_message_id=event.message_id[:100], remote_jid=(event.remote_jid or "")[:100],
        sender_type=sender_type, sender_label=sender_label[:120],
        participant_jid=participant[:100] if event.is_group else "",
        participant_name=(event.push_name or jid_digits(participant) or "")[:120] if event.is_group else "",
        status=status, status_rank=STATUS_RANK[status], created_at=_moment(event.timestamp),
        sent_at=None if incoming else _moment(event.timestamp), **_content(event),
    )
    # The repeat check above answers the common repeat; one stored concurrently by another worker since then
    # meets the unique (instance, gateway message id) here, and nothing is written.
    return message if message.insert_unless_present() else None


def _moment(value: datetime | None) -> datetime:
    return value or timezone.now()


def _link(company: Company, instance: Instance, message: Message) -> int:
    """Point the new message at its target, and attach replies and reactions that were waiting for it (how many
    were: the rows the last UPDATE changed)."""
    if message.reaction_target_gateway_id:
        target = _by_gateway_id(company, instance, message.reaction_target_gateway_id)
        if target is not None:
            message.reaction_target = target
            Message.objects.filter(company=company, pk=message.pk).update(reaction_target=target)
        # One reaction per person per message: the newest wins (an empty one removes it), whatever order they
        # arrive in. Superseded rows stay (marked deleted) so a replay of them is still recognised.
        same_sender = Message.objects.filter(
            company=company, instance=instance, kind=Message.Kind.REACTION,
            reaction_target_gateway_id=message.reaction_target_gateway_id, direction=message.direction,
            participant_jid=message.participant_jid,
        ).exclude(pk=message.pk)
        same_sender.filter(created_at__lte=message.created_at).update(is_deleted=True)
        if same_sender.filter(created_at__gt=message.created_at).exists():
            Message.objects.filter(company=company, pk=message.pk).update(is_deleted=True)
    if message.quoted_gateway_id:
        quoted = _by_gateway_id(company, instance, message.quoted_gateway_id)
        if quoted is not None:
            message.quoted = quoted
            Message.objects.filter(company=company, pk=message.pk).update(quoted=quoted)
    # Reactions and replies that were waiting for this message (each arm uses its partial index). Usually none:
    # a plain SELECT says so for a fraction of the CPU the UPDATE's CASE expressions take to build.
    waiting = [pk for (pk,) in _WAITING.rows(instance=instance.pk, gateway_id=message.gateway_message_id)]
    if not waiting:
        return 0
    waits_reaction = Q(reaction_target__isnull=True, reaction_target_gateway_id=message.gateway_message_id)
    waits_quote = Q(quoted__isnull=True, quoted_gateway_id=message.gateway_message_id)
    pk, key = Value(message.pk), BigIntegerField()
    return Message.objects.filter(company=company, pk__in=waiting).update(
        reaction_target_id=Case(When(waits_reaction, then=pk), default=F("reaction_target_id"), output_field=key),
        quoted_id=Case(When(waits_quote, then=pk), default=F("quoted_id"), output_field=key),
    )


def _store_base64(company: Company, message: Message, payload: str) -> None:
    """The gateway sent the file itself (webhook_base64): keep it, no download needed."""
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return
    extension = mimetypes.guess_extension(message.media_mimetype or "") or ""
    name = message.media_filename or f"{message.public_id.hex}{extension}"
    message.media_file.save(name, ContentFile(data), save=False)
    Message.objects.filter(company=company, pk=message.pk).update(media_file=message.media_file.name)


def _enqueue_download(company: Company, message: Message) -> None:
    from messaging.tasks import download_media as download_media_task

    args = [company.pk, message.pk]
    transaction.on_commit(lambda: download_media_task.apply_async(args=args))


def message_record_edit(*, company: Company, instance: Instance, event: MessageEdited) -> bool:
    """A new text for a message: the first original is kept; an older edit arriving late changes nothing."""
    message = _by_gateway_id(company, instance, event.message_id)
    if message is None or event.text is None or message.text == event.text:
        return False
    moment = _moment(event.timestamp)
    rows = Message.objects.filter(company=company, pk=message.pk).filter(
        Q(edited_at__isnull=True) | Q(edited_at__lt=moment))
    fields = {"text": event.text, "is_edited": True, "edited_at": moment}
    if not message.is_edited:
        fields["original_text"] = message.text
    with transaction.atomic():
        if not rows.update(**fields):
            return False
        message.text = event.text
        events.message_changed(company=company, message=message)
        conversation_preview_follow(company=company, message=message)
    return True
