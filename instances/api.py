"""REST API /api/v1/instances: create, list, retrieve, update, state, connect, QR image, restart, logout,
delete, and pausing/resuming the bot for a number.

Create, connect, restart, logout and delete call the gateway synchronously (short timeout): integrators
expect the token or the QR in the response. Errors are problem+json: 409 duplicate name, 403 limit
reached (with `limit`), 503 gateway unavailable (with Retry-After), 422 gateway refusal (its message).
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from instances import selectors, services
from instances.errors import (
    GatewayRejected,
    GatewayUnavailable,
    InstanceError,
    InstanceLimitReached,
    InstanceNameInvalid,
    InstanceNameTaken,
    InstanceSettingsInvalid,
)
from instances.models import Instance, InstanceState
from integrations import bots
from integrations.models import BotPauseChange
from messaging import auto_replies
from messaging.models import AutoReply
from tenants.access import actor_label
from tenants.api import DownloadNegotiation, TenantViewSet
from tenants.openapi import page_example
from tenants.problems import Conflict


class LimitReached(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "limit-reached"

    def __init__(self, detail: str, limit: int) -> None:
        super().__init__(detail)
        self.extra = {"limit": limit}


class GatewayUnavailableProblem(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "gateway-unavailable"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.wait = retry_after  # DRF turns `wait` into the Retry-After header


class GatewayRefusedProblem(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "gateway-refused"


@contextmanager
def problems():
    """Use-case errors as the API's problem responses."""
    try:
        yield
    except InstanceSettingsInvalid as error:
        raise exceptions.ValidationError({"settings": {error.field: [error.message]}}) from error
    except InstanceNameInvalid as error:
        raise exceptions.ValidationError({error.field: [error.message]}) from error
    except InstanceNameTaken as error:
        raise Conflict(error.message, code="duplicate-name") from error
    except InstanceLimitReached as error:
        raise LimitReached(error.message, error.limit) from error
    except GatewayUnavailable as error:
        raise GatewayUnavailableProblem(error.message, error.retry_after) from error
    except (GatewayRejected, InstanceError) as error:
        raise GatewayRefusedProblem(error.message) from error


class AutoReplySerializer(serializers.Serializer):
    """What the instance answers by itself (messaging/auto_replies.py checks every rule and names the field)."""

    greeting_enabled = serializers.BooleanField(required=False)
    greeting_text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    away_enabled = serializers.BooleanField(required=False)
    away_text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    time_zone = serializers.CharField(required=False, max_length=64,
                                      help_text="An IANA time zone, e.g. America/Sao_Paulo.")
    opening_hours = serializers.ListField(
        required=False, child=serializers.ListField(child=serializers.CharField(), allow_null=True),
        help_text='Seven days, Monday first: null (closed) or ["HH:MM", "HH:MM"] (opens, closes; closing before '
                  'opening runs past midnight into the next day).')
    auto_assign = serializers.BooleanField(
        required=False, help_text="Give each conversation a customer opens to the available member with the fewest "
                                  "open conversations.")
    auto_close_hours = serializers.IntegerField(
        required=False, allow_null=True, min_value=0,
        help_text="Close an open conversation with nothing unread after this many hours without a message (1 to "
                  "720); null or 0: never.")
    assign_to = serializers.ChoiceField(
        required=False, choices=AutoReply.AssignTo.choices,
        help_text="Who takes this instance's conversations when `auto_assign` is on: `all` (every available member) "
                  "or `listed` (only the available members of `assign_members`; when every one of them has left the "
                  "company, nobody: conversations stay unassigned and `assign_warning` says so). Left out while "
                  "`assign_members` is given, a non-empty list means `listed` and an empty one `all`.")
    assign_members = serializers.ListField(
        required=False, child=serializers.CharField(max_length=64), max_length=500,
        help_text="The listed members' user ids (`GET /members`); empty with `all`. An id that is not a member of "
                  "this company, `listed` with none, or members with `all` is a 400 naming this field.")
    assign_warning = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="Why assignment gives nothing out although it may be on (the instance is for `listed` members and "
                  "none is left), in the request's language; null when all is well.")

    away_warning = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="Why the away message answers at any hour (it is on and every day of `opening_hours` is closed), in "
                  "the request's language; null when all is well.")

    def to_representation(self, reply) -> dict:
        data = super().to_representation(reply)
        listed = auto_replies.assign_member_ids(company=reply.company, reply=reply)
        data["assign_members"] = [str(user_id) for user_id in listed]
        data["assign_warning"] = auto_replies.assign_warning(reply=reply, listed=listed)
        data["away_warning"] = auto_replies.away_warning(reply=reply)
        return data


