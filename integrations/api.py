"""REST API /api/v1/webhooks: endpoints (CRUD), rotate, test event, delivery log and replay.

The secret appears only in the responses of create and rotate. Errors are problem+json; another
company's ids are 404 (STYLE rule 10).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from integrations import selectors, services
from integrations.catalogue import EVENT_TYPES
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tenants.api import TenantViewSet

ERRORS = {
    400: OpenApiResponse(description="Invalid input (problem+json with `errors`), e.g. a private address."),
    404: OpenApiResponse(description="Unknown endpoint or delivery (or another company's)."),
    422: OpenApiResponse(description="The endpoint is switched off."),
}


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


@extend_schema_view(
    list=extend_schema(operation_id="webhooks_list"),
    retrieve=extend_schema(operation_id="webhooks_retrieve", responses={200: WebhookEndpointSerializer,
                                                                        404: ERRORS[404]}),
)
class WebhookEndpointViewSet(TenantViewSet):
    """The company's webhook endpoints."""

    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    lookup_value_converter = "uuid"

    def scoped_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.order_by("-created_at")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(WebhookEndpointSerializer(self.get_object()).data)

    @extend_schema(operation_id="webhooks_create", request=WebhookEndpointSerializer, examples=[CREATE_EXAMPLE],
                   responses={201: WebhookEndpointWithSecretSerializer, 400: ERRORS[400]})
    def create(self, request: Request) -> Response:
        data = WebhookEndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.endpoint_create(company=self.company, **data.validated_data)
        return Response(_with_secret(issued), status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="webhooks_update", request=WebhookEndpointSerializer,
                   responses={200: WebhookEndpointSerializer, 400: ERRORS[400], 404: ERRORS[404]})
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
                   description="A new secret signs from now on; the old one also signs for 24 hours.")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, id: str) -> Response:
        issued = services.endpoint_rotate_secret(company=self.company, endpoint=self.get_object())
        return Response(_with_secret(issued))

    @extend_schema(operation_id="webhooks_test", request=None,
                   responses={202: WebhookDeliverySerializer, 404: ERRORS[404], 422: ERRORS[422]},
                   description="Queue a `webhook.test` event to this endpoint, whatever its event filter.")
    @action(detail=True, methods=["post"])
    def test(self, request: Request, id: str) -> Response:
        try:
            delivery = services.endpoint_send_test(company=self.company, endpoint=self.get_object())
        except DjangoValidationError as error:
            raise EndpointDisabled(" ".join(error.messages)) from error
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(operation_id="webhooks_deliveries", responses={200: WebhookDeliverySerializer(many=True),
                                                                  404: ERRORS[404]})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, id: str) -> Response:
        deliveries = selectors.delivery_list(company=self.company, endpoint=self.get_object())
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(operation_id="webhooks_delivery_replay", request=None,
                   responses={202: WebhookDeliverySerializer, 404: ERRORS[404], 422: ERRORS[422]},
                   description="Send the delivery again (same event id) with a fresh retry schedule.")
    @action(detail=True, methods=["post"], url_path="deliveries/<uuid:delivery_id>/replay")
    def replay(self, request: Request, id: str, delivery_id: str) -> Response:
        delivery = selectors.delivery_get(company=self.company, endpoint=self.get_object(), public_id=delivery_id)
        if delivery is None:
            raise exceptions.NotFound()
        try:
            delivery = services.delivery_replay(company=self.company, delivery=delivery)
        except DjangoValidationError as error:
            raise EndpointDisabled(" ".join(error.messages)) from error
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
