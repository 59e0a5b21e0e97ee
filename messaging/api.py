"""REST API /api/v1/conversations and /api/v1/messages (start a session, send every kind, read, delete).

Errors are problem+json: 400 invalid input (unknown or foreign instance, contact, conversation or quoted
message ids included), 403 a key without the needed scope (`messages` to send or delete), 404 unknown or
foreign ids, 422 a request the rules refuse (delete for everyone of a message that was never sent, retry of a
message that has not failed), 503 the gateway did not answer a delete.
"""

from __future__ import annotations

import base64
import binascii
import random
import time
import uuid
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError, transaction
from django.db.models import QuerySet
from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from psycopg.errors import DeadlockDetected
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts import selectors as contact_selectors
from contacts.models import Contact
from instances.models import Instance
from messaging import media, selectors, services
from messaging.models import MAX_TEXT_LENGTH, Conversation, Message, QuickReply
from messaging.selectors import ConversationFilters
from messaging.services import Outgoing
from tenants import realtime
from tenants.access import actor_label
from tenants.api import DownloadNegotiation, ReadOnlyModelSerializer, SparseInputSerializer, TenantViewSet, query_text
from tenants.authentication import StrictLimitMixin
from tenants.models import ApiKey
from tenants.openapi import UUID_OR_EMPTY, cursor_example, page_example
from tenants.problems import Conflict


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be carried out."
    default_code = "unprocessable"


class Busy(exceptions.APIException):
    """PostgreSQL broke a deadlock against this request every time it was tried: nothing of it was stored."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Other work held these conversations; nothing was stored. Try again."
    default_code = "busy"

    def __init__(self, detail=None, wait: int = 1) -> None:
        super().__init__(detail)
        self.wait = wait  # Retry-After (DRF's handler writes the header)


class GatewayUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The gateway did not answer."
    default_code = "gateway-unavailable"


@contextmanager
def problems():
    try:
        yield
    except services.GatewayBusy as error:
        raise GatewayUnavailable(error.message) from error
    except services.MessagingError as error:
        raise Unprocessable(error.message) from error
    except DjangoValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        raise exceptions.ValidationError(detail) from error


class NewestFirst(StrictLimitMixin, CursorPagination):
    """`?cursor=` pages (opaque), newest first; no COUNT, fast at any depth. `limit` up to 100.

    A cursor that is not one of ours is a 400 naming `cursor` (DRF's default is a 404)."""

    page_size = 30
    page_size_query_param = "limit"
    max_page_size = 100

    def decode_cursor(self, request: Request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({self.cursor_query_param: [_("Invalid cursor.")]}) from None


class ConversationCursor(NewestFirst):
    ordering = ("-last_message_at", "-id")


class MessageCursor(NewestFirst):
    ordering = ("-created_at", "-id")


# --- serializers --------------------------------------------------------------------------------

class ConversationSerializer(ReadOnlyModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    instance = serializers.UUIDField(source="instance.public_id", read_only=True)
    contact = serializers.UUIDField(source="contact.public_id", read_only=True)
    contact_name = serializers.CharField(source="contact.display_name", read_only=True)
    contact_identifier = serializers.CharField(source="contact.identifier", read_only=True)
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "instance", "contact", "contact_name", "contact_identifier", "status", "priority",
                  "assignee", "unread_count", "last_message_at", "last_message_preview", "created_at", "closed_at"]
        read_only_fields = fields

    def get_assignee(self, conversation: Conversation) -> dict | None:
        user = conversation.assignee
        if user is None:
            return None
        return {"id": str(user.public_id), "name": user.get_full_name() or user.email, "email": user.email}


class MessageSerializer(ReadOnlyModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    conversation = serializers.UUIDField(source="conversation.public_id", read_only=True)
    media_url = serializers.SerializerMethodField(help_text="The gateway's URL (the inbox serves a stored copy).")
    has_stored_media = serializers.SerializerMethodField()
    quoted = serializers.SerializerMethodField()
    reaction_to = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField()
    interactive = serializers.JSONField(read_only=True, help_text=(
        "A list or buttons we sent (`type` list or buttons, as given to POST /messages), or a customer's tap on one "
        "of their options: `{\"type\": \"list_reply\" | \"button_reply\", \"id\", \"title\", \"description\"}`, "
        "`id` being the row's or button's id and `quoted` the message it answers. `{}` for other messages."))

    class Meta:
        model = Message
        fields = ["id", "conversation", "direction", "kind", "text", "status", "error", "gateway_message_id",
                  "media_url", "has_stored_media", "media_mimetype", "media_filename", "is_voice", "location",
                  "contacts", "interactive", "quoted", "reaction_to", "emoji", "sender_type", "sender_label",
                  "participant_jid", "participant_name", "is_edited", "original_text", "is_deleted",
                  "created_at", "sent_at", "delivered_at", "read_at", "played_at", "failed_at", "deleted_at"]
        read_only_fields = fields

    def get_media_url(self, message: Message) -> str:
        return message.media_url

    def get_has_stored_media(self, message: Message) -> bool:
        return bool(message.media_file)

    def get_quoted(self, message: Message) -> str | None:
        return str(message.quoted.public_id) if message.quoted_id else None

    def get_reaction_to(self, message: Message) -> str | None:
        return str(message.reaction_target.public_id) if message.reaction_target_id else None

    def get_location(self, message: Message) -> dict | None:
        if message.latitude is None:
            return None
        return {"latitude": message.latitude, "longitude": message.longitude, "name": message.location_name,
                "address": message.location_address}


class ConversationCreateSerializer(serializers.Serializer):
    contact_id = serializers.UUIDField(required=False, help_text="An existing contact (its instance is used).")
    instance_id = serializers.UUIDField(required=False, help_text="With `number`: the instance to talk through.")
    number = serializers.CharField(required=False, max_length=80,
                                   help_text="Phone digits with country code, or a group id (`...@g.us`).")
    priority = serializers.ChoiceField(choices=Conversation.Priority.choices, required=False)

    def validate(self, data):
        if not data.get("contact_id") and not (data.get("instance_id") and data.get("number")):
            raise serializers.ValidationError(_("Give contact_id, or instance_id and number."))
        return data


class ConversationUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Conversation.Status.choices, required=False,
        help_text="`closed` tells conversation.closed and hands the contact back to its bot; leaving `closed` "
                  "tells conversation.opened.")
    priority = serializers.ChoiceField(choices=Conversation.Priority.choices, required=False)

    def validate(self, data):
        if not data:
            raise serializers.ValidationError(_("Give status, priority or both."))
        return data


class AssignSerializer(serializers.Serializer):
    assignee = serializers.UUIDField(allow_null=True, help_text="A member's user id, or null to unassign.")


class LocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    address = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class ContactCardSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=120)
    phone_number = serializers.RegexField(r"^\d{8,15}$", help_text="Digits with country code.")


class ListRowSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    title = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ListSectionSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    rows = ListRowSerializer(many=True, allow_empty=False)


class ButtonSerializer(serializers.Serializer):
    # Plain strings checked in validate_type: a ChoiceField named "type" would collide with the contacts'
    # `type` enum in the OpenAPI components.
    type = serializers.CharField(default="reply", help_text="`reply` (default), `url`, `call` or `copy`.")

    def validate_type(self, value: str) -> str:
        if value not in ("reply", "url", "call", "copy"):
            raise serializers.ValidationError(_("Use reply, url, call or copy."))
        return value
    text = serializers.CharField(max_length=60)
    id = serializers.CharField(max_length=100, required=False)
    url = serializers.URLField(required=False)
    phone_number = serializers.CharField(max_length=20, required=False)
    copy_code = serializers.CharField(max_length=100, required=False)


class InteractiveSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="`list` or `buttons`.")

    def validate_type(self, value: str) -> str:
        if value not in ("list", "buttons"):
            raise serializers.ValidationError(_("Use list or buttons."))
        return value
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    footer = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    button_text = serializers.CharField(max_length=40, required=False, default="")
    sections = ListSectionSerializer(many=True, required=False)
    buttons = ButtonSerializer(many=True, required=False)

    def validate(self, data):
        if data["type"] == "list" and not (data.get("sections") and data.get("button_text")):
            raise serializers.ValidationError(_("A list needs button_text and at least one section."))
        if data["type"] == "buttons" and not data.get("buttons"):
            raise serializers.ValidationError(_("Give at least one button."))
        return data


