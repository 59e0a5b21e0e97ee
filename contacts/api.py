"""REST API /api/v1/contacts and /api/v1/tags (the seed operations integrators already use).

Errors are problem+json: 400 invalid input (bad color, unknown or foreign tag ids — nothing applied),
404 unknown or foreign contact/tag, 409 duplicate tag name (any case) or a contact that already
exists under another form of its number (with the existing contact's `id`).
"""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts import csv_format, imports, selectors, services
from contacts.models import Contact, ContactIdentifier, ContactImport, ContactType, Tag
from contacts.selectors import ContactFilters
from instances.models import Instance
from integrations import bots
from integrations.models import BotPauseChange
from tenants.access import actor_label
from tenants.api import TenantViewSet, query_text
from tenants.openapi import UUID_OR_EMPTY, ListExample, page_example
from tenants.problems import Conflict

COLOR = r"^#[0-9a-fA-F]{6}$"


@contextmanager
def problems():
    """Use-case errors as the API's problem responses."""
    try:
        yield
    except services.ContactExists as error:
        raise Conflict(error.message, code="contact-exists", extra={"id": str(error.contact.public_id)}) from error
    except services.TagNameTaken as error:
        raise Conflict(error.message, code="duplicate-name") from error
    except DjangoValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        raise exceptions.ValidationError(detail) from error


# --- serializers --------------------------------------------------------------------------------

class TagSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    contact_count = serializers.IntegerField(read_only=True, help_text="Contacts carrying this tag.")

    class Meta:
        model = Tag
        fields = ["id", "name", "color", "contact_count", "created_at"]
        read_only_fields = fields


class TagBriefSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "name", "color"]
        read_only_fields = fields


class TagWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50, help_text="Unique in the company, whatever the letter case.")
    color = serializers.RegexField(COLOR, required=False, help_text="Hex color `#rrggbb`.",
                                   error_messages={"invalid": gettext_lazy("Enter a color as #rrggbb, e.g. #1a7f37.")})


class ContactSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    channel = serializers.UUIDField(source="instance.public_id", read_only=True,
                                    help_text="The instance (WhatsApp number) the contact writes to.")
    tags = TagBriefSerializer(many=True, read_only=True)
    extra_identifiers = serializers.SerializerMethodField(
        help_text="Other forms the contact writes from (LIDs, the number without/with the BR 9th digit).")
    # Plain strings: both may be empty, which the model's URL and slug formats would not allow in the schema.
    photo_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")
    platform = serializers.CharField(read_only=True, help_text="The bot platform's slug, or empty.")

    class Meta:
        model = Contact
        fields = ["id", "channel", "type", "identifier", "extra_identifiers", "name", "custom_name", "photo_url",
                  "platform", "is_ignored", "bot_paused", "bot_paused_until", "tags", "created_at", "updated_at"]
        read_only_fields = fields

    def get_extra_identifiers(self, contact: Contact) -> list[str]:
        return [row.identifier for row in contact.identifiers.all() if row.kind != ContactIdentifier.Kind.PRIMARY]


class BotChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = BotPauseChange
        fields = ["paused", "reason", "actor", "until", "at"]
        read_only_fields = fields


class ContactUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    custom_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    photo_url = serializers.URLField(max_length=1000, required=False, allow_blank=True)
    platform = serializers.SlugField(max_length=50, required=False, allow_blank=True,
                                     help_text="Slug of the bot platform that gets this contact's messages.")
    is_ignored = serializers.BooleanField(required=False,
                                          help_text="The service desk does not intercept this contact's messages.")
    bot_paused = serializers.BooleanField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False,
                                 help_text="Tag ids; replaces the contact's tags.")


class ContactCreateSerializer(ContactUpdateSerializer):
    channel = serializers.UUIDField(help_text="Id of one of the company's instances.")
    identifier = serializers.CharField(max_length=80,
                                       help_text="Phone digits with country code, or a group id (`...@g.us`).")
    type = serializers.ChoiceField(choices=ContactType.choices, required=False)
    extra_identifiers = serializers.ListField(child=serializers.CharField(max_length=80), required=False,
                                              help_text="LIDs or other numbers of the same person.")