AUTO_REPLY_EXAMPLE = {
    "greeting_enabled": True, "greeting_text": "Olá {{contact.first_name}}! Como podemos ajudar?",
    "away_enabled": True, "away_text": "Estamos fechados agora; respondemos a partir das 9h.",
    "time_zone": "America/Sao_Paulo",
    "opening_hours": [["09:00", "18:00"], ["09:00", "18:00"], ["09:00", "18:00"], ["09:00", "18:00"],
                      ["09:00", "18:00"], ["09:00", "13:00"], None],
    "auto_assign": True, "auto_close_hours": 24, "assign_to": "listed",
    "assign_members": ["9a8b7c6d-2222-4000-8000-000000000002"], "assign_warning": None, "away_warning": None,
}


class InstanceSettingsSerializer(serializers.Serializer):
    """How the number behaves on WhatsApp (what Evolution's manager calls its settings)."""

    reject_calls = serializers.BooleanField(help_text="Decline incoming WhatsApp calls automatically.")
    call_rejection_message = serializers.CharField(
        allow_blank=True, max_length=services.CALL_REJECTION_MESSAGE_MAX_LENGTH,
        help_text="Sent to the caller when a call is rejected; kept but not sent while `reject_calls` is false.")
    ignore_groups = serializers.BooleanField(
        help_text="Group messages are dropped by the gateway: no conversation, webhook or bot sees them.")
    always_online = serializers.BooleanField(help_text="Show the number as online while it is connected.")
    read_messages = serializers.BooleanField(help_text="Mark incoming messages as read as soon as they arrive.")
    read_status = serializers.BooleanField(help_text="Receive contacts' status updates and mark them as seen.")
    sync_full_history = serializers.BooleanField(
        help_text="Ask WhatsApp for the whole chat history when a phone is linked (from the next pairing on).")