SEND_KINDS = ["text", "image", "video", "audio", "document", "sticker", "location", "contact", "reaction",
              "interactive"]


class MessageCreateSerializer(SparseInputSerializer):
    conversation_id = serializers.UUIDField(required=False, help_text="Send in this conversation (session).")
    instance_id = serializers.UUIDField(required=False, help_text="With `number`: the instance to send through.")
    number = serializers.CharField(required=False, max_length=80,
                                   help_text="Phone digits with country code, or a group id (`...@g.us`).")
    kind = serializers.ChoiceField(choices=SEND_KINDS, default="text")
    text = serializers.CharField(required=False, allow_blank=True, max_length=4096, default="",
                                 help_text="The text, or the caption of a media message.")
    media_url = serializers.URLField(required=False, max_length=2000, default="")
    media_base64 = serializers.CharField(
        required=False, default="", help_text="The file as base64 (max 16 MB). An image or sticker must be a PNG, "
                                              "JPEG, GIF or WEBP, a video or audio one of their usual formats, told "
                                              "by its first bytes.")
    mimetype = serializers.CharField(required=False, max_length=120, default="")
    filename = serializers.CharField(required=False, max_length=255, default="")
    voice = serializers.BooleanField(required=False, default=False, help_text="An audio sent as a voice note.")
    location = LocationSerializer(required=False)
    contacts = ContactCardSerializer(many=True, required=False)
    interactive = InteractiveSerializer(required=False)
    reply_to = serializers.UUIDField(required=False, help_text="A message of the same conversation to quote.")
    reaction_to = serializers.UUIDField(required=False, help_text="The message a reaction is for.")
    emoji = serializers.CharField(required=False, max_length=16, default="")
    agent_name = serializers.CharField(required=False, max_length=120, default="",
                                       help_text="On whose behalf it is sent (shown in the inbox).")

    def validate(self, data):
        if not data.get("conversation_id") and not (data.get("instance_id") and data.get("number")):
            raise serializers.ValidationError(_("Give conversation_id, or instance_id and number."))
        head = _base64_head(data["media_base64"]) if data["media_base64"] else None
        if head is not None and not media.content_fits(data["kind"], head):
            raise serializers.ValidationError({"media_base64": [media.not_that_kind(data["kind"])]})
        return data