class MergeSerializer(serializers.Serializer):
    merge = serializers.CharField(max_length=64, help_text=(
        "Id of the contact to merge into this one (same channel). Its identifiers, tags, conversation and messages "
        "move here; it is deleted."))


class TagIdsSerializer(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField(), allow_empty=False, help_text="Tag ids.")


TAG_EXAMPLE = {"id": "3f0c6b2e-8a0e-4d4c-9a57-2f1d5b7e9c10", "name": "VIP", "color": "#1a7f37",
               "contact_count": 12, "created_at": "2026-01-05T12:00:00Z"}
CONTACT_EXAMPLE = {
    "id": "a1b2c3d4-0000-4000-8000-000000000001", "channel": "0b7e3f52-1d7c-4e8e-9c1a-5d6e7f8a9b0c",
    "type": "individual", "identifier": "5511987654321", "extra_identifiers": ["551187654321"],
    "name": "Maria", "custom_name": "Maria (loja centro)", "photo_url": "", "platform": "",
    "is_ignored": False, "bot_paused": False, "bot_paused_until": None,
    "tags": [{"id": TAG_EXAMPLE["id"], "name": "VIP", "color": "#1a7f37"}],
    "created_at": "2026-01-05T12:00:00Z", "updated_at": "2026-01-05T12:00:00Z",
}
ERRORS = {
    400: OpenApiResponse(description="Invalid input, or unknown/foreign tag ids (nothing applied)."),
    404: OpenApiResponse(description="Unknown contact or tag (another company's ids look the same)."),
    409: OpenApiResponse(
        description="Duplicate tag name, or the contact exists (under another form of its number); `id` names it.",
        examples=[OpenApiExample("Contact exists", value={
            "type": "https://recado.dev/problems/contact-exists", "title": "Conflict", "status": 409,
            "detail": "This contact already exists (Maria).", "id": CONTACT_EXAMPLE["id"]})],
    ),
}
ORDER = OpenApiParameter("order", str, enum=["asc", "desc"], description="By creation time; default `desc`.")
CONTACT_FILTERS = [
    ORDER,
    OpenApiParameter("type", str, enum=ContactType.values),
    OpenApiParameter("channel", UUID_OR_EMPTY, description="Only contacts of this instance (empty: any)."),
    OpenApiParameter("name", str, description="Part of the name or custom name."),
    OpenApiParameter("identifier", str, description="A number in any form (matches every form of it) or digits."),
    OpenApiParameter("tags", str, description="Comma-separated tag ids: contacts with any of them."),
    OpenApiParameter("search", str, description="Name, custom name or number."),
    OpenApiParameter("is_ignored", bool),
    OpenApiParameter("bot_paused", bool),
]
TAGS_BODY_EXAMPLE = OpenApiExample("Tag ids", value={"tags": [TAG_EXAMPLE["id"]]}, request_only=True)
CONTACT_RESPONSE = OpenApiExample("Contact", value=CONTACT_EXAMPLE, response_only=True)
CONTACT_TAGS_RESPONSE = ListExample("Tags", value=CONTACT_EXAMPLE["tags"], response_only=True)  # unpaged
TAG_RESPONSE = OpenApiExample("Tag", value=TAG_EXAMPLE, response_only=True)


def _bool_param(params, name: str) -> bool | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise exceptions.ValidationError({name: [_("Use true or false.")]})


def _order_param(params) -> bool:
    order = params.get("order", "desc").lower()
    if order not in ("asc", "desc"):
        raise exceptions.ValidationError({"order": [_("Use asc or desc.")]})
    return order == "desc"


# --- views --------------------------------------------------------------------------------------

class _TagResolving:
    def resolve_tags(self, ids: list[str], field: str = "tags") -> list[Tag]:
        """Every id must be one of the company's tags, or nothing is applied (400 naming the bad ids)."""
        tags, missing = selectors.tags_by_ids(company=self.company, public_ids=ids)
        if missing:
            raise exceptions.ValidationError(
                {field: [_("Unknown tag ids: %(ids)s.") % {"ids": ", ".join(missing)}]})
        return tags


