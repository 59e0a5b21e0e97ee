"""The `data` of each event, built from our models (docs/webhooks.md shows every shape).

Convention: an event about one WhatsApp number carries `data.instance` = {"id", "name"}; the event
stream filters on it (`?instance=<id>`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contacts.models import Contact
    from instances.models import Instance


def instance_ref(instance: Instance) -> dict[str, Any]:
    return {"id": str(instance.public_id), "name": instance.name}


def instance_state_data(instance: Instance) -> dict[str, Any]:
    return {
        "instance": instance_ref(instance),
        "state": instance.state,
        "reason": instance.state_reason,
        "phone_number": instance.phone_number,
        "profile_name": instance.profile_name,
        "changed_at": instance.state_changed_at,
    }


def instance_qr_data(instance: Instance) -> dict[str, Any]:
    return {
        "instance": instance_ref(instance),
        "qr_code": instance.qr_code,
        "pairing_code": instance.pairing_code,
        "count": instance.qr_count,
        "expires_at": instance.connect_deadline,
        "image_url": f"/api/v1/instances/{instance.public_id}/qr.png",
    }


def contact_data(contact: Contact, tags: Iterable[Any] = ()) -> dict[str, Any]:
    """contact.created / .updated / .deleted (and the kept contact of contact.merged); `tags`: its Tag rows."""
    return {
        "instance": instance_ref(contact.instance),
        "contact": {
            "id": str(contact.public_id),
            "identifier": contact.identifier,
            "type": contact.type,
            "name": contact.name,
            "custom_name": contact.custom_name,
            "is_ignored": contact.is_ignored,
            "bot_paused": contact.bot_paused,
            "tags": [{"id": str(tag.public_id), "name": tag.name} for tag in tags],
            "created_at": contact.created_at,
            "updated_at": contact.updated_at,
        },
    }


def _conversation_ref(message) -> dict[str, Any]:
    return {"id": str(message.conversation.public_id), "status": message.conversation.status}


def _contact_ref(contact: Contact) -> dict[str, Any]:
    return {"id": str(contact.public_id), "identifier": contact.identifier, "name": contact.name}


def _media(message) -> dict[str, Any] | None:
    if not (message.media_file or message.media_url):
        return None
    return {"url": f"/api/v1/messages/{message.public_id}/media", "mimetype": message.media_mimetype,
            "filename": message.media_filename}


def message_data(message) -> dict[str, Any]:
    """message.received / message.sent: the message with its instance, conversation and contact."""
    return {
        "instance": instance_ref(message.instance),
        "conversation": _conversation_ref(message),
        "contact": _contact_ref(message.conversation.contact),
        "message": {
            "id": str(message.public_id),
            "direction": message.direction,
            "kind": message.kind,
            "text": message.text,
            "status": message.status,
            "gateway_message_id": message.gateway_message_id,
            "quoted_message_id": str(message.quoted.public_id) if message.quoted_id else None,
            "sender": {"type": message.sender_type, "name": message.sender_label},
            "participant": {"jid": message.participant_jid, "name": message.participant_name}
            if message.participant_jid else None,
            "media": _media(message),
            "location": _location(message),
            "contacts": [{"full_name": card.get("full_name", ""), "phone_number": card.get("phone_number", "")}
                         for card in message.contacts or ()],
            "interactive": message.interactive or None,
            "emoji": message.emoji,
            "reaction_to_message_id": str(message.reaction_target.public_id) if message.reaction_target_id else None,
            "created_at": message.created_at,
        },
    }


def _location(message) -> dict[str, Any] | None:
    if message.latitude is None:
        return None
    return {"latitude": message.latitude, "longitude": message.longitude, "name": message.location_name,
            "address": message.location_address}


def message_status_data(message, at) -> dict[str, Any]:
    """message.status: where one message's status moved (forward only)."""
    return {
        "instance": instance_ref(message.instance),
        "conversation": {"id": str(message.conversation.public_id)},
        "message": {"id": str(message.public_id), "status": message.status, "error": message.error, "at": at},
    }


def conversation_data(conversation) -> dict[str, Any]:
    """conversation.opened / .assigned / .closed: the conversation with its assignee and contact."""
    assignee = conversation.assignee
    return {
        "instance": instance_ref(conversation.instance),
        "conversation": {
            "id": str(conversation.public_id),
            "status": conversation.status,
            "priority": conversation.priority,
            "assignee": {"id": str(assignee.public_id), "name": assignee.get_full_name() or assignee.get_username()}
            if assignee else None,
        },
        "contact": _contact_ref(conversation.contact),
    }


def message_deleted_data(message, deleted_by: str) -> dict[str, Any]:
    return {
        "instance": instance_ref(message.instance),
        "conversation": {"id": str(message.conversation.public_id)},
        "message": {"id": str(message.public_id), "deleted_by": deleted_by},
    }


def bot_change_data(change, contact: Contact) -> dict[str, Any]:
    """bot.paused / bot.resumed: whose bot, until when, why and by whom."""
    return {
        "instance": instance_ref(contact.instance),
        "contact": _contact_ref(contact),
        "paused": change.paused,
        "until": change.until,
        "reason": change.reason,
        "actor": change.actor,
        "at": change.at,
    }