def _base64_head(value: str) -> bytes | None:
    """The first bytes of a base64 file (a data: URL too), decoding only them; None when they do not decode
    (the send then says so, decoding the whole: services._media_file)."""
    payload = value.split("base64,", 1)[-1]
    try:  # 88 characters, a whole number of base64 quanta: 66 bytes
        return base64.b64decode(payload[:4 * -(-media.SNIFF_BYTES // 3)], validate=True)
    except (binascii.Error, ValueError):
        return None


BULK_MAX_MESSAGES = 100
BULK_DEADLOCK_ATTEMPTS = 3


class BulkMessagesSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)


class BulkMessageCreateSerializer(serializers.Serializer):
    messages = MessageCreateSerializer(many=True, allow_empty=False, max_length=BULK_MAX_MESSAGES,
                                       help_text=f"Up to {BULK_MAX_MESSAGES} messages, each as POST /messages takes "
                                                 "it; stored in this order.")


CONVERSATION_EXAMPLE = {
    "id": "6f1d2c3b-1111-4000-8000-000000000001", "instance": "0b7e3f52-1d7c-4e8e-9c1a-5d6e7f8a9b0c",
    "contact": "a1b2c3d4-0000-4000-8000-000000000001", "contact_name": "Maria",
    "contact_identifier": "5511987654321", "status": "open", "priority": "high",
    "assignee": {"id": "9a8b7c6d-2222-4000-8000-000000000002", "name": "Alice", "email": "alice@example.com"},
    "unread_count": 2, "last_message_at": "2026-01-05T12:00:00Z", "last_message_preview": "Olá!",
    "created_at": "2026-01-05T11:58:00Z", "closed_at": None,
}
MESSAGE_EXAMPLE = {
    "id": "c0ffee00-3333-4000-8000-000000000003", "conversation": CONVERSATION_EXAMPLE["id"], "direction": "out",
    "kind": "text", "text": "Seu pedido saiu para entrega.", "status": "delivered", "error": "",
    "gateway_message_id": "3EB0A1B2C3D4E5F6", "media_url": "", "has_stored_media": False, "media_mimetype": "",
    "media_filename": "", "is_voice": False, "location": None, "contacts": [], "interactive": {}, "quoted": None,
    "reaction_to": None, "emoji": "", "sender_type": "api", "sender_label": "Alice", "participant_jid": "",
    "participant_name": "", "is_edited": False, "original_text": "", "is_deleted": False,
    "created_at": "2026-01-05T12:00:00Z", "sent_at": "2026-01-05T12:00:01Z", "delivered_at": "2026-01-05T12:00:03Z",
    "read_at": None, "played_at": None, "failed_at": None, "deleted_at": None,
}
# A customer's tap on a row of a list we sent (quoted: that list).
TAPPED_MESSAGE_EXAMPLE = {
    **MESSAGE_EXAMPLE, "id": "9b1e4a52-4444-4000-8000-000000000004", "direction": "in", "kind": "interactive",
    "text": "Calabresa", "gateway_message_id": "3A5F1C2B9D0E4F6A7B8C", "quoted": MESSAGE_EXAMPLE["id"],
    "interactive": {"type": "list_reply", "id": "p1", "title": "Calabresa", "description": "Com cebola"},
    "sender_type": "customer", "sender_label": "Maria", "sent_at": None, "delivered_at": "2026-01-05T12:02:00Z",
}
# Just stored (or sent again after failing): a worker sends it next.
QUEUED_MESSAGE_EXAMPLE = {**MESSAGE_EXAMPLE, "status": "queued", "gateway_message_id": None, "sent_at": None,
                          "delivered_at": None}
CONVERSATION_RESPONSE = OpenApiExample("Conversation", value=CONVERSATION_EXAMPLE, response_only=True)
ERRORS = {
    400: OpenApiResponse(description="Invalid input (unknown or foreign ids included)."),
    403: OpenApiResponse(description="The API key lacks the `messages` scope."),
    404: OpenApiResponse(description="Unknown id (another company's ids look the same)."),
    422: OpenApiResponse(description="The rules refuse it (e.g. deleting a message that was never sent).",
                         examples=[OpenApiExample("Not deletable", value={
                             "type": "https://recado.dev/problems/unprocessable", "title": "Unprocessable Content",
                             "status": 422,
                             "detail": "This message was not sent, so there is nothing to delete on WhatsApp."})]),
    503: OpenApiResponse(description="The gateway did not answer; try again."),
}
CONVERSATION_FILTERS = [
    OpenApiParameter("status", str, enum=Conversation.Status.values),
    OpenApiParameter("assignee", str, description="`unassigned`, or a member's user id (another id is a 400)."),
    OpenApiParameter("instance", UUID_OR_EMPTY, description="Only conversations on this instance (empty: any; an id "
                                                            "that is not one of the company's instances is a 400)."),
    OpenApiParameter("tag", UUID_OR_EMPTY, description="Only contacts with this tag (empty: any; an id that is not one "
                                                       "of the company's tags is a 400)."),
    OpenApiParameter("search", str, description="Contact name or number, or message text."),
]


def _uuid_param(params, name: str, message: str) -> str:
    """A UUID filter: empty means no filter, anything but a UUID is a 400 (never silently no filter)."""
    value = params.get(name, "")
    if value:
        try:
            uuid.UUID(value)
        except ValueError:
            raise exceptions.ValidationError({name: [message]}) from None
    return value


class _Resolving:
    """Every id in input is resolved inside the company (STYLE rule 11); a foreign id is a 400."""

    def _instance(self, public_id) -> Instance:
        """The company's instance by its public id, looked up once per request (a bulk names it per message)."""
        known = self.__dict__.setdefault("_instances", {})
        instance = known.get(str(public_id))
        if instance is None:
            instance = contact_selectors.channel_get(company=self.company, public_id=public_id)
            if instance is None:
                raise exceptions.ValidationError({"instance_id": [_("Unknown instance.")]})
            known[str(public_id)] = instance
        return instance

    def _contact_by_number(self, instance: Instance, number: str) -> Contact:
        with problems():
            return services.contact_for_recipient(company=self.company, instance=instance, recipient=number)

    def _message_in(self, conversation: Conversation, public_id, field: str) -> Message | None:
        if not public_id:
            return None
        message = Message.objects.filter(company=self.company, conversation=conversation, public_id=public_id).first()
        if message is None:
            raise exceptions.ValidationError({field: [_("Unknown message in this conversation.")]})
        return message


class SummaryLoadSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    open = serializers.IntegerField()
    waiting = serializers.IntegerField()
    pending = serializers.IntegerField()


class SummaryMemberLoadSerializer(SummaryLoadSerializer):
    available = serializers.BooleanField(help_text="False: away, automatic assignment gives them nothing new.")


class SummaryInstanceLoadSerializer(SummaryLoadSerializer):
    state = serializers.CharField()


class SummarySerializer(serializers.Serializer):
    open = serializers.IntegerField()
    waiting = serializers.IntegerField()
    unassigned = serializers.IntegerField()
    pending = serializers.IntegerField()
    active_today = serializers.IntegerField()
    active_today_capped = serializers.BooleanField()
    members = SummaryMemberLoadSerializer(many=True)
    instances = SummaryInstanceLoadSerializer(many=True)


SUMMARY_EXAMPLE = {
    "open": 14, "waiting": 5, "unassigned": 3, "pending": 2, "active_today": 37, "active_today_capped": False,
    "members": [{"id": "5e6f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "Alice", "available": True, "open": 11,
                 "waiting": 4, "pending": 2}],
    "instances": [{"id": "7d2f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "sales", "state": "open", "open": 14,
                   "waiting": 5, "pending": 2}],
}


@extend_schema_view(
    list=extend_schema(operation_id="conversations_list", parameters=CONVERSATION_FILTERS,
                       examples=[cursor_example(CONVERSATION_EXAMPLE, "/conversations",
                                                "cD0yMDI2LTAxLTA1KzA5JTNBMTIlM0E0NC4xMjAzMTElMkIwMCUzQTAw")]),
    retrieve=extend_schema(operation_id="conversations_retrieve",
                           responses={200: ConversationSerializer, 404: ERRORS[404]},
                           examples=[CONVERSATION_RESPONSE]),
)
class ConversationViewSet(_Resolving, TenantViewSet):
    """The company's conversations (sessions): one per contact, reopened when it writes again."""

    model = Conversation
    serializer_class = ConversationSerializer
    pagination_class = ConversationCursor
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action != "list":
            return queryset.select_related("contact", "instance", "assignee")
        params = self.request.query_params
        status_filter = params.get("status", "")
        if status_filter and status_filter not in Conversation.Status.values:
            raise exceptions.ValidationError({"status": [_("Use open, pending or closed.")]})
        assignee = params.get("assignee", "")
        if assignee and assignee != "unassigned":
            _uuid_param(params, "assignee", _("Use unassigned or a member's user id."))
            if selectors.member_user_get(company=self.company, public_id=assignee) is None:
                raise exceptions.ValidationError({"assignee": [_("Unknown member.")]})
        # An id of nothing the company has is a mistake (a typo, another company's id), told as such: an empty
        # list would read as "none there", as contacts' ?channel= and ?tags= already tell it.
        instance = _uuid_param(params, "instance", _("Use an instance id."))
        if instance and contact_selectors.channel_get(company=self.company, public_id=instance) is None:
            raise exceptions.ValidationError({"instance": [_("Unknown instance.")]})
        tag = _uuid_param(params, "tag", _("Use a tag id."))
        if tag and contact_selectors.tags_by_ids(company=self.company, public_ids=[tag])[1]:
            raise exceptions.ValidationError({"tag": [_("Unknown tag.")]})
        filters = ConversationFilters(status=status_filter, assignee=assignee, instance=instance, tag=tag,
                                      search=query_text(self.request, "search"))
        return selectors.conversation_list(company=self.company, filters=filters)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ConversationSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(ConversationSerializer(self.get_object()).data)

    @extend_schema(operation_id="conversations_create", request=ConversationCreateSerializer,
                   responses={201: ConversationSerializer, 200: ConversationSerializer, 400: ERRORS[400]},
                   examples=[OpenApiExample("By number", request_only=True, value={
                       "instance_id": CONVERSATION_EXAMPLE["instance"], "number": "5511987654321",
                       "priority": "high"}),
                             CONVERSATION_RESPONSE],
                   description="Start a session with a contact (or a number on an instance); 201 when new, 200 "
                               "when the contact already had one (it is reopened).")
    def create(self, request: Request) -> Response:
        data = ConversationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if fields.get("contact_id"):
            contact = contact_selectors.contact_get(company=self.company, public_id=fields["contact_id"])
            if contact is None:
                raise exceptions.ValidationError({"contact_id": [_("Unknown contact.")]})
            instance = contact.instance
        else:
            instance = self._instance(fields["instance_id"])
            contact = self._contact_by_number(instance, fields["number"])
        with problems():
            conversation, created = services.conversation_start(company=self.company, instance=instance,
                                                                contact=contact, priority=fields.get("priority"))
        conversation = self.get_queryset().get(pk=conversation.pk)
        return Response(ConversationSerializer(conversation).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(operation_id="conversations_assign", request=AssignSerializer,
                   responses={200: ConversationSerializer, 400: ERRORS[400], 404: ERRORS[404]},
                   examples=[OpenApiExample("To a member", request_only=True,
                                            value={"assignee": CONVERSATION_EXAMPLE["assignee"]["id"]}),
                             OpenApiExample("Unassign", request_only=True, value={"assignee": None}),
                             CONVERSATION_RESPONSE])
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, id: str) -> Response:
        conversation = self.get_object()
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee = None
        if data.validated_data["assignee"] is not None:
            assignee = selectors.member_user_get(company=self.company, public_id=data.validated_data["assignee"])
            if assignee is None:
                raise exceptions.ValidationError({"assignee": [_("Unknown member.")]})
        services.conversation_assign(company=self.company, conversation=conversation, assignee=assignee)
        return Response(ConversationSerializer(self.get_object()).data)

    @extend_schema(operation_id="conversations_update", request=ConversationUpdateSerializer,
                   responses={200: ConversationSerializer, 400: ERRORS[400], 404: ERRORS[404]},
                   examples=[OpenApiExample("Priority", request_only=True, value={"priority": "urgent"}),
                             OpenApiExample("Pending", request_only=True, value={"status": "pending"}),
                             OpenApiExample("Updated", response_only=True, value={
                                 **CONVERSATION_EXAMPLE, "status": "pending", "priority": "urgent"})],
                   description="Change the status (open, pending, closed), the priority, or both, as the inbox does; "
                               "only the fields sent change. Statuses emit what POST …/close and …/reopen emit.")
    def partial_update(self, request: Request, id: str) -> Response:
        conversation = self.get_object()
        data = ConversationUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        with transaction.atomic():
            if "priority" in fields:
                services.conversation_set_priority(company=self.company, conversation=conversation,
                                                   priority=fields["priority"])
            if "status" in fields:
                services.conversation_set_status(company=self.company, conversation=conversation,
                                                 status=fields["status"], actor=actor_label(request))
        return Response(ConversationSerializer(self.get_object()).data)

    @extend_schema(operation_id="conversations_read", request=None,
                   responses={200: ConversationSerializer, 404: ERRORS[404]},
                   examples=[OpenApiExample("Read", response_only=True, value={**CONVERSATION_EXAMPLE,
                                                                               "unread_count": 0})],
                   description="Mark the conversation read, as opening it in the inbox does: `unread_count` goes to "
                               "0 (and the inbox's badge with it).")
    @action(detail=True, methods=["post"])
    def read(self, request: Request, id: str) -> Response:
        conversation = self.get_object()
        services.conversation_mark_read(company=self.company, conversation=conversation)
        return Response(ConversationSerializer(self.get_object()).data)

    @extend_schema(operation_id="conversations_summary", request=None,
                   responses={200: SummarySerializer},
                   examples=[OpenApiExample("A morning", response_only=True, value=SUMMARY_EXAMPLE)],
                   description="What the team has to handle now, as the overview page shows it: open conversations, "
                               "those waiting for a reply (unread messages), unassigned, pending, and the ones active "
                               "today (a message since midnight in the deployment's time zone, counted up to 10,000: "
                               "`active_today_capped` says the count stopped there); then the open, waiting and "
                               "pending conversations of each member and each instance.")
    @action(detail=False, methods=["get"])
    def summary(self, request: Request) -> Response:
        summary = selectors.inbox_summary(company=self.company, user=None)
        return Response({
            "open": summary.open, "waiting": summary.waiting, "unassigned": summary.unassigned,
            "pending": summary.pending, "active_today": summary.active_today,
            "active_today_capped": summary.active_today_capped,
            "members": [{"id": str(row.key.public_id), "name": row.key.get_full_name() or row.key.email,
                         "available": not row.away, "open": row.open, "waiting": row.waiting,
                         "pending": row.pending} for row in summary.agents],
            "instances": [{"id": str(row.key.public_id), "name": row.key.name, "state": row.key.state,
                           "open": row.open, "waiting": row.waiting, "pending": row.pending}
                          for row in summary.instances],
        })

    @extend_schema(operation_id="conversations_close", request=None,
                   responses={200: ConversationSerializer, 404: ERRORS[404]},
                   examples=[OpenApiExample("Closed", response_only=True, value={
                       **CONVERSATION_EXAMPLE, "status": "closed", "closed_at": "2026-01-05T12:30:00Z"})])
    @action(detail=True, methods=["post"])
    def close(self, request: Request, id: str) -> Response:
        return self._set_status(Conversation.Status.CLOSED)

    @extend_schema(operation_id="conversations_reopen", request=None,
                   responses={200: ConversationSerializer, 404: ERRORS[404]}, examples=[CONVERSATION_RESPONSE])
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, id: str) -> Response:
        return self._set_status(Conversation.Status.OPEN)

    def _set_status(self, value: str) -> Response:
        conversation = self.get_object()
        services.conversation_set_status(company=self.company, conversation=conversation, status=value,
                                         actor=actor_label(self.request))
        return Response(ConversationSerializer(self.get_object()).data)

    @extend_schema(operation_id="conversations_messages", responses={200: MessageSerializer(many=True),
                                                                     404: ERRORS[404]},
                   parameters=[OpenApiParameter("cursor", str, description="From the previous page's `next`.")],
                   examples=[cursor_example(MESSAGE_EXAMPLE, f"/conversations/{CONVERSATION_EXAMPLE['id']}/messages",
                                            "cD0yMDI2LTAxLTA1KzExJTNBNDAlM0EwMi41MTgyMDclMkIwMCUzQTAw")])
    @action(detail=True, methods=["get"], pagination_class=MessageCursor)
    def messages(self, request: Request, id: str) -> Response:
        conversation = self.get_object()
        messages = (Message.objects.filter(company=self.company, conversation=conversation)
                    .select_related("conversation", "quoted", "reaction_target"))
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)