@extend_schema_view(
    list=extend_schema(operation_id="contacts_list", parameters=CONTACT_FILTERS,
                       examples=[page_example(CONTACT_EXAMPLE, "/contacts")]),
    retrieve=extend_schema(operation_id="contacts_retrieve", responses={200: ContactSerializer, 404: ERRORS[404]},
                           examples=[CONTACT_RESPONSE]),
)
class ContactViewSet(_TagResolving, TenantViewSet):
    """The company's contacts."""

    model = Contact
    serializer_class = ContactSerializer
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        identifiers = selectors.identifiers_prefetch(self.company)
        if self.action == "list":
            return selectors.contact_list(company=self.company, filters=self._filters()).prefetch_related(identifiers)
        return selectors.contact_list(company=self.company).prefetch_related(identifiers)

    def _filters(self) -> ContactFilters:
        params = self.request.query_params
        contact_type = params.get("type", "")
        if contact_type and contact_type not in ContactType.values:
            raise exceptions.ValidationError({"type": [_("Use individual or group.")]})
        instance = None
        if params.get("channel"):
            instance = self._instance(params["channel"], field="channel")
        tag_ids = [value.strip() for raw in params.getlist("tags") for value in raw.split(",") if value.strip()]
        return ContactFilters(
            search=query_text(self.request, "search"), name=query_text(self.request, "name"),
            identifier=query_text(self.request, "identifier"),
            type=contact_type, instance=instance, tags=self.resolve_tags(tag_ids) if tag_ids else [],
            is_ignored=_bool_param(params, "is_ignored"), bot_paused=_bool_param(params, "bot_paused"),
            descending=_order_param(params),
        )

    def _instance(self, public_id, *, field: str) -> Instance:
        instance = selectors.channel_get(company=self.company, public_id=public_id)
        if instance is None:
            raise exceptions.ValidationError({field: [_("Unknown channel.")]})
        return instance

    def _reload(self, contact: Contact) -> Contact:
        return self.get_queryset().get(pk=contact.pk)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ContactSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(ContactSerializer(self.get_object()).data)

    @extend_schema(operation_id="contacts_create", request=ContactCreateSerializer,
                   responses={201: ContactSerializer, 400: ERRORS[400], 409: ERRORS[409]},
                   examples=[OpenApiExample("New contact", request_only=True, value={
                       "channel": CONTACT_EXAMPLE["channel"], "identifier": "5511987654321", "name": "Maria",
                       "tags": [TAG_EXAMPLE["id"]]}), CONTACT_RESPONSE])
    def create(self, request: Request) -> Response:
        data = ContactCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        instance = self._instance(fields.pop("channel"), field="channel")
        tags = self.resolve_tags(fields.pop("tags", []))
        with problems():
            contact = services.contact_create(company=self.company, instance=instance, tags=tags, **fields)
        return Response(ContactSerializer(self._reload(contact)).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="contacts_update", request=ContactUpdateSerializer,
                   responses={200: ContactSerializer, 400: ERRORS[400], 404: ERRORS[404]},
                   examples=[OpenApiExample("Name and tags", request_only=True, value={
                       "custom_name": CONTACT_EXAMPLE["custom_name"], "tags": [TAG_EXAMPLE["id"]]}),
                             CONTACT_RESPONSE])
    def partial_update(self, request: Request, id: str) -> Response:
        contact = self.get_object()
        data = ContactUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        tags = self.resolve_tags(fields.pop("tags")) if "tags" in fields else None
        with problems():
            services.contact_update(company=self.company, contact=contact, tags=tags,
                                    actor=actor_label(request), **fields)
        return Response(ContactSerializer(self._reload(contact)).data)

    @extend_schema(operation_id="contacts_remove_platform", request=None,
                   responses={200: ContactSerializer, 404: ERRORS[404]}, examples=[CONTACT_RESPONSE])
    @action(detail=True, methods=["delete"], url_path="platform")
    def platform(self, request: Request, id: str) -> Response:
        contact = self.get_object()
        services.contact_remove_platform(company=self.company, contact=contact)
        return Response(ContactSerializer(self._reload(contact)).data)

    @extend_schema(operation_id="contacts_bot_history", responses={200: BotChangeSerializer(many=True),
                                                                   404: ERRORS[404]},
                   examples=[ListExample("Paused by a reply, resumed on close", response_only=True, value=[
                       {"paused": False, "reason": "conversation_closed", "actor": "Alice", "until": None,
                        "at": "2026-11-22T09:02:00Z"},
                       {"paused": True, "reason": "agent_reply", "actor": "Alice", "until": "2026-11-22T10:40:00Z",
                        "at": "2026-11-22T08:40:00Z"}])],
                   description="Every pause and resume of the bot for this contact, newest first (the last 100).")
    @action(detail=True, methods=["get"], url_path="bot-history", pagination_class=None)
    def bot_history(self, request: Request, id: str) -> Response:
        changes = bots.change_list(company=self.company, contact=self.get_object(), limit=100)
        return Response(BotChangeSerializer(changes, many=True).data)

    @extend_schema(operation_id="contacts_tags_list", responses={200: TagBriefSerializer(many=True), 404: ERRORS[404]},
                   examples=[CONTACT_TAGS_RESPONSE])
    @action(detail=True, methods=["get"], url_path="tags", pagination_class=None)  # the whole list, unpaged
    def tags(self, request: Request, id: str) -> Response:
        return Response(TagBriefSerializer(self.get_object().tags.all(), many=True).data)

    @extend_schema(operation_id="contacts_tags_add", request=TagIdsSerializer,
                   examples=[TAGS_BODY_EXAMPLE, CONTACT_TAGS_RESPONSE],
                   responses={200: TagBriefSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]})
    @tags.mapping.post
    def add_tags(self, request: Request, id: str) -> Response:
        return self._change_tags(services.contact_add_tags)

    @extend_schema(operation_id="contacts_tags_set", request=TagIdsSerializer,
                   examples=[TAGS_BODY_EXAMPLE, CONTACT_TAGS_RESPONSE],
                   responses={200: TagBriefSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]})
    @tags.mapping.put
    def set_tags(self, request: Request, id: str) -> Response:
        return self._change_tags(services.contact_set_tags, allow_empty=True)

    @extend_schema(operation_id="contacts_tags_remove", request=TagIdsSerializer,
                   examples=[TAGS_BODY_EXAMPLE, CONTACT_TAGS_RESPONSE],
                   responses={200: TagBriefSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]})
    @tags.mapping.delete
    def remove_tags(self, request: Request, id: str) -> Response:
        return self._change_tags(services.contact_remove_tags)

    @extend_schema(operation_id="contacts_merge", request=MergeSerializer,
                   responses={200: ContactSerializer, 400: ERRORS[400], 404: ERRORS[404]},
                   examples=[OpenApiExample("Merge a duplicate", request_only=True,
                                            value={"merge": "a1b2c3d4-0000-4000-8000-000000000002"}),
                             CONTACT_RESPONSE],
                   description="Merge another contact of the same channel into this one: its identifiers, tags, "
                               "conversation and messages, bot history and the fields this one has empty move here, "
                               "and it is deleted (`contact.updated` and `contact.merged` are emitted). 400 naming "
                               "`merge` for itself, an unknown id, another channel or a group.")
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, id: str) -> Response:
        contact = self.get_object()
        data = MergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        other = selectors.contact_get(company=self.company, public_id=data.validated_data["merge"])
        try:
            with problems():
                result = services.contact_merge(company=self.company, contact=contact, other=other)
        except services.ContactGone:
            raise exceptions.ValidationError({"merge": [_("Unknown contact.")]}) from None
        return Response(ContactSerializer(self._reload(result.contact)).data)

    @extend_schema(operation_id="contacts_destroy",
                   responses={200: inline_serializer("ContactDeleted", {
                       "id": serializers.UUIDField(),
                       "deleted": inline_serializer("ContactDeletedCounts", {
                           "conversations": serializers.IntegerField(),
                           "messages": serializers.IntegerField(help_text="Private notes included."),
                           "media_files": serializers.IntegerField(help_text="Stored files removed."),
                       }),
                   }), 404: ERRORS[404]},
                   examples=[OpenApiExample("Deleted", response_only=True, value={
                       "id": CONTACT_EXAMPLE["id"],
                       "deleted": {"conversations": 1, "messages": 42, "media_files": 3}})],
                   description="Delete the contact for good (a privacy request) with its conversation, every message "
                               "and their stored media files; emits `contact.deleted`.")
    def destroy(self, request: Request, id: str) -> Response:
        contact = self.get_object()
        try:
            summary = services.contact_delete(company=self.company, contact=contact)
        except services.ContactGone:
            raise exceptions.NotFound from None
        return Response({"id": str(contact.public_id), "deleted": {
            "conversations": summary.conversations, "messages": summary.messages, "media_files": summary.media_files}})

    def _change_tags(self, service, allow_empty: bool = False) -> Response:
        contact = self.get_object()
        data = TagIdsSerializer(data=request_data_or_query(self.request))
        if allow_empty:
            data.fields["tags"].allow_empty = True
        data.is_valid(raise_exception=True)
        tags = self.resolve_tags(data.validated_data["tags"])
        with transaction.atomic():
            service(company=self.company, contact=contact, tags=tags)
        return Response(TagBriefSerializer(self._reload(contact).tags.all(), many=True).data)