class InstanceSettingsUpdateSerializer(InstanceSettingsSerializer):
    """Only the settings given change."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class InstanceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    phone_number = serializers.CharField(read_only=True, help_text="Digits with country code, once connected.")
    # A plain string: empty until the gateway tells one, which the model's URL format would not allow in the schema.
    profile_picture_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")
    starting_platform = serializers.CharField(read_only=True, help_text="Slug of the starting bot platform, or empty.")
    settings = InstanceSettingsSerializer(source="*", read_only=True)

    class Meta:
        model = Instance
        fields = ["id", "name", "label", "state", "phone_number", "owner_jid", "profile_name",
                  "profile_picture_url", "starting_platform", "settings", "state_changed_at", "created_at"]
        read_only_fields = fields


class InstanceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40, help_text="Lowercase letters, digits and hyphens.")
    label = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    token = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                  help_text="The instance's key on the gateway (16+ characters); random if omitted.")


class InstanceCreatedSerializer(InstanceSerializer):
    token = serializers.CharField(read_only=True, help_text="The instance's token on the gateway.")

    class Meta(InstanceSerializer.Meta):
        fields = [*InstanceSerializer.Meta.fields, "token"]
        read_only_fields = fields


class InstanceStateSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    state = serializers.ChoiceField(choices=InstanceState.choices)
    raw_state = serializers.CharField(help_text="The gateway's own word for the state, as last seen.")
    reason = serializers.CharField(source="state_reason")
    state_changed_at = serializers.DateTimeField()
    last_polled_at = serializers.DateTimeField(allow_null=True)


class InstanceUpdateSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=80, required=False, allow_blank=True)
    starting_platform = serializers.CharField(max_length=50, required=False, allow_blank=True,
                                              help_text="Slug of one of its platforms; empty for none.")
    settings = InstanceSettingsUpdateSerializer(required=False, help_text=(
        "WhatsApp behaviour; only the keys given change. Sent to the gateway first: a refusal (422) or a silent "
        "gateway (503) changes nothing."))


class BotPauseRequestSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=80, help_text="Phone number with country code, or a group id.")
    duration_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                                max_value=bots.MAX_PAUSE_MINUTES,
                                                help_text="Omit to pause until resumed or the conversation closes.")


class BotResumeRequestSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=80, help_text="Phone number with country code, or a group id.")


class BotStateSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="The contact's identifier as stored (digits or group id).")
    contact_id = serializers.UUIDField()
    bot_paused = serializers.BooleanField()
    paused_until = serializers.DateTimeField(allow_null=True)
    platform = serializers.CharField(allow_null=True, help_text="The platform that gets its messages when not paused.")
    changed = serializers.BooleanField(help_text="false when it already was in that state.")


class ConnectRequestSerializer(serializers.Serializer):
    number = serializers.CharField(required=False, allow_blank=True, max_length=20,
                                   help_text="Phone number (digits with country code) to get a pairing code.")


class ConnectSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=InstanceState.choices)
    qr = serializers.CharField(source="qr_data_url", allow_blank=True, help_text="QR code as a PNG data URL.")
    pairing_code = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField(source="connect_deadline", allow_null=True)
    count = serializers.IntegerField(source="qr_count")


ERRORS = {
    400: OpenApiResponse(description="Invalid input (problem+json with `errors`)."),
    403: OpenApiResponse(description="Instance limit reached (problem+json with `limit`)."),
    404: OpenApiResponse(description="Unknown instance."),
    409: OpenApiResponse(description="Duplicate name."),
    422: OpenApiResponse(description="The gateway refused (its message in `detail`)."),
    503: OpenApiResponse(description="Gateway unavailable; see Retry-After."),
}
INSTANCE_EXAMPLE = {
    "id": "0b7e3f52-1d7c-4e8e-9c1a-5d6e7f8a9b0c", "name": "vendas", "label": "Vendas (loja centro)", "state": "open",
    "phone_number": "5511912345678", "owner_jid": "5511912345678@s.whatsapp.net", "profile_name": "Mercearia Demo",
    "profile_picture_url": "https://pps.whatsapp.net/v/t61.24694-24/412345678_1234567890_n.jpg",
    "starting_platform": "sales-bot",
    "settings": {"reject_calls": True, "call_rejection_message": "Não atendemos ligações aqui; mande uma mensagem!",
                 "ignore_groups": True, "always_online": False, "read_messages": False, "read_status": False,
                 "sync_full_history": False},
    "state_changed_at": "2026-01-05T11:03:12Z", "created_at": "2026-01-05T11:00:00Z",
}
SETTINGS_OFF = dict.fromkeys(INSTANCE_EXAMPLE["settings"], False) | {"call_rejection_message": ""}
INSTANCE_RESPONSE = OpenApiExample("Instance", value=INSTANCE_EXAMPLE, response_only=True)
STATE_RESPONSE = OpenApiExample("Connected", response_only=True, value={
    "id": INSTANCE_EXAMPLE["id"], "state": "open", "raw_state": "open", "reason": "gateway_state",
    "state_changed_at": INSTANCE_EXAMPLE["state_changed_at"], "last_polled_at": "2026-01-05T12:00:30Z"})
QR_DATA_URL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAARQAAAEUCAYAAADqcMl5AAAAAklEQVR4AewaftIAAAYTSURBVO3BQY4c"
BOT_STATE_EXAMPLE = {"number": "5511987654321", "contact_id": "a1b2c3d4-0000-4000-8000-000000000001",
                     "bot_paused": True, "paused_until": "2026-01-05T13:00:00Z", "platform": "sales-bot",
                     "changed": True}
STATE_FILTER = OpenApiParameter("state", str, enum=[value for value, _label in InstanceState.choices],
                                description="Only instances in this state.")


@extend_schema_view(
    list=extend_schema(operation_id="instances_list", parameters=[STATE_FILTER],
                       examples=[page_example(INSTANCE_EXAMPLE, "/instances", count=2)]),
    retrieve=extend_schema(operation_id="instances_retrieve", responses={200: InstanceSerializer, 404: ERRORS[404]},
                           examples=[INSTANCE_RESPONSE]),
)
class InstanceViewSet(TenantViewSet):
    """The company's WhatsApp instances."""

    model = Instance
    serializer_class = InstanceSerializer
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = queryset.select_related("server").order_by("name")
        state = self.request.query_params.get("state")
        if self.action == "list" and state:
            if state not in InstanceState.values:
                raise exceptions.ValidationError({"state": [_("Unknown state.")]})
            queryset = queryset.filter(state=state)
        return queryset

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(InstanceSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(InstanceSerializer(self.get_object()).data)

    @extend_schema(operation_id="instances_create", request=InstanceCreateSerializer,
                   responses={201: InstanceCreatedSerializer, 403: ERRORS[403], 409: ERRORS[409],
                              422: ERRORS[422], 503: ERRORS[503]},
                   examples=[OpenApiExample("Sales number", request_only=True,
                                            value={"name": "vendas", "label": INSTANCE_EXAMPLE["label"]}),
                             OpenApiExample("Created", response_only=True, value={
                                 **INSTANCE_EXAMPLE, "state": "created", "phone_number": "", "owner_jid": "",
                                 "profile_name": "", "profile_picture_url": "", "starting_platform": "",
                                 "settings": SETTINGS_OFF, "state_changed_at": INSTANCE_EXAMPLE["created_at"],
                                 "token": "4f02f68b91cab6d9e26e9e6d983ce5ac"})])
    def create(self, request: Request) -> Response:
        data = InstanceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with problems():
            instance = services.instance_create(company=self.company, **data.validated_data)
        return Response(InstanceCreatedSerializer(instance).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="instances_destroy", responses={204: None, 404: ERRORS[404], 503: ERRORS[503]})
    def destroy(self, request: Request, id: str) -> Response:
        with problems():
            services.instance_delete(company=self.company, instance=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="instances_state", responses={200: InstanceStateSerializer, 404: ERRORS[404]},
                   examples=[STATE_RESPONSE])
    @action(detail=True, methods=["get"])
    def state(self, request: Request, id: str) -> Response:
        return Response(InstanceStateSerializer(self.get_object()).data)

    @extend_schema(operation_id="instances_connect", request=ConnectRequestSerializer,
                   responses={200: ConnectSerializer, 404: ERRORS[404], 422: ERRORS[422], 503: ERRORS[503]},
                   examples=[OpenApiExample("QR code", request_only=True, value={}),
                             OpenApiExample("Pairing code", request_only=True, value={"number": "5511912345678"}),
                             OpenApiExample("QR code", response_only=True, value={
                                 "state": "connecting", "qr": QR_DATA_URL, "pairing_code": "",
                                 "expires_at": "2026-01-05T11:03:00Z", "count": 1}),
                             OpenApiExample("Pairing code", response_only=True, value={
                                 "state": "connecting", "qr": QR_DATA_URL, "pairing_code": "K7QX3M9P",
                                 "expires_at": "2026-01-05T11:03:00Z", "count": 1})])
    @action(detail=True, methods=["post"])
    def connect(self, request: Request, id: str) -> Response:
        instance = self.get_object()
        data = ConnectRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with problems():
            instance = services.instance_connect(company=self.company, instance=instance,
                                                 number=data.validated_data.get("number") or None)
        return Response(ConnectSerializer(instance).data)

    @extend_schema(operation_id="instances_qr_png",
                   responses={(200, "image/png"): OpenApiTypes.BINARY, 404: ERRORS[404]})
    @action(detail=True, methods=["get"], url_path="qr.png", content_negotiation_class=DownloadNegotiation)
    def qr_png(self, request: Request, id: str) -> HttpResponse:
        png = selectors.instance_qr_png(self.get_object())
        if png is None:
            raise exceptions.NotFound(_("This instance has no QR code right now."))
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(operation_id="instances_restart", request=None,
                   responses={200: InstanceStateSerializer, 404: ERRORS[404], 422: ERRORS[422], 503: ERRORS[503]},
                   examples=[STATE_RESPONSE])
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, id: str) -> Response:
        with problems():
            instance = services.instance_restart(company=self.company, instance=self.get_object())
        return Response(InstanceStateSerializer(instance).data)

    @extend_schema(operation_id="instances_logout", request=None,
                   responses={200: InstanceStateSerializer, 404: ERRORS[404], 422: ERRORS[422], 503: ERRORS[503]},
                   examples=[OpenApiExample("Disconnected", response_only=True, value={
                       "id": INSTANCE_EXAMPLE["id"], "state": "close", "raw_state": "close", "reason": "logged_out",
                       "state_changed_at": "2026-01-05T18:00:00Z", "last_polled_at": "2026-01-05T17:59:30Z"})])
    @action(detail=True, methods=["post"])
    def logout(self, request: Request, id: str) -> Response:
        with problems():
            instance = services.instance_logout(company=self.company, instance=self.get_object())
        return Response(InstanceStateSerializer(instance).data)


    @extend_schema(operation_id="instances_update", request=InstanceUpdateSerializer,
                   responses={200: InstanceSerializer, 400: ERRORS[400], 404: ERRORS[404], 422: ERRORS[422],
                              503: ERRORS[503]},
                   examples=[OpenApiExample("Label and bot", request_only=True, value={
                       "label": INSTANCE_EXAMPLE["label"], "starting_platform": INSTANCE_EXAMPLE["starting_platform"]}),
                             OpenApiExample("WhatsApp settings", request_only=True, value={"settings": {
                                 "reject_calls": True, "call_rejection_message": "Não atendemos ligações aqui; mande "
                                 "uma mensagem!", "ignore_groups": True}}),
                             INSTANCE_RESPONSE])
    def partial_update(self, request: Request, id: str) -> Response:
        """Change the display label, the starting bot platform and the WhatsApp settings (the name is the
        gateway's and stays). Settings are applied last, on the gateway first: when it refuses or does not answer,
        nothing of the request is stored."""
        instance = self.get_object()
        data = InstanceUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with transaction.atomic():
            if "label" in values:
                instance = services.instance_rename(company=self.company, instance=instance, label=values["label"])
            if "starting_platform" in values:
                bots.instance_set_starting_platform(company=self.company, instance=instance,
                                                    slug=values["starting_platform"])
            if values.get("settings"):
                with problems():
                    services.instance_settings_update(company=self.company, instance=instance, **values["settings"])
        return Response(InstanceSerializer(self.get_object()).data)

    @extend_schema(operation_id="instances_automatic_replies_get", methods=["GET"],
                   responses={200: AutoReplySerializer, 404: ERRORS[404]},
                   examples=[OpenApiExample("Greeting and away message", response_only=True,
                                            value=AUTO_REPLY_EXAMPLE)],
                   description="The instance's automatic replies: a greeting for a customer who starts (or reopens) "
                               "a conversation, an away message instead outside the opening hours (at most once per "
                               "conversation every 12 hours). Groups, ignored contacts and contacts a bot platform "
                               "answers get neither.")
    @extend_schema(operation_id="instances_automatic_replies_update", methods=["PUT"],
                   request=AutoReplySerializer,
                   responses={200: AutoReplySerializer, 400: ERRORS[400], 404: ERRORS[404]},
                   examples=[OpenApiExample("Away at night", request_only=True, value={
                       "away_enabled": True, "away_text": AUTO_REPLY_EXAMPLE["away_text"],
                       "opening_hours": AUTO_REPLY_EXAMPLE["opening_hours"]}),
                             OpenApiExample("Saved", response_only=True, value=AUTO_REPLY_EXAMPLE)],
                   description="Change the automatic replies; a field left out keeps its value. Turning one on needs "
                               "its text. `opening_hours`: seven days, Monday first, each `null` (closed) or "
                               "`[\"HH:MM\", \"HH:MM\"]` (opens, closes; a closing time before the opening time is "
                               "on the next day, so `[\"18:00\", \"02:00\"]` runs past midnight), read in "
                               "`time_zone`.")
    @action(detail=True, methods=["get", "put"], url_path="automatic-replies")
    def automatic_replies(self, request: Request, id: str) -> Response:
        instance = self.get_object()
        if request.method == "PUT":
            data = AutoReplySerializer(data=request.data, partial=True)
            data.is_valid(raise_exception=True)
            values = dict(data.validated_data)
            if "auto_close_hours" in values and values["auto_close_hours"] is None:
                values["auto_close_hours"] = 0  # null: never
            with transaction.atomic():
                reply = auto_replies.auto_reply_update(company=self.company, instance=instance, **values)
        else:
            reply = auto_replies.auto_reply_for(company=self.company, instance=instance)
        return Response(AutoReplySerializer(reply).data)

    @extend_schema(operation_id="instances_bot_pause", request=BotPauseRequestSerializer,
                   examples=[OpenApiExample("For an hour", request_only=True,
                                            value={"number": "5511987654321", "duration_minutes": 60}),
                             OpenApiExample("Paused", response_only=True, value=BOT_STATE_EXAMPLE)],
                   responses={200: BotStateSerializer, 400: ERRORS[400], 404: ERRORS[404]},
                   description="Stop forwarding this number's messages to its bot platform, for `duration_minutes` "
                               "or until resumed (closing the conversation resumes it too).")
    @action(detail=True, methods=["post"], url_path="bot/pause")
    def bot_pause(self, request: Request, id: str) -> Response:
        instance = self.get_object()
        data = BotPauseRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            contact = bots.contact_for_number(company=self.company, instance=instance,
                                              number=data.validated_data["number"], create=True)
            change = bots.bot_pause(company=self.company, contact=contact, reason=BotPauseChange.Reason.API,
                                    actor=actor_label(request), minutes=data.validated_data.get("duration_minutes"))
        return Response(_bot_state(self.company, contact, changed=change is not None))

    @extend_schema(operation_id="instances_bot_resume", request=BotResumeRequestSerializer,
                   responses={200: BotStateSerializer, 400: ERRORS[400], 404: ERRORS[404]},
                   examples=[OpenApiExample("Resume", request_only=True, value={"number": "5511987654321"}),
                             OpenApiExample("Resumed", response_only=True, value={
                                 **BOT_STATE_EXAMPLE, "bot_paused": False, "paused_until": None})],
                   description="Forward this number's messages to its bot platform again.")
    @action(detail=True, methods=["post"], url_path="bot/resume")
    def bot_resume(self, request: Request, id: str) -> Response:
        instance = self.get_object()
        data = BotResumeRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = bots.contact_for_number(company=self.company, instance=instance,
                                          number=data.validated_data["number"], create=False)
        if contact is None:
            raise exceptions.NotFound(_("No contact with this number on this instance."))
        change = bots.bot_resume(company=self.company, contact=contact, reason=BotPauseChange.Reason.API,
                                 actor=actor_label(request))
        return Response(_bot_state(self.company, contact, changed=change is not None))


def _bot_state(company, contact, *, changed: bool) -> dict:
    platform = bots.platform_for(company=company, contact=contact)
    return BotStateSerializer({
        "number": contact.identifier, "contact_id": contact.public_id, "bot_paused": bots.is_paused(contact),
        "paused_until": contact.bot_paused_until, "platform": platform.slug if platform else None,
        "changed": changed,
    }).data  # through the serializer: times in the same zone and format as every other answer


router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("instances", InstanceViewSet, basename="instance")