@extend_schema_view(
    retrieve=extend_schema(operation_id="messages_retrieve", responses={200: MessageSerializer, 404: ERRORS[404]},
                           examples=[OpenApiExample("Message", value=MESSAGE_EXAMPLE, response_only=True),
                                     OpenApiExample("A tapped list row", value=TAPPED_MESSAGE_EXAMPLE,
                                                    response_only=True)]),
)
class MessageViewSet(_Resolving, TenantViewSet):
    """Messages: send any kind (queued, then sent by a worker), read one, delete for everyone, retry."""

    model = Message
    serializer_class = MessageSerializer
    lookup_value_converter = "uuid"

    def required_scope(self, request: Request) -> str:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return ApiKey.Scope.READ
        return ApiKey.Scope.MESSAGES

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("conversation__contact", "quoted", "reaction_target")

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(MessageSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="messages_create", request=MessageCreateSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                     description="Repeat a request with the same key: the first message comes back "
                                                 "(200) and nothing is sent twice.")],
        responses={202: MessageSerializer, 200: MessageSerializer, 400: ERRORS[400], 403: ERRORS[403]},
        examples=[
            OpenApiExample("Text by session", request_only=True, value={
                "conversation_id": CONVERSATION_EXAMPLE["id"], "text": "Seu pedido saiu para entrega.",
                "agent_name": "Alice"}),
            OpenApiExample("Image by number", request_only=True, value={
                "instance_id": CONVERSATION_EXAMPLE["instance"], "number": "5511987654321", "kind": "image",
                "media_url": "https://example.com/catalogo.jpg", "text": "Nosso catálogo"}),
            OpenApiExample("List", request_only=True, value={
                "conversation_id": CONVERSATION_EXAMPLE["id"], "kind": "interactive", "interactive": {
                    "type": "list", "title": "Cardápio", "button_text": "Ver opções",
                    "sections": [{"title": "Pizzas", "rows": [{"id": "p1", "title": "Calabresa"}]}]}}),
            OpenApiExample("Queued", response_only=True, status_codes=[202], value=QUEUED_MESSAGE_EXAMPLE),
            OpenApiExample("Same Idempotency-Key", response_only=True, status_codes=[200], value=MESSAGE_EXAMPLE,
                           description="The first message, as it is now; nothing was sent again."),
        ],
        description="Stores the message `queued` and answers 202; a worker sends it (ticks move in "
                    "GET /messages/{id}, the inbox and the webhooks).",
    )
    def create(self, request: Request) -> Response:
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = _idempotency_key(request)
        # One transaction: a session opened for a number is not left behind when the message is refused. Its
        # live pushes (the bubble, the inbox row) go out together after the commit: one hop, one frame per page.
        with realtime.coalesced(), transaction.atomic(), problems():
            message, created = self._send(data.validated_data, key, request)
        if not created:  # the first message of this Idempotency-Key, as it is now
            message = self.get_queryset().get(pk=message.pk)
        # A new one is answered as stored: the row holds nothing the object in hand does not.
        return Response(MessageSerializer(message).data,
                        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="messages_bulk_create", request=BulkMessageCreateSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                     description="Repeat a request with the same key: the first messages come back "
                                                 "(200) and nothing is sent twice.")],
        responses={202: BulkMessagesSerializer, 200: BulkMessagesSerializer, 400: ERRORS[400], 403: ERRORS[403],
                   429: OpenApiResponse(description="The API key's budget (API_RATE_LIMIT, one unit per message) "
                                                    "is spent; Retry-After says when it has room for these."),
                   503: OpenApiResponse(description="Other work held these conversations each time the request was "
                                                    "tried; nothing was stored. Try again after Retry-After.")},
        examples=[
            OpenApiExample("Three messages", request_only=True, value={"messages": [
                {"instance_id": CONVERSATION_EXAMPLE["instance"], "number": "5511987654321",
                 "text": "Seu pedido 1042 saiu para entrega."},
                {"instance_id": CONVERSATION_EXAMPLE["instance"], "number": "5511987654321",
                 "kind": "location", "location": {"latitude": -23.55, "longitude": -46.63, "name": "Loja"}},
                {"conversation_id": CONVERSATION_EXAMPLE["id"], "text": "Obrigado pela compra!",
                 "agent_name": "Alice"}]}),
            OpenApiExample("Queued", response_only=True, status_codes=[202],
                           value={"messages": [QUEUED_MESSAGE_EXAMPLE]}),
            OpenApiExample("Same Idempotency-Key", response_only=True, status_codes=[200],
                           value={"messages": [MESSAGE_EXAMPLE]},
                           description="The first request's messages, as they are now; nothing was sent again."),
            OpenApiExample("One refused", response_only=True, status_codes=[400], value={
                "type": "https://recado.dev/problems/validation", "title": "Invalid input", "status": 400,
                "detail": "messages: 1: text: Write a message.",
                "errors": {"messages": {"1": {"text": ["Write a message."]}}}}),
        ],
        description=f"Up to {BULK_MAX_MESSAGES} messages in one request and one transaction: all are stored "
                    "`queued` (and answered 202 in the order given) or, when any is refused, none is, and the "
                    "400 names each refused one by its index. Each chat's messages leave in the order given; "
                    "the per-number send throttle applies as to any send. Counts as one request per message "
                    "against the API key's budget.",
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        data = BulkMessageCreateSerializer(data=request.data)
        if not data.is_valid():
            errors = dict(data.errors)
            items = errors.get("messages")
            if isinstance(items, list) and any(isinstance(item, dict) for item in items):
                # Each refused message by its index, as the refusals found while storing them are named.
                errors["messages"] = {str(index): item for index, item in enumerate(items) if item}
            raise exceptions.ValidationError(errors)
        key = _idempotency_key(request, room=4)  # each message's key: "<key>:<index>"
        items = data.validated_data["messages"]
        for attempt in range(1, BULK_DEADLOCK_ATTEMPTS + 1):
            try:
                # The live pushes of every message go out together after the commit (one hop, one frame per page).
                with realtime.coalesced(), transaction.atomic():
                    refusals = _Refusals()  # every refused message is named in one 400, not the first alone
                    conversations = self._bulk_conversations(items, refusals)
                    if key or any(fields["kind"] == Message.Kind.REACTION for fields in items):
                        # One by one: each message's own key; a reaction replaces our earlier one, in order.
                        results = []
                        for index, fields in enumerate(items):
                            if conversations[index] is not None:
                                with refusals.item(index):
                                    results.append(self._send(fields, f"{key}:{index}" if key else None, request,
                                                              conversation=conversations[index]))
                        refusals.raise_any()  # rolls back what was stored meanwhile
                    else:
                        results = self._store_all(items, conversations, request, refusals)
                break
            except OperationalError as error:
                # Another transaction locked some of these conversations in another order (an inbound drain's
                # batch, say) and PostgreSQL chose this one to roll back: nothing of it is left; try again, a
                # little later each time (with jitter, so two requests that collided do not collide again).
                if not isinstance(error.__cause__, DeadlockDetected):
                    raise
                if attempt == BULK_DEADLOCK_ATTEMPTS:
                    raise Busy(_("Other work held these conversations; nothing was stored. Try again.")) from error
                time.sleep(random.uniform(0.02, 0.1) * attempt)  # noqa: S311 (jitter, not security)
        created = any(new for _message, new in results)
        messages = [message for message, _new in results]
        if not created:  # a repeat of the whole request: the first messages, as they are now
            found = {message.pk: message for message in self.get_queryset().filter(pk__in=[m.pk for m in messages])}
            messages = [found[message.pk] for message in messages]
        return Response({"messages": MessageSerializer(messages, many=True).data},
                        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    def throttle_cost(self, request: Request) -> int:
        """Units of the API key's budget this request takes: one per message sent."""
        if self.action == "bulk" and isinstance(request.data, dict) and isinstance(request.data.get("messages"), list):
            return max(1, min(len(request.data["messages"]), BULK_MAX_MESSAGES))
        return 1

    def _bulk_conversations(self, items: list[dict], refusals: _Refusals) -> list[Conversation | None]:
        """Each message's conversation, opened (or found) one chat at a time in a fixed order, then all of them
        locked in id order before any message is stored: two bulk requests sharing chats wait for each other
        instead of each holding what the other needs. None for a refused one (each of its messages named)."""
        keys = [(str(fields["conversation_id"]), "") if fields.get("conversation_id")
                else (str(fields["instance_id"]), fields["number"]) for fields in items]
        first_index = {}
        for index, item_key in enumerate(keys):
            first_index.setdefault(item_key, index)
        found: dict[tuple[str, str], Conversation] = {}
        for item_key in sorted(first_index):
            with refusals.item(first_index[item_key]):
                found[item_key] = self._conversation(items[first_index[item_key]])
        for index, item_key in enumerate(keys):
            if item_key not in found:
                refusals.same_as(index, first_index[item_key])
        locked = {conversation.pk: conversation for conversation in
                  Conversation.objects.filter(company=self.company, pk__in=[c.pk for c in found.values()])
                  .order_by("pk").select_for_update(of=("self",))}
        return [locked.get(found[item_key].pk, found[item_key]) if item_key in found else None for item_key in keys]

    def _store_all(self, items: list[dict], conversations: list[Conversation | None], request: Request,
                   refusals: _Refusals) -> list[tuple[Message, bool]]:
        """Every message built (each refusal named by its index), then stored together (services.messages_store:
        one INSERT; the conversations are locked by _bulk_conversations)."""
        messages = []
        for index, (fields, conversation) in enumerate(zip(items, conversations, strict=True)):
            if conversation is None:
                continue
            with refusals.item(index):
                messages.append(services.message_build(
                    company=self.company, conversation=conversation, outgoing=self._outgoing(conversation, fields),
                    sender_type=Message.SenderType.API, sender_label=fields["agent_name"] or request.auth.name))
        refusals.raise_any()
        with problems():
            services.messages_store(company=self.company, messages=messages, locked=True)
        return [(message, True) for message in messages]

    def _send(self, fields: dict, key: str | None, request: Request,
              conversation: Conversation | None = None) -> tuple[Message, bool]:
        conversation = conversation or self._conversation(fields)
        outgoing = self._outgoing(conversation, fields)
        return services.message_send(
            company=self.company, conversation=conversation, outgoing=outgoing, sender_type=Message.SenderType.API,
            sender_label=fields["agent_name"] or request.auth.name, idempotency_key=key)

    def _conversation(self, fields: dict) -> Conversation:
        if fields.get("conversation_id"):
            conversation = selectors.conversation_get(company=self.company, public_id=fields["conversation_id"])
            if conversation is None:
                raise exceptions.ValidationError({"conversation_id": [_("Unknown conversation.")]})
            return conversation
        instance = self._instance(fields["instance_id"])
        contact = self._contact_by_number(instance, fields["number"])
        with problems():
            conversation, _created = services.conversation_start(company=self.company, instance=instance,
                                                                 contact=contact)
        return conversation

    def _outgoing(self, conversation: Conversation, fields: dict) -> Outgoing:
        location = fields.get("location") or {}
        return Outgoing(
            kind=fields["kind"], text=fields["text"], media_url=fields["media_url"],
            media_base64=fields["media_base64"], mimetype=fields["mimetype"], filename=fields["filename"],
            voice=fields["voice"], latitude=location.get("latitude"), longitude=location.get("longitude"),
            location_name=location.get("name", ""), location_address=location.get("address", ""),
            contacts=tuple(dict(card) for card in fields.get("contacts") or ()),
            interactive=_plain(fields.get("interactive")),
            quoted=self._message_in(conversation, fields.get("reply_to"), "reply_to"),
            reaction_target=self._message_in(conversation, fields.get("reaction_to"), "reaction_to"),
            emoji=fields["emoji"],
        )

    @extend_schema(operation_id="messages_delete", request=None,
                   responses={200: MessageSerializer, 403: ERRORS[403], 404: ERRORS[404], 422: ERRORS[422],
                              503: ERRORS[503]},
                   examples=[OpenApiExample("Deleted", response_only=True, value={
                       **MESSAGE_EXAMPLE, "status": "deleted", "is_deleted": True,
                       "deleted_at": "2026-01-05T12:10:00Z"})],
                   description="Delete for everyone on WhatsApp; the message stays here, marked deleted.")
    def destroy(self, request: Request, id: str) -> Response:
        message = self.get_object()
        with problems():
            services.message_delete_for_everyone(company=self.company, message=message)
        return Response(MessageSerializer(self.get_object()).data)

    @extend_schema(operation_id="messages_retry", request=None,
                   responses={202: MessageSerializer, 403: ERRORS[403], 404: ERRORS[404], 422: ERRORS[422]},
                   examples=[OpenApiExample("Queued again", response_only=True, status_codes=[202],
                                            value=QUEUED_MESSAGE_EXAMPLE)])
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, id: str) -> Response:
        message = self.get_object()
        with problems():
            services.message_retry(company=self.company, message=message)
        return Response(MessageSerializer(self.get_object()).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(operation_id="messages_media", responses={(200, "*/*"): OpenApiTypes.BINARY, 404: ERRORS[404]},
                   description="The message's stored file (received media once copied, a file sent as base64), "
                               "with its type; the `media.url` of the message events. 404 while there is none.")
    @action(detail=True, methods=["get"], content_negotiation_class=DownloadNegotiation)
    def media(self, request: Request, id: str) -> FileResponse:
        message = self.get_object()
        if not message.media_file:
            raise exceptions.NotFound(_("This message has no stored file."))
        return media.file_response(message)


@contextmanager
def _item_errors(index: int):
    """A refusal of one message of a bulk request, named by its index (use-case errors as in problems())."""
    try:
        with problems():
            yield
    except exceptions.ValidationError as error:
        raise exceptions.ValidationError({"messages": {str(index): error.detail}}) from error


class _Refusals:
    """The refused messages of a bulk request by index, gathered so that one 400 names them all."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    @contextmanager
    def item(self, index: int):
        try:
            with _item_errors(index):
                yield
        except exceptions.ValidationError as error:
            self.errors.update(error.detail["messages"])

    def same_as(self, index: int, first: int) -> None:
        """Message `index` is refused for the reason message `first` was (the same chat)."""
        self.errors[str(index)] = self.errors[str(first)]

    def raise_any(self) -> None:
        if self.errors:
            raise exceptions.ValidationError({"messages": dict(sorted(self.errors.items(), key=lambda e: int(e[0])))})


def _idempotency_key(request: Request, room: int = 0) -> str | None:
    """The Idempotency-Key header, cut to what the column holds (less `room` for a suffix)."""
    key = (request.headers.get("Idempotency-Key") or "").strip()[:200 - room] or None
    if key and "\x00" in key:
        raise exceptions.ValidationError({"Idempotency-Key": [_("Null characters are not allowed.")]})
    return key


def _plain(value):
    """Serializer output (ordered dicts, nested lists) as plain JSON values."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# --- quick replies ---------------------------------------------------------------------------------------

class QuickReplySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = QuickReply
        fields = ["id", "shortcut", "text", "created_at", "updated_at"]
        read_only_fields = fields


class QuickReplyWriteSerializer(serializers.Serializer):
    shortcut = serializers.CharField(max_length=41, help_text=(
        "Typed after “/” in the inbox's message box: up to 40 of a-z, 0-9, “-” and “_” (a leading “/” and capitals "
        "are accepted and dropped); unique in the company."))
    text = serializers.CharField(max_length=MAX_TEXT_LENGTH, help_text=(
        "The reply; {{contact.name}}, {{contact.first_name}} and {{agent.name}} are filled in when an agent "
        "inserts it."))

    def validate_shortcut(self, value: str) -> str:
        try:
            return services.quick_reply_shortcut_clean(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error


QUICK_REPLY_EXAMPLE = {"id": "2f0c4a4e-8f5e-4b8a-9a52-1d2f3c4b5a69", "shortcut": "pix",
                       "text": "Olá {{contact.first_name}}! Nossa chave Pix é o CNPJ 12.345.678/0001-90.",
                       "created_at": "2026-12-01T12:00:00Z", "updated_at": "2026-12-01T12:00:00Z"}


QUICK_REPLY_ERRORS = {
    400: OpenApiResponse(description="Invalid input: a shortcut not of a-z, 0-9, “-” and “_”, an empty or too long "
                                     "text."),
    404: OpenApiResponse(description="Unknown quick reply (another company's ids look the same)."),
    409: OpenApiResponse(description="The company has a quick reply with that shortcut.", examples=[
        OpenApiExample("Shortcut taken", value={
            "type": "https://recado.dev/problems/duplicate-shortcut", "title": "Conflict", "status": 409,
            "detail": "A quick reply “/pix” already exists."})]),
}


@contextmanager
def quick_reply_problems():
    try:
        yield
    except services.QuickReplyShortcutTaken as error:
        raise Conflict(error.message, code="duplicate-shortcut") from error
    except DjangoValidationError as error:
        raise exceptions.ValidationError(error.message_dict) from error


@extend_schema_view(
    list=extend_schema(operation_id="quick_replies_list",
                       parameters=[OpenApiParameter("search", str, description="Part of the shortcut or the text.")],
                       examples=[page_example(QUICK_REPLY_EXAMPLE, "/quick-replies", count=1)]),
    retrieve=extend_schema(operation_id="quick_replies_retrieve",
                           responses={200: QuickReplySerializer, 404: QUICK_REPLY_ERRORS[404]},
                           examples=[OpenApiExample("Quick reply", value=QUICK_REPLY_EXAMPLE, response_only=True)]),
)
class QuickReplyViewSet(TenantViewSet):
    """Saved answers agents insert in the inbox's message box with "/" and a shortcut."""

    model = QuickReply
    serializer_class = QuickReplySerializer
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        search = query_text(self.request, "search") if self.action == "list" else ""
        return selectors.quick_reply_list(company=self.company, search=search)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(QuickReplySerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(QuickReplySerializer(self.get_object()).data)

    @extend_schema(operation_id="quick_replies_create", request=QuickReplyWriteSerializer,
                   responses={201: QuickReplySerializer, 400: QUICK_REPLY_ERRORS[400], 409: QUICK_REPLY_ERRORS[409]},
                   examples=[OpenApiExample("New quick reply", request_only=True, value={
                       "shortcut": "pix", "text": QUICK_REPLY_EXAMPLE["text"]}),
                             OpenApiExample("Quick reply", value=QUICK_REPLY_EXAMPLE, response_only=True)])
    def create(self, request: Request) -> Response:
        data = QuickReplyWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with quick_reply_problems():
            reply = services.quick_reply_create(company=self.company, **data.validated_data)
        return Response(QuickReplySerializer(reply).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="quick_replies_update", request=QuickReplyWriteSerializer,
                   responses={200: QuickReplySerializer, 400: QUICK_REPLY_ERRORS[400], 404: QUICK_REPLY_ERRORS[404],
                              409: QUICK_REPLY_ERRORS[409]},
                   examples=[OpenApiExample("New text", request_only=True, value={"text": "Chave Pix: CNPJ."}),
                             OpenApiExample("Quick reply", response_only=True,
                                            value={**QUICK_REPLY_EXAMPLE, "text": "Chave Pix: CNPJ."})])
    def partial_update(self, request: Request, id: str) -> Response:
        reply = self.get_object()
        data = QuickReplyWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with quick_reply_problems():
            services.quick_reply_update(company=self.company, quick_reply=reply, **data.validated_data)
        return Response(QuickReplySerializer(reply).data)

    @extend_schema(operation_id="quick_replies_destroy", responses={204: None, 404: QUICK_REPLY_ERRORS[404]})
    def destroy(self, request: Request, id: str) -> Response:
        services.quick_reply_delete(company=self.company, quick_reply=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("messages", MessageViewSet, basename="message")
router.register("quick-replies", QuickReplyViewSet, basename="quick-reply")