def request_data_or_query(request: Request) -> dict:
    """Tag ids from the JSON body or, for clients that send no body with DELETE, `?tags=a,b`.

    Only DELETE falls back to the query: a PUT without a body is a 400, never "set no tags"."""
    if request.data or request.method != "DELETE":
        return request.data
    return {"tags": [v.strip() for raw in request.query_params.getlist("tags") for v in raw.split(",") if v.strip()]}


@extend_schema_view(
    list=extend_schema(operation_id="tags_list",
                       parameters=[OpenApiParameter("name", str, description="Part of the name.")],
                       examples=[page_example(TAG_EXAMPLE, "/tags", count=8)]),
    retrieve=extend_schema(operation_id="tags_retrieve", responses={200: TagSerializer, 404: ERRORS[404]},
                           examples=[TAG_RESPONSE]),
)
class TagViewSet(TenantViewSet):
    """The company's tags."""

    model = Tag
    serializer_class = TagSerializer
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        name = query_text(self.request, "name") if self.action == "list" else ""
        return selectors.tag_list(company=self.company, name=name)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TagSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(TagSerializer(self.get_object()).data)

    @extend_schema(operation_id="tags_create", request=TagWriteSerializer,
                   responses={201: TagSerializer, 400: ERRORS[400], 409: ERRORS[409]},
                   examples=[OpenApiExample("New tag", value={"name": "VIP", "color": "#1a7f37"}, request_only=True),
                             OpenApiExample("Tag", value={**TAG_EXAMPLE, "contact_count": 0}, response_only=True)])
    def create(self, request: Request) -> Response:
        data = TagWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with problems():
            tag = services.tag_create(company=self.company, **data.validated_data)
        return Response(TagSerializer(self.get_queryset().get(pk=tag.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="tags_update", request=TagWriteSerializer,
                   responses={200: TagSerializer, 400: ERRORS[400], 404: ERRORS[404], 409: ERRORS[409]},
                   examples=[OpenApiExample("New color", value={"color": TAG_EXAMPLE["color"]}, request_only=True),
                             TAG_RESPONSE])
    def partial_update(self, request: Request, id: str) -> Response:
        tag = self.get_object()
        data = TagWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with problems():
            services.tag_update(company=self.company, tag=tag, **data.validated_data)
        return Response(TagSerializer(self.get_queryset().get(pk=tag.pk)).data)

    @extend_schema(operation_id="tags_destroy",
                   responses={200: inline_serializer("TagDeleted", {
                       "id": serializers.UUIDField(),
                       "affected_contacts": serializers.IntegerField(help_text="Contacts that lost the tag."),
                   }), 404: ERRORS[404]},
                   examples=[OpenApiExample("Deleted", response_only=True, value={
                       "id": TAG_EXAMPLE["id"], "affected_contacts": TAG_EXAMPLE["contact_count"]})])
    def destroy(self, request: Request, id: str) -> Response:
        tag = self.get_object()
        affected = services.tag_delete(company=self.company, tag=tag)
        return Response({"id": str(tag.public_id), "affected_contacts": affected})

    @extend_schema(operation_id="tags_contacts", parameters=[ORDER],
                   responses={200: ContactSerializer(many=True), 404: ERRORS[404]},
                   examples=[page_example(CONTACT_EXAMPLE, f"/tags/{TAG_EXAMPLE['id']}/contacts",
                                          count=TAG_EXAMPLE["contact_count"])])
    @action(detail=True, methods=["get"])
    def contacts(self, request: Request, id: str) -> Response:
        tag = self.get_object()
        identifiers = selectors.identifiers_prefetch(self.company)
        contacts = selectors.contact_list(company=self.company, filters=ContactFilters(
            tags=[tag], descending=_order_param(request.query_params))).prefetch_related(identifiers)
        page = self.paginate_queryset(contacts)
        return self.get_paginated_response(ContactSerializer(page, many=True).data)


# --- CSV imports ---------------------------------------------------------------------------------

class ContactImportSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    channel = serializers.UUIDField(source="instance.public_id")
    filename = serializers.CharField()
    status = serializers.ChoiceField(choices=ContactImport.Status.choices,
                                     help_text="queued → running → done (or failed, with `error`).")
    has_header = serializers.BooleanField()
    mapping = serializers.DictField(child=serializers.CharField(),
                                    help_text="Column index (from 0) → contact field.")
    total_rows = serializers.IntegerField()
    processed_rows = serializers.IntegerField()
    created_count = serializers.IntegerField()
    updated_count = serializers.IntegerField()
    unchanged_count = serializers.IntegerField()
    rejected_count = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ContactImportDetailSerializer(ContactImportSerializer):
    rejected = serializers.ListField(child=serializers.DictField(), help_text=(
        "Each refused row: its `line` in the file, its `values` and the `reason`."))


class ContactImportCreateSerializer(serializers.Serializer):
    channel = serializers.UUIDField(help_text="The instance whose contacts these are.")
    csv = serializers.CharField(required=False, trim_whitespace=False, max_length=imports.MAX_FILE_BYTES,
                                help_text="The file's text (UTF-8): comma, semicolon or tab separated.")
    file = serializers.FileField(required=False, help_text="Or the file itself, as multipart/form-data: UTF-8 (with "
                                 "or without BOM), UTF-16 with its BOM (Excel's \"Unicode text\") or Windows-1252.")
    filename = serializers.CharField(required=False, max_length=200, default="api.csv")
    has_header = serializers.BooleanField(required=False, help_text="Default: whether a header row was recognised.")
    mapping = serializers.DictField(
        required=False, child=serializers.ChoiceField(choices=[key for key in csv_format.FIELDS if key]),
        help_text="Column index (from 0) → contact field; default: guessed from the header (English or Portuguese "
                  "names such as phone/telefone, name/nome, tags/etiquetas).")

    def validate_mapping(self, value: dict) -> dict:
        if any(not key.isdigit() for key in value):
            raise serializers.ValidationError(_("Name each column by its index, from 0."))
        return value

    def validate(self, data):
        if ("csv" in data) == ("file" in data):
            raise serializers.ValidationError({"csv": [_("Send the CSV as `csv` text or as a `file`, one of them.")]})
        upload = data.pop("file", None)
        if upload is not None:
            if upload.size > imports.MAX_FILE_BYTES:
                raise serializers.ValidationError({"file": [_("The file is larger than 5 MB; split it into "
                                                              "smaller files.")]})
            data["raw"], data["filename"] = upload.read(), upload.name or data["filename"]
        else:
            data["raw"] = data.pop("csv").encode()
        return data


IMPORT_EXAMPLE = {
    "id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "channel": "84d7e0c1-5b2a-4c3d-9e8f-7a6b5c4d3e2f",
    "filename": "erp.csv", "status": "done", "has_header": True,
    "mapping": {"0": "identifier", "1": "name", "2": "tags"}, "total_rows": 3, "processed_rows": 3,
    "created_count": 2, "updated_count": 0, "unchanged_count": 0, "rejected_count": 1, "error": "",
    "created_at": "2026-01-05T10:00:00Z", "finished_at": "2026-01-05T10:00:02Z",
    "rejected": [{"line": 4, "values": ["12", "Zé", ""],
                  "reason": "“12” is not a valid phone number. Write it with the country code, e.g. 5511987654321."}],
}
IMPORT_SUMMARY_EXAMPLE = {key: value for key, value in IMPORT_EXAMPLE.items() if key != "rejected"}


@extend_schema_view(
    list=extend_schema(operation_id="contact_imports_list", description="The company's CSV imports, newest first.",
                       examples=[page_example(IMPORT_SUMMARY_EXAMPLE, "/contacts/imports")]),
    retrieve=extend_schema(operation_id="contact_imports_retrieve", responses={200: ContactImportDetailSerializer},
                           examples=[OpenApiExample("Done", response_only=True, value=IMPORT_EXAMPLE)]),
)
class ContactImportViewSet(TenantViewSet):
    """Contacts from a CSV file, imported in the background as the Contacts page's import does."""

    model = ContactImport
    serializer_class = ContactImportSerializer
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("instance").order_by("-created_at", "-pk")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ContactImportSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(ContactImportDetailSerializer(self.get_object()).data)

    @extend_schema(operation_id="contact_imports_create", request=ContactImportCreateSerializer,
                   responses={202: ContactImportSerializer, 400: ERRORS[400]},
                   examples=[OpenApiExample("CSV text", request_only=True, value={
                       "channel": IMPORT_EXAMPLE["channel"], "filename": "erp.csv",
                       "csv": "telefone;nome;etiquetas\n5511987654321;Maria;VIP|Atacado\n"}),
                             OpenApiExample("Queued", response_only=True, status_codes=["202"], value={
                                 **IMPORT_SUMMARY_EXAMPLE, "status": "queued",
                                 "total_rows": 0, "processed_rows": 0, "created_count": 0, "rejected_count": 0,
                                 "finished_at": None})],
                   description="Queue an import: each row creates or updates a contact of `channel` (upserts: "
                               "sending the same file again changes nothing). Poll `GET …/imports/{id}` for the "
                               "counts and the refused rows. Up to 5 MB.")
    def create(self, request: Request) -> Response:
        data = ContactImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        instance = selectors.channel_get(company=self.company, public_id=fields["channel"])
        if instance is None:
            raise exceptions.ValidationError({"channel": [_("Unknown channel.")]})
        with transaction.atomic():  # a refused mapping leaves no import behind
            try:
                contact_import = imports.contact_import_create(company=self.company, instance=instance,
                                                               filename=fields["filename"], raw=fields["raw"])
            except imports.ImportFileError as error:
                raise exceptions.ValidationError({"csv": [error.message]}) from error
            try:
                contact_import = imports.contact_import_start(
                    company=self.company, contact_import=contact_import,
                    mapping=fields.get("mapping", contact_import.mapping),
                    has_header=fields.get("has_header", contact_import.has_header))
            except DjangoValidationError as error:
                raise exceptions.ValidationError({"mapping": error.messages}) from error
        return Response(ContactImportSerializer(contact_import).data, status=status.HTTP_202_ACCEPTED)


router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("contacts/imports", ContactImportViewSet, basename="contact-import")
router.register("contacts", ContactViewSet, basename="contact")
router.register("tags", TagViewSet, basename="tag")
