"""REST API /api/v1/webhooks: endpoints (CRUD), rotate, test event, delivery log and replay; and
/api/v1/instances/{id}/platforms: bot platforms (CRUD, rotate, delivery log).

The secret appears only in the responses of create and rotate. Errors are problem+json; another
company's ids are 404 (STYLE rule 10).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
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

from instances.models import Instance
from integrations import bots, selectors, services
from integrations.catalogue import EVENT_TYPES
from integrations.models import BotPlatform, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tenants.api import TenantViewSet
from tenants.authentication import PageLimitPagination
from tenants.openapi import ListExample, page_example
from tenants.problems import Conflict

ERRORS = {
    400: OpenApiResponse(description="Invalid input (problem+json with `errors`), e.g. a private address."),
    404: OpenApiResponse(description="Unknown endpoint or delivery (or another company's)."),
    422: OpenApiResponse(description="The endpoint is switched off."),
}
BEING_SENT = OpenApiResponse(description="A worker is sending the delivery right now: replay it once that attempt "
                                         "is over.", examples=[OpenApiExample("Being sent", value={
                                             "type": "https://recado.dev/problems/delivery-being-sent",
                                             "title": "Conflict", "status": 409,
                                             "detail": "This delivery is being sent right now: replay it once this "
                                                       "attempt is over, if it still needs to go again."})])


class EndpointDisabled(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "endpoint-disabled"


class WebhookEndpointSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=list(EVENT_TYPES)), required=False,
                                        help_text="Event types to send; empty or absent means every event.")
    is_active = serializers.BooleanField(required=False, default=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "is_active", "disabled_at", "disabled_reason",
                  "failing_since", "last_error", "previous_secret_expires_at", "created_at"]
        read_only_fields = ["disabled_at", "disabled_reason", "failing_since", "last_error",
                            "previous_secret_expires_at", "created_at"]
        extra_kwargs = {"description": {"required": False}}


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown only in this response: `whsec_<base64>`.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "status_code", "duration_ms", "response_excerpt", "error", "at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    event_id = serializers.CharField(source="event.event_id")
    event_type = serializers.CharField(source="event.type")
    attempt_log = WebhookAttemptSerializer(source="attempt_set", many=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "event_type", "status", "attempts", "next_attempt_at", "last_status_code",
                  "last_error", "created_at", "attempt_log"]


def _with_secret(issued: services.IssuedEndpoint) -> dict:
    return {**WebhookEndpointSerializer(issued.endpoint).data, "secret": issued.secret}


CREATE_EXAMPLE = OpenApiExample(
    "Messages only", request_only=True,
    value={"url": "https://erp.example.com/recado", "description": "ERP", "event_types": ["message.received"]},
)
WEBHOOK_EXAMPLE = {
    "id": "e5d4c3b2-4444-4000-8000-000000000004", "url": "https://erp.example.com/recado", "description": "ERP",
    "event_types": ["message.received"], "is_active": True, "disabled_at": None, "disabled_reason": "",
    "failing_since": None, "last_error": "", "previous_secret_expires_at": None, "created_at": "2026-01-05T10:00:00Z",
}
WEBHOOK_RESPONSE = OpenApiExample("Endpoint", value=WEBHOOK_EXAMPLE, response_only=True)
DELIVERY_EXAMPLE = {  # failed once (the receiver answered 503), delivered on the retry 5 s later
    "id": "d1e2f3a4-5555-4000-8000-000000000005", "event_id": "evt_5379e1a3b4bcf631175cbac07d7bbb81",
    "event_type": "message.received", "status": "succeeded", "attempts": 2, "next_attempt_at": None,
    "last_status_code": 200, "last_error": "", "created_at": "2026-01-05T12:00:00Z",
    "attempt_log": [
        {"number": 1, "status_code": 503, "duration_ms": 212, "response_excerpt": "Service Unavailable", "error": "",
         "at": "2026-01-05T12:00:00Z"},
        {"number": 2, "status_code": 200, "duration_ms": 87, "response_excerpt": '{"ok": true}', "error": "",
         "at": "2026-01-05T12:00:05Z"},
    ],
}


@extend_schema_view(
    list=extend_schema(operation_id="webhooks_list", examples=[page_example(WEBHOOK_EXAMPLE, "/webhooks", count=1)]),
    retrieve=extend_schema(operation_id="webhooks_retrieve", responses={200: WebhookEndpointSerializer,
                                                                        404: ERRORS[404]},
                           examples=[WEBHOOK_RESPONSE]),
)
class WebhookEndpointViewSet(TenantViewSet):
    """The company's webhook endpoints."""

    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        # A bot platform's endpoint is managed under /instances/{id}/platforms.
        return queryset.filter(kind=WebhookEndpoint.Kind.WEBHOOK).order_by("-created_at")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(WebhookEndpointSerializer(self.get_object()).data)

    @extend_schema(operation_id="webhooks_create", request=WebhookEndpointSerializer,
                   examples=[CREATE_EXAMPLE, OpenApiExample("Created", response_only=True, value={
                       **WEBHOOK_EXAMPLE, "secret": "whsec_LjOtMlTwHm20QwXwEJi4JOhxcckJxEm/"})],
                   responses={201: WebhookEndpointWithSecretSerializer, 400: ERRORS[400]})
    def create(self, request: Request) -> Response:
        data = WebhookEndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.endpoint_create(company=self.company, **data.validated_data)
        return Response(_with_secret(issued), status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="webhooks_update", request=WebhookEndpointSerializer,
                   responses={200: WebhookEndpointSerializer, 400: ERRORS[400], 404: ERRORS[404]},
                   examples=[OpenApiExample("Statuses too", request_only=True,
                                            value={"event_types": ["message.received", "message.status"]}),
                             OpenApiExample("Endpoint", response_only=True, value={
                                 **WEBHOOK_EXAMPLE, "event_types": ["message.received", "message.status"]})])
    def partial_update(self, request: Request, id: str) -> Response:
        endpoint = self.get_object()
        data = WebhookEndpointSerializer(endpoint, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
                  "is_active": endpoint.is_active, **data.validated_data}
        endpoint = services.endpoint_update(company=self.company, endpoint=endpoint, **values)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", responses={204: None, 404: ERRORS[404]})
    def destroy(self, request: Request, id: str) -> Response:
        services.endpoint_delete(company=self.company, endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="webhooks_rotate_secret", request=None,
                   responses={200: WebhookEndpointWithSecretSerializer, 404: ERRORS[404]},
                   examples=[OpenApiExample("New secret", response_only=True, value={
                       **WEBHOOK_EXAMPLE, "previous_secret_expires_at": "2026-01-06T15:00:00Z",
                       "secret": "whsec_g0aK22vwOUkReqT00Xs0I+4zJnSCvJHt"})],
                   description="A new secret signs from now on; the old one also signs for 24 hours.")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, id: str) -> Response:
        issued = services.endpoint_rotate_secret(company=self.company, endpoint=self.get_object())
        return Response(_with_secret(issued))

    @extend_schema(operation_id="webhooks_test", request=None,
                   responses={202: WebhookDeliverySerializer, 404: ERRORS[404], 409: BEING_SENT,
                              422: ERRORS[422]},
                   examples=[OpenApiExample("Queued", response_only=True, status_codes=[202], value={
                       **DELIVERY_EXAMPLE, "event_id": "evt_9c1d0e6b2f7a4c3e8d5b6a7f0e1d2c3b",
                       "event_type": "webhook.test",
                       "status": "pending", "attempts": 0, "next_attempt_at": "2026-01-05T15:00:00Z",
                       "last_status_code": None, "created_at": "2026-01-05T15:00:00Z", "attempt_log": []})],
                   description="Queue a `webhook.test` event to this endpoint, whatever its event filter.")
    @action(detail=True, methods=["post"])
    def test(self, request: Request, id: str) -> Response:
        try:
            delivery = services.endpoint_send_test(company=self.company, endpoint=self.get_object())
        except services.DeliveryBeingSent as error:
            raise Conflict(error.message, code="delivery-being-sent") from error
        except DjangoValidationError as error:
            raise EndpointDisabled(" ".join(error.messages)) from error
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(operation_id="webhooks_deliveries", responses={200: WebhookDeliverySerializer(many=True),
                                                                  404: ERRORS[404]},
                   examples=[page_example(DELIVERY_EXAMPLE, f"/webhooks/{WEBHOOK_EXAMPLE['id']}/deliveries",
                                          count=214)])
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, id: str) -> Response:
        deliveries = selectors.delivery_list(company=self.company, endpoint=self.get_object())
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(operation_id="webhooks_delivery_replay", request=None,
                   responses={202: WebhookDeliverySerializer, 404: ERRORS[404], 409: BEING_SENT,
                              422: ERRORS[422]},
                   examples=[OpenApiExample("Queued again", response_only=True, status_codes=[202], value={
                       **DELIVERY_EXAMPLE, "status": "pending", "attempts": 0,
                       "next_attempt_at": "2026-01-05T15:00:00Z"})],
                   description="Send the delivery again (same event id) with a fresh retry schedule; 409 while a "
                               "worker is sending it (it would go twice).")
    @action(detail=True, methods=["post"], url_path="deliveries/<uuid:delivery_id>/replay")
    def replay(self, request: Request, id: str, delivery_id: str) -> Response:
        delivery = selectors.delivery_get(company=self.company, endpoint=self.get_object(), public_id=delivery_id)
        if delivery is None:
            raise exceptions.NotFound()
        try:
            delivery = services.delivery_replay(company=self.company, delivery=delivery)
        except services.DeliveryBeingSent as error:
            raise Conflict(error.message, code="delivery-being-sent") from error
        except DjangoValidationError as error:
            raise EndpointDisabled(" ".join(error.messages)) from error
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# --- bot platforms: /api/v1/instances/{instance_id}/platforms ------------------------------------

class BotPlatformSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    slug = serializers.SlugField(max_length=50, help_text="Contacts are bound to a platform by this name.")
    callback_url = serializers.URLField(source="endpoint.url", max_length=500,
                                        help_text="Where the platform's messages and bot events are POSTed, "
                                                  "signed like webhooks.")
    is_active = serializers.BooleanField(source="endpoint.is_active", required=False, default=True)
    is_starting = serializers.SerializerMethodField(help_text="Whether contacts bound to no platform go here.")
    disabled_reason = serializers.CharField(source="endpoint.disabled_reason", read_only=True)
    last_error = serializers.CharField(source="endpoint.last_error", read_only=True)
    endpoint_id = serializers.UUIDField(source="endpoint.public_id", read_only=True,
                                        help_text="The endpoint behind the platform (its delivery log is "
                                                  "GET …/platforms/{slug}/deliveries).")

    class Meta:
        model = BotPlatform
        fields = ["id", "slug", "callback_url", "is_active", "is_starting", "disabled_reason", "last_error",
                  "endpoint_id", "created_at"]
        read_only_fields = ["created_at"]

    def get_is_starting(self, platform: BotPlatform) -> bool:
        return platform.instance.starting_platform == platform.slug


class BotPlatformCreateSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=50)
    callback_url = serializers.URLField(max_length=500)
    is_starting = serializers.BooleanField(required=False, default=False,
                                           help_text="Make it the instance's starting platform.")


class BotPlatformUpdateSerializer(serializers.Serializer):
    callback_url = serializers.URLField(max_length=500, required=False)
    is_active = serializers.BooleanField(required=False)
    is_starting = serializers.BooleanField(required=False,
                                           help_text="true makes it the starting platform; false clears it if it is.")


class BotPlatformWithSecretSerializer(BotPlatformSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown only in this response: `whsec_<base64>`.")

    class Meta(BotPlatformSerializer.Meta):
        fields = [*BotPlatformSerializer.Meta.fields, "secret"]


def _platform_with_secret(issued: bots.IssuedPlatform) -> dict:
    return {**BotPlatformSerializer(issued.platform).data, "secret": issued.secret}


PLATFORM_ERRORS = {
    400: OpenApiResponse(description="Invalid input (problem+json with `errors`): a taken slug, a private address."),
    404: OpenApiResponse(description="Unknown instance or platform (or another company's)."),
}
PLATFORM_EXAMPLE = OpenApiExample(
    "A bot", request_only=True,
    value={"slug": "sales-bot", "callback_url": "https://bots.example.com/recado", "is_starting": True},
)
INSTANCE_ID = OpenApiParameter("instance_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
BOT_PLATFORM_EXAMPLE = {
    "id": "b0a1c2d3-6666-4000-8000-000000000006", "slug": "sales-bot", "callback_url": "https://bots.example.com/recado",
    "is_active": True, "is_starting": True, "disabled_reason": "", "last_error": "",
    "endpoint_id": "f6e5d4c3-7777-4000-8000-000000000007", "created_at": "2026-01-05T10:30:00Z",
}
BOT_PLATFORM_RESPONSE = OpenApiExample("Platform", value=BOT_PLATFORM_EXAMPLE, response_only=True)


@extend_schema_view(
    list=extend_schema(operation_id="platforms_list", parameters=[INSTANCE_ID],
                       responses={200: BotPlatformSerializer(many=True), 404: PLATFORM_ERRORS[404]},
                       # unpaged: the whole list
                       examples=[ListExample("Platforms", value=[BOT_PLATFORM_EXAMPLE], response_only=True)]),
    retrieve=extend_schema(operation_id="platforms_retrieve", parameters=[INSTANCE_ID],
                           responses={200: BotPlatformSerializer, 404: PLATFORM_ERRORS[404]},
                           examples=[BOT_PLATFORM_RESPONSE]),
)
class BotPlatformViewSet(TenantViewSet):
    """An instance's bot platforms: each gets the messages of the contacts routed to it (docs/bots.md)."""

    model = BotPlatform
    serializer_class = BotPlatformSerializer
    lookup_field = "slug"
    lookup_url_kwarg = "slug"
    pagination_class = None

    def instance(self) -> Instance:
        instance = Instance.objects.filter(company=self.company, public_id=self.kwargs["instance_id"]).first()
        if instance is None:
            raise exceptions.NotFound()
        return instance

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return (queryset.filter(instance=self.instance()).select_related("endpoint", "instance")
                .order_by("slug"))

    def list(self, request: Request, instance_id: str) -> Response:
        return Response(BotPlatformSerializer(self.get_queryset(), many=True).data)

    def retrieve(self, request: Request, instance_id: str, slug: str) -> Response:
        return Response(BotPlatformSerializer(self.get_object()).data)

    @extend_schema(operation_id="platforms_create", parameters=[INSTANCE_ID], request=BotPlatformCreateSerializer,
                   examples=[PLATFORM_EXAMPLE, OpenApiExample("Created", response_only=True, value={
                       **BOT_PLATFORM_EXAMPLE, "secret": "whsec_LjOtMlTwHm20QwXwEJi4JOhxcckJxEm/"})],
                   responses={201: BotPlatformWithSecretSerializer, 400: PLATFORM_ERRORS[400],
                              404: PLATFORM_ERRORS[404]})
    def create(self, request: Request, instance_id: str) -> Response:
        instance = self.instance()
        data = BotPlatformCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        issued = bots.platform_create(company=self.company, instance=instance, slug=values["slug"],
                                      callback_url=values["callback_url"], make_starting=values["is_starting"])
        return Response(_platform_with_secret(issued), status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="platforms_update", parameters=[INSTANCE_ID], request=BotPlatformUpdateSerializer,
                   responses={200: BotPlatformSerializer, 400: PLATFORM_ERRORS[400], 404: PLATFORM_ERRORS[404]},
                   examples=[OpenApiExample("Make it the starting one", request_only=True, value={"is_starting": True}),
                             BOT_PLATFORM_RESPONSE])
    def partial_update(self, request: Request, instance_id: str, slug: str) -> Response:
        platform = self.get_object()
        data = BotPlatformUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with transaction.atomic():
            bots.platform_update(company=self.company, platform=platform, callback_url=values.get("callback_url"),
                                 is_active=values.get("is_active"))
            starting = values.get("is_starting")
            if starting is not None and starting != (platform.instance.starting_platform == platform.slug):
                bots.instance_set_starting_platform(company=self.company, instance=platform.instance,
                                                    slug=platform.slug if starting else "")
        return Response(BotPlatformSerializer(self.get_object()).data)

    @extend_schema(operation_id="platforms_destroy", parameters=[INSTANCE_ID],
                   responses={204: None, 404: PLATFORM_ERRORS[404]})
    def destroy(self, request: Request, instance_id: str, slug: str) -> Response:
        bots.platform_delete(company=self.company, platform=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(operation_id="platforms_rotate_secret", parameters=[INSTANCE_ID], request=None,
                   responses={200: BotPlatformWithSecretSerializer, 404: PLATFORM_ERRORS[404]},
                   examples=[OpenApiExample("New secret", response_only=True, value={
                       **BOT_PLATFORM_EXAMPLE, "secret": "whsec_g0aK22vwOUkReqT00Xs0I+4zJnSCvJHt"})],
                   description="A new secret signs from now on; the old one also signs for 24 hours.")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, instance_id: str, slug: str) -> Response:
        return Response(_platform_with_secret(bots.platform_rotate_secret(company=self.company,
                                                                          platform=self.get_object())))

    @extend_schema(operation_id="platforms_deliveries", parameters=[INSTANCE_ID],
                   responses={200: WebhookDeliverySerializer(many=True), 404: PLATFORM_ERRORS[404]},
                   examples=[page_example(DELIVERY_EXAMPLE, "/instances/0b7e3f52-1d7c-4e8e-9c1a-5d6e7f8a9b0c"
                                                            "/platforms/sales-bot/deliveries")])
    @action(detail=True, methods=["get"], pagination_class=PageLimitPagination)  # pages, unlike the platform list
    def deliveries(self, request: Request, instance_id: str, slug: str) -> Response:
        """What was sent to the platform, newest first, with every attempt."""
        deliveries = selectors.delivery_list(company=self.company, endpoint=self.get_object().endpoint)
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("instances/<uuid:instance_id>/platforms", BotPlatformViewSet, basename="bot-platform")
